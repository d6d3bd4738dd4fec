/**
 * api.weixin.qq.com client for xpay: stable access token (cached in ctx.cache), `jscode2session`,
 * and signed `/xpay/*` calls (`pay_sig` over the exact body, https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/industry/virtual-payment.html).
 */
import { PayError } from '../../core/errors';
import { callGateway, isGatewayFailure, jsonObject, verifyJsonAnswer, type GatewayRefusal } from '../gateway';
import type { ProviderContext } from '../types';
import { apiPaySig, userSignature } from './sign';

export const WXPAY_VIRTUAL_NODE = 'wxpay-virtual.mp-weixin';
export const DEFAULT_API_BASE = 'https://api.weixin.qq.com';

export interface WxpayVirtualConfig {
  appId?: string;
  secret?: string;
  mchId?: string;
  offerId?: string;
  appKey?: string;
  sandboxAppKey?: string;
  /** coins per CNY for short_series_coin (default 100) */
  rate?: number;
  /** message push Token and EncodingAESKey (43 chars) */
  token?: string;
  encodingAESKey?: string;
  /** true: env=1 and the sandbox AppKey */
  sandbox?: boolean;
  /** default https://api.weixin.qq.com (the sandbox peer in tests) */
  apiBase?: string;
  /** same as apiBase (the override key every provider node accepts) */
  gateway?: string;
  timeout?: number;
}

export function need<K extends keyof WxpayVirtualConfig>(config: WxpayVirtualConfig, field: K): NonNullable<WxpayVirtualConfig[K]> {
  const v = config[field];
  if (v === undefined || v === null || v === '') throw new PayError('CONFIG_FIELD_MISSING', { node: WXPAY_VIRTUAL_NODE, field });
  return v as NonNullable<WxpayVirtualConfig[K]>;
}

/** 0 production, 1 sandbox (signData `env` and server API `env`). */
export const envOf = (config: WxpayVirtualConfig): 0 | 1 => (config.sandbox === true ? 1 : 0);

/** The AppKey that signs for the configured env. */
export const appKeyOf = (config: WxpayVirtualConfig): string =>
  config.sandbox === true ? need(config, 'sandboxAppKey') : need(config, 'appKey');

/** `apiBase`, or `gateway` like every other provider node (the sandbox stands in here) */
const baseOf = (config: WxpayVirtualConfig) => (config.apiBase ?? config.gateway ?? DEFAULT_API_BASE).replace(/\/+$/, '');

/** The refusal in an api.weixin.qq.com answer: a non-zero `errcode` (-1 "system busy" may be asked again). */
function errcodeRefusal(json: Record<string, any> | undefined): GatewayRefusal | undefined {
  const errcode = json?.errcode;
  if (errcode === undefined || errcode === 0) return undefined;
  return { code: String(errcode), message: String(json?.errmsg ?? ''), retryable: errcode === -1, detail: { errcode } };
}

/** One api.weixin.qq.com call through the gateway step; a non-zero errcode is a GatewayFailure. */
export function send(
  ctx: ProviderContext<WxpayVirtualConfig>,
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

const tokenKey = (config: WxpayVirtualConfig) => `wxpay-virtual:access_token:${config.appId}`;

/** `/cgi-bin/stable_token`, cached until 5 minutes before expiry. */
export async function getAccessToken(ctx: ProviderContext<WxpayVirtualConfig>, forceRefresh = false): Promise<string> {
  const appid = need(ctx.config, 'appId');
  if (!forceRefresh) {
    const cached = await ctx.cache.get<string>(tokenKey(ctx.config));
    if (cached) return cached;
  }
  const json = await send(
    ctx,
    'POST',
    `${baseOf(ctx.config)}/cgi-bin/stable_token`,
    JSON.stringify({ grant_type: 'client_credential', appid, secret: need(ctx.config, 'secret'), force_refresh: forceRefresh }),
  );
  if (typeof json.access_token !== 'string' || !json.access_token) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const ttlS = Math.max(60, Number(json.expires_in ?? 7200) - 300);
  await ctx.cache.set(tokenKey(ctx.config), json.access_token, ttlS * 1000);
  return json.access_token;
}

export interface Code2SessionResult {
  openid: string;
  unionid?: string;
  /** keep server-side only (it signs requestVirtualPayment); never return it to the client */
  session_key: string;
}

/** `/sns/jscode2session` for a mini-program `wx.login` code. */
export async function code2Session(code: string, ctx: ProviderContext<WxpayVirtualConfig>): Promise<Code2SessionResult> {
  if (typeof code !== 'string' || !/^[\w-]{1,128}$/.test(code))
    throw new PayError('FIELD_INVALID', { field: 'code', reason: 'must be a wx.login code' });
  const q = new URLSearchParams({
    appid: need(ctx.config, 'appId'),
    secret: need(ctx.config, 'secret'),
    js_code: code,
    grant_type: 'authorization_code',
  });
  const json = await send(ctx, 'GET', `${baseOf(ctx.config)}/sns/jscode2session?${q}`);
  if (typeof json.openid !== 'string' || typeof json.session_key !== 'string') throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { openid: json.openid, session_key: json.session_key, ...(typeof json.unionid === 'string' ? { unionid: json.unionid } : {}) };
}

/**
 * POSTs to `/xpay/<api>?access_token=…&pay_sig=…`; the body is serialised once and signed as sent.
 * A token the server calls invalid (40001/42001) is refreshed once.
 */
export async function xpayRequest(
  api: string,
  payload: Record<string, unknown>,
  ctx: ProviderContext<WxpayVirtualConfig>,
  /** user-state APIs (coin balance, spend, cancel) also carry `signature` with the user's session_key */
  sessionKey?: string,
): Promise<Record<string, any>> {
  const uri = `/xpay/${api}`;
  const body = JSON.stringify(payload);
  const sigs = {
    pay_sig: apiPaySig(appKeyOf(ctx.config), uri, body),
    ...(sessionKey ? { signature: userSignature(sessionKey, body) } : {}),
  };
  for (const force of [false, true]) {
    const token = await getAccessToken(ctx, force);
    try {
      return await send(ctx, 'POST', `${baseOf(ctx.config)}${uri}?${new URLSearchParams({ access_token: token, ...sigs })}`, body);
    } catch (e) {
      const tokenRefused = isGatewayFailure(e) && e.verified && (e.providerCode === '40001' || e.providerCode === '42001');
      if (force || !tokenRefused) throw e;
      await ctx.cache.delete(tokenKey(ctx.config));
    }
  }
  throw new PayError('INTERNAL'); // unreachable: the second pass returns or throws
}
