/**
 * Payments still in progress, kept in uni storage so a reload or the return from a cashier can
 * pick them up again: what the payer chose (`data`) and the QR / cashier link that was shown.
 */
import { isRecord } from './flow';
import type { PendingPayment, UniLike } from './types';

export const PENDING_KEY = 'vk-uni-pay-pending';
/** entries older than this are dropped (no provider keeps an unpaid order longer) */
const MAX_AGE_MS = 24 * 3600_000;
const MAX_ENTRIES = 5;

/** Payments this device started and has not seen end, oldest first. */
export function listPending(uni: UniLike): PendingPayment[] {
  let v: unknown;
  try {
    v = uni.getStorageSync(PENDING_KEY);
  } catch {
    return [];
  }
  const now = Date.now();
  return Array.isArray(v)
    ? v.filter((e): e is PendingPayment => isRecord(e) && typeof e.out_trade_no === 'string' && now - Number(e.time) < MAX_AGE_MS)
    : [];
}

function writeAll(uni: UniLike, list: PendingPayment[]): void {
  try {
    uni.setStorageSync(PENDING_KEY, list.slice(-MAX_ENTRIES));
  } catch {
    /* storage full or unavailable: resuming is a convenience */
  }
}

export function getPending(uni: UniLike, outTradeNo: string): PendingPayment | undefined {
  return listPending(uni).find((e) => e.out_trade_no === outTradeNo);
}

/** Adds or updates the entry of one order. */
export function savePending(uni: UniLike, entry: Partial<PendingPayment> & { out_trade_no: string }): void {
  const list = listPending(uni);
  const i = list.findIndex((e) => e.out_trade_no === entry.out_trade_no);
  const merged: PendingPayment = { time: Date.now(), ...(i >= 0 ? list[i] : {}), ...entry };
  if (i >= 0) list.splice(i, 1);
  list.push(merged);
  writeAll(uni, list);
}

export function dropPending(uni: UniLike, outTradeNo: string): void {
  const list = listPending(uni);
  const rest = list.filter((e) => e.out_trade_no !== outTradeNo);
  if (rest.length !== list.length) writeAll(uni, rest);
}
