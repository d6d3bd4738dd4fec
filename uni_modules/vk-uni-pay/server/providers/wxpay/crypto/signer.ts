/**
 * Merchant side of WeChat Pay API v3 (https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_0.shtml): RSA-SHA256 (PKCS#1 v1.5) signatures
 * with the merchant API private key, the Authorization header, client pay-param signatures and the
 * merchant certificate serial. node:crypto only.
 */
import { createPrivateKey, sign as rsaSign, X509Certificate, type KeyObject } from 'node:crypto';
import { PayError } from '../../../core/errors';

export interface MerchantSigner {
  readonly mchid: string;
  readonly serialNo: string;
  /** base64 RSA-SHA256 PKCS#1 v1.5 over the UTF-8 bytes of message */
  sign(message: string): string;
}

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

/** values that end up inside `k="v"` of the Authorization header or on one line of a signed string */
const HEADER_SAFE = /^[\x21\x23-\x2b\x2d-\x7e]+$/; // printable ASCII without space, '"' and ','

function internal(reason: string): PayError {
  return new PayError('INTERNAL', {}, { reason });
}

function loadPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    if (typeof pem !== 'string' || !pem.includes('PRIVATE KEY')) throw new Error('not a PEM private key');
    key = createPrivateKey(pem);
  } catch {
    throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'appPrivateKey' });
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < 2048) {
    throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'appPrivateKey' });
  }
  return key;
}

export function createMerchantSigner(opts: { mchid: string; serialNo: string; privateKeyPem: string }): MerchantSigner {
  const { mchid, serialNo } = opts;
  if (typeof mchid !== 'string' || !HEADER_SAFE.test(mchid)) {
    throw new PayError('CONFIG_FIELD_MISSING', { node: 'wxpay', field: 'mchId' });
  }
  if (typeof serialNo !== 'string' || !/^[0-9A-Fa-f]+$/.test(serialNo)) {
    throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'appCertSn' });
  }
  const key = loadPrivateKey(opts.privateKeyPem); // once
  const signer: MerchantSigner = {
    mchid,
    serialNo,
    sign(message: string): string {
      if (typeof message !== 'string') throw internal('sign() takes a string');
      return rsaSign('sha256', Buffer.from(message, 'utf8'), key).toString('base64');
    },
  };
  return Object.freeze(signer);
}

/** The v3 request signing string: METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n (exported for tests/sandbox). */
export function requestMessage(req: { method: string; canonicalUrl: string; body: string; timestamp: number; nonce: string }): string {
  const method = typeof req.method === 'string' ? req.method.toUpperCase() : '';
  if (!/^[A-Z]+$/.test(method)) throw internal('invalid HTTP method');
  if (typeof req.canonicalUrl !== 'string' || !req.canonicalUrl.startsWith('/') || /[\s]/.test(req.canonicalUrl)) {
    throw internal('canonicalUrl must be the path (+ "?" + query) as sent, without host or whitespace');
  }
  if (!Number.isSafeInteger(req.timestamp) || req.timestamp < 0) throw internal('timestamp must be integer unix seconds');
  if (typeof req.nonce !== 'string' || !HEADER_SAFE.test(req.nonce)) throw internal('invalid nonce');
  if (typeof req.body !== 'string') throw internal('body must be the exact string sent');
  return `${method}\n${req.canonicalUrl}\n${req.timestamp}\n${req.nonce}\n${req.body}\n`;
}

export function buildAuthorization(
  signer: MerchantSigner,
  req: { method: string; canonicalUrl: string; body: string; timestamp: number; nonce: string },
): string {
  const signature = signer.sign(requestMessage(req));
  return (
    `${AUTH_SCHEME} mchid="${signer.mchid}",nonce_str="${req.nonce}",signature="${signature}",` +
    `timestamp="${req.timestamp}",serial_no="${signer.serialNo}"`
  );
}

/** base64 signature of lines.join('\n') + '\n' (JSAPI: appId,timeStamp,nonceStr,package; APP: appid,timestamp,noncestr,prepayid) */
export function signLines(signer: MerchantSigner, lines: string[]): string {
  if (!Array.isArray(lines) || lines.length === 0) throw internal('signLines needs at least one line');
  for (const line of lines) {
    if (typeof line !== 'string' || line.includes('\n')) throw internal('a signed line must be a string without a line feed');
  }
  return signer.sign(lines.join('\n') + '\n');
}

/** merchant certificate serial: upper-case hex without separators */
export function certificateSerial(certPem: string): string {
  try {
    return new X509Certificate(certPem).serialNumber.replace(/[^0-9A-Fa-f]/g, '').toUpperCase();
  } catch {
    throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'appCert' });
  }
}
