/**
 * WeChat mini-program virtual payment (xpay) cryptography
 * (https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/industry/virtual-payment.html):
 * - requestVirtualPayment `paySig` / user `signature` (HMAC-SHA256, lower hex) over the signData TEXT;
 * - server API `pay_sig` over `uri + '&' + exact post body`;
 * - message push URL signature sha1(sort([token, timestamp, nonce])), safe-mode `msg_signature`
 *   and AES-256-CBC message encryption (key = base64(EncodingAESKey + '='), IV = key[0..16],
 *   PKCS#7 padded to 32, plaintext = 16 random ‖ uint32 BE length ‖ message ‖ appid).
 * Pure functions; the sandbox peer uses the same ones as the "WeChat side".
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { PayError } from '../../core/errors';

export const hmacSha256Hex = (key: string, msg: string): string =>
  createHmac('sha256', Buffer.from(key, 'utf8')).update(msg, 'utf8').digest('hex');

/** paySig for wx.requestVirtualPayment: key = AppKey of the env (sandboxAppKey when env=1). */
export function virtualPaySig(appKey: string, signData: string): string {
  return hmacSha256Hex(appKey, `requestVirtualPayment&${signData}`);
}

/** User-state signature: key = session_key as its base64 TEXT (not decoded). */
export function userSignature(sessionKey: string, data: string): string {
  return hmacSha256Hex(sessionKey, data);
}

/** pay_sig for `/xpay/*` server APIs: `uri` is the path without query, `body` the exact bytes sent. */
export function apiPaySig(appKey: string, uri: string, body: string): string {
  return hmacSha256Hex(appKey, `${uri}&${body}`);
}

/** sha1 over the sorted, concatenated parts (push URL `signature` and safe-mode `msg_signature`). */
export function sha1Sorted(parts: string[]): string {
  return createHash('sha1')
    .update([...parts].sort().join(''), 'utf8')
    .digest('hex');
}

export function pushSignature(token: string, timestamp: string, nonce: string): string {
  return sha1Sorted([token, timestamp, nonce]);
}

export function pushMsgSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return sha1Sorted([token, timestamp, nonce, encrypt]);
}

/** Constant-time comparison of two lower-case hex strings. */
export function hexEqual(a: unknown, b: string): boolean {
  if (typeof a !== 'string' || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a.toLowerCase(), 'utf8'), Buffer.from(b, 'utf8'));
}

export function aesKeyOf(encodingAESKey: string): Buffer {
  const key =
    typeof encodingAESKey === 'string' && encodingAESKey.length === 43 ? Buffer.from(`${encodingAESKey}=`, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay-virtual.mp-weixin', field: 'encodingAESKey' });
  return key;
}

/** Encrypts a push message as WeChat does (used by the sandbox; random 16-byte prefix unless given). */
export function encryptPushMessage(encodingAESKey: string, appId: string, message: string, random16: Buffer = randomBytes(16)): string {
  const key = aesKeyOf(encodingAESKey);
  const msg = Buffer.from(message, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(msg.length, 0);
  const plain = Buffer.concat([random16, len, msg, Buffer.from(appId, 'utf8')]);
  const pad = 32 - (plain.length % 32);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
}

/** Decrypts `Encrypt`; returns the message and the appid carried at its end. */
export function decryptPushMessage(encodingAESKey: string, encrypt: string): { message: string; appId: string } {
  const key = aesKeyOf(encodingAESKey);
  let plain: Buffer;
  try {
    const data = Buffer.from(encrypt, 'base64');
    if (data.length === 0 || data.length % 16 !== 0) throw new Error('length');
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new PayError('NOTIFY_DECRYPT_FAILED');
  }
  const pad = plain[plain.length - 1];
  if (pad < 1 || pad > 32 || pad > plain.length || !plain.subarray(plain.length - pad).every((b) => b === pad))
    throw new PayError('NOTIFY_DECRYPT_FAILED');
  const body = plain.subarray(0, plain.length - pad);
  if (body.length < 20) throw new PayError('NOTIFY_DECRYPT_FAILED');
  const len = body.readUInt32BE(16);
  if (20 + len > body.length) throw new PayError('NOTIFY_DECRYPT_FAILED');
  return { message: body.subarray(20, 20 + len).toString('utf8'), appId: body.subarray(20 + len).toString('utf8') };
}
