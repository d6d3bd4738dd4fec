/**
 * queryPayment (vk-uni-pay): the order's state, confirmed with the provider while unpaid. When the
 * provider says paid before its notification arrived, the same gate as the notification settles
 * it (active callback, notify_mode 0), so the handler still runs exactly once.
 */
import { PayError } from '../core/errors';
import { ORDER_STATUS, PAID_STATUSES, publicOrder, type PayOrder } from '../core/order';
import { supports } from '../core/catalog';
import { loadAdapter } from '../providers/registry';
import { orderProviderContext, type PayDeps } from './deps';
import { runHandler, settlePaid } from './settle';

export interface QueryPaymentParams {
  out_trade_no?: string;
  /** server calls only (a client must name its out_trade_no) */
  transaction_id?: string;
  await_notify?: boolean;
  /** seconds, 1–40 (default 20) */
  await_max_time?: number;
  pay_order_info?: boolean;
  /**
   * A client's call: `uid` is the verified uni-id user, if any. Absent for server code. A client
   * sees the whole answer only for its own order (uid equals the order's user_id); otherwise only
   * what the paying page needs: status, paid or not, the handler's outcome.
   */
  caller?: { uid?: string };
}

export interface QueryPaymentResult {
  orderPaid: boolean;
  user_order_success?: boolean;
  status: number;
  out_trade_no: string;
  transaction_id?: string;
  payOrder?: Record<string, unknown>;
}

const POLL_MS = 300;
/** how long one provider query of an order holds the gate (beyond the transport's 10 s timeout) */
export const QUERY_HOLD_MS = 20_000;
/** the shortest interval between two provider queries of one order triggered by clients */
export const CLIENT_QUERY_INTERVAL_MS = 2_000;

export async function queryPayment(deps: PayDeps, params: QueryPaymentParams): Promise<QueryPaymentResult> {
  let order = await findOrder(deps, params);
  if (order.status === ORDER_STATUS.UNPAID) order = await reconcileGated(deps, order, !!params.caller);
  const paid = PAID_STATUSES.includes(order.status);
  if (paid && order.user_order_success !== true) {
    // a failed or missing handler run is finished here too (its lease decides who runs it)
    await runHandler(deps, order.out_trade_no);
    order = (await deps.orders.findByOutTradeNo(order.out_trade_no)) ?? order;
    if (params.await_notify) order = await awaitHandler(deps, order, params.await_max_time);
  }
  const caller = params.caller;
  const full = !caller || (!!caller.uid && caller.uid === order.user_id);
  return {
    orderPaid: paid,
    user_order_success: order.user_order_success,
    status: order.status,
    out_trade_no: order.out_trade_no,
    ...(full && paid && order.transaction_id ? { transaction_id: order.transaction_id } : {}),
    ...(full && params.pay_order_info ? { payOrder: publicOrder(order) } : {}),
  };
}

async function findOrder(deps: PayDeps, params: QueryPaymentParams): Promise<PayOrder> {
  // no reverse lookup by transaction_id for a client
  const key = params.caller ? params.out_trade_no : (params.out_trade_no ?? params.transaction_id);
  if (typeof key !== 'string' || !key) throw new PayError('FIELD_INVALID', { field: 'out_trade_no', reason: 'required' });
  const order = params.out_trade_no ? await deps.orders.findByOutTradeNo(params.out_trade_no) : await deps.orders.findByTransactionId(key);
  if (!order) throw new PayError('ORDER_NOT_FOUND', { out_trade_no: key });
  return order;
}

/**
 * Asks the provider about an unpaid order: paid → settle; closed → close. Past its time_expire, an
 * order the provider has no trade for is closed too, and so is a NOTPAY one when the provider cannot
 * close (nothing more to do there); one it can close is closed there first (closeOrder, the timer).
 */
export async function reconcile(deps: PayDeps, order: PayOrder): Promise<PayOrder> {
  const adapter = loadAdapter(order.provider);
  const ctx = await orderProviderContext(deps, order);
  const q = await adapter.queryOrder({ out_trade_no: order.out_trade_no, openid: order.openid }, ctx);
  const expired = order.time_expire !== undefined && deps.clock.now() > order.time_expire;
  if (q.state === 'PAID') {
    if (q.total_fee !== undefined && q.total_fee !== order.total_fee) {
      deps.log.error('query.amount_mismatch', { out_trade_no: order.out_trade_no, provider_total: q.total_fee });
      return order;
    }
    await settlePaid(deps, order, {
      transaction_id: q.transaction_id ?? '',
      pay_date: q.pay_date,
      openid: q.openid,
      notify_mode: 0,
      provider_pay_method: q.provider_pay_method,
    });
  } else if (
    q.state === 'CLOSED' ||
    (expired && (q.state === 'NOT_FOUND' || (q.state === 'NOTPAY' && !supports(order.provider, 'close'))))
  ) {
    await deps.orders.markClosed(order.out_trade_no, deps.clock.now());
  } else {
    return order;
  }
  return (await deps.orders.findByOutTradeNo(order.out_trade_no)) ?? order;
}

/**
 * reconcile, at most one provider query per order in flight across instances: the caller that
 * wins the conditional update on `query_lock_until` asks the provider; the others answer from the
 * database (a server call first waits, bounded, for the winner's outcome). After a query the gate
 * stays shut for CLIENT_QUERY_INTERVAL_MS to clients, so polling cannot multiply gateway calls.
 */
async function reconcileGated(deps: PayDeps, order: PayOrder, client: boolean): Promise<PayOrder> {
  const { out_trade_no } = order;
  // server code is not held to the clients' interval, only to the one-in-flight rule
  const slack = client ? 0 : CLIENT_QUERY_INTERVAL_MS;
  if (await deps.orders.claimQuery(out_trade_no, deps.clock.now(), QUERY_HOLD_MS, slack)) {
    try {
      return await reconcile(deps, order);
    } finally {
      await deps.orders.releaseQuery(out_trade_no, deps.clock.now() + CLIENT_QUERY_INTERVAL_MS);
    }
  }
  if (client) return order;
  const inFlight = (o: PayOrder) => o.status === ORDER_STATUS.UNPAID && (o.query_lock_until ?? 0) > deps.clock.now() + slack;
  const deadline = Date.now() + QUERY_HOLD_MS;
  let current = (await deps.orders.findByOutTradeNo(out_trade_no)) ?? order;
  while (inFlight(current) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    current = (await deps.orders.findByOutTradeNo(out_trade_no)) ?? current;
  }
  return current;
}

/** Waits (bounded) until the handler has a result. */
async function awaitHandler(deps: PayDeps, order: PayOrder, maxSeconds = 20): Promise<PayOrder> {
  const deadline = Date.now() + Math.min(Math.max(maxSeconds, 1), 40) * 1000;
  let current = order;
  while (current.user_order_success === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    current = (await deps.orders.findByOutTradeNo(order.out_trade_no)) ?? current;
  }
  return current;
}
