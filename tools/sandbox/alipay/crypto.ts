/**
 * The sandbox's own Alipay crypto (independent of the adapter and of alipay-sdk, so that a bug in
 * either is caught by the other): RSA2 sign/verify, the gateway sign string, certificate SNs.
 */
import 'reflect-metadata'; // before @peculiar/x509 (its DI container needs it)
import { createHash, createSign, createVerify, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** SHA256withRSA, base64 */
export function rsa2Sign(content: string, privateKeyPem: string): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKeyPem, 'base64');
}

export function rsa2Verify(content: string, sign: string, publicKeyPem: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKeyPem, sign, 'base64');
  } catch {
    return false;
  }
}

/** every param except `sign` (and `sign_type` when asked), empty values skipped, sorted, raw values */
export function signString(params: Record<string, string>, dropSignType: boolean): string {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && !(dropSignType && k === 'sign_type') && params[k] !== '' && params[k] !== undefined)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

/** `SN = md5(issuerDN reversed RDN order, comma separated + decimal serial)`, as Alipay computes app_cert_sn / alipay_root_cert_sn */
export function certSn(pem: string): string {
  const c = new X509Certificate(pem);
  const issuer = c.issuer.split('\n').reverse().join(',');
  const serial = BigInt('0x' + c.serialNumber).toString(10);
  return createHash('md5')
    .update(issuer + serial, 'utf8')
    .digest('hex');
}

export function splitPems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** root bundle SN: SNs of the RSA-signed certificates, joined with `_` */
export function rootCertSn(bundle: string): string {
  return splitPems(bundle)
    .filter((pem) => {
      const alg = new x509.X509Certificate(pem).signatureAlgorithm as { name?: string };
      return alg.name === 'RSASSA-PKCS1-v1_5';
    })
    .map((pem) => certSn(pem + '\n'))
    .join('_');
}

const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;

/** `yyyy-MM-dd HH:mm:ss` in Beijing time, whatever the host TZ */
export function beijing(ms: number): string {
  const t = new Date(ms + SHANGHAI_OFFSET_MS);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${t.getUTCFullYear()}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())} ${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())}`;
}

export function parseBeijing(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [, y, M, d, H, mi, s] = m.map(Number);
  const ms = Date.UTC(y, M - 1, d, H, mi, s) - SHANGHAI_OFFSET_MS;
  return beijing(ms) === text ? ms : undefined; // rejects 2024-02-30 and friends
}

/** "0.01".."100000000.00" → fen, else undefined */
export function yuanToFenStrict(v: unknown): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(v));
  if (!m) return undefined;
  const fen = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return fen >= 1 && fen <= 10_000_000_000 ? fen : undefined;
}

export function fenToYuanText(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}
