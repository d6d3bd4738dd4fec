/**
 * v2 gateway calls (`gateway.do`): requests signed by our own signer (crypto/), sent through the
 * HttpTransport port (ctx.http), so the sandbox, test doubles and uniCloud.httpclient stand in the
 * same way; responses verified over the exact raw text of `<method>_response` / `error_response`
 * with the Alipay key (key mode) or the Alipay certificate named by `alipay_cert_sn` (cert mode).
 * See docs/alipay-protocol.md.
 */
import { toDateTimeShanghai } from '../../core/time';
import type { HttpRequest, HttpResponse } from '../../ports';
import { callGateway, GatewayFailure, type GatewayRefusal } from '../gateway';
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

/**
 * Alipay's answer to `method`, verified: the business object (`code`, `msg`, `sub_code`, …).
 * Throws a GatewayFailure (verified: false, retryable) when the answer is not Alipay's signed
 * answer: no or bad signature (an unsigned error answer included: it proves nothing; its code is
 * only quoted in the message), a non-200 status, a body that is not a gateway answer, or a
 * certificate SN that is not configured (GATEWAY_CERT_UNKNOWN names it).
 */
export function verifiedAnswer(rt: AlipayRuntime, method: string, res: HttpResponse): Record<string, any> {
  const httpStatus = res.status;
  const unverified = { httpStatus, verified: false, retryable: true };
  if (httpStatus >= 500) throw new GatewayFailure('GATEWAY_UNREACHABLE', unverified);
  const parts = httpStatus === 200 ? responseParts(res.body.toString('utf8'), method) : undefined;
  if (!parts) throw new GatewayFailure('GATEWAY_RESPONSE_INVALID', unverified);
  const check = checkResponse(rt.verifier, parts);
  if (check.status === 'verified') return parts.data;
  if (check.status === 'unknown-cert')
    throw new GatewayFailure('GATEWAY_CERT_UNKNOWN', unverified, { sn: check.sn, configured: rt.verifier.certSns.join(', ') });
  const code = String(parts.data.sub_code || parts.data.code || '');
  if (check.status === 'unsigned' && code && code !== '10000' && /^[\w.-]{1,64}$/.test(code)) {
    // e.g. isv.invalid-app-id: Alipay cannot sign for an app it does not know
    throw new GatewayFailure('GATEWAY_ERROR', { ...unverified, providerMessage: `${code} (unsigned answer, not trusted)` });
  }
  throw new GatewayFailure('GATEWAY_RESPONSE_UNVERIFIED', unverified);
}

/** gateway busy or failing inside: asking again with the same request number may succeed */
export function retryableRefusal(d: Record<string, any>): boolean {
  const sub = String(d.sub_code ?? '');
  return d.code === '20000' || sub.startsWith('isp.') || /SYSTEM_ERROR$/.test(sub);
}

/** A verified answer's refusal (code ≠ 10000, or a sub_code), unless its sub_code is one the caller reads as an answer. */
export function refusalOf(d: Record<string, any>, answers: readonly string[] = []): GatewayRefusal | undefined {
  const refused = (d.code !== undefined && d.code !== '10000') || d.sub_code !== undefined;
  if (!refused || answers.includes(d.sub_code)) return undefined;
  return { code: String(d.sub_code || d.code), message: d.sub_msg || d.msg, retryable: retryableRefusal(d) };
}

export interface AlipayCall<T = Record<string, any>> {
  method: string;
  biz: Record<string, unknown>;
  common?: CommonParams;
  /** verified sub_codes that are answers for this call, not refusals (e.g. ACQ.TRADE_NOT_EXIST for a query) */
  answers?: readonly string[];
  /** the result from the verified business object; throwing here is GATEWAY_RESPONSE_INVALID (verified) */
  parse?: (d: Record<string, any>) => T;
}

/** The signed gateway.do request: common params in the query, the rest in the form body. */
function gatewayRequest(rt: AlipayRuntime, call: AlipayCall<unknown>, nowMs: number, timeoutMs?: number): HttpRequest {
  const signed = signedParamString(rt, call.method, call.biz, call.common ?? {}, nowMs);
  // split byte-exactly (values are already percent-encoded, so '&' and '=' are separators only)
  const query: string[] = [];
  const body: string[] = [];
  for (const seg of signed.split('&')) (URL_PARAMS.has(seg.slice(0, seg.indexOf('='))) ? query : body).push(seg);
  return {
    method: 'POST',
    url: rt.gateway + (rt.gateway.includes('?') ? '&' : '?') + query.join('&'),
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8', accept: 'application/json' },
    body: body.join('&'),
    timeoutMs,
  };
}

/**
 * Signs, sends and verifies through the shared gateway step. Resolves with the parsed verified
 * business object of a success (or of an `answers` refusal); anything else is a GatewayFailure.
 */
export async function callAlipay<T = Record<string, any>>(ctx: ProviderContext<AlipayNodeConfig>, call: AlipayCall<T>): Promise<T> {
  const rt = getAlipayRuntime(ctx.config);
  let data: Record<string, any> = {};
  return callGateway(ctx.http, {
    request: gatewayRequest(rt, call, ctx.clock.now(), ctx.config.timeout),
    verify: (res) => {
      data = verifiedAnswer(rt, call.method, res);
    },
    refusal: () => refusalOf(data, call.answers),
    parse: () => (call.parse ? call.parse(data) : (data as T)),
  });
}
