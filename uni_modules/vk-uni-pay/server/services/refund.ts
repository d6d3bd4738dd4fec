/**
 * refund / queryRefund (vk-uni-pay). Money never leaves twice and never exceeds the order:
 * 1. the refund number is claimed in the ledger (`vk-pay-refunds`, unique out_refund_no), so the
 *    same number is sent to the provider at most once (a repeat only queries);
 * 2. the amount is reserved on the order with ONE conditional update (refund_fee + amount ≤
 *    total_fee) before the provider is asked;
 * 3. the outcome is decided on the GatewayFailure's fields only: a final refusal (`verified &&
 *    !retryable`) or an error thrown before sending releases the reservation (ledger FAIL first,
 *    then the order); anything else — a lost, unsigned or busy answer — keeps it (ledger UNKNOWN)
 *    until a verified query settles it. PROCESSING is never taken as final;
 * 4. a call without out_refund_no while a refund of the order is unsettled (PENDING / UNKNOWN)
 *    resumes that refund instead of starting another (a retry after a crash or a lost answer);
 * 5. a refund refused here (amount, order state) stays in the ledger as FAIL, so a repeat of its
 *    number reports that refusal again.
 * Every verified outcome — the refund call's answer, a provider notification, a query, a refund the
 * provider made on its own (Apple) — goes through `applyRefundOutcome`: the ledger moves with one
 * conditional update, the order follows (refund_fee counts confirmed refunds only, refund_reserved
 * what is still in flight), then the business hook `refund-notify/<type>.js` runs once per final
 * state under a lease (like `pay-notify`).
 */
import { PayError, isPayError } from '../core/errors';
import { isFinalRefusal, isGatewayFailure } from '../core/gateway-failure';
import { PAID_STATUSES, handlerData, type PayOrder, type RefundRecord } from '../core/order';
import { loadAdapter } from '../providers/registry';
import type { NotifyEvent, ProviderAdapter, RefundInput, RefundResult } from '../providers/types';
import {
  FINAL_REFUND_STATES,
  type RefundLedgerDoc,
  type RefundLedgerPatch,
  type RefundLedgerState,
  type RefundSource,
} from '../store/refunds';
import { orderProviderContext, requireOrder, type PayDeps } from './deps';
import { callHandler, newLease, type HandlerOutcome } from './settle';

export type { RefundLedgerState } from '../store/refunds';

export interface RefundParams {
  out_trade_no: string;
  /** default `<out_trade_no>-<refund_num + 1>`; 1-64 of letters, digits and _-|*@ */
  out_refund_no?: string;
  /** integer fen; default: everything not yet refunded */
  refund_fee?: number;
  refund_desc?: string;
}

export interface RefundReply {
  out_trade_no: string;
  out_refund_no: string;
  refund_fee: number;
  state: RefundLedgerState;
  refund_id?: string;
}

export interface QueryRefundParams {
  out_trade_no: string;
  /** default: the order's latest refund */
  out_refund_no?: string;
}

export interface QueryRefundReply extends RefundReply {
  /** refund_fee: confirmed refunds; refund_reserved: refunds still in flight; status follows refund_fee */
  order: { total_fee: number; refund_fee: number; refund_reserved: number; status: number };
}

/**
 * A "not found" or FAIL answer to a query is final only once the refund is older than this: a
 * refund request still in flight (or a claimant still running) must not be released under it.
 */
export const REFUND_SETTLE_GRACE_MS = 120_000;

const OUT_REFUND_NO = /^[A-Za-z0-9_\-|*@]{1,64}$/;
const RESERVE_ATTEMPTS = 5;
const NUMBER_ATTEMPTS = 20;
const RELEASE_ATTEMPTS = 10;
const DESC_MAX = 80;
const OPEN_STATES: readonly RefundLedgerState[] = ['PENDING', 'UNKNOWN', 'PROCESSING'];
/** a refusal before any request existed: no business hook to run */
const NO_HOOK = { hook_done: true } as const;

/** unsettled: the provider may or may not have the refund */
const UNSETTLED_STATES: readonly RefundLedgerState[] = ['PENDING', 'UNKNOWN'];
/** refusals decided here before the provider is asked; kept in the ledger as FAIL and repeated as such */
const LOCAL_REFUSALS = new Set<string>(['ORDER_NOT_PAID', 'REFUND_FEE_INVALID']);

export async function refund(deps: PayDeps, params: RefundParams): Promise<RefundReply> {
  const p = checkRefundParams(params);
  const refunds = deps.refunds;
  let order = await requireOrder(deps, p.out_trade_no);
  const adapter = refundAdapter(order);

  const existing = p.out_refund_no ? await refunds.find(p.out_refund_no) : await refunds.latestIn(order.out_trade_no, UNSETTLED_STATES);
  if (existing) return replay(deps, adapter, order, existing, p.refund_fee);
  if (!PAID_STATUSES.includes(order.status)) throw new PayError('ORDER_NOT_PAID');
  const refund_fee = checkAmount(order, p.refund_fee);

  // 1. claim the refund number
  const now = deps.clock.now();
  const doc: RefundLedgerDoc = {
    out_refund_no: p.out_refund_no ?? '',
    out_trade_no: order.out_trade_no,
    refund_fee,
    ...(p.refund_desc ? { refund_desc: p.refund_desc } : {}),
    state: 'PENDING',
    create_date: now,
    update_date: now,
  };
  let n = order.refund_num + 1;
  for (let i = 0; ; i++) {
    if (!p.out_refund_no) doc.out_refund_no = `${order.out_trade_no}-${n++}`;
    if ((await refunds.insert(doc)) !== 'duplicate') break;
    // the same number, claimed concurrently: a repeat of that request (a default number: only while unsettled)
    const claimed = await refunds.find(doc.out_refund_no);
    if (claimed && (p.out_refund_no || (claimed.out_trade_no === order.out_trade_no && UNSETTLED_STATES.includes(claimed.state))))
      return replay(deps, adapter, order, claimed, p.refund_fee);
    if (i >= NUMBER_ATTEMPTS) throw new PayError('REFUND_RETRY_LATER');
  }
  const out_refund_no = doc.out_refund_no;

  // 2. reserve the amount on the order (one conditional update; re-read after a lost race)
  const reserved = await reserve(deps, order, doc);
  if (reserved instanceof PayError) {
    // a contention gives the number back; a refusal stays on record so a repeat reports it
    if (reserved.key === 'REFUND_RETRY_LATER') await refunds.removePending(out_refund_no);
    else await refunds.transition(out_refund_no, ['PENDING'], 'FAIL', deps.clock.now(), { ...NO_HOOK, ...failInfo(reserved) });
    throw reserved;
  }
  order = reserved;

  // 3. ask the provider (only the claimant of the number ever does)
  const ctx = await orderProviderContext(deps, order);
  let result: RefundResult;
  try {
    const input: RefundInput & { openid?: string } = {
      out_trade_no: order.out_trade_no,
      ...(order.transaction_id ? { transaction_id: order.transaction_id } : {}),
      out_refund_no,
      total_fee: order.total_fee,
      refund_fee,
      ...(p.refund_desc ? { refund_desc: p.refund_desc } : {}),
      ...(order.notify_url ? { notify_url: order.notify_url + (order.notify_path ?? '') } : {}),
      ...(order.openid ? { openid: order.openid } : {}),
    };
    result = await adapter.refund!(input, ctx);
  } catch (e) {
    if (isFinalRefusal(e) || nothingSent(e)) {
      const err = e as PayError;
      // a refusal by the provider is a final state of a real request (its hook runs); nothing sent: no refund ever existed
      await applyRefundOutcome(deps, order, { out_refund_no, state: 'FAIL', source: 'answer', ...failInfo(err) }, !isFinalRefusal(e));
      deps.log.warn('refund.refused', {
        out_trade_no: order.out_trade_no,
        out_refund_no,
        code: err.code,
        providerCode: isGatewayFailure(err) ? (err.providerCode ?? '') : '',
      });
      throw Object.assign(err, { detail: { ...(err.detail ?? {}), out_refund_no, state: 'FAIL' } });
    }
    // the request may have reached the provider: keep the reservation until a query or a notification tells
    await refunds.transition(out_refund_no, ['PENDING'], 'UNKNOWN', deps.clock.now());
    deps.log.warn('refund.unknown', {
      out_trade_no: order.out_trade_no,
      out_refund_no,
      error: isPayError(e) ? e.key : e instanceof Error ? e.message : String(e),
    });
    return reply(order.out_trade_no, out_refund_no, refund_fee, 'UNKNOWN');
  }
  // an accepted request answered FAIL at once is not taken as final: a query decides
  if (result.state === 'FAIL') deps.log.warn('refund.answered_fail', { out_trade_no: order.out_trade_no, out_refund_no });
  const recorded = await applyRefundOutcome(deps, order, {
    out_refund_no,
    state: result.state === 'SUCCESS' ? 'SUCCESS' : 'PROCESSING',
    refund_id: result.refund_id,
    refund_fee: result.refund_fee,
    source: 'answer',
  });
  return reply(order.out_trade_no, out_refund_no, refund_fee, recorded.state, recorded.refund_id);
}

/** Reserves the claimed refund's amount on the order; the order after it, or the refusal (nothing reserved). */
async function reserve(deps: PayDeps, order: PayOrder, doc: RefundLedgerDoc): Promise<PayOrder | PayError> {
  const record: RefundRecord = {
    out_refund_no: doc.out_refund_no,
    refund_fee: doc.refund_fee,
    ...(doc.refund_desc ? { refund_desc: doc.refund_desc } : {}),
    refund_date: doc.create_date,
    state: 'PROCESSING',
  };
  for (let attempt = 1; ; attempt++) {
    if (await deps.orders.reserveRefund(order, record)) return (await deps.orders.findByOutTradeNo(order.out_trade_no)) ?? order;
    order = await requireOrder(deps, order.out_trade_no);
    // already on the order (a repeat of a claim interrupted after its reservation): reserved once
    if (order.refund_list.some((r) => r.out_refund_no === doc.out_refund_no)) return order;
    const refundable = refundableOf(order);
    if (!PAID_STATUSES.includes(order.status)) return new PayError('ORDER_NOT_PAID');
    if (refundable < doc.refund_fee) return new PayError('REFUND_FEE_INVALID', { refundable }, { refundable });
    if (attempt >= RESERVE_ATTEMPTS) return new PayError('REFUND_RETRY_LATER');
    await pause(attempt);
  }
}

export async function queryRefund(deps: PayDeps, params: QueryRefundParams): Promise<QueryRefundReply> {
  const out_trade_no = checkOutTradeNo(params?.out_trade_no);
  if (params.out_refund_no !== undefined && (typeof params.out_refund_no !== 'string' || !OUT_REFUND_NO.test(params.out_refund_no))) {
    throw new PayError('FIELD_INVALID', { field: 'out_refund_no', reason: '1-64 letters, digits or _-|*@' });
  }
  const refunds = deps.refunds;
  const order = await requireOrder(deps, out_trade_no);
  const doc = params.out_refund_no ? await refunds.find(params.out_refund_no) : await refunds.latest(out_trade_no);
  if (!doc || doc.out_trade_no !== out_trade_no)
    throw new PayError('FIELD_INVALID', { field: 'out_refund_no', reason: 'no such refund for this order' });
  const settled = await settle(deps, refundAdapter(order), order, doc, true);
  const after = (await deps.orders.findByOutTradeNo(out_trade_no)) ?? order;
  return {
    ...reply(out_trade_no, settled.out_refund_no, settled.refund_fee, settled.state, settled.refund_id),
    order: { total_fee: after.total_fee, refund_fee: after.refund_fee, refund_reserved: after.refund_reserved ?? 0, status: after.status },
  };
}

/**
 * The reconciliation's entry (the `_timing` trigger and anyone holding a refund number): brings
 * one ledger entry up to date by the provider's verified answer — an open refund (PENDING, UNKNOWN,
 * PROCESSING) is queried and settled; a final one makes sure the order reflects it and its
 * `refund-notify` hook has run. Never throws for a provider that cannot be reached (the entry
 * stays as it was, to be tried again); returns the entry as it is now, undefined when unknown.
 */
export async function settleRefundByQuery(deps: PayDeps, out_refund_no: string): Promise<RefundLedgerDoc | undefined> {
  const doc = await deps.refunds.find(out_refund_no);
  if (!doc) return undefined;
  const order = await deps.orders.findByOutTradeNo(doc.out_trade_no);
  if (!order) return doc;
  const adapter = loadAdapter(order.provider);
  return settle(deps, adapter, order, doc, false);
}

/** A repeat of a refund number already in the ledger: never a second provider refund. */
async function replay(
  deps: PayDeps,
  adapter: ProviderAdapter,
  order: PayOrder,
  doc: RefundLedgerDoc,
  refund_fee: number | undefined,
): Promise<RefundReply> {
  if (doc.out_trade_no !== order.out_trade_no)
    throw new PayError('FIELD_INVALID', { field: 'out_refund_no', reason: 'already used by another order' });
  if (refund_fee !== undefined && refund_fee !== doc.refund_fee)
    throw new PayError('FIELD_INVALID', {
      field: 'refund_fee',
      reason: `out_refund_no ${doc.out_refund_no} was requested with ${doc.refund_fee}`,
    });
  const settled = await settle(deps, adapter, order, doc, false);
  if (settled.state === 'FAIL' && settled.fail_code && LOCAL_REFUSALS.has(settled.fail_code)) {
    const refundable = refundableOf(order);
    throw new PayError(settled.fail_code as 'REFUND_FEE_INVALID', { refundable }, { out_refund_no: settled.out_refund_no, state: 'FAIL' });
  }
  if (settled.state === 'FAIL') {
    throw new PayError(
      'GATEWAY_ERROR',
      { providerCode: settled.fail_code ?? '', providerMsg: settled.fail_msg ?? '' },
      { out_refund_no: settled.out_refund_no, state: 'FAIL' },
    );
  }
  return reply(order.out_trade_no, settled.out_refund_no, settled.refund_fee, settled.state, settled.refund_id);
}

/**
 * Brings a ledger entry up to date: a final entry makes sure the order and the hook reflect it (a
 * release or hook interrupted by a crash is finished now); an open one asks the provider.
 * `strict`: a failed query throws (queryRefund) instead of returning the recorded state.
 */
async function settle(
  deps: PayDeps,
  adapter: ProviderAdapter,
  order: PayOrder,
  doc: RefundLedgerDoc,
  strict: boolean,
): Promise<RefundLedgerDoc> {
  if (FINAL_REFUND_STATES.includes(doc.state) || !adapter.queryRefund) {
    // final, or settled by the provider's notification only
    return applyRefundOutcome(deps, order, {
      out_refund_no: doc.out_refund_no,
      state: doc.state as RefundOutcome['state'],
      source: 'query',
    });
  }
  let answer: RefundResult | 'NOT_FOUND';
  try {
    answer = await adapter.queryRefund(
      { out_trade_no: order.out_trade_no, out_refund_no: doc.out_refund_no },
      await orderProviderContext(deps, order),
    );
  } catch (e) {
    // only the provider's own (verified) "no such refund" counts
    if (isGatewayFailure(e) && e.verified && e.httpStatus === 404) answer = 'NOT_FOUND';
    else if (strict) throw e;
    else return doc;
  }
  if (answer !== 'NOT_FOUND' && answer.state !== 'FAIL')
    return applyRefundOutcome(deps, order, {
      out_refund_no: doc.out_refund_no,
      state: answer.state,
      refund_id: answer.refund_id,
      refund_fee: answer.refund_fee,
      source: 'query',
    });
  // the provider has no such refund, or it failed: final only long after it was asked (a request may still be in flight)
  if (deps.clock.now() - doc.create_date < REFUND_SETTLE_GRACE_MS) return (await deps.refunds.find(doc.out_refund_no)) ?? doc;
  return applyRefundOutcome(deps, order, {
    out_refund_no: doc.out_refund_no,
    state: 'FAIL',
    source: 'query',
    ...(answer === 'NOT_FOUND'
      ? { fail_code: 'NOT_FOUND', fail_msg: 'the provider has no such refund' }
      : { fail_code: 'REFUND_FAILED', fail_msg: 'the provider reports the refund failed' }),
  });
}

/** One verified word on a refund, from any source. */
export interface RefundOutcome {
  out_refund_no: string;
  /** PENDING / UNKNOWN: no news (only re-applies what the ledger holds) */
  state: RefundLedgerState;
  refund_id?: string;
  /** integer fen as the provider reports it (checked against the ledger) */
  refund_fee?: number;
  fail_code?: string;
  fail_msg?: string;
  source: RefundSource;
}

/**
 * The one path by which a refund's outcome lands: the ledger moves with ONE conditional update (a
 * final state never changes again; the move to a final state takes the hook lease in the same
 * update), the order follows (confirmed → refund_fee, failed → released), then the hook runs.
 * Idempotent: a repeat of the same outcome (a duplicate notification, a second query) finishes
 * whatever an interrupted earlier run left undone and runs nothing twice. `noHook`: a refusal
 * before any request existed, which no business step needs to hear about.
 */
export async function applyRefundOutcome(deps: PayDeps, order: PayOrder, outcome: RefundOutcome, noHook = false): Promise<RefundLedgerDoc> {
  const refunds = deps.refunds;
  const now = deps.clock.now();
  const final = FINAL_REFUND_STATES.includes(outcome.state);
  const lease = final && !noHook && deps.handlersConfigured ? newLease(deps, now) : undefined;
  const patch: RefundLedgerPatch = {
    refund_id: outcome.refund_id,
    ...(final ? { source: outcome.source } : {}),
    ...(outcome.state === 'FAIL' ? { fail_code: outcome.fail_code, fail_msg: outcome.fail_msg?.slice(0, 200) } : {}),
    ...(noHook ? NO_HOOK : {}),
  };
  const from: readonly RefundLedgerState[] = final ? OPEN_STATES : outcome.state === 'PROCESSING' ? ['PENDING', 'UNKNOWN'] : [];
  const moved = from.length > 0 && (await refunds.transition(outcome.out_refund_no, from, outcome.state, now, patch, lease));
  const doc = await refunds.find(outcome.out_refund_no);
  if (!doc) throw new PayError('FIELD_INVALID', { field: 'out_refund_no', reason: 'no such refund' });
  if (moved) {
    deps.log.info('refund.state', {
      out_trade_no: doc.out_trade_no,
      out_refund_no: doc.out_refund_no,
      state: doc.state,
      source: outcome.source,
    });
    if (outcome.refund_fee && outcome.state === 'SUCCESS' && outcome.refund_fee !== doc.refund_fee)
      deps.log.error('refund.amount_mismatch', {
        out_refund_no: doc.out_refund_no,
        provider_fee: outcome.refund_fee,
        ledger_fee: doc.refund_fee,
      });
  }
  if (doc.state === 'SUCCESS' || doc.state === 'PROCESSING' || doc.state === 'FAIL')
    await updateRecord(
      deps,
      order.out_trade_no,
      doc.out_refund_no,
      { state: doc.state, refund_id: doc.refund_id },
      doc.state === 'FAIL' ? 'error' : 'warn',
    );
  if (!FINAL_REFUND_STATES.includes(doc.state) || doc.hook_done === true) return doc;
  await (moved && lease ? runHook(deps, doc, lease.token) : runRefundHook(deps, doc.out_refund_no));
  return (await refunds.find(doc.out_refund_no)) ?? doc;
}

/**
 * A verified refund notification (`NotifyEvent` kind 'refund'): a final state the provider states
 * lands at once; a notification without one only prompts a query; a refund the provider made on
 * its own (Apple REFUND / REVOKE, a refund made in the merchant console) is recorded under its own
 * number. The outcome for the reply: 'done' when nothing is left to do here, 'failed' / 'busy'
 * when the provider should send it again (the hook has not succeeded yet).
 */
export async function settleRefundNotice(
  deps: PayDeps,
  order: PayOrder,
  event: Extract<NotifyEvent, { kind: 'refund' }>,
): Promise<HandlerOutcome> {
  const refunds = deps.refunds;
  const out_refund_no = event.out_refund_no;
  if (!out_refund_no) {
    deps.log.warn('notify.refund_unnumbered', { out_trade_no: order.out_trade_no });
    return 'done';
  }
  let doc = await refunds.find(out_refund_no);
  if (doc && doc.out_trade_no !== order.out_trade_no) throw new PayError('NOTIFY_MISMATCH', { field: 'out_trade_no' });
  let source: RefundSource = 'notify';
  if (!doc) {
    // a refund vk-uni-pay made before the switch is only in the order's refund_list: nothing to add
    if (event.state !== 'SUCCESS' || order.refund_list.some((r) => r.out_refund_no === out_refund_no)) return 'done';
    // the provider's own refund is recorded when its amount is known: stated, or all that is left
    if (event.refund_fee === undefined && !event.providerRefunded) {
      deps.log.warn('notify.refund_unrecorded', { out_trade_no: order.out_trade_no, out_refund_no });
      return 'done';
    }
    doc = await recordProviderRefund(deps, order, out_refund_no, event.providerRefunded ? undefined : event.refund_fee, event.reason);
    if (!doc) return 'done';
    source = 'provider';
  }
  const settled = event.state
    ? await applyRefundOutcome(deps, order, {
        out_refund_no,
        state: event.state,
        refund_id: event.refund_id,
        refund_fee: event.refund_fee,
        source,
        ...(event.state === 'FAIL'
          ? { fail_code: String(event.info.refund_status ?? 'FAIL'), fail_msg: 'the provider reports the refund failed' }
          : {}),
      })
    : await settle(deps, refundAdapter(order), order, doc, false);
  // the provider is asked to send it again until the hook has succeeded (like a payment's handler)
  return !FINAL_REFUND_STATES.includes(settled.state) || settled.hook_done === true || !deps.handlersConfigured ? 'done' : 'failed';
}

/**
 * A refund we did not ask for, stated by the provider: claimed in the ledger under the provider's
 * number and reserved on the order like our own (`stated`, capped at what is left; undefined: all
 * that is left), then settled as SUCCESS by the caller. Undefined when nothing is left to record.
 */
async function recordProviderRefund(
  deps: PayDeps,
  order: PayOrder,
  out_refund_no: string,
  stated: number | undefined,
  reason: string | undefined,
): Promise<RefundLedgerDoc | undefined> {
  const refunds = deps.refunds;
  const left = refundableOf(order);
  const refund_fee = stated === undefined ? left : Math.min(stated, left);
  if (refund_fee <= 0) {
    deps.log.error('refund.provider_over', { out_trade_no: order.out_trade_no, out_refund_no, stated: stated ?? -1 });
    return undefined;
  }
  const now = deps.clock.now();
  const doc: RefundLedgerDoc = {
    out_refund_no,
    out_trade_no: order.out_trade_no,
    refund_fee,
    ...(reason ? { refund_desc: reason.slice(0, DESC_MAX) } : {}),
    state: 'PENDING',
    create_date: now,
    update_date: now,
  };
  if ((await refunds.insert(doc)) === 'duplicate') {
    // the same refund stated twice at once (or again after a crash): make sure it is reserved, once
    const claimed = await refunds.find(out_refund_no);
    if (claimed?.state !== 'PENDING') return claimed;
    const again = await reserve(deps, order, claimed);
    if (again instanceof PayError) throw again;
    return claimed;
  }
  if (stated !== undefined && stated !== refund_fee)
    deps.log.error('refund.provider_over', { out_trade_no: order.out_trade_no, out_refund_no, stated });
  const reserved = await reserve(deps, order, doc);
  if (reserved instanceof PayError) {
    await refunds.transition(out_refund_no, ['PENDING'], 'FAIL', deps.clock.now(), { ...NO_HOOK, ...failInfo(reserved) });
    deps.log.error('refund.provider_unrecorded', { out_trade_no: order.out_trade_no, out_refund_no, code: reserved.code });
    return undefined;
  }
  return doc;
}

/** Runs the hook of a final refund if this caller takes its lease (vk-pay only: the hooks are deployed there). */
export async function runRefundHook(deps: PayDeps, out_refund_no: string): Promise<HandlerOutcome> {
  if (!deps.handlersConfigured) return 'busy';
  const lease = newLease(deps, deps.clock.now());
  const claimed = await deps.refunds.claimHook(out_refund_no, deps.clock.now(), lease);
  if (!claimed) return 'busy';
  return runHook(deps, claimed, lease.token);
}

/** One hook run under the lease `token`; a missing `refund-notify/<type>.js` counts as done (no business step). */
async function runHook(deps: PayDeps, doc: RefundLedgerDoc, token: string): Promise<HandlerOutcome> {
  const refunds = deps.refunds;
  const order = await deps.orders.findByOutTradeNo(doc.out_trade_no);
  const handler = order ? deps.refundHandlers(order.type) : undefined;
  const { ok, error } = !order
    ? { ok: false, error: 'order not found' }
    : !handler
      ? { ok: true, error: undefined }
      : await callHandler(deps, handler, `refund-notify/${order.type}.js`, { data: handlerData(order), refund: hookRefund(doc) });
  const recorded = await refunds.finishHook(doc.out_refund_no, token, ok, error, deps.clock.now() + deps.handlerRetryDelayMs);
  const fields = { out_trade_no: doc.out_trade_no, out_refund_no: doc.out_refund_no, state: doc.state };
  if (!recorded) deps.log.warn('refund.hook_stale', { ...fields, ok });
  else if (ok && handler) deps.log.info('refund.hook_done', fields);
  else if (!ok) deps.log.warn('refund.hook_failed', { ...fields, error });
  return ok ? 'done' : 'failed';
}

/** What a `refund-notify/<type>.js` hook receives as `refund` (the ledger entry, without bookkeeping). */
function hookRefund(doc: RefundLedgerDoc): Record<string, unknown> {
  const { out_refund_no, out_trade_no, refund_fee, refund_desc, state, refund_id, fail_code, fail_msg, source, create_date, update_date } =
    doc;
  return { out_refund_no, out_trade_no, refund_fee, refund_desc, state, refund_id, fail_code, fail_msg, source, create_date, update_date };
}

/** Mirrors a ledger state on the order's refund_list, moving its money (retried on contention; the ledger is authoritative). */
async function updateRecord(
  deps: PayDeps,
  out_trade_no: string,
  out_refund_no: string,
  change: { state: RefundRecord['state']; refund_id?: string },
  level: 'warn' | 'error',
): Promise<void> {
  for (let attempt = 1; attempt <= RELEASE_ATTEMPTS; attempt++) {
    const order = await deps.orders.findByOutTradeNo(out_trade_no);
    if (!order) return;
    if ((await deps.orders.updateRefundRecord(order, out_refund_no, change)) !== 'conflict') return;
    await pause(attempt);
  }
  // the ledger keeps the truth; the next queryRefund / notification / timer run finishes this
  deps.log[level]('refund.record_busy', { out_trade_no, out_refund_no, state: change.state });
}

/**
 * A coded error that is not a GatewayFailure was thrown before anything was sent (validation,
 * configuration). A gateway error key without the GatewayFailure fields (an adapter not yet on the
 * gateway step) may have been sent: it counts as unknown.
 */
function nothingSent(e: unknown): boolean {
  return isPayError(e) && !isGatewayFailure(e) && !(e.code >= 3001 && e.code <= 3004);
}

/** what the order still allows: neither confirmed nor reserved by a refund in flight */
function refundableOf(order: PayOrder): number {
  return Math.max(order.total_fee - order.refund_fee - (order.refund_reserved ?? 0), 0);
}

function failInfo(e: PayError): { fail_code: string; fail_msg: string } {
  return { fail_code: (isGatewayFailure(e) && e.providerCode) || e.key, fail_msg: e.msgEn.slice(0, 200) };
}

function reply(out_trade_no: string, out_refund_no: string, refund_fee: number, state: RefundLedgerState, refund_id?: string): RefundReply {
  return { out_trade_no, out_refund_no, refund_fee, state, ...(refund_id ? { refund_id } : {}) };
}

function checkOutTradeNo(v: unknown): string {
  if (typeof v !== 'string' || !v || v.length > 64) throw new PayError('FIELD_INVALID', { field: 'out_trade_no', reason: 'required' });
  return v;
}

function checkRefundParams(params: RefundParams): RefundParams {
  if (!params || typeof params !== 'object') throw new PayError('FIELD_INVALID', { field: 'params', reason: 'an object is required' });
  const out_trade_no = checkOutTradeNo(params.out_trade_no);
  const { out_refund_no, refund_fee, refund_desc } = params;
  if (out_refund_no !== undefined && (typeof out_refund_no !== 'string' || !OUT_REFUND_NO.test(out_refund_no))) {
    throw new PayError('FIELD_INVALID', { field: 'out_refund_no', reason: '1-64 letters, digits or _-|*@' });
  }
  if (refund_desc !== undefined && (typeof refund_desc !== 'string' || refund_desc.length > DESC_MAX)) {
    throw new PayError('FIELD_INVALID', { field: 'refund_desc', reason: `a string of at most ${DESC_MAX} characters` });
  }
  return { out_trade_no, out_refund_no, refund_fee, refund_desc: refund_desc || undefined };
}

/** refund_fee: a positive integer (fen) no larger than what is left; default all of it. */
function checkAmount(order: PayOrder, requested: unknown): number {
  const refundable = refundableOf(order);
  const fee = requested === undefined ? refundable : requested;
  if (typeof fee !== 'number' || !Number.isSafeInteger(fee) || fee <= 0 || fee > refundable) {
    throw new PayError('REFUND_FEE_INVALID', { refundable }, { refundable });
  }
  return fee;
}

function refundAdapter(order: PayOrder): ProviderAdapter {
  const adapter = loadAdapter(order.provider);
  if (typeof adapter.refund !== 'function') throw new PayError('OPERATION_UNSUPPORTED', { provider: order.provider, operation: 'refund' });
  return adapter;
}

function pause(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.floor(Math.random() * 10 * attempt)));
}
