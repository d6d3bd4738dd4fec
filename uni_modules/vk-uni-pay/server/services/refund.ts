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
 */
import { PayError, isPayError } from '../core/errors';
import { isFinalRefusal, isGatewayFailure } from '../core/gateway-failure';
import { PAID_STATUSES, type PayOrder, type RefundRecord } from '../core/order';
import { loadAdapter } from '../providers/registry';
import type { ProviderAdapter, RefundInput, RefundResult } from '../providers/types';
import { FINAL_REFUND_STATES, type RefundsRepo, type RefundLedgerDoc, type RefundLedgerState } from '../store/refunds';
import { orderProviderContext, requireOrder, type PayDeps } from './deps';

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
  order: { total_fee: number; refund_fee: number; status: number };
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
  if (existing) return replay(deps, refunds, adapter, order, existing, p.refund_fee);
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
      return replay(deps, refunds, adapter, order, claimed, p.refund_fee);
    if (i >= NUMBER_ATTEMPTS) throw new PayError('REFUND_RETRY_LATER');
  }
  const out_refund_no = doc.out_refund_no;

  // 2. reserve the amount on the order (one conditional update; re-read after a lost race)
  const record: RefundRecord = {
    out_refund_no,
    refund_fee,
    ...(p.refund_desc ? { refund_desc: p.refund_desc } : {}),
    refund_date: now,
    state: 'PROCESSING',
  };
  for (let attempt = 1; ; attempt++) {
    if (await deps.orders.reserveRefund(order, record)) break;
    order = await requireOrder(deps, order.out_trade_no);
    const refusal = !PAID_STATUSES.includes(order.status)
      ? new PayError('ORDER_NOT_PAID')
      : order.total_fee - order.refund_fee < refund_fee
        ? new PayError(
            'REFUND_FEE_INVALID',
            { refundable: Math.max(order.total_fee - order.refund_fee, 0) },
            { refundable: Math.max(order.total_fee - order.refund_fee, 0) },
          )
        : attempt >= RESERVE_ATTEMPTS
          ? new PayError('REFUND_RETRY_LATER')
          : undefined;
    if (refusal) {
      // a contention gives the number back; a refusal stays on record so a repeat reports it
      if (refusal.key === 'REFUND_RETRY_LATER') await refunds.removePending(out_refund_no);
      else
        await refunds.transition(out_refund_no, ['PENDING'], 'FAIL', deps.clock.now(), { fail_code: refusal.key, fail_msg: refusal.msgEn });
      throw refusal;
    }
    await pause(attempt);
  }

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
      await refunds.transition(out_refund_no, ['PENDING'], 'FAIL', deps.clock.now(), failInfo(err));
      await releaseReservation(deps, order.out_trade_no, out_refund_no);
      deps.log.warn('refund.refused', {
        out_trade_no: order.out_trade_no,
        out_refund_no,
        code: err.code,
        providerCode: isGatewayFailure(err) ? (err.providerCode ?? '') : '',
      });
      throw Object.assign(err, { detail: { ...(err.detail ?? {}), out_refund_no, state: 'FAIL' } });
    }
    // the request may have reached the provider: keep the reservation until a query tells
    await refunds.transition(out_refund_no, ['PENDING'], 'UNKNOWN', deps.clock.now());
    deps.log.warn('refund.unknown', {
      out_trade_no: order.out_trade_no,
      out_refund_no,
      error: isPayError(e) ? e.key : e instanceof Error ? e.message : String(e),
    });
    return reply(order.out_trade_no, out_refund_no, refund_fee, 'UNKNOWN');
  }
  const state: RefundLedgerState = result.state === 'SUCCESS' ? 'SUCCESS' : 'PROCESSING';
  if (result.state === 'FAIL') deps.log.warn('refund.answered_fail', { out_trade_no: order.out_trade_no, out_refund_no });
  await refunds.transition(out_refund_no, state === 'SUCCESS' ? OPEN_STATES : ['PENDING', 'UNKNOWN'], state, deps.clock.now(), {
    refund_id: result.refund_id,
  });
  const recorded = (await refunds.find(out_refund_no)) ?? { ...doc, state, refund_id: result.refund_id };
  await markRecord(deps, order.out_trade_no, recorded);
  return reply(order.out_trade_no, out_refund_no, refund_fee, recorded.state, recorded.refund_id);
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
  const settled = await settle(deps, refunds, refundAdapter(order), order, doc, true);
  const after = (await deps.orders.findByOutTradeNo(out_trade_no)) ?? order;
  return {
    ...reply(out_trade_no, settled.out_refund_no, settled.refund_fee, settled.state, settled.refund_id),
    order: { total_fee: after.total_fee, refund_fee: after.refund_fee, status: after.status },
  };
}

/** A repeat of a refund number already in the ledger: never a second provider refund. */
async function replay(
  deps: PayDeps,
  refunds: RefundsRepo,
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
  const settled = await settle(deps, refunds, adapter, order, doc, false);
  if (settled.state === 'FAIL' && settled.fail_code && LOCAL_REFUSALS.has(settled.fail_code)) {
    const refundable = Math.max(order.total_fee - order.refund_fee, 0);
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
 * Brings a ledger entry up to date: a final entry makes sure the order reflects it (a FAIL whose
 * release was interrupted is released now); an open one asks the provider. `strict`: a failed
 * query throws (queryRefund) instead of returning the recorded state (a repeated refund call).
 */
async function settle(
  deps: PayDeps,
  refunds: RefundsRepo,
  adapter: ProviderAdapter,
  order: PayOrder,
  doc: RefundLedgerDoc,
  strict: boolean,
): Promise<RefundLedgerDoc> {
  if (FINAL_REFUND_STATES.includes(doc.state)) {
    if (doc.state === 'FAIL') await releaseReservation(deps, order.out_trade_no, doc.out_refund_no);
    else await markRecord(deps, order.out_trade_no, doc);
    return doc;
  }
  if (!adapter.queryRefund) return doc; // settled by the provider's notification only
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
  const now = deps.clock.now();
  if (answer !== 'NOT_FOUND' && answer.state === 'SUCCESS') {
    if (answer.refund_fee && answer.refund_fee !== doc.refund_fee)
      deps.log.error('refund.amount_mismatch', {
        out_refund_no: doc.out_refund_no,
        provider_fee: answer.refund_fee,
        ledger_fee: doc.refund_fee,
      });
    await refunds.transition(doc.out_refund_no, OPEN_STATES, 'SUCCESS', now, { refund_id: answer.refund_id });
  } else if (answer !== 'NOT_FOUND' && answer.state === 'PROCESSING') {
    await refunds.transition(doc.out_refund_no, ['PENDING', 'UNKNOWN'], 'PROCESSING', now, { refund_id: answer.refund_id });
  } else if (now - doc.create_date >= REFUND_SETTLE_GRACE_MS) {
    // the provider has no such refund, or it failed, long after it was asked: give the amount back
    const moved = await refunds.transition(
      doc.out_refund_no,
      OPEN_STATES,
      'FAIL',
      now,
      answer === 'NOT_FOUND'
        ? { fail_code: 'NOT_FOUND', fail_msg: 'the provider has no such refund' }
        : { fail_code: 'REFUND_FAILED', fail_msg: 'the provider reports the refund failed' },
    );
    if (moved) deps.log.warn('refund.failed', { out_trade_no: order.out_trade_no, out_refund_no: doc.out_refund_no });
  }
  const current = (await refunds.find(doc.out_refund_no)) ?? doc;
  if (current.state === 'FAIL') await releaseReservation(deps, order.out_trade_no, current.out_refund_no);
  else if (current.state !== doc.state || current.refund_id !== doc.refund_id) await markRecord(deps, order.out_trade_no, current);
  return current;
}

/** Gives a failed refund's amount back to the order (idempotent: a FAIL record is released once). */
async function releaseReservation(deps: PayDeps, out_trade_no: string, out_refund_no: string): Promise<void> {
  await updateRecord(deps, out_trade_no, out_refund_no, { state: 'FAIL' }, 'error');
}

/** Mirrors the ledger's state and refund_id on the order's refund_list (best effort: the ledger is authoritative). */
async function markRecord(deps: PayDeps, out_trade_no: string, doc: RefundLedgerDoc): Promise<void> {
  if (doc.state !== 'SUCCESS' && doc.state !== 'PROCESSING') return;
  await updateRecord(deps, out_trade_no, doc.out_refund_no, { state: doc.state, refund_id: doc.refund_id }, 'warn');
}

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
  // the ledger keeps the truth; the next queryRefund / repeat call finishes this
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
  const refundable = Math.max(order.total_fee - order.refund_fee, 0);
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
