/**
 * `alipay.system.oauth.token`: an auth code (my.getAuthCode in the Alipay mini-program, or the web
 * authorisation redirect) → the user's ids. `grant_type` and `code` are top-level request params
 * (not biz_content). The response is verified like every gateway response (gateway.ts). Alipay
 * answers a success WITHOUT `code`/`msg` for this method (just the token fields), and failures as a
 * signed `error_response`; so a success is accepted only when signed and verified. The access and
 * refresh tokens never leave this function.
 */
import { PayError } from '../../core/errors';
import type { LoginIds, ProviderContext } from '../types';
import type { AlipayNodeConfig } from './config';
import { callGateway, gatewayError } from './gateway';

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
  const r = await callGateway(ctx, ALIPAY_OAUTH_METHOD, {}, { params: { grant_type: 'authorization_code', code } });
  const d = r.data;
  const success = r.ok || (d.code === undefined && d.sub_code === undefined);
  if (!success) throw gatewayError(r);
  // an unsigned "success" (no code, no sign) is never trusted: verifyGatewayResponse only lets
  // unsigned responses through for errors, and this one looks like a success
  if (!r.verified) throw new PayError('GATEWAY_RESPONSE_UNVERIFIED');
  const user_id = idOf(d.user_id);
  const open_id = idOf(d.open_id);
  if (!user_id && !open_id) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { ...(user_id ? { user_id } : {}), ...(open_id ? { open_id } : {}) };
}

/** The `login` hook: the buyer id used as openid (user_id 2088…, or open_id in openid mode). */
export async function alipayLogin(code: string, ctx: ProviderContext<AlipayNodeConfig>): Promise<LoginIds> {
  const ids = await alipayOauthToken(code, ctx);
  const openid = ids.user_id ?? ids.open_id;
  if (!openid) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { openid, ...(ids.user_id ? { user_id: ids.user_id } : {}) };
}
