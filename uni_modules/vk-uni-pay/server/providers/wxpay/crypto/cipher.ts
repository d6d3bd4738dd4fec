/**
 * AEAD_AES_256_GCM resources of API v3 (https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_2.shtml; also /v3/certificates encrypt_certificate).
 * key = the APIv3 key's 32 ASCII bytes, IV = nonce bytes, AAD = associated_data bytes,
 * ciphertext = base64(ct ‖ 16-byte tag). The tag is always checked (decipher.final()).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { PayError } from '../../../core/errors';

export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string;
}

export const AEAD_AES_256_GCM = 'AEAD_AES_256_GCM';
const TAG_LENGTH = 16;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function apiV3KeyBytes(apiV3Key: string): Buffer {
  if (typeof apiV3Key !== 'string' || !/^[\x20-\x7e]{32}$/.test(apiV3Key)) {
    throw new PayError('CONFIG_KEY_INVALID', { node: 'wxpay', field: 'v3Key' });
  }
  return Buffer.from(apiV3Key, 'ascii');
}

export function decryptResource(res: EncryptedResource, apiV3Key: string): Buffer {
  if (!res || typeof res !== 'object' || res.algorithm !== AEAD_AES_256_GCM) {
    throw new PayError('NOTIFY_MALFORMED', {}, { reason: 'resource.algorithm must be AEAD_AES_256_GCM' });
  }
  if (
    typeof res.ciphertext !== 'string' ||
    typeof res.nonce !== 'string' ||
    (res.associated_data != null && typeof res.associated_data !== 'string')
  ) {
    throw new PayError('NOTIFY_MALFORMED', {}, { reason: 'resource fields' });
  }
  const key = apiV3KeyBytes(apiV3Key);
  const failed = () => new PayError('NOTIFY_DECRYPT_FAILED');
  const iv = Buffer.from(res.nonce, 'utf8');
  if (iv.length !== 12 || !BASE64.test(res.ciphertext)) throw failed();
  const data = Buffer.from(res.ciphertext, 'base64');
  if (data.length < TAG_LENGTH) throw failed();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
    decipher.setAuthTag(data.subarray(data.length - TAG_LENGTH));
    decipher.setAAD(Buffer.from(res.associated_data ?? '', 'utf8'));
    const head = decipher.update(data.subarray(0, data.length - TAG_LENGTH));
    const tail = decipher.final(); // throws when the tag does not authenticate
    return Buffer.concat([head, tail]);
  } catch {
    throw failed();
  }
}

/** for tests and the sandbox gateway */
export function encryptResource(plaintext: string | Buffer, apiV3Key: string, nonce: string, associatedData: string): EncryptedResource {
  const key = apiV3KeyBytes(apiV3Key);
  const iv = Buffer.from(nonce, 'utf8');
  if (iv.length !== 12) throw new PayError('INTERNAL', {}, { reason: 'GCM nonce must be 12 bytes' });
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ct = Buffer.concat([
    cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return { algorithm: AEAD_AES_256_GCM, ciphertext: ct.toString('base64'), nonce, associated_data: associatedData };
}
