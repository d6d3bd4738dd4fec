/**
 * Douyin guaranteed payment (担保支付) signatures, on node:crypto. Both algorithms are those of
 * Douyin's official demos (github.com/bytedance/open-pay-signature-go-demo and -java-demo, whose
 * test vectors test/unit/douyin-sign.test.ts reproduces); docs/douyin.md has the details.
 *
 * Request sign (salt): the VALUES of every parameter except app_id, thirdparty_id, sign and
 * other_settle_params, each trimmed and stripped of one pair of surrounding double quotes, the empty
 * and "null" ones dropped, plus the SALT; sorted, joined with "&", MD5, lower-case hex.
 *
 * Callback signature (token): the values of every field of the callback except msg_signature and
 * type, the empty ones dropped, plus the Token; sorted, concatenated with nothing between, SHA-1,
 * lower-case hex.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Parameters that identify the caller and are not signed. */
const UNSIGNED_PARAMS = new Set(['app_id', 'thirdparty_id', 'sign', 'other_settle_params']);

/** Request parameters we send are scalars; nested objects have their own demo encoding that we never need. */
export type DouyinParam = string | number | boolean | null | undefined;

function signedValue(v: DouyinParam): string | undefined {
  if (v === undefined || v === null) return undefined;
  let s = String(v).trim();
  if (s.length > 1 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1).trim();
  return s === '' || s === 'null' ? undefined : s;
}

/**
 * Sorted like the Java demo (Collections.sort: UTF-16 code units, which is JavaScript's default
 * order). The Go demo sorts bytes; the two differ only for characters above U+FFFF against
 * U+E000–U+FFFF, which order numbers, amounts and the texts we send never contain both of.
 */
export function douyinRequestSignString(params: Record<string, DouyinParam>, salt: string): string {
  const values: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (UNSIGNED_PARAMS.has(k)) continue;
    const s = signedValue(v);
    if (s !== undefined) values.push(s);
  }
  values.push(salt);
  return values.sort().join('&');
}

export function douyinRequestSign(params: Record<string, DouyinParam>, salt: string): string {
  return createHash('md5').update(douyinRequestSignString(params, salt), 'utf8').digest('hex');
}

/** The callback fields that are signed: all but msg_signature and type, empty ones dropped. */
export function douyinCallbackValues(fields: Record<string, unknown>): string[] {
  const values: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'msg_signature' || k === 'type' || v === undefined || v === null) continue;
    const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    if (s === undefined) throw new TypeError(`callback field ${k} is not a scalar`);
    if (s !== '') values.push(s);
  }
  return values;
}

export function douyinCallbackSign(fields: Record<string, unknown>, token: string): string {
  const parts = [...douyinCallbackValues(fields), token].sort();
  return createHash('sha1').update(parts.join(''), 'utf8').digest('hex');
}

/** Timing-safe comparison of a received msg_signature with the one computed from the Token. */
export function douyinCallbackSignatureValid(fields: Record<string, unknown>, token: string): boolean {
  const got = fields.msg_signature;
  if (typeof got !== 'string' || !/^[0-9a-f]{40}$/i.test(got)) return false;
  const want = Buffer.from(douyinCallbackSign(fields, token), 'hex');
  return timingSafeEqual(want, Buffer.from(got, 'hex'));
}
