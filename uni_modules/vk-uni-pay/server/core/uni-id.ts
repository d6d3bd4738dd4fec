/**
 * The uni-id token (`this.getUniIdToken()`): a JWT signed HS256 with uni-id's `tokenSecret`
 * (uni-config-center/uni-id/config.json), payload `{uid, role, permission, iat, exp}`. Verified
 * here only to learn who the caller is; anything unverifiable is no identity at all.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

function json(part: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The token's uid when its signature verifies with `secret` and it has not expired; otherwise undefined. */
export function uniIdTokenUid(token: unknown, secret: unknown, nowMs: number): string | undefined {
  if (typeof token !== 'string' || typeof secret !== 'string' || !secret || token.length > 4096) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const header = json(parts[0]);
  const payload = json(parts[1]);
  if (header?.alg !== 'HS256' || !payload) return undefined;
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  if (typeof payload.exp !== 'number' || payload.exp * 1000 <= nowMs) return undefined;
  return typeof payload.uid === 'string' && payload.uid ? payload.uid : undefined;
}
