/**
 * Huawei Pay (Payment Kit, 华为支付 商户直连) message signing, as its REST overview describes
 * (https://developer.huawei.com/consumer/cn/doc/harmonyos-references/payment-rest-overview):
 * - the signed string of a JSON object: every field but `sign`, null/absent fields skipped, empty
 *   strings kept, keys in ASCII order, `k=v` joined with `&`; a list of objects is each object's
 *   own string joined with `,` (`subOrders=mercNo=1&mercOrderNo=a,mercNo=2&mercOrderNo=b`);
 * - merchant requests: the body string (GET: the request path with its query) and the PayMercAuth
 *   header string are signed with the merchant key, SHA256WithRSA/PSS (salt = 32) or SM2;
 * - Huawei's answers and notifications are signed with SM2 (Huawei Pay certificate) over the same
 *   kind of string, which the merchant verifies before trusting anything in them.
 * See docs/huawei.md for the sources and the points that are inferred.
 */
import { constants, createPrivateKey, randomBytes, sign as nodeSign, type KeyObject } from 'node:crypto';
import { parseSm2PublicKey, sm2PrivateScalar, sm2PublicOf, sm2Sign, sm2Verify, type Sm2Point } from './sm2';

type Json = string | number | boolean | null | undefined | Json[] | { [k: string]: Json };

function valueString(v: Json): string {
  if (Array.isArray(v)) return v.map(valueString).join(',');
  // a nested object is written like a list element (inferred: the docs show only lists of objects)
  if (v !== null && typeof v === 'object') return huaweiSignString(v);
  return String(v);
}

/** The string Huawei Pay signs for a JSON object (see the file comment). */
export function huaweiSignString(obj: Record<string, Json>): string {
  return Object.keys(obj)
    .filter((k) => k !== 'sign' && obj[k] !== null && obj[k] !== undefined)
    .sort()
    .map((k) => `${k}=${valueString(obj[k])}`)
    .join('&');
}

/** A merchant signing key: RSA (SHA256WithRSA/PSS) or SM2, as uploaded to the merchant platform. */
export type MerchantKey = { kind: 'rsa'; key: KeyObject } | { kind: 'sm2'; d: bigint; pub: Sm2Point };

/** `mchPrivateKey` as PEM, or the bare base64 PKCS#8 body Huawei's Java sample config holds; undefined when unreadable. */
export function parseMerchantKey(text: string): MerchantKey | undefined {
  const t = text.trim().replace(/\\n/g, '\n');
  let key: KeyObject;
  try {
    key = t.includes('-----BEGIN')
      ? createPrivateKey(t)
      : createPrivateKey({ key: Buffer.from(t.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    return undefined;
  }
  if (key.asymmetricKeyType === 'rsa') return { kind: 'rsa', key };
  const d = sm2PrivateScalar(key);
  return d === undefined ? undefined : { kind: 'sm2', d, pub: sm2PublicOf(d) };
}

/** base64 signature of `content` with the merchant key. */
export function merchantSign(content: string, key: MerchantKey): string {
  const data = Buffer.from(content, 'utf8');
  if (key.kind === 'sm2') return sm2Sign(data, key.d, key.pub).toString('base64');
  return nodeSign('sha256', data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('base64');
}

export { parseSm2PublicKey };

/** Checks Huawei's SM2 `sign` over the signed string of every other field; false when absent or wrong. */
export function verifyHuaweiSigned(fields: Record<string, Json>, platformKey: Sm2Point): boolean {
  const sig = fields.sign;
  if (typeof sig !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(sig)) return false;
  return sm2Verify(Buffer.from(huaweiSignString(fields), 'utf8'), Buffer.from(sig, 'base64'), platformKey);
}

export interface MercAuthInput {
  /** merchant number (callerId) */
  mchId: string;
  /** merchant certificate id (authId) */
  authId: string;
  /** the signed body string (POST) or the request path with its query (GET) */
  bodyContent: string;
  key: MerchantKey;
  now: number;
}

/** The PayMercAuth header value: callerId, traceId, time, authId, bodySign and headerSign over the others. */
export function payMercAuth(input: MercAuthInput): string {
  const auth: Record<string, Json> = {
    callerId: input.mchId,
    traceId: `${input.now}${randomBytes(6).toString('hex')}`.slice(0, 32),
    time: input.now,
    authId: input.authId,
    bodySign: merchantSign(input.bodyContent, input.key),
  };
  auth.headerSign = merchantSign(huaweiSignString(auth), input.key);
  return JSON.stringify(auth);
}

export interface OrderStrInput {
  appId: string;
  mchId: string;
  authId: string;
  prepayId: string;
  key: MerchantKey;
  now: number;
}

/**
 * The `orderStr` the HarmonyOS Payment Kit (`requestPayment`) takes: app_id, merc_no, prepay_id,
 * timestamp (13-digit ms), noncestr (≤ 32), auth_id, and sign over the other fields
 * (https://developer.huawei.com/consumer/cn/doc/harmonyos-references/payment-model#orderstr).
 */
export function buildOrderStr(input: OrderStrInput): string {
  const fields: Record<string, Json> = {
    app_id: input.appId,
    merc_no: input.mchId,
    prepay_id: input.prepayId,
    timestamp: String(input.now),
    noncestr: randomBytes(16).toString('hex'),
    auth_id: input.authId,
  };
  fields.sign = merchantSign(huaweiSignString(fields), input.key);
  return JSON.stringify(fields);
}
