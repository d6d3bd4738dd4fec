/**
 * v2 gateway calls (`gateway.do`): requests signed by our own signer (crypto/), sent through the
 * HttpTransport port (ctx.http), so the sandbox, test doubles and uniCloud.httpclient stand in the
 * same way; responses verified over the exact raw text of `<method>_response` / `error_response`
 * with the Alipay key (key mode) or the Alipay certificate named by `alipay_cert_sn` (cert mode).
 * See docs/alipay-protocol.md.
 */
import { PayError } from '../../core/errors';
import { toDateTimeShanghai } from '../../core/time';
import type { ProviderContext } from '../types';
import { getAlipayRuntime, type AlipayNodeConfig, type AlipayRuntime } from './config';
import { checkResponse, responseParts, signedQuery } from './crypto';

/** Params the SDK (and Alipay's docs) put in the URL query; everything else goes in the body. */
const URL_PARAMS = new Set([
  'app_id',
  'method',
  'format',
  'charset',
  'sign_type',
  'sign',
  'timestamp',
  'version',
  'notify_url',
  'return_url',
  'auth_token',
  'app_auth_token',
  'app_cert_sn',
  'alipay_root_cert_sn',
  'ws_service_url',
]);

export interface CommonParams {
  notify_url?: string;
  app_auth_token?: string;
  /**
   * Business params some methods take at the top level instead of inside biz_content (e.g.
   * `grant_type` and `code` of `alipay.system.oauth.token`). They never replace a common param.
   */
  params?: Record<string, string>;
}

/** common params of every call (https://opendocs.alipay.com/common/02kf5q) */
const CHARSET = 'utf-8';
const VERSION = '1.0';

/**
 * The signed, URL-encoded parameter string `k=v&…` (also the App order string). The timestamp is
 * Beijing time whatever the host's zone. biz_content is sent exactly as given (no key rewriting) and
 * left out when empty; `common.params` are extra top-level params that never replace a common one.
 */
export function signedParamString(
  rt: AlipayRuntime,
  method: string,
  biz: Record<string, unknown>,
  common: CommonParams,
  nowMs: number,
): string {
  const params: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(common.params ?? {})) if (!URL_PARAMS.has(k) && k !== 'biz_content') params[k] = v;
  Object.assign(params, {
    app_id: rt.appId,
    method,
    charset: CHARSET,
    version: VERSION,
    timestamp: toDateTimeShanghai(nowMs),
    notify_url: common.notify_url,
    app_auth_token: common.app_auth_token,
    app_cert_sn: rt.appCertSn,
    alipay_root_cert_sn: rt.alipayRootCertSn,
    biz_content: Object.keys(biz).length ? JSON.stringify(biz) : undefined,
  });
  return signedQuery(rt.signer, params);
}

export interface GatewayResult {
  /** the business object (`code`, `msg`, `sub_code`, …) */
  data: Record<string, any>;
  ok: boolean;
  /** false only for an unsigned error response (see verifyGatewayResponse) */
  verified: boolean;
}

/**
 * Verifies a gateway response body. A signed response must verify (else GATEWAY_RESPONSE_UNVERIFIED,
 * or GATEWAY_CERT_UNKNOWN when it names an Alipay certificate that is not configured); a success
 * (code 10000) must be signed. An unsigned *error* (Alipay sends some, e.g. for a bad app_id) is
 * returned with verified=false: callers never derive an order state from it.
 */
export function verifyGatewayResponse(rt: AlipayRuntime, method: string, raw: string): GatewayResult {
  const parts = responseParts(raw, method);
  if (!parts) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const ok = parts.data.code === '10000';
  const check = checkResponse(rt.verifier, parts);
  if (check.status === 'unknown-cert') throw unknownCert(rt, check.sn);
  if (check.status === 'unsigned' && !ok) return { data: parts.data, ok, verified: false };
  if (check.status !== 'verified') throw new PayError('GATEWAY_RESPONSE_UNVERIFIED');
  return { data: parts.data, ok, verified: true };
}

function unknownCert(rt: AlipayRuntime, sn: string): PayError {
  return new PayError('GATEWAY_CERT_UNKNOWN', { sn, configured: rt.verifier.certSns.join(', ') }, { alipay_cert_sn: sn });
}

export function gatewayError(r: GatewayResult): PayError {
  const d = r.data;
  return new PayError(
    'GATEWAY_ERROR',
    { providerCode: d.sub_code || d.code, providerMsg: d.sub_msg || d.msg },
    { code: d.code, sub_code: d.sub_code, verified: r.verified },
  );
}

/** Signs, sends through ctx.http, verifies. Business errors are returned (ok=false), not thrown. */
export async function callGateway(
  ctx: ProviderContext<AlipayNodeConfig>,
  method: string,
  biz: Record<string, unknown>,
  common: CommonParams = {},
): Promise<GatewayResult> {
  const rt = getAlipayRuntime(ctx.config);
  const signed = signedParamString(rt, method, biz, common, ctx.clock.now());
  // split byte-exactly (values are already percent-encoded, so '&' and '=' are separators only)
  const query: string[] = [];
  const body: string[] = [];
  for (const seg of signed.split('&')) {
    const k = seg.slice(0, seg.indexOf('='));
    (URL_PARAMS.has(k) ? query : body).push(seg);
  }
  const url = rt.gateway + (rt.gateway.includes('?') ? '&' : '?') + query.join('&');
  let res;
  try {
    res = await ctx.http.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8', accept: 'application/json' },
      body: body.join('&'),
      timeoutMs: ctx.config.timeout,
    });
  } catch {
    throw new PayError('GATEWAY_UNREACHABLE');
  }
  if (res.status >= 500) throw new PayError('GATEWAY_UNREACHABLE');
  if (res.status !== 200) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return verifyGatewayResponse(rt, method, res.body.toString('utf8'));
}

/** callGateway that throws GATEWAY_ERROR on anything but code 10000. */
export async function callGatewayOk(
  ctx: ProviderContext<AlipayNodeConfig>,
  method: string,
  biz: Record<string, unknown>,
  common: CommonParams = {},
): Promise<Record<string, any>> {
  const r = await callGateway(ctx, method, biz, common);
  if (!r.ok) throw gatewayError(r);
  return r.data;
}
