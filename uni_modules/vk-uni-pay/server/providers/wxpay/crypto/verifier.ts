/**
 * WeChat side of API v3 (https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_1.shtml): verification of response and notification signatures
 * with the WeChat Pay public key (PUB_KEY_ID_… mode) or a platform certificate (serial mode), both
 * in one store during the migration. The signed string is built from the RAW body bytes.
 */
import { constants, createPublicKey, verify as rsaVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { PayError, type ErrorKey } from '../../../core/errors';

export interface WechatpayKeyStore {
  /** key for a Wechatpay-Serial: PUB_KEY_ID_… → public key; otherwise a platform certificate serial */
  get(serial: string): KeyObject | undefined;
}

export const PUB_KEY_ID_PREFIX = 'PUB_KEY_ID_';
export const DEFAULT_WINDOW_SECONDS = 300;
const PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';
const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';

function isPublicKeyId(serial: string): boolean {
  return serial.startsWith(PUB_KEY_ID_PREFIX);
}

function rsaPublicKey(pem: string, field: string): KeyObject {
  let key: KeyObject;
  try {
    if (typeof pem !== 'string' || !pem.includes('-----BEGIN')) throw new Error('not PEM');
    key = createPublicKey(pem);
  } catch {
    throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field });
  }
  if (key.asymmetricKeyType !== 'rsa') throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field });
  return key;
}

function certificateKey(serial: string, pem: string): { serial: string; key: KeyObject } {
  const field = 'platformCertificate';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field });
  }
  const own = cert.serialNumber.replace(/[^0-9A-Fa-f]/g, '').toUpperCase();
  // the configured serial must be the certificate's own: a mismatch would route signatures to the wrong key
  if (own !== serial.toUpperCase()) throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field });
  if (cert.publicKey.asymmetricKeyType !== 'rsa') throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field });
  return { serial: own, key: cert.publicKey };
}

export function createKeyStore(opts: {
  publicKeys?: Record<string, string>;
  certificates?: Record<string, string>;
}): WechatpayKeyStore & { add(serial: string, pem: string): void; serials(): string[] } {
  const publicKeys = new Map<string, KeyObject>();
  const certificates = new Map<string, KeyObject>(); // upper-case serial → key

  const addPublicKey = (id: string, pem: string) => {
    if (!isPublicKeyId(id) || id.length === PUB_KEY_ID_PREFIX.length) {
      throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'wxpayPublicKeyId' });
    }
    publicKeys.set(id, rsaPublicKey(pem, 'wxpayPublicKey'));
  };
  const addCertificate = (serial: string, pem: string) => {
    if (typeof serial !== 'string' || !/^[0-9A-Fa-f]+$/.test(serial)) {
      throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'platformCertificate' });
    }
    const c = certificateKey(serial, pem);
    certificates.set(c.serial, c.key);
  };

  for (const [id, pem] of Object.entries(opts?.publicKeys ?? {})) addPublicKey(id, pem);
  for (const [serial, pem] of Object.entries(opts?.certificates ?? {})) addCertificate(serial, pem);

  return {
    get(serial: string): KeyObject | undefined {
      if (typeof serial !== 'string' || serial === '') return undefined;
      return isPublicKeyId(serial) ? publicKeys.get(serial) : certificates.get(serial.toUpperCase());
    },
    /** PUB_KEY_ID_… → public key (or certificate) PEM; otherwise a platform certificate PEM */
    add(serial: string, pem: string): void {
      if (typeof serial === 'string' && isPublicKeyId(serial)) addPublicKey(serial, pem);
      else addCertificate(serial, pem);
    },
    serials(): string[] {
      return [...publicKeys.keys(), ...certificates.keys()];
    },
  };
}

export interface SignedMessage {
  timestamp: string;
  nonce: string;
  signature: string;
  serial: string;
  body: Buffer | string;
}

export function signedMessageFromHeaders(headers: Record<string, string | undefined>, body: Buffer | string): SignedMessage {
  const pick = (name: string): string => {
    const v = headers?.[name];
    if (typeof v !== 'string' || v === '') throw new PayError('NOTIFY_MALFORMED', {}, { reason: `missing header ${name}` });
    return v;
  };
  const type = headers?.['wechatpay-signature-type'];
  if (type !== undefined && type !== SIGNATURE_TYPE) {
    throw new PayError('NOTIFY_MALFORMED', {}, { reason: 'unsupported Wechatpay-Signature-Type' });
  }
  if (typeof body !== 'string' && !Buffer.isBuffer(body))
    throw new PayError('NOTIFY_MALFORMED', {}, { reason: 'body must be the raw bytes' });
  return {
    timestamp: pick('wechatpay-timestamp'),
    nonce: pick('wechatpay-nonce'),
    signature: pick('wechatpay-signature'),
    serial: pick('wechatpay-serial'),
    body,
  };
}

/** `${timestamp}\n${nonce}\n${body}\n` over the raw body bytes */
export function responseMessage(timestamp: string, nonce: string, body: Buffer | string): Buffer {
  return Buffer.concat([
    Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'),
    Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    Buffer.from('\n', 'utf8'),
  ]);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function verifyMessage(
  store: WechatpayKeyStore,
  msg: SignedMessage,
  opts: { nowMs: number; windowSeconds?: number; purpose: 'notify' | 'response' },
): void {
  const fail = (key: ErrorKey, detail: Record<string, unknown> = {}): never => {
    if (opts.purpose === 'response') throw new PayError('GATEWAY_RESPONSE_UNVERIFIED', {}, { reason: key, ...detail });
    throw new PayError(key, {}, detail);
  };
  if (opts.purpose !== 'notify' && opts.purpose !== 'response') throw new PayError('INTERNAL', {}, { reason: 'verifyMessage purpose' });
  const window = opts.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
  if (!Number.isFinite(opts.nowMs) || !(window > 0)) throw new PayError('INTERNAL', {}, { reason: 'verifyMessage nowMs/windowSeconds' });

  const { timestamp, nonce, signature, serial, body } = msg ?? ({} as SignedMessage);
  if (typeof signature !== 'string' || typeof timestamp !== 'string' || typeof nonce !== 'string' || typeof serial !== 'string') {
    fail('NOTIFY_MALFORMED', { why: 'missing field' });
  }
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) fail('NOTIFY_MALFORMED', { why: 'body must be the raw bytes' });

  // 1. WeChat's probe traffic must be refused
  if (signature.startsWith(PROBE_PREFIX)) fail('NOTIFY_PROBE');

  // 2. replay window: |now - ts| >= window is refused (Go SDK: time.Now().Unix(), FiveMinute)
  if (!/^\d{1,12}$/.test(timestamp)) fail('NOTIFY_MALFORMED', { why: 'timestamp' });
  const nowS = Math.floor(opts.nowMs / 1000);
  if (Math.abs(nowS - Number(timestamp)) >= window) fail('NOTIFY_TIMESTAMP_EXPIRED', { timestamp, now: nowS });
  if (nonce === '' || /[\r\n]/.test(nonce)) fail('NOTIFY_MALFORMED', { why: 'nonce' });

  // 3. key for the serial
  const key = store.get(serial);
  if (!key) fail('NOTIFY_SERIAL_UNKNOWN', { serial });

  // 4. RSA-SHA256 PKCS#1 v1.5 over the exact bytes
  let ok = false;
  if (key!.asymmetricKeyType === 'rsa' && key!.type === 'public' && signature !== '' && BASE64.test(signature)) {
    try {
      ok = rsaVerify(
        'sha256',
        responseMessage(timestamp, nonce, body),
        { key: key!, padding: constants.RSA_PKCS1_PADDING },
        Buffer.from(signature, 'base64'),
      );
    } catch {
      ok = false;
    }
  }
  if (!ok) fail('NOTIFY_SIGNATURE_INVALID', { serial });
}
