/**
 * The WeChat open API (api.weixin.qq.com) shared by the WeChat providers: the errcode refusal on the gateway step,
 * mini-program login (`/sns/jscode2session`) and official-account OAuth (`/sns/oauth2/access_token`).
 * Not a provider (no catalog row): providers may import it, it imports no provider, so the WeChat
 * Pay adapter and the virtual-payment adapter share it without depending on each other.
 * Docs: https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html,
 * https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html
 */
import { PayError } from '../../core/errors';
import { callGateway, jsonObject, verifyJsonAnswer, type GatewayRefusal } from '../gateway';
import type { ProviderContext } from '../types';

export const DEFAULT_API_BASE = 'https://api.weixin.qq.com';

/** The app fields these calls read from a config node. */
export interface WechatAppConfig {
  appId?: string;
  secret?: string;
  /** default https://api.weixin.qq.com (the sandbox peer in tests) */
  apiBase?: string;
  timeout?: number;
}

/** The refusal in an api.weixin.qq.com answer: a non-zero `errcode` (-1 "system busy" may be asked again). */
function errcodeRefusal(json: Record<string, any> | undefined): GatewayRefusal | undefined {
  const errcode = json?.errcode;
  if (errcode === undefined || errcode === 0) return undefined;
  return { code: String(errcode), message: String(json?.errmsg ?? ''), retryable: errcode === -1, detail: { errcode } };
}

/** One api.weixin.qq.com call through the gateway step; a non-zero errcode is a GatewayFailure. */
export function send(
  ctx: ProviderContext<{ timeout?: number }>,
  method: 'GET' | 'POST',
  url: string,
  body?: string,
): Promise<Record<string, any>> {
  return callGateway(ctx.http, {
    request: {
      method,
      url,
      headers: body !== undefined ? { 'content-type': 'application/json' } : {},
      body,
      timeoutMs: ctx.config.timeout,
    },
    // these answers are not signed (TLS only): a 200 JSON object is WeChat's answer
    verify: verifyJsonAnswer(),
    refusal: (res) => errcodeRefusal(jsonObject(res.body)),
    parse: (res) => jsonObject(res.body) as Record<string, any>,
  });
}

/** A required app field; the error names the config node (e.g. `wxpay.h5-weixin`). */
function appField(config: WechatAppConfig, name: 'appId' | 'secret', node: string): string {
  const v = config?.[name];
  if (typeof v !== 'string' || !v) throw new PayError('CONFIG_FIELD_MISSING', { node, field: name });
  return v;
}

const LOGIN_CODE = /^[\w-]{1,128}$/;

export interface Code2SessionResult {
  openid: string;
  unionid?: string;
  /** keep server-side only (it signs requestVirtualPayment); never return it to the client */
  session_key: string;
}

/** `/sns/jscode2session` for a mini-program `wx.login` code; `base`: the API base URL of the node. */
export async function code2Session(
  code: string,
  ctx: ProviderContext<WechatAppConfig>,
  base: string,
  node: string,
): Promise<Code2SessionResult> {
  if (typeof code !== 'string' || !LOGIN_CODE.test(code))
    throw new PayError('FIELD_INVALID', { field: 'code', reason: 'must be a wx.login code' });
  const q = new URLSearchParams({
    appid: appField(ctx.config, 'appId', node),
    secret: appField(ctx.config, 'secret', node),
    js_code: code,
    grant_type: 'authorization_code',
  });
  const json = await send(ctx, 'GET', `${base}/sns/jscode2session?${q}`);
  if (typeof json.openid !== 'string' || typeof json.session_key !== 'string') throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { openid: json.openid, session_key: json.session_key, ...(typeof json.unionid === 'string' ? { unionid: json.unionid } : {}) };
}

export interface OfficialAccountIds {
  openid: string;
  /** only when the official account is bound to a WeChat Open Platform account */
  unionid?: string;
}

/**
 * 公众号网页授权 (`snsapi_base`): the `code` the official-account OAuth redirect hands to the page →
 * the user's openid (vk-uni-pay `code2SessionWeixinH5`). The web access_token / refresh_token in the
 * answer never leave this function.
 */
export async function officialAccountOpenid(code: string, ctx: ProviderContext<WechatAppConfig>): Promise<OfficialAccountIds> {
  const node = 'wxpay.h5-weixin';
  if (typeof code !== 'string' || !LOGIN_CODE.test(code))
    throw new PayError('FIELD_INVALID', { field: 'code', reason: 'must be an official account OAuth code' });
  const q = new URLSearchParams({
    appid: appField(ctx.config, 'appId', node),
    secret: appField(ctx.config, 'secret', node),
    code,
    grant_type: 'authorization_code',
  });
  const base = (ctx.config.apiBase || DEFAULT_API_BASE).replace(/\/+$/, '');
  const json = await send(ctx, 'GET', `${base}/sns/oauth2/access_token?${q}`);
  if (typeof json.openid !== 'string' || !json.openid) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { openid: json.openid, ...(typeof json.unionid === 'string' && json.unionid ? { unionid: json.unionid } : {}) };
}
