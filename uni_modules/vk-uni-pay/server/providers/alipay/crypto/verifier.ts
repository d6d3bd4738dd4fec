/**
 * Verifying what Alipay signed, with the Alipay public key (key mode) or the key of the Alipay
 * public certificate whose SN the response names (cert mode).
 *   Responses (https://opendocs.alipay.com/common/02mse7): `{"<method_with_underscores>_response":{…},
 *   "alipay_cert_sn":"…","sign":"…"}` (or `error_response`); the signature covers the exact raw text
 *   of that member's value as received, never a re-serialisation.
 *   Notifications (https://opendocs.alipay.com/common/02mse7): form fields without `sign` and
 *   `sign_type`, empty values left out, sorted, `k=v&…` of the decoded values.
 */
import { verify as rsaVerify, type KeyObject, type X509Certificate } from 'node:crypto';
import { certSn } from './cert';
import { DIGEST, signContent, type AlipaySignType } from './signer';

export interface AlipayVerifier {
  readonly signType: AlipaySignType;
  readonly certMode: boolean;
  /** SNs of the configured Alipay public certificates (cert mode) */
  readonly certSns: readonly string[];
  /** the key for a response naming `alipay_cert_sn` (undefined: not configured); key mode ignores sn */
  keyFor(sn: string | undefined): KeyObject | undefined;
  /** true when any configured Alipay key verifies */
  verify(content: string, sign: string): boolean;
}

export function verifyWith(key: KeyObject, signType: AlipaySignType, content: string, sign: string): boolean {
  try {
    return rsaVerify(DIGEST[signType], Buffer.from(content, 'utf8'), key, Buffer.from(sign, 'base64'));
  } catch {
    return false;
  }
}

export function keyModeVerifier(publicKey: KeyObject, signType: AlipaySignType = 'RSA2'): AlipayVerifier {
  return Object.freeze({
    signType,
    certMode: false,
    certSns: [],
    keyFor: () => publicKey,
    verify: (content: string, sign: string) => verifyWith(publicKey, signType, content, sign),
  });
}

/** several certificates may be configured at once while Alipay rotates its certificate */
export function certModeVerifier(certs: X509Certificate[], signType: AlipaySignType = 'RSA2'): AlipayVerifier {
  const bySn = new Map(certs.map((c) => [certSn(c), c.publicKey] as const));
  const only = bySn.size === 1 ? [...bySn.values()][0] : undefined;
  return Object.freeze({
    signType,
    certMode: true,
    certSns: [...bySn.keys()],
    // a response without alipay_cert_sn can only be checked when there is no choice to make
    keyFor: (sn: string | undefined) => (sn === undefined ? only : bySn.get(sn)),
    verify: (content: string, sign: string) => [...bySn.values()].some((k) => verifyWith(k, signType, content, sign)),
  });
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

/** What a gateway answer carries, before any trust is placed in it. */
export interface ResponseParts {
  /** `<method>_response` or `error_response` */
  memberKey: string;
  /** exact raw text of that member's value: what Alipay signed */
  signedText: string;
  /** the parsed member value (an object) */
  data: Record<string, any>;
  sign?: string;
  alipayCertSn?: string;
}

/** undefined when the text is not a gateway answer for this method */
export function responseParts(raw: string, method: string): ResponseParts | undefined {
  const members = topLevelRawMembers(raw);
  if (!members) return undefined;
  const key = `${method.replace(/\./g, '_')}_response`;
  const memberKey = members.has(key) ? key : members.has('error_response') ? 'error_response' : undefined;
  if (!memberKey) return undefined;
  const signedText = members.get(memberKey)!;
  const str = (k: string): string | undefined => {
    const t = members.get(k);
    if (t === undefined) return undefined;
    const v: unknown = JSON.parse(t);
    return typeof v === 'string' && v ? v : undefined;
  };
  try {
    const data: unknown = JSON.parse(signedText);
    if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
    return { memberKey, signedText, data: data as Record<string, any>, sign: str('sign'), alipayCertSn: str('alipay_cert_sn') };
  } catch {
    return undefined;
  }
}

export type ResponseCheck =
  | { status: 'verified' }
  | { status: 'unsigned' }
  | { status: 'bad-signature' }
  /** cert mode: the answer names an Alipay certificate that is not configured */
  | { status: 'unknown-cert'; sn: string };

export function checkResponse(v: AlipayVerifier, parts: ResponseParts): ResponseCheck {
  if (!parts.sign) return { status: 'unsigned' };
  const key = v.keyFor(parts.alipayCertSn);
  if (!key) return v.certMode && parts.alipayCertSn ? { status: 'unknown-cert', sn: parts.alipayCertSn } : { status: 'bad-signature' };
  return verifyWith(key, v.signType, parts.signedText, parts.sign) ? { status: 'verified' } : { status: 'bad-signature' };
}

/**
 * Notification fields (decoded) → whether the signature holds. The algorithm is ours to choose,
 * never the message's: a sign_type other than the configured one fails (no downgrade to SHA1).
 */
export function verifyNotifyFields(v: AlipayVerifier, fields: Record<string, string>): boolean {
  const sign = fields.sign;
  if (!sign) return false;
  if (fields.sign_type && fields.sign_type !== v.signType) return false;
  if (v.verify(signContent(fields, { dropSignType: true }), sign)) return true;
  // Alipay's signer skips empty values; should one ever be signed, the variant keeping it is tried
  return Object.values(fields).includes('') && v.verify(signContent(fields, { dropSignType: true, keepEmpty: true }), sign);
}
