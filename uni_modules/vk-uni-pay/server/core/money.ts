/**
 * Money is integer fen (分) end to end. This file is the only place that converts between fen
 * and the yuan strings some providers speak (Alipay, VksPay). No floating point is involved.
 */
import { PayError } from './errors';

/** 100,000,000 yuan: Alipay's ceiling, far above any real order. */
export const MAX_FEN = 10_000_000_000;

export function isValidFen(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= MAX_FEN;
}

/** Refuses anything but a positive safe integer (never rounds). */
export function assertFen(v: unknown): number {
  if (!isValidFen(v)) throw new PayError('TOTAL_FEE_INVALID', { max: MAX_FEN });
  return v;
}

/** 1 → "0.01", 1999 → "19.99", 100 → "1.00" */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new PayError('TOTAL_FEE_INVALID', { max: MAX_FEN });
  const s = String(fen).padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

/**
 * "19.99" → 1999, "0.1" → 10, "5" → 500. Returns undefined for anything that is not an exact
 * non-negative amount with at most two decimals (a provider amount we cannot trust exactly).
 */
export function yuanToFen(text: unknown): number | undefined {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}
