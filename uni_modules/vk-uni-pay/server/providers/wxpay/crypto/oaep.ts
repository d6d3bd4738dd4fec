/**
 * Sensitive request fields (e.g. the payee's `user_name` of a merchant transfer) are encrypted with
 * the WeChat-side public key named in the request's Wechatpay-Serial: RSAES-OAEP with SHA-1 and
 * MGF1-SHA1, Base64 (https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_3.shtml).
 */
import { constants, publicEncrypt, type KeyObject } from 'node:crypto';

export function encryptSensitive(plaintext: string, key: KeyObject): string {
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(plaintext, 'utf8')).toString(
    'base64',
  );
}
