/**
 * 公众号网页授权 (`snsapi_base`): the `code` the official-account OAuth redirect hands to the page →
 * the user's openid (vk-uni-pay `code2SessionWeixinH5`), via
 * `GET <apiBase>/sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`.
 * The web access_token / refresh_token in the answer never leave this function.
 * HTTP and errcode handling are the api.weixin.qq.com helpers of wxpay-virtual/api.ts.
 */
import { PayError } from '../../core/errors';
import type { ProviderContext } from '../types';
import { DEFAULT_API_BASE, send } from '../wxpay-virtual/api';
import type { WxpayNodeConfig } from './config';

/** the config node this serves: config.wxpay['h5-weixin'] */
const NODE = 'wxpay.h5-weixin';
const OAUTH_CODE = /^[\w-]{1,128}$/;

export interface OfficialAccountIds {
  openid: string;
  /** only when the official account is bound to a WeChat Open Platform account */
  unionid?: string;
}

function field(config: WxpayNodeConfig, name: 'appId' | 'secret'): string {
  const v = config?.[name];
  if (typeof v !== 'string' || !v) throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: name });
  return v;
}

export async function officialAccountOpenid(code: string, ctx: ProviderContext<WxpayNodeConfig>): Promise<OfficialAccountIds> {
  if (typeof code !== 'string' || !OAUTH_CODE.test(code))
    throw new PayError('FIELD_INVALID', { field: 'code', reason: 'must be an official account OAuth code' });
  const q = new URLSearchParams({
    appid: field(ctx.config, 'appId'),
    secret: field(ctx.config, 'secret'),
    code,
    grant_type: 'authorization_code',
  });
  const base = (ctx.config.apiBase || DEFAULT_API_BASE).replace(/\/+$/, '');
  const json = await send(ctx, 'GET', `${base}/sns/oauth2/access_token?${q}`);
  if (typeof json.openid !== 'string' || !json.openid) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { openid: json.openid, ...(typeof json.unionid === 'string' && json.unionid ? { unionid: json.unionid } : {}) };
}
