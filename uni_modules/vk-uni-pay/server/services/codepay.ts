/**
 * Codepay (付款码): the merchant scans the buyer's code. The order is already stored (createPayment);
 * this runs the real counter flow (docs/codepay.md §1.5):
 * charge → paid: settle through the same gate as notifications (handler once)
 *        → waiting (password, or an answer that proves nothing): query on a bounded schedule
 *        → deadline: one last query, then cancel (reverse) so the buyer is not charged later;
 *          a cancel that is not confirmed leaves the order unpaid for a verified query to settle.
 */
import { CODEPAY_CANCEL_ATTEMPTS, type CodepayState, type CodepayTiming } from '../core/codepay';
import { PayError } from '../core/errors';
import type { PayOrder } from '../core/order';
import { isFinalRefusal } from '../providers/gateway';
import type { CodepayAnswer, CodepayCancelResult, CodepayInput } from '../providers/hooks';
import type { ProviderAdapter, ProviderContext, QueryOrderResult } from '../providers/types';
import type { PayDeps } from './deps';
import { settlePaid } from './settle';

export interface CodepayRun {
  order: PayOrder;
  adapter: ProviderAdapter<any>;
  ctx: ProviderContext<any>;
  input: CodepayInput;
  timing: CodepayTiming;
}

export interface CodepayOutcome {
  codepay_state: 'PAID';
  transaction_id: string;
  user_order_success?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PAID resolves; every other outcome is a coded error carrying `codepay_state` for the cashier. */
export async function runCodepay(deps: PayDeps, run: CodepayRun): Promise<CodepayOutcome> {
  const { order, adapter, ctx, input, timing } = run;
  if (!adapter.codepay || !adapter.cancelCodepay)
    throw new PayError('OPERATION_UNSUPPORTED', { provider: order.provider, operation: 'codepay' });
  const deadline = Date.now() + timing.waitMs;
  const first = await adapter.codepay(input, ctx);
  if (first.state === 'PAID') return settle(deps, order, first);
  if (first.state === 'FAILED') throw outcome('FAILED', order, { reason: first.reason });

  let providerSays: string | undefined;
  while (Date.now() + timing.pollMs <= deadline) {
    await sleep(timing.pollMs);
    const q = await query(adapter, order, ctx);
    if (q?.state === 'PAID') return settle(deps, order, q);
    // refused after the buyer's try (PAYERROR) or closed: stop waiting, make sure it stays unpaid
    if (q && (q.state === 'ERROR' || q.state === 'CLOSED')) {
      providerSays = q.state;
      break;
    }
  }
  // the last look is at the deadline itself, never before it (the buyer gets the whole wait), and may
  // see a confirmation made during the last pause
  if (!providerSays) await sleep(Math.max(deadline - Date.now(), 0));
  const last = await query(adapter, order, ctx);
  if (last?.state === 'PAID') return settle(deps, order, last);
  return cancel(deps, run, providerSays);
}

async function query(adapter: ProviderAdapter<any>, order: PayOrder, ctx: ProviderContext<any>): Promise<QueryOrderResult | undefined> {
  try {
    return await adapter.queryOrder({ out_trade_no: order.out_trade_no }, ctx);
  } catch {
    return undefined; // a lost or unverified answer: the next query (or the cancel) decides
  }
}

async function settle(deps: PayDeps, order: PayOrder, paid: CodepayAnswer | QueryOrderResult): Promise<CodepayOutcome> {
  if (paid.total_fee !== undefined && paid.total_fee !== order.total_fee) {
    deps.log.error('codepay.amount_mismatch', { out_trade_no: order.out_trade_no, provider_total: paid.total_fee });
    throw outcome('FAILED', order, { reason: { code: 'AMOUNT_MISMATCH' } });
  }
  const transaction_id = paid.transaction_id ?? '';
  const handler = await settlePaid(deps, order, { transaction_id, pay_date: paid.pay_date, openid: paid.openid, notify_mode: 0 });
  deps.log.info('codepay.paid', { out_trade_no: order.out_trade_no, handler });
  return { codepay_state: 'PAID', transaction_id, ...(handler === 'busy' ? {} : { user_order_success: handler === 'done' }) };
}

/** Cancel at the deadline, asked again while its answer proves nothing; then the order is closed here too. */
async function cancel(deps: PayDeps, run: CodepayRun, providerSays: string | undefined): Promise<never> {
  const { order, adapter, ctx, timing } = run;
  let confirmed: CodepayCancelResult | undefined;
  for (let attempt = 1; attempt <= CODEPAY_CANCEL_ATTEMPTS && !confirmed; attempt++) {
    try {
      const r = await adapter.cancelCodepay!({ out_trade_no: order.out_trade_no }, ctx);
      if (r.cancelled) confirmed = r;
    } catch (e) {
      // the provider refused the cancel for good: the trade's fate is for a verified query to tell
      if (isFinalRefusal(e)) break;
    }
  }
  if (!confirmed) {
    deps.log.error('codepay.cancel_unconfirmed', { out_trade_no: order.out_trade_no });
    throw outcome('WAITING', order, {});
  }
  await deps.orders.markClosed(order.out_trade_no, deps.clock.now());
  const refunded = confirmed.refunded === true;
  deps.log.warn('codepay.cancelled', { out_trade_no: order.out_trade_no, refunded, provider: providerSays });
  if (providerSays === 'ERROR') throw outcome('FAILED', order, { reason: { code: 'PAYERROR' } });
  throw outcome('CANCELLED', order, { refunded, seconds: Math.round(timing.waitMs / 1000) });
}

function outcome(
  state: Exclude<CodepayState, 'PAID'>,
  order: PayOrder,
  o: { reason?: { code: string; message?: string }; refunded?: boolean; seconds?: number },
): PayError {
  const key = state === 'CANCELLED' ? 'CODEPAY_CANCELLED' : state === 'FAILED' ? 'CODEPAY_FAILED' : 'CODEPAY_WAITING';
  const reason = o.reason ? `${o.reason.code}${o.reason.message ? ` ${o.reason.message}` : ''}` : '';
  return new PayError(
    key,
    { reason, seconds: o.seconds ?? '' },
    {
      codepay_state: state,
      out_trade_no: order.out_trade_no,
      ...(o.reason ? { reason: o.reason } : {}),
      ...(o.refunded ? { refunded: true } : {}),
    },
  );
}
