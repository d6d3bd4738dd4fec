/**
 * v2 gateway calls (`gateway.do`). Transport choice: alipay-sdk builds and signs the request
 * (`sdkExecute`: common params, cert-mode SNs, RSA2 over the sorted string) and we send it through
 * the project's HttpTransport port (ctx.http), so the sandbox, test doubles and uniCloud.httpclient
 * all stand in the same way. The response signature is then checked over the exact raw text of the
 * `<method>_response` (or `error_response`) value, found by a brace scanner that honours JSON
 * strings, with the SDK's `rsaCheck` (the Alipay public key, or the key of the Alipay public cert).
 * `exec()` would use its own urllib and a heuristic extractor (and silently skip verification when
 * no Alipay key is configured), hence not used.
 */
import { PayError } from '../../core/errors';
import { toDateTimeShanghai } from '../../core/time';
import type { ProviderContext } from '../types';
import { getAlipayRuntime, type AlipayNodeConfig, type AlipayRuntime } from './config';

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

/**
 * The signed parameter string `k=encodeURIComponent(v)&…` (alipay-sdk `sdkExecute`). The timestamp
 * is passed explicitly in Beijing time: the SDK would format the host's local time (UTC in the cloud).
 * biz_content is sent exactly as given (no camel/snake case rewriting of merchant keys), and left
 * out when empty; `common.params` are extra top-level params.
 */
export function signedParamString(
  rt: AlipayRuntime,
  method: string,
  biz: Record<string, unknown>,
  common: CommonParams,
  nowMs: number,
): string {
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(common.params ?? {})) {
    if (!URL_PARAMS.has(k) && k !== 'biz_content' && k !== 'alipay_sdk') params[k] = v;
  }
  params.timestamp = toDateTimeShanghai(nowMs);
  // no biz_content at all for methods without business content (the SDK would send `{}`)
  if (Object.keys(biz).length) params.biz_content = biz;
  if (common.notify_url) params.notify_url = common.notify_url;
  if (common.app_auth_token) params.app_auth_token = common.app_auth_token;
  return rt.sdk.sdkExecute(method, params, { bizContentAutoSnakeCase: false });
}

/**
 * Raw text of each top-level member value of a JSON object, exactly as it appears in `text`.
 * Returns undefined when the text is not a well-formed top-level object (as far as structure goes).
 */
export function topLevelRawMembers(text: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && /\s/.test(text[i])) i++;
  };
  const readString = (): string | undefined => {
    if (text[i] !== '"') return undefined;
    const start = i++;
    while (i < n) {
      const ch = text[i];
      if (ch === '\\') i += 2;
      else if (ch === '"') {
        i++;
        return text.slice(start, i);
      } else i++;
    }
    return undefined;
  };
  const skipValue = (): boolean => {
    ws();
    if (text[i] === '"') return readString() !== undefined;
    if (text[i] === '{' || text[i] === '[') {
      let depth = 0;
      while (i < n) {
        const ch = text[i];
        if (ch === '"') {
          if (readString() === undefined) return false;
          continue;
        }
        if (ch === '{' || ch === '[') depth++;
        else if (ch === '}' || ch === ']') {
          depth--;
          if (depth === 0) {
            i++;
            return true;
          }
        }
        i++;
      }
      return false;
    }
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  ws();
  if (text[i] !== '{') return undefined;
  i++;
  ws();
  if (text[i] === '}') return out;
  for (;;) {
    ws();
    const keyRaw = readString();
    if (keyRaw === undefined) return undefined;
    ws();
    if (text[i] !== ':') return undefined;
    i++;
    ws();
    const start = i;
    if (!skipValue()) return undefined;
    let key: string;
    try {
      key = JSON.parse(keyRaw) as string;
    } catch {
      return undefined;
    }
    out.set(key, text.slice(start, i));
    ws();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') return out;
    return undefined;
  }
}

export interface GatewayResult {
  /** the verified business object (`code`, `msg`, `sub_code`, …) */
  data: Record<string, any>;
  ok: boolean;
  /** false only for an unsigned error response (see callGateway) */
  verified: boolean;
}

/**
 * Verifies a gateway response body. A signed response must verify (else GATEWAY_RESPONSE_UNVERIFIED);
 * a success (code 10000) must be signed. An unsigned *error* (Alipay sends some, e.g. a bad app_id,
 * without a sign) is returned with verified=false: callers turn it into GATEWAY_ERROR and never
 * derive an order state from it.
 */
export function verifyGatewayResponse(rt: AlipayRuntime, method: string, raw: string): GatewayResult {
  const members = topLevelRawMembers(raw);
  if (!members) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const key = `${method.replace(/\./g, '_')}_response`;
  const rawKey = members.has(key) ? key : members.has('error_response') ? 'error_response' : undefined;
  if (!rawKey) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const signed = members.get(rawKey)!;
  let data: Record<string, any>;
  let sign: unknown;
  try {
    data = JSON.parse(signed);
    const s = members.get('sign');
    sign = s === undefined ? undefined : JSON.parse(s);
  } catch {
    throw new PayError('GATEWAY_RESPONSE_INVALID');
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const ok = data.code === '10000';
  if (typeof sign !== 'string' || !sign) {
    if (ok) throw new PayError('GATEWAY_RESPONSE_UNVERIFIED');
    return { data, ok, verified: false };
  }
  let good = false;
  try {
    good = rt.sdk.rsaCheck(signed, sign, rt.signType);
  } catch {
    good = false;
  }
  if (!good) throw new PayError('GATEWAY_RESPONSE_UNVERIFIED');
  return { data, ok, verified: true };
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
