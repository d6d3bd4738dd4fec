/**
 * Key material as merchants paste it: PKCS#1 or PKCS#8 PEM, or the bare base64 that Alipay's key
 * tool hands out (PKCS#1 or PKCS#8 DER for the private key, SPKI DER for the Alipay public key).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** bare base64 body, or undefined when the text is PEM */
function bareBody(text: string): string | undefined {
  const t = text.trim();
  return t.includes('-----BEGIN') ? undefined : t.replace(/\s+/g, '');
}

/** `\n` typed literally (config files, env vars) becomes a line break */
const unescapePem = (text: string) => text.replace(/\\n/g, '\n');

export function parsePrivateKey(text: string, hint?: 'PKCS1' | 'PKCS8'): KeyObject {
  const bare = bareBody(text);
  if (bare === undefined) return createPrivateKey(unescapePem(text));
  const der = Buffer.from(bare, 'base64');
  const order: Array<'pkcs1' | 'pkcs8'> = hint === 'PKCS8' ? ['pkcs8', 'pkcs1'] : ['pkcs1', 'pkcs8'];
  let last: unknown;
  for (const type of order) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

export function parsePublicKey(text: string): KeyObject {
  const bare = bareBody(text);
  if (bare === undefined) return createPublicKey(unescapePem(text));
  return createPublicKey({ key: Buffer.from(bare, 'base64'), format: 'der', type: 'spki' });
}
