/**
 * `alipay.system.oauth.token`: an auth code (my.getAuthCode in the Alipay mini-program, or the web
 * authorisation redirect) → the user's ids. `grant_type` and `code` are top-level request params
 * (not biz_content). The response is verified like every gateway response (gateway.ts): only a
 * signed, verified answer is accepted. The access and refresh tokens never leave this function.
 */
import { PayError } from '../../core/errors';
import type { LoginIds, ProviderContext } from '../types';
import type { AlipayNodeConfig } from './config';
import { callAlipay } from './gateway';

export const ALIPAY_OAUTH_METHOD = 'alipay.system.oauth.token';

const AUTH_CODE = /^[\w-]{1,128}$/;

export interface AlipayOauthIds {
  /** 2088… user id (absent for apps switched to open_id only) */
  user_id?: string;
  /** the user's open_id under this app (apps in open_id mode) */
  open_id?: string;
}

const idOf = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

export async function alipayOauthToken(code: string, ctx: ProviderContext<AlipayNodeConfig>): Promise<AlipayOauthIds> {
  if (typeof code !== 'string' || !AUTH_CODE.test(code))
    throw new PayError('FIELD_INVALID', { field: 'code', reason: 'must be an Alipay auth code' });
  // Alipay answers this method's success WITHOUT code/msg; a refusal is a signed error_response
  return callAlipay(ctx, {
    method: ALIPAY_OAUTH_METHOD,
    biz: {},
    common: { params: { grant_type: 'authorization_code', code } },
    parse: (d) => {
      const user_id = idOf(d.user_id);
      const open_id = idOf(d.open_id);
      if (!user_id && !open_id) throw new Error('no user id in the answer');
      return { ...(user_id ? { user_id } : {}), ...(open_id ? { open_id } : {}) };
    },
  });
}

/** The `login` hook: the buyer id used as openid (user_id 2088…, or open_id in openid mode). */
export async function alipayLogin(code: string, ctx: ProviderContext<AlipayNodeConfig>): Promise<LoginIds> {
  const ids = await alipayOauthToken(code, ctx);
  const openid = ids.user_id ?? ids.open_id;
  if (!openid) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { openid, ...(ids.user_id ? { user_id: ids.user_id } : {}) };
}
