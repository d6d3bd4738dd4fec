/**
 * api.weixin.qq.com client for xpay: stable access token (cached in ctx.cache), `jscode2session`,
 * and signed `/xpay/*` calls (`pay_sig` over the exact body, protocols.md §5.2).
 */
import { PayError } from '../../core/errors';
import type { HttpResponse } from '../../transport/http';
import type { ProviderContext } from '../types';
import { apiPaySig } from './sign';

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

export async function send(
  ctx: ProviderContext<WxpayVirtualConfig>,
  method: 'GET' | 'POST',
  url: string,
  body?: string,
): Promise<Record<string, any>> {
  let res: HttpResponse;
  try {
    res = await ctx.http.request({
      method,
      url,
      headers: body !== undefined ? { 'content-type': 'application/json' } : {},
      body,
      timeoutMs: ctx.config.timeout,
    });
  } catch {
    throw new PayError('GATEWAY_UNREACHABLE');
  }
  if (res.status !== 200) throw new PayError('GATEWAY_ERROR', { providerCode: `HTTP ${res.status}`, providerMsg: '' });
  try {
    const json = JSON.parse(res.body.toString('utf8'));
    if (typeof json !== 'object' || json === null) throw new Error('shape');
    return json;
  } catch {
    throw new PayError('GATEWAY_RESPONSE_INVALID');
  }
}

export function failIfErr(json: Record<string, any>): void {
  if (json.errcode !== undefined && json.errcode !== 0) {
    throw new PayError('GATEWAY_ERROR', { providerCode: json.errcode, providerMsg: String(json.errmsg ?? '') }, { errcode: json.errcode });
  }
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
  failIfErr(json);
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
  failIfErr(json);
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
): Promise<Record<string, any>> {
  const uri = `/xpay/${api}`;
  const body = JSON.stringify(payload);
  const paySig = apiPaySig(appKeyOf(ctx.config), uri, body);
  let json: Record<string, any> = {};
  for (const force of [false, true]) {
    const token = await getAccessToken(ctx, force);
    json = await send(ctx, 'POST', `${baseOf(ctx.config)}${uri}?${new URLSearchParams({ access_token: token, pay_sig: paySig })}`, body);
    if (json.errcode !== 40001 && json.errcode !== 42001) break;
    await ctx.cache.delete(tokenKey(ctx.config));
  }
  failIfErr(json);
  return json;
}
