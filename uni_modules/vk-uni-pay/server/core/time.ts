/**
 * Provider timestamps are Beijing time (Asia/Shanghai, UTC+8, no DST since 1991) whatever the
 * host's TZ says; cloud functions run in UTC. Everything is computed from epoch ms explicitly.
 */
import type { Clock } from '../ports';

export type { Clock };

export const systemClock: Clock = { now: () => Date.now() };

const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;

interface Parts {
  y: string;
  M: string;
  d: string;
  H: string;
  m: string;
  s: string;
}

function shanghaiParts(ms: number): Parts {
  const t = new Date(ms + SHANGHAI_OFFSET_MS);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return {
    y: String(t.getUTCFullYear()),
    M: p2(t.getUTCMonth() + 1),
    d: p2(t.getUTCDate()),
    H: p2(t.getUTCHours()),
    m: p2(t.getUTCMinutes()),
    s: p2(t.getUTCSeconds()),
  };
}

/** WeChat Pay v3: `2026-11-27T19:07:53+08:00` */
export function toRfc3339Shanghai(ms: number): string {
  const p = shanghaiParts(ms);
  return `${p.y}-${p.M}-${p.d}T${p.H}:${p.m}:${p.s}+08:00`;
}

/** WeChat Pay v2: `20261127190753` */
export function toCompactShanghai(ms: number): string {
  const p = shanghaiParts(ms);
  return `${p.y}${p.M}${p.d}${p.H}${p.m}${p.s}`;
}

/** Alipay: `2026-11-27 19:07:53` */
export function toDateTimeShanghai(ms: number): string {
  const p = shanghaiParts(ms);
  return `${p.y}-${p.M}-${p.d} ${p.H}:${p.m}:${p.s}`;
}

/** Parses `yyyy-MM-dd HH:mm:ss` (Beijing), `yyyyMMddHHmmss` (Beijing) or RFC 3339 into epoch ms. */
export function parseProviderTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  let m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(text) || /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (m) {
    const [, y, M, d, H, mi, s] = m.map(Number);
    return Date.UTC(y, M - 1, d, H, mi, s) - SHANGHAI_OFFSET_MS;
  }
  m = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (m) return Date.parse(text);
  return undefined;
}
