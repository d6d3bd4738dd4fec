/**
 * WeChat Pay wire primitives for the sandbox gateway: v3 RSA-SHA256 signing
 * strings, AEAD_AES_256_GCM resources, v2 MD5 / HMAC-SHA256 signs, the flat v2 XML, Beijing times.
 * Deliberately independent of the plugin's own implementation, so that each checks the other.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, sign, verify, type KeyLike } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random `[0-9A-Za-z]` string (nonces, keys). */
export function nonceStr(len = 32): string {
  const bytes = randomBytes(len * 2);
  let out = '';
  for (let i = 0; i < bytes.length && out.length < len; i++) {
    if (bytes[i] < 248) out += BASE62[bytes[i] % 62]; // 248 = 4 * 62, no modulo bias
  }
  while (out.length < len) out += BASE62[randomBytes(1)[0] % 62];
  return out;
}

/** Random decimal digits. */
export function digits(len: number): string {
  let out = '';
  while (out.length < len) {
    const b = randomBytes(1)[0];
    if (b < 250) out += String(b % 10);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Time: Beijing (UTC+8, no DST) from epoch ms, regardless of the host TZ.
const BEIJING_MS = 8 * 3600 * 1000;

function beijingParts(ms: number): string[] {
  const t = new Date(ms + BEIJING_MS);
  const p = (n: number) => String(n).padStart(2, '0');
  return [
    String(t.getUTCFullYear()).padStart(4, '0'),
    p(t.getUTCMonth() + 1),
    p(t.getUTCDate()),
    p(t.getUTCHours()),
    p(t.getUTCMinutes()),
    p(t.getUTCSeconds()),
  ];
}

/** v3: `2026-01-02T03:04:05+08:00` */
export function rfc3339Beijing(ms: number): string {
  const [y, M, d, H, m, s] = beijingParts(ms);
  return `${y}-${M}-${d}T${H}:${m}:${s}+08:00`;
}

/** v2: `20260102030405` (Beijing) */
export function compactBeijing(ms: number): string {
  return beijingParts(ms).join('');
}

/** RFC 3339 with an explicit offset (`Z` or `±hh:mm`) → epoch ms; undefined when malformed. */
export function parseRfc3339(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m) return undefined;
  const [y, M, d, H, mi, s] = m.slice(1, 7).map(Number);
  if (M < 1 || M > 12 || d < 1 || d > 31 || H > 23 || mi > 59 || s > 59) return undefined;
  const frac = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const offset = m[8] === 'Z' ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000;
  const ms = Date.UTC(y, M - 1, d, H, mi, s, frac) - offset;
  return Number.isFinite(ms) ? ms : undefined;
}

/** v2 `yyyyMMddHHmmss` (Beijing) → epoch ms. */
export function parseCompactBeijing(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [y, M, d, H, mi, s] = m.slice(1).map(Number);
  if (M < 1 || M > 12 || d < 1 || d > 31 || H > 23 || mi > 59 || s > 59) return undefined;
  return Date.UTC(y, M - 1, d, H, mi, s) - BEIJING_MS;
}

// ---------------------------------------------------------------------------------------------
// v3 signatures (RSASSA-PKCS1-v1_5 / SHA-256, Base64)

/** `METHOD\nURL\nTS\nNONCE\nBODY\n` over the exact body bytes. */
export function v3RequestMessage(method: string, url: string, timestamp: string, nonce: string, body: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`${method}\n${url}\n${timestamp}\n${nonce}\n`), Buffer.from(body), Buffer.from('\n')]);
}

/** `TS\nNONCE\nBODY\n` (204: empty body line). */
export function v3ResponseMessage(timestamp: string, nonce: string, body: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), Buffer.from(body), Buffer.from('\n')]);
}

export function rsaSign(message: Buffer, privateKey: KeyLike): string {
  return sign('sha256', message, privateKey).toString('base64');
}

export function rsaVerify(message: Buffer, signatureB64: string, publicKey: KeyLike): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64)) return false;
  try {
    return verify('sha256', message, publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** Parses `WECHATPAY2-SHA256-RSA2048 k="v",k="v"` (any order); undefined when malformed. */
export function parseAuthorization(header: string | undefined): Record<string, string> | undefined {
  if (!header) return undefined;
  const scheme = 'WECHATPAY2-SHA256-RSA2048';
  if (!header.startsWith(scheme + ' ')) return undefined;
  const rest = header.slice(scheme.length + 1).trim();
  const out: Record<string, string> = {};
  const re = /\s*([a-z_]+)="([^"]*)"\s*(,|$)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while (consumed < rest.length && (m = re.exec(rest)) !== null) {
    if (Object.prototype.hasOwnProperty.call(out, m[1])) return undefined;
    out[m[1]] = m[2];
    consumed = re.lastIndex;
    if (m[3] === '') break;
  }
  if (consumed !== rest.length) return undefined;
  return out;
}

// ---------------------------------------------------------------------------------------------
// AEAD_AES_256_GCM resources (notifications, /v3/certificates)

export interface EncryptedResource {
  algorithm: 'AEAD_AES_256_GCM';
  nonce: string;
  associated_data: string;
  ciphertext: string;
}

/** key = the 32 ASCII bytes of the APIv3 key, 12-char nonce, output Base64(ciphertext ‖ tag). */
export function aesGcmEncrypt(apiV3Key: string, plaintext: string, associatedData: string, nonce = nonceStr(12)): EncryptedResource {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { algorithm: 'AEAD_AES_256_GCM', nonce, associated_data: associatedData, ciphertext: ct.toString('base64') };
}

export function aesGcmDecrypt(apiV3Key: string, resource: { nonce: string; associated_data?: string; ciphertext: string }): string {
  const raw = Buffer.from(resource.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(resource.nonce, 'utf8'));
  decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([decipher.update(raw.subarray(0, raw.length - 16)), decipher.final()]).toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// v2: sign and XML

export type V2SignType = 'MD5' | 'HMAC-SHA256';

/** §2.1: non-empty params except `sign`, ASCII-sorted, `k=v&…&key=KEY`, MD5 or HMAC-SHA256, upper hex. */
export function v2Sign(params: Record<string, string | number | undefined>, key: string, signType: V2SignType = 'MD5'): string {
  const stringA = Object.keys(params)
    .filter((k) => k !== 'sign' && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const temp = `${stringA}&key=${key}`;
  const hex =
    signType === 'HMAC-SHA256'
      ? createHmac('sha256', key).update(temp, 'utf8').digest('hex')
      : createHash('md5').update(temp, 'utf8').digest('hex');
  return hex.toUpperCase();
}

function cdata(v: string): string {
  return `<![CDATA[${v.split(']]>').join(']]]]><![CDATA[>')}]]>`;
}

/** `<xml><k><![CDATA[v]]></k>…</xml>`; integers are written bare, like the real gateway. */
export function toXml(params: Record<string, string | number | undefined>): string {
  let out = '<xml>';
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    const s = String(v);
    out += `<${k}>${/^\d+$/.test(s) ? s : cdata(s)}</${k}>`;
  }
  return out + '</xml>';
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(raw: string): string {
  let out = '';
  const re = /<!\[CDATA\[([\s\S]*?)\]\]>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  const plain = (s: string) =>
    s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (all, e: string) => {
      if (e[0] === '#') {
        const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return Number.isFinite(cp) && cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
      }
      return ENTITIES[e] ?? all;
    });
  while ((m = re.exec(raw)) !== null) {
    out += plain(raw.slice(last, m.index)) + m[1];
    last = re.lastIndex;
  }
  return out + plain(raw.slice(last));
}

/** Flat `<xml>` (or any single root) document → fields; undefined when it is not one. */
export function parseXml(text: string): Record<string, string> | undefined {
  const src = text
    .replace(/^\uFEFF/, '')
    .replace(/^\s*<\?xml[^>]*\?>/, '')
    .trim();
  const root = /^<([A-Za-z_][\w.-]*)>([\s\S]*)<\/\1>$/.exec(src);
  if (!root) return undefined;
  const body = root[2];
  const out: Record<string, string> = {};
  const re = /\s*<([A-Za-z_][\w.-]*)>((?:<!\[CDATA\[[\s\S]*?\]\]>|[^<])*)<\/\1>\s*|\s*<([A-Za-z_][\w.-]*)\s*\/>\s*/y;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m) {
      if (/^\s*$/.test(body.slice(pos))) break;
      return undefined;
    }
    if (m[1] !== undefined) out[m[1]] = decodeText(m[2]);
    else out[m[3]] = '';
    pos = re.lastIndex;
  }
  return out;
}

/** 1 → "0.01", 1999 → "19.99" (integer arithmetic only). */
export function fenToYuan(fen: number): string {
  const s = String(Math.abs(Math.trunc(fen))).padStart(3, '0');
  return `${fen < 0 ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`;
}
