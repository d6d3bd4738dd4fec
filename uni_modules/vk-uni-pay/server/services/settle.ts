/**
 * The one path by which an order becomes paid and its handler runs, shared by the asynchronous
 * notification and the active query: gate 0 → 1 with one conditional update, then run the user's
 * `pay-notify/<type>` under a lease until it has succeeded once.
 */
import type { PayOrder } from '../core/order';
import { handlerData } from '../core/order';
import type { PayDeps } from './deps';

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
}

export type HandlerOutcome = 'done' | 'failed' | 'busy';

/** Marks the order paid (no-op when already paid) and makes sure the handler has run once. */
export async function settlePaid(deps: PayDeps, order: PayOrder, facts: PaidFacts): Promise<HandlerOutcome> {
  const now = deps.clock.now();
  const won = await deps.orders.markPaid(order.out_trade_no, {
    transaction_id: facts.transaction_id,
    pay_date: facts.pay_date ?? now,
    notify_date: now,
    notify_mode: facts.notify_mode,
    ...(facts.openid ? { openid: facts.openid } : {}),
    ...(facts.notify_info ? { notify_info: facts.notify_info } : {}),
    ...(facts.original_data ? { original_data: facts.original_data } : {}),
    ...(facts.pay_type ? { pay_type: facts.pay_type as PayOrder['pay_type'] } : {}),
  });
  if (won) deps.log.info('order.paid', { out_trade_no: order.out_trade_no, transaction_id: facts.transaction_id, mode: facts.notify_mode });
  else if (facts.transaction_id) await noteDuplicatePayment(deps, order, facts);
  return runHandler(deps, order.out_trade_no);
}

/**
 * The order was already paid. If by another transaction (paid twice, or with two providers), the
 * money must go back: recorded on the order and logged as an error. Re-read, because two first
 * notifications can race.
 */
async function noteDuplicatePayment(deps: PayDeps, order: PayOrder, facts: PaidFacts): Promise<void> {
  const current = await deps.orders.findByOutTradeNo(order.out_trade_no);
  if (!current?.transaction_id || current.transaction_id === facts.transaction_id) return;
  const entry = { transaction_id: facts.transaction_id, pay_type: facts.pay_type, total_fee: order.total_fee, date: deps.clock.now() };
  if (await deps.orders.recordDuplicatePayment(order.out_trade_no, entry)) {
    deps.log.error('order.duplicate_payment', {
      out_trade_no: order.out_trade_no,
      transaction_id: facts.transaction_id,
      first: current.transaction_id,
    });
  }
}

/**
 * Runs the handler if this caller takes the lease; otherwise reports whether it already succeeded
 * ('done') or another attempt holds the lease / must wait ('busy').
 */
export async function runHandler(deps: PayDeps, out_trade_no: string): Promise<HandlerOutcome> {
  const now = deps.clock.now();
  // without the handlers here, vk-pay runs it (its notification retry or the client's next query)
  const claimed = deps.handlersConfigured ? await deps.orders.claimHandler(out_trade_no, now, deps.handlerLeaseMs) : undefined;
  if (!claimed) {
    const current = await deps.orders.findByOutTradeNo(out_trade_no);
    return current?.user_order_success === true ? 'done' : 'busy';
  }
  const handler = deps.handlers(claimed.type);
  let ok = false;
  let error: string | undefined;
  if (!handler) {
    error = `pay-notify/${claimed.type}.js not found`;
  } else {
    try {
      const db = deps.db();
      const result = await handler({ data: handlerData(claimed) }, { db, _: db.command });
      ok = result !== false;
      if (!ok) error = 'handler returned false';
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
  }
  await deps.orders.finishHandler(out_trade_no, ok, error, ok ? 0 : deps.clock.now() + deps.handlerRetryDelayMs);
  if (ok) deps.log.info('handler.done', { out_trade_no, type: claimed.type, attempt: claimed.handler_attempts });
  else deps.log.warn('handler.failed', { out_trade_no, type: claimed.type, error });
  return ok ? 'done' : 'failed';
}
