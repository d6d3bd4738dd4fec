/**
 * Sensitive-field encryption (the payee's user_name of a merchant transfer): RSA-OAEP with SHA-1,
 * checked against wechatpay-axios-plugin (test-only oracle) in both directions.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { Rsa } from 'wechatpay-axios-plugin';
import { encryptSensitive } from '../../uni_modules/vk-uni-pay/server/providers/wxpay/crypto';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

test('what we encrypt the oracle decrypts, for ASCII and Chinese names; every ciphertext differs (OAEP is randomised)', () => {
  for (const name of ['张三', 'Li Si', '欧阳·娜娜']) {
    const a = encryptSensitive(name, createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })));
    const b = encryptSensitive(name, publicKey);
    expect(a).not.toBe(b);
    expect(Rsa.decrypt(a, privateKey)).toBe(name);
    expect(Rsa.decrypt(b, privateKey)).toBe(name);
    expect(Buffer.from(a, 'base64')).toHaveLength(256);
  }
});

test('a PKCS#1 v1.5 ciphertext (the wrong padding) is not what the oracle reads', () => {
  const { publicEncrypt, constants } = require('node:crypto') as typeof import('node:crypto');
  const wrong = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from('张三')).toString('base64');
  expect(() => Rsa.decrypt(wrong, privateKey)).toThrow();
});
