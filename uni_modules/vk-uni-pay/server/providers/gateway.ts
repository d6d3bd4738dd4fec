/**
 * The one gateway step every adapter uses: send → status → verify → refusal → parse. The adapter
 * supplies the signed request and three protocol functions; this step alone decides which
 * GatewayFailure a call ends in, so every provider reports faults the same way:
 * - no answer (reset, timeout, DNS): GATEWAY_UNREACHABLE, unverified, retryable (it may have arrived);
 * - an answer whose signature is missing or bad (any status): GATEWAY_RESPONSE_UNVERIFIED, unverified,
 *   retryable: it proves nothing, not even a refusal;
 * - a verified refusal (an error status, or an error code in a 200 body): GATEWAY_ERROR with the
 *   provider's code and message and the adapter's word on `retryable`;
 * - a verified answer that cannot be parsed: GATEWAY_RESPONSE_INVALID, retryable.
 */
import { GatewayFailure, isGatewayFailure } from '../core/gateway-failure';
import type { HttpRequest, HttpResponse, HttpTransport } from '../ports';

export { GatewayFailure, isGatewayFailure, isFinalRefusal } from '../core/gateway-failure';

export interface GatewayRefusal {
  code: string;
  message?: string;
  /** asking again with the same request (number) may succeed, or the refusal may not be final */
  retryable: boolean;
  /** extra non-secret fields for the caller's result */
  detail?: Record<string, unknown>;
}

export interface GatewaySpec<T> {
  /** the signed request, sent byte-exactly */
  request: HttpRequest;
  /**
   * Throws when the answer is not the provider's own (missing or bad signature). Protocols without
   * response signatures (TLS only) check that the answer is a well-formed protocol answer instead.
   * Called for every status: error answers are signed too (WeChat Pay v3).
   */
  verify(res: HttpResponse): void | Promise<void>;
  /** The provider's refusal in a VERIFIED answer (error status or error code in the body); undefined: success. */
  refusal(res: HttpResponse): GatewayRefusal | undefined;
  /** The result of a verified success; throwing here makes GATEWAY_RESPONSE_INVALID. */
  parse(res: HttpResponse): T;
}

/** Statuses that mean "busy, ask again" whatever the body says. */
export const retryableStatus = (status: number): boolean => status >= 500 || status === 429 || status === 408;

export async function callGateway<T>(http: HttpTransport, spec: GatewaySpec<T>): Promise<T> {
  let res: HttpResponse;
  try {
    res = await http.request(spec.request);
  } catch {
    throw new GatewayFailure('GATEWAY_UNREACHABLE', { verified: false, retryable: true });
  }
  const httpStatus = res.status;
  const ok = httpStatus >= 200 && httpStatus < 300;
  try {
    await spec.verify(res);
  } catch (e) {
    // whatever went wrong while verifying (even a verified refusal of a key download), THIS answer proves nothing
    if (isGatewayFailure(e) && !e.verified && e.retryable) throw e;
    throw new GatewayFailure('GATEWAY_RESPONSE_UNVERIFIED', { httpStatus, verified: false, retryable: true });
  }
  let refusal: GatewayRefusal | undefined;
  try {
    refusal = spec.refusal(res);
  } catch {
    throw new GatewayFailure('GATEWAY_RESPONSE_INVALID', { httpStatus, verified: true, retryable: true });
  }
  if (!refusal && !ok) refusal = { code: `HTTP ${httpStatus}`, retryable: retryableStatus(httpStatus) };
  if (refusal) {
    throw new GatewayFailure('GATEWAY_ERROR', {
      httpStatus,
      providerCode: refusal.code,
      providerMessage: refusal.message,
      verified: true,
      retryable: refusal.retryable || retryableStatus(httpStatus),
      extra: refusal.detail,
    });
  }
  try {
    return spec.parse(res);
  } catch (e) {
    if (isGatewayFailure(e)) throw e;
    throw new GatewayFailure('GATEWAY_RESPONSE_INVALID', { httpStatus, verified: true, retryable: true });
  }
}

/** The body as a JSON object, or undefined. */
export function jsonObject(body: Buffer | string): Record<string, any> | undefined {
  try {
    const v = JSON.parse(body.toString());
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `verify` for protocols whose answers carry no signature (authenticity rests on TLS): only a
 * 200 answer with a JSON object body (holding `field`, when given) is the provider's protocol
 * answer; anything else (an error page, a proxy's 4xx/5xx, garbage) proves nothing.
 */
export function verifyJsonAnswer(field?: string): (res: HttpResponse) => void {
  return (res) => {
    if (res.status !== 200) throw new GatewayFailure('GATEWAY_ERROR', { httpStatus: res.status, verified: false, retryable: true });
    const json = jsonObject(res.body);
    if (!json || (field !== undefined && !(field in json)))
      throw new GatewayFailure('GATEWAY_RESPONSE_INVALID', { httpStatus: res.status, verified: false, retryable: true });
  };
}

/**
 * The gateway override: one meaning for every provider node. `gateway` is a base URL
 * (`https://host[/prefix]`) that the provider's API paths are appended to; a full endpoint URL
 * (one already ending in `path`) keeps working as before.
 */
export function gatewayUrl(base: string | undefined, fallback: string, path: string): string {
  const root = (base || fallback).replace(/\/+$/, '');
  const bare = path.split('?')[0];
  return bare && root.endsWith(bare) ? root + path.slice(bare.length) : root + path;
}
