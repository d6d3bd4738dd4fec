/**
 * Random nonce strings for WeChat Pay signatures (v3 Authorization nonce_str, client pay params,
 * v2 nonce_str). Alphabet [0-9A-Za-z] as the Go SDK; drawn from the CSPRNG without modulo bias.
 */
import { randomBytes } from 'node:crypto';
import { PayError } from '../../../core/errors';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** largest multiple of 62 below 256: bytes at or above it are rejected (no modulo bias) */
const LIMIT = 248;

export function nonceStr(length = 32): string {
  if (!Number.isInteger(length) || length < 1 || length > 1024) {
    throw new PayError('INTERNAL', {}, { reason: 'nonceStr length must be an integer in [1, 1024]' });
  }
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length - out.length + 8)) {
      if (b < LIMIT) out += ALPHABET[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}
