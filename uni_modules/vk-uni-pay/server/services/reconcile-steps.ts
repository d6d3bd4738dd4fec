/**
 * The timer's steps, in the order a run takes them. Each settles through the same services as the
 * API (the notification gate, closeOrder, the handler lease, queryRefund), so the timer adds no
 * second way for an order to change state.
 */
import { supports } from '../core/catalog';
import { isPayError } from '../core/errors';
import { ORDER_STATUS, PAID_STATUSES, type PayOrder } from '../core/order';
import { FINAL_REFUND_STATES, type RefundLedgerDoc, type RefundLedgerState } from '../store/refunds';
import { closeOrder } from './close-order';
import { CLIENT_QUERY_INTERVAL_MS, QUERY_HOLD_MS, reconcile } from './query-payment';
import { queryRefund, settleRefundByQuery } from './refund';
import { dailyStatements } from './statements';
import { settlePendingTransfers } from './transfer';
import { runHandler } from './settle';
import type { TimerBatchStep, TimerContext, TimerItemStep, TimerStep } from './reconcile';

/** the outcome word of an order after it was settled */
function orderOutcome(order: PayOrder): string {
  if (PAID_STATUSES.includes(order.status)) return 'paid';
  return order.status === ORDER_STATUS.CLOSED ? 'closed' : 'unpaid';
}

/** Claims an unpaid order's query gate for this run and schedules its next look. */
function claimOrder(ctx: TimerContext, order: PayOrder): Promise<boolean> {
  const next = ctx.nextLook(order.reconcile_attempts);
  return ctx.repo.claimOrderCheck(order.out_trade_no, ctx.now, QUERY_HOLD_MS, CLIENT_QUERY_INTERVAL_MS, next);
}

/** Runs `work` on a claimed order, then opens its query gate again (clients keep their minimum interval). */
async function withGate<R>(ctx: TimerContext, order: PayOrder, work: () => Promise<R>): Promise<R> {
  try {
    return await work();
  } finally {
    await ctx.deps.orders.releaseQuery(order.out_trade_no, ctx.deps.clock.now() + CLIENT_QUERY_INTERVAL_MS);
  }
}

/**
 * (a) Unpaid orders older than `queryAfterSeconds` (and younger than `queryMaxAgeSeconds`, unless
 * they have a time_expire): the provider's verified answer settles a lost notification through
 * the same gate, so the handler runs once.
 */
export const pendingStep: TimerItemStep<PayOrder> = {
  name: 'pending',
  candidates: (ctx, limit) => {
    const { now, settings } = ctx;
    return ctx.repo.pendingOrders(now, now - settings.queryMaxAgeMs, now - settings.queryAfterMs, limit);
  },
  id: (o) => o.out_trade_no,
  claim: claimOrder,
  settle: (ctx, order) => withGate(ctx, order, async () => orderOutcome(await reconcile(ctx.deps, order))),
};

/**
 * (b) Unpaid orders past their time_expire are closed provider first (closeOrder): a trade the
 * provider reports paid is settled instead, and nothing is marked closed without the provider's
 * verified word. Outcomes: closed, paid, later (the provider cannot close it yet), unpaid.
 */
export const expiredStep: TimerItemStep<PayOrder> = {
  name: 'expired',
  candidates: (ctx, limit) => ctx.repo.expiredOrders(ctx.now, limit),
  id: (o) => o.out_trade_no,
  claim: claimOrder,
  settle: (ctx, order) =>
    withGate(ctx, order, async () => {
      // a provider without a close API: its verified answer (no trade, or unpaid past expiry) closes it here
      if (!supports(order.provider, 'close')) return orderOutcome(await reconcile(ctx.deps, order));
      try {
        await closeOrder(ctx.deps, { out_trade_no: order.out_trade_no });
        return 'closed';
      } catch (e) {
        if (!isPayError(e)) throw e;
        if (e.key === 'ORDER_PAID') return 'paid';
        if (e.key === 'ORDER_CLOSE_LATER') return 'later';
        throw e;
      }
    }),
};

/**
 * (c) Paid orders whose handler has not succeeded `handlerAfterSeconds` after payment (the
 * provider's retries are over or never came): re-run under the handler lease; a failure waits
 * with backoff before the timer tries again. Outcomes: done, failed, busy.
 */
export const handlersStep: TimerItemStep<PayOrder> = {
  name: 'handlers',
  candidates: (ctx, limit) => {
    // without the pay-notify handlers (the common module outside vk-pay) there is nothing to run
    if (!ctx.deps.handlersConfigured) return Promise.resolve([]);
    return ctx.repo.unfinishedHandlers(ctx.now, ctx.now - ctx.settings.handlerAfterMs, limit);
  },
  id: (o) => o.out_trade_no,
  async settle(ctx, order) {
    const outcome = await runHandler(ctx.deps, order.out_trade_no);
    if (outcome === 'failed') await ctx.repo.deferHandler(order.out_trade_no, ctx.nextLook(order.handler_attempts).next_at);
    return outcome;
  },
};

/** refunds the provider may still settle: not final, and (PENDING) its claimant long gone */
const OPEN_REFUND_STATES: readonly RefundLedgerState[] = ['UNKNOWN', 'PROCESSING', 'PENDING'];

/**
 * (d) Refunds left UNKNOWN / PROCESSING (or PENDING after a crash) for `refundAfterSeconds`: a
 * verified query through queryRefund settles them. Outcome: the ledger state after the query.
 */
export const refundsStep: TimerItemStep<RefundLedgerDoc & { check_attempts?: number }> = {
  name: 'refunds',
  candidates: (ctx, limit) => ctx.repo.openRefunds(ctx.now, OPEN_REFUND_STATES, ctx.now - ctx.settings.refundAfterMs, limit),
  id: (r) => r.out_refund_no,
  claim: (ctx, r) => ctx.repo.claimRefundCheck(r.out_refund_no, ctx.now, OPEN_REFUND_STATES, ctx.nextLook(r.check_attempts)),
  async settle(ctx, r) {
    const reply = await queryRefund(ctx.deps, { out_trade_no: r.out_trade_no, out_refund_no: r.out_refund_no });
    return reply.state.toLowerCase();
  },
};

/**
 * (d') final refunds whose `refund-notify` hook has not succeeded once the provider stopped
 * notifying: the hook runs again under its own lease on the ledger entry (services/refund.ts).
 */
export const refundHooksStep: TimerItemStep<RefundLedgerDoc> = {
  name: 'refund_hooks',
  candidates: async (ctx, limit) =>
    (await ctx.deps.refunds.due(ctx.now, ctx.now - ctx.settings.refundAfterMs, limit)).filter((r) => FINAL_REFUND_STATES.includes(r.state)),
  id: (r) => r.out_refund_no,
  settle: async (ctx, r) => ((await settleRefundByQuery(ctx.deps, r.out_refund_no))?.hook_done ? 'done' : 'pending'),
};

/** (e) transfers left open (UNKNOWN, accepted, waiting) settled by a verified query, their handlers finished (services/transfer.ts) */
export const transfersStep: TimerBatchStep = {
  name: 'transfers',
  async batch(ctx, limit) {
    const { checked, settled, handlers, errors } = await settlePendingTransfers(ctx.deps, {
      limit,
      olderThanMs: ctx.settings.refundAfterMs,
    });
    return { open: checked - settled, settled, handlers, error: errors };
  },
};

/** the day's statements (对账单), once a day after 10:00 Beijing time (services/statements.ts) */
export const statementsStep: TimerBatchStep = {
  name: 'statements',
  enabled: (settings) => settings.statements,
  batch: (ctx, limit) => dailyStatements(ctx.deps, { limit, deadline: ctx.deadline }),
};

/**
 * (f) vk-uni-pay's `autoDeleteExpiredOrders: N`: closed orders created more than N days ago are
 * deleted. Only closed ones: an unpaid order is first closed provider first by (b), so nothing
 * still payable is ever deleted.
 */
export const deleteStep: TimerItemStep<PayOrder> = {
  name: 'delete',
  enabled: (settings) => settings.deleteAfterDays > 0,
  candidates: (ctx, limit) => ctx.repo.closedOrders(ctx.now - ctx.settings.deleteAfterDays * 86_400_000, limit),
  id: (o) => o.out_trade_no,
  settle: async (ctx, order) => ((await ctx.repo.deleteClosed(order.out_trade_no)) ? 'deleted' : 'kept'),
};

/** The steps of a `_timing` run, in order. */
export const DEFAULT_TIMER_STEPS: readonly TimerStep[] = [
  pendingStep,
  expiredStep,
  handlersStep,
  refundsStep,
  refundHooksStep,
  transfersStep,
  statementsStep,
  deleteStep,
];
