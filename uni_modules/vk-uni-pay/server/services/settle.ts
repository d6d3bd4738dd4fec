/**
 * The one path by which an order becomes paid and its handler runs, shared by the asynchronous
 * notification and the active query: gate 0 → 1 with one conditional update, then run the user's
 * `pay-notify/<type>` under a lease until it has succeeded once.
 */
import { randomBytes } from 'node:crypto';
import { PAID_STATUSES, handlerData, type PayOrder } from '../core/order';
import type { HandlerLease } from '../store/orders';
import type { NotifyHandler, PayDeps } from './deps';

export interface PaidFacts {
  transaction_id: string;
  pay_date?: number;
  openid?: string;
  notify_info?: Record<string, unknown>;
  /** 1 asynchronous notification, 0 active (query) */
  notify_mode: 0 | 1;
  /** the pay type the money arrived through (a re-paid order may have switched) */
  pay_type?: string;
  /** the raw notification body (vk-uni-pay's `original_data`) */
  original_data?: string;
  /** the channel the payer chose in an aggregating cashier (recorded as vk-uni-pay does) */
  provider_pay_method?: string;
}

export type HandlerOutcome = 'done' | 'failed' | 'busy';

/**
 * Marks the order paid (no-op when already paid) and makes sure the handler has run once. For a
 * new payment: the paid transition and the handler lease are one conditional update; for a
 * repeat of a finished order: nothing beyond the read the caller already made.
 */
export async function settlePaid(deps: PayDeps, order: PayOrder, facts: PaidFacts): Promise<HandlerOutcome> {
  if (PAID_STATUSES.includes(order.status)) return settleRepeat(deps, order, facts);
  const now = deps.clock.now();
  const lease = deps.handlersConfigured ? newLease(deps, now) : undefined;
  const won = await deps.orders.markPaid(
    order.out_trade_no,
    {
      transaction_id: facts.transaction_id,
      pay_date: facts.pay_date ?? now,
      notify_date: now,
      notify_mode: facts.notify_mode,
      ...(facts.openid ? { openid: facts.openid } : {}),
      ...(facts.notify_info ? { notify_info: facts.notify_info } : {}),
      ...(facts.original_data ? { original_data: facts.original_data } : {}),
      ...(facts.pay_type ? { pay_type: facts.pay_type as PayOrder['pay_type'] } : {}),
      ...(facts.provider_pay_method ? { provider_pay_method: facts.provider_pay_method } : {}),
    },
    lease,
  );
  if (!won) {
    // another notification or query got there first: settle as a repeat of what it wrote
    const current = await deps.orders.findByOutTradeNo(order.out_trade_no);
    return current ? settleRepeat(deps, current, facts) : 'busy';
  }
  deps.log.info('order.paid', { out_trade_no: order.out_trade_no, transaction_id: facts.transaction_id, mode: facts.notify_mode });
  // without the handlers here, vk-pay runs it (its notification retry or the client's next query)
  return lease ? execute(deps, won, lease.token) : 'busy';
}

/** The order was already paid when read: note a second payment, then finish the handler if needed. */
async function settleRepeat(deps: PayDeps, order: PayOrder, facts: PaidFacts): Promise<HandlerOutcome> {
  if (facts.transaction_id && order.transaction_id && order.transaction_id !== facts.transaction_id) {
    await noteDuplicatePayment(deps, order, facts);
  }
  return order.user_order_success === true ? 'done' : runHandler(deps, order.out_trade_no);
}

/**
 * Paid by another transaction (paid twice, or with two providers): the money must go back. It is
 * recorded on the order (once per transaction) and logged as an error.
 */
async function noteDuplicatePayment(deps: PayDeps, order: PayOrder, facts: PaidFacts): Promise<void> {
  const entry = { transaction_id: facts.transaction_id, pay_type: facts.pay_type, total_fee: order.total_fee, date: deps.clock.now() };
  if (await deps.orders.recordDuplicatePayment(order.out_trade_no, entry)) {
    deps.log.error('order.duplicate_payment', {
      out_trade_no: order.out_trade_no,
      transaction_id: facts.transaction_id,
      first: order.transaction_id,
    });
  }
}

export function newLease(deps: PayDeps, now: number): HandlerLease {
  return { token: randomBytes(12).toString('hex'), until: now + deps.handlerLeaseMs };
}

/**
 * Runs the handler if this caller takes the lease; otherwise reports whether it already succeeded
 * ('done') or another attempt holds the lease / must wait ('busy').
 */
export async function runHandler(deps: PayDeps, out_trade_no: string): Promise<HandlerOutcome> {
  const lease = deps.handlersConfigured ? newLease(deps, deps.clock.now()) : undefined;
  const claimed = lease ? await deps.orders.claimHandler(out_trade_no, deps.clock.now(), lease) : undefined;
  if (!claimed || !lease) {
    const current = await deps.orders.findByOutTradeNo(out_trade_no);
    return current?.user_order_success === true ? 'done' : 'busy';
  }
  return execute(deps, claimed, lease.token);
}

/** One handler run under the lease `token`; its outcome is recorded only if no newer run replaced it. */
async function execute(deps: PayDeps, claimed: PayOrder, token: string): Promise<HandlerOutcome> {
  const { out_trade_no } = claimed;
  const { ok, error } = await callHandler(deps, deps.handlers(claimed.type), `pay-notify/${claimed.type}.js`, {
    data: handlerData(claimed),
  });
  const recorded = await deps.orders.finishHandler(out_trade_no, token, ok, error, deps.clock.now() + deps.handlerRetryDelayMs);
  if (!recorded) deps.log.warn('handler.stale', { out_trade_no, type: claimed.type, ok });
  else if (ok) deps.log.info('handler.done', { out_trade_no, type: claimed.type, attempt: claimed.handler_attempts });
  else deps.log.warn('handler.failed', { out_trade_no, type: claimed.type, error });
  return ok ? 'done' : 'failed';
}

/**
 * One call of a user's module (`pay-notify`, `refund-notify`) with `(arg, {db, _})`: ok unless it
 * is missing, returns false or throws (the error message is kept for the retry bookkeeping).
 */
export async function callHandler(
  deps: PayDeps,
  handler: NotifyHandler | undefined,
  name: string,
  arg: Parameters<NotifyHandler>[0],
): Promise<{ ok: boolean; error?: string }> {
  if (!handler) return { ok: false, error: `${name} not found` };
  try {
    const db = deps.db();
    const result = await handler(arg, { db, _: db.command });
    return result === false ? { ok: false, error: 'handler returned false' } : { ok: true };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}
