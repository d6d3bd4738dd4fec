/**
 * xpay on api.weixin.qq.com: stable access token (cached in ctx.cache), the mini-program login of
 * this node, and signed `/xpay/*` calls (`pay_sig` over the exact body). The HTTP + errcode step and
 * the login call are the shared WeChat API module's (providers/wechat-api).
 */
import { PayError } from '../../core/errors';
import { isGatewayFailure } from '../gateway';
import type { ProviderContext } from '../types';
import { DEFAULT_API_BASE, code2Session as wechatCode2Session, send, type Code2SessionResult } from '../wechat-api';
import { apiPaySig } from './sign';

export { DEFAULT_API_BASE };
export type { Code2SessionResult };
export const WXPAY_VIRTUAL_NODE = 'wxpay-virtual.mp-weixin';

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

/** `/sns/jscode2session` with this node's app (wx.login code → openid + session_key). */
export function code2Session(code: string, ctx: ProviderContext<WxpayVirtualConfig>): Promise<Code2SessionResult> {
  return wechatCode2Session(code, ctx, baseOf(ctx.config), WXPAY_VIRTUAL_NODE);
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
  for (const force of [false, true]) {
    const token = await getAccessToken(ctx, force);
    try {
      return await send(ctx, 'POST', `${baseOf(ctx.config)}${uri}?${new URLSearchParams({ access_token: token, pay_sig: paySig })}`, body);
    } catch (e) {
      const tokenRefused = isGatewayFailure(e) && e.verified && (e.providerCode === '40001' || e.providerCode === '42001');
      if (force || !tokenRefused) throw e;
      await ctx.cache.delete(tokenKey(ctx.config));
    }
  }
  throw new PayError('INTERNAL'); // unreachable: the second pass returns or throws
}
