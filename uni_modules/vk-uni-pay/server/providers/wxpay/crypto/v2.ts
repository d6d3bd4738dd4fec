/**
 * WeChat Pay API v2 (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3): MD5 / HMAC-SHA256 parameter signatures, the flat
 * `<xml>` format and the AES-256-ECB `req_info` of refund notifications. node:crypto only; the XML
 * parser never expands DTDs or custom entities.
 */
import { createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { PayError } from '../../../core/errors';

export type V2SignType = 'MD5' | 'HMAC-SHA256';

function v2Value(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return undefined; // byte/file params are not signed
  return JSON.stringify(v);
}

const byAscii = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** stringSignTemp = k1=v1&k2=v2…&key=KEY (non-empty values, `sign` excluded, ASCII order) */
function signingString(params: Record<string, unknown>, key: string): string {
  const pairs: string[] = [];
  for (const k of Object.keys(params).sort(byAscii)) {
    if (k === 'sign') continue;
    const v = v2Value(params[k]);
    if (v === undefined || v === '') continue;
    pairs.push(`${k}=${v}`);
  }
  return `${pairs.join('&')}&key=${key}`;
}

export function signV2(params: Record<string, unknown>, key: string, signType: V2SignType): string {
  if (typeof key !== 'string' || key === '') throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'key' });
  const s = Buffer.from(signingString(params, key), 'utf8');
  if (signType === 'MD5') return createHash('md5').update(s).digest('hex').toUpperCase();
  if (signType === 'HMAC-SHA256') return createHmac('sha256', Buffer.from(key, 'utf8')).update(s).digest('hex').toUpperCase();
  throw new PayError('INTERNAL', {}, { reason: 'unknown v2 sign type' });
}

/**
 * `signType`: the sign type the merchant signs with. Gateway answers are signed with the request's
 * sign type and do not echo `sign_type`, so for them the caller passes the configured type; a
 * message that names another type is refused. Without it, the message's `sign_type` (default MD5).
 */
export function verifyV2(params: Record<string, string>, key: string, signType?: V2SignType): boolean {
  if (!params || typeof params !== 'object') return false;
  const received = params.sign;
  if (typeof received !== 'string' || received === '') return false;
  const named = params.sign_type === undefined || params.sign_type === '' ? undefined : params.sign_type;
  if (signType !== undefined && named !== undefined && named !== signType) return false;
  const type = named ?? signType ?? 'MD5';
  if (type !== 'MD5' && type !== 'HMAC-SHA256') return false;
  const expected = Buffer.from(signV2(params, key, type), 'utf8');
  const got = Buffer.from(received, 'utf8');
  return expected.length === got.length && timingSafeEqual(expected, got);
}

// ---------------------------------------------------------------- XML

const TAG = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// XML 1.0 Char production minus what we never want in a value (C0 controls except \t \n \r)
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const XML_INVALID = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;

function fieldInvalid(field: string, reason: string): PayError {
  return new PayError('FIELD_INVALID', { field, reason }, { field, reason });
}

export function toXml(params: Record<string, unknown>): string {
  let out = '<xml>';
  for (const [k, raw] of Object.entries(params)) {
    if (!TAG.test(k)) throw fieldInvalid(k, 'not a valid XML element name');
    if (raw === undefined || raw === null) continue;
    if (typeof raw === 'number') {
      if (!Number.isFinite(raw)) throw fieldInvalid(k, 'not a finite number');
      out += `<${k}>${raw}</${k}>`;
      continue;
    }
    const v = typeof raw === 'string' ? raw : typeof raw === 'boolean' || typeof raw === 'bigint' ? String(raw) : JSON.stringify(raw);
    if (v.includes(']]>')) throw fieldInvalid(k, 'value contains "]]>"');
    if (XML_INVALID.test(v)) throw fieldInvalid(k, 'value contains a character not allowed in XML');
    out += `<${k}><![CDATA[${v}]]></${k}>`;
  }
  return out + '</xml>';
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function malformed(reason: string): PayError {
  return new PayError('NOTIFY_MALFORMED', {}, { reason });
}

function decodeText(text: string): string {
  return text.replace(/&([^;&<]*);?/g, (m, name: string) => {
    if (!m.endsWith(';')) throw malformed('bare "&" in text');
    if (name in ENTITIES && Object.prototype.hasOwnProperty.call(ENTITIES, name)) return ENTITIES[name];
    const num = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (num) {
      const cp = num[1] !== undefined ? parseInt(num[1], 16) : parseInt(num[2], 10);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw malformed('bad character reference');
      const ch = String.fromCodePoint(cp);
      if (XML_INVALID.test(ch)) throw malformed('bad character reference');
      return ch;
    }
    throw malformed('unknown entity');
  });
}

/** flat `<xml><k>v</k>…</xml>` (any single root element name, e.g. `<root>` of refund req_info) */
export function parseXml(xml: string): Record<string, string> {
  if (typeof xml !== 'string') throw malformed('not a string');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw malformed('DTD not allowed');
  let i = 0;
  const n = xml.length;
  const ws = () => {
    for (;;) {
      while (i < n && (xml[i] === ' ' || xml[i] === '\t' || xml[i] === '\n' || xml[i] === '\r')) i++;
      if (xml.startsWith('<!--', i)) {
        const end = xml.indexOf('-->', i + 4);
        if (end < 0) throw malformed('unterminated comment');
        i = end + 3;
      } else return;
    }
  };
  const name = (): string => {
    const m = /[A-Za-z_][A-Za-z0-9_.-]*/y;
    m.lastIndex = i;
    const r = m.exec(xml);
    if (!r) throw malformed('element name expected');
    i += r[0].length;
    return r[0];
  };
  const expect = (s: string) => {
    if (!xml.startsWith(s, i)) throw malformed(`"${s}" expected`);
    i += s.length;
  };

  if (xml.charCodeAt(0) === 0xfeff) i = 1;
  if (xml.startsWith('<?xml', i)) {
    const end = xml.indexOf('?>', i);
    if (end < 0) throw malformed('unterminated XML declaration');
    i = end + 2;
  }
  ws();
  expect('<');
  const root = name();
  ws();
  expect('>');

  const out: Record<string, string> = {};
  for (;;) {
    ws();
    if (xml.startsWith('</', i)) {
      i += 2;
      if (name() !== root) throw malformed('mismatched root end tag');
      ws();
      expect('>');
      ws();
      if (i !== n) throw malformed('content after the root element');
      return out;
    }
    expect('<');
    const key = name();
    if (key === '__proto__') throw malformed('forbidden element name');
    if (Object.prototype.hasOwnProperty.call(out, key)) throw malformed(`duplicate element ${key}`);
    ws();
    if (xml.startsWith('/>', i)) {
      i += 2;
      out[key] = '';
      continue;
    }
    expect('>');
    let value = '';
    for (;;) {
      if (i >= n) throw malformed(`unterminated element ${key}`);
      if (xml.startsWith('<![CDATA[', i)) {
        const end = xml.indexOf(']]>', i + 9);
        if (end < 0) throw malformed('unterminated CDATA');
        value += xml.slice(i + 9, end);
        i = end + 3;
      } else if (xml.startsWith('</', i)) {
        i += 2;
        if (name() !== key) throw malformed(`mismatched end tag for ${key}`);
        ws();
        expect('>');
        break;
      } else if (xml.startsWith('<!--', i)) {
        const end = xml.indexOf('-->', i + 4);
        if (end < 0) throw malformed('unterminated comment');
        i = end + 3;
      } else if (xml[i] === '<') {
        throw malformed(`nested element inside ${key}`);
      } else {
        let end = xml.indexOf('<', i);
        if (end < 0) end = n;
        value += decodeText(xml.slice(i, end));
        i = end;
      }
    }
    if (XML_INVALID.test(value)) throw malformed('character not allowed in XML');
    out[key] = value;
  }
}

// ---------------------------------------------------------------- refund req_info

export function decryptRefundReqInfo(reqInfo: string, apiV2Key: string): string {
  if (typeof apiV2Key !== 'string' || apiV2Key === '') throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'key' });
  if (typeof reqInfo !== 'string' || reqInfo === '' || !/^[A-Za-z0-9+/\r\n]+={0,2}\s*$/.test(reqInfo)) {
    throw malformed('req_info is not base64');
  }
  const data = Buffer.from(reqInfo, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new PayError('NOTIFY_DECRYPT_FAILED');
  const key = Buffer.from(createHash('md5').update(apiV2Key, 'utf8').digest('hex'), 'ascii'); // 32 ASCII bytes
  try {
    const d = createDecipheriv('aes-256-ecb', key, null); // auto padding = PKCS#7, checked by final()
    return Buffer.concat([d.update(data), d.final()]).toString('utf8');
  } catch {
    throw new PayError('NOTIFY_DECRYPT_FAILED');
  }
}
