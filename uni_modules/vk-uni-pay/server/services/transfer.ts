/**
 * transfer / queryTransfer / cancelTransfer (vk-uni-pay ≥ 1.16 names) on the transfer ledger
 * (`vk-pay-transfers`). Money never leaves twice:
 * 1. the transfer is checked (coded errors, nothing written), then recorded (PENDING) under its
 *    unique out_bill_no BEFORE the provider is asked; a second call with the same number never
 *    creates a second record, and with different parameters it is refused (2103);
 * 2. a repeat of an unsettled number asks the provider first (query); only the provider's verified
 *    "no such bill" lets it send the same request again (providers dedupe by out_bill_no);
 * 3. a lost, unsigned or busy answer leaves the transfer UNKNOWN until a verified query settles it;
 *    a verified final refusal is FAIL with the provider's code; an error before sending gives the
 *    number back;
 * 4. states follow the provider's; the update that makes a transfer final (SUCCESS, FAIL,
 *    CANCELLED) takes the lease on `pay-notify/transfer.js`, which then runs until it succeeded once
 *    (the payment handlers' lease and retry rules). Where the handlers are not deployed (the common
 *    module in your own cloud function), vk-pay runs it: the provider's notification, a
 *    queryTransfer through vk-pay, or the timer's settlePendingTransfers.
 * Services never test a provider's name: everything provider-specific is an adapter hook.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PayError, isPayError } from '../core/errors';
import { isFinalRefusal, isGatewayFailure } from '../core/gateway-failure';
import { isValidFen } from '../core/money';
import { PROVIDERS, isProviderName } from '../core/catalog';
import { adapterWith, loadAdapter } from '../providers/registry';
import type { ProviderName } from '../core/catalog';
import type { ProviderAdapter, ProviderContext, RawHttpRequest } from '../providers/types';
import { FINAL_TRANSFER_STATES, type CheckedTransfer, type TransferAnswer, type TransferState } from '../providers/transfer-types';
import { configNode, notifyBaseUrl } from '../store/config';
import { OPEN_TRANSFER_STATES, billKey, type TransferDoc, type TransferPatch } from '../store/transfers';
import type { IntegratedResponse } from '../../../../types/unicloud-server';
import { providerContext, type PayDeps } from './deps';

/**
 * A PENDING transfer changed less than this long ago may still be on its way to the provider: it
 * is neither sent again nor failed on the provider's "no such bill" (longer than any gateway timeout).
 */
export const TRANSFER_SETTLE_GRACE_MS = 120_000;
/** the handler module of every transfer (vk-uni-pay's name) */
export const TRANSFER_HANDLER = 'transfer';

const OUT_BILL_NO = /^[0-9A-Za-z]{1,32}$/;
const PLATFORM = /^[A-Za-z0-9_-]{1,32}$/;
const UNSETTLED: readonly TransferState[] = ['PENDING', 'UNKNOWN'];

export interface TransferTarget {
  provider: ProviderName;
  pid: string;
  platform: string;
  adapter: ProviderAdapter;
  ctx: ProviderContext<Record<string, any>>;
}

export interface TransferResult {
  out_bill_no: string;
  provider: string;
  state: TransferState;
  transfer_amount: number;
  transfer_bill_no?: string;
  fail_reason?: string;
  /** WAIT_USER_CONFIRM: hand these to uni.requestMerchantTransfer / WeixinJSBridge (vk-uni-pay's `options`) */
  options?: Record<string, unknown>;
  /** the bill as the ledger knows it (vk-uni-pay's `result`) */
  result: Record<string, unknown>;
}

const isFinal = (s: TransferState) => FINAL_TRANSFER_STATES.includes(s);

function asObject(params: unknown): Record<string, unknown> {
  if (!params || typeof params !== 'object') throw new PayError('FIELD_INVALID', { field: 'params', reason: 'an object is required' });
  return params as Record<string, unknown>;
}

function checkOutBillNo(v: unknown, field = 'out_bill_no'): string {
  if (typeof v !== 'string' || !OUT_BILL_NO.test(v)) throw new PayError('FIELD_INVALID', { field, reason: '1-32 letters or digits' });
  return v;
}

/** The provider, merchant and config node a transfer call names (default node: `transfer`, as vk-uni-pay). */
export async function transferTarget(
  deps: PayDeps,
  p: { provider?: unknown; pid?: unknown; platform?: unknown },
  hook: 'transfer' | 'queryTransfer' | 'cancelTransfer',
): Promise<TransferTarget> {
  const provider = p.provider;
  if (!isProviderName(provider)) throw new PayError('PROVIDER_INVALID');
  const adapter = adapterWith(provider, hook);
  const platform = p.platform ?? 'transfer';
  if (typeof platform !== 'string' || !PLATFORM.test(platform))
    throw new PayError('FIELD_INVALID', { field: 'platform', reason: 'a config node name' });
  if (p.pid !== undefined && (typeof p.pid !== 'string' || !p.pid))
    throw new PayError('FIELD_INVALID', { field: 'pid', reason: 'a string' });
  const pid = (p.pid as string | undefined) ?? '';
  const config = await deps.configs.load(pid || undefined);
  const ctx = providerContext(deps, configNode<Record<string, any>>(config, [provider, platform]), pid || undefined);
  return { provider, pid, platform, adapter, ctx };
}

/** sha256 over the request with sorted keys: the same parameters give the same fingerprint. */
function fingerprint(request: Record<string, unknown>): string {
  const stable = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(stable).join(',')}]`
      : v && typeof v === 'object'
        ? `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
            .join(',')}}`
        : (JSON.stringify(v) ?? 'null');
  return createHash('sha256').update(stable(request)).digest('hex');
}

export async function transfer(deps: PayDeps, params: unknown): Promise<TransferResult> {
  const p = asObject(params);
  const out_bill_no = checkOutBillNo(p.out_bill_no);
  const t = await transferTarget(deps, p, 'transfer');
  const min = t.adapter.transferRules?.minFen ?? 1;
  if (!isValidFen(p.transfer_amount) || p.transfer_amount < min)
    throw new PayError('TRANSFER_AMOUNT_INVALID', { min, provider: t.provider }, { min });
  const checked = t.adapter.checkTransfer ? t.adapter.checkTransfer(p, t.ctx) : { request: { ...p }, payee: '' };
  const now = deps.clock.now();
  const doc: TransferDoc = {
    bill_key: billKey(t.provider, t.pid, out_bill_no),
    out_bill_no,
    provider: t.provider,
    pid: t.pid,
    platform: t.platform,
    transfer_amount: p.transfer_amount,
    transfer_remark: typeof p.transfer_remark === 'string' ? p.transfer_remark : '',
    payee: checked.payee,
    ...(checked.appid ? { appid: checked.appid } : {}),
    fingerprint: fingerprint({ ...checked.request, platform: t.platform }),
    state: 'PENDING',
    create_date: now,
    update_date: now,
  };
  if ((await deps.transfers.insert(doc)) === 'duplicate') {
    const existing = await deps.transfers.find(doc.bill_key);
    if (!existing) throw new PayError('ORDER_BUSY');
    if (existing.fingerprint !== doc.fingerprint)
      throw new PayError(
        'TRANSFER_PARAMS_CHANGED',
        { field: existing.transfer_amount !== doc.transfer_amount ? 'transfer_amount' : 'parameters' },
        { out_bill_no, state: existing.state },
      );
    return replyOrFail(await replay(deps, t, existing, checked));
  }
  deps.log.info('transfer.recorded', { provider: t.provider, out_bill_no, transfer_amount: doc.transfer_amount });
  return replyOrFail(await send(deps, t, doc, checked));
}

/** A repeat of a recorded number: the provider's word first; sent again only on its verified "no such bill". */
async function replay(deps: PayDeps, t: TransferTarget, doc: TransferDoc, checked: CheckedTransfer): Promise<TransferDoc> {
  if (isFinal(doc.state)) return finishHandler(deps, doc);
  if (doc.state === 'PENDING' && deps.clock.now() - doc.update_date < TRANSFER_SETTLE_GRACE_MS) return doc;
  let answer: TransferAnswer | 'NOT_FOUND';
  try {
    answer = await t.adapter.queryTransfer!({ out_bill_no: doc.out_bill_no }, t.ctx);
  } catch (e) {
    deps.log.warn('transfer.query_failed', { out_bill_no: doc.out_bill_no, code: isPayError(e) ? e.code : undefined });
    return doc;
  }
  if (answer !== 'NOT_FOUND') {
    const after = await apply(deps, t, doc, answer);
    // the confirmation package comes only with the create answer: asking again with the same
    // request returns the same bill, package included
    const waiting = after.state === 'WAIT_USER_CONFIRM' || after.state === 'TRANSFERING';
    return waiting && !after.client_options ? send(deps, t, after, checked) : after;
  }
  if (!UNSETTLED.includes(doc.state)) return doc;
  // the provider never got it: send it again, claiming the resend so that no settlement fails it meanwhile
  const claimed = await deps.transfers.transition(doc.bill_key, UNSETTLED, 'PENDING', deps.clock.now());
  return claimed ? send(deps, t, claimed, checked) : ((await deps.transfers.find(doc.bill_key)) ?? doc);
}

/** Asks the provider to pay (only the claimant of the record does) and records its answer. */
async function send(deps: PayDeps, t: TransferTarget, doc: TransferDoc, checked: CheckedTransfer): Promise<TransferDoc> {
  let answer: TransferAnswer;
  try {
    const notify_url = t.adapter.verifyTransferNotify ? await transferNotifyUrl(deps, doc) : undefined;
    answer = await t.adapter.transfer!({ ...checked, out_bill_no: doc.out_bill_no, notify_url }, t.ctx);
  } catch (e) {
    if (isFinalRefusal(e)) {
      deps.log.warn('transfer.refused', { out_bill_no: doc.out_bill_no, providerCode: e.providerCode ?? '' });
      // a refusal fails the transfer only when the provider also has no bill under this number
      // (e.g. one made before a migration, or the bill a package re-request was about)
      const bill = await t.adapter.queryTransfer!({ out_bill_no: doc.out_bill_no }, t.ctx).catch(() => undefined);
      if (bill === 'NOT_FOUND' && UNSETTLED.includes(doc.state))
        return settleFinal(deps, doc, 'FAIL', { fail_reason: e.providerCode || e.key });
      if (bill && bill !== 'NOT_FOUND') return apply(deps, t, doc, bill);
      return (await deps.transfers.transition(doc.bill_key, ['PENDING'], 'UNKNOWN', deps.clock.now())) ?? doc;
    }
    if (isPayError(e) && !isGatewayFailure(e)) {
      // refused before anything was sent (configuration): the number is given back
      await deps.transfers.removeUnsent(doc.bill_key);
      throw e;
    }
    deps.log.warn('transfer.unknown', { out_bill_no: doc.out_bill_no, error: isPayError(e) ? e.key : String(e) });
    return (
      (await deps.transfers.transition(doc.bill_key, UNSETTLED, 'UNKNOWN', deps.clock.now())) ??
      (await deps.transfers.find(doc.bill_key)) ??
      doc
    );
  }
  return apply(deps, t, doc, answer);
}

/** Records a verified provider answer (one conditional update); a final one runs the handler. */
async function apply(deps: PayDeps, t: TransferTarget, doc: TransferDoc, answer: TransferAnswer): Promise<TransferDoc> {
  const mismatch =
    answer.out_bill_no !== doc.out_bill_no
      ? 'out_bill_no'
      : answer.transfer_amount !== undefined && answer.transfer_amount !== doc.transfer_amount
        ? 'transfer_amount'
        : answer.mch_id && t.ctx.config.mchId && answer.mch_id !== t.ctx.config.mchId
          ? 'mch_id'
          : undefined;
  if (mismatch) {
    deps.log.error('transfer.mismatch', { out_bill_no: doc.out_bill_no, field: mismatch });
    throw new PayError('NOTIFY_MISMATCH', { field: mismatch });
  }
  const patch: TransferPatch = {
    transfer_bill_no: answer.transfer_bill_no,
    fail_reason: answer.fail_reason,
    client_options: answer.client_options,
    mch_id: answer.mch_id,
    provider_create_time: answer.create_time,
    provider_update_time: answer.update_time,
  };
  if (isFinal(answer.state)) return settleFinal(deps, doc, answer.state, patch);
  if (answer.state === doc.state && !answer.transfer_bill_no && !answer.client_options) return doc;
  return (
    (await deps.transfers.transition(doc.bill_key, OPEN_TRANSFER_STATES, answer.state, deps.clock.now(), patch)) ??
    (await deps.transfers.find(doc.bill_key)) ??
    doc
  );
}

/** Open → final, taking the handler lease in the same update; an already final transfer only finishes its handler. */
async function settleFinal(deps: PayDeps, doc: TransferDoc, state: TransferState, patch: TransferPatch): Promise<TransferDoc> {
  const lease = deps.handlersConfigured ? newLease(deps) : undefined;
  const moved = await deps.transfers.transition(doc.bill_key, OPEN_TRANSFER_STATES, state, deps.clock.now(), patch, lease);
  if (moved) {
    deps.log.info('transfer.final', { out_bill_no: doc.out_bill_no, state, fail_reason: patch.fail_reason });
    if (lease) await execute(deps, moved, lease.token);
    return (await deps.transfers.find(doc.bill_key)) ?? moved;
  }
  const current = (await deps.transfers.find(doc.bill_key)) ?? doc;
  if (isFinal(current.state) && current.state !== state)
    deps.log.error('transfer.final_conflict', { out_bill_no: doc.out_bill_no, recorded: current.state, answered: state });
  return finishHandler(deps, current);
}

function newLease(deps: PayDeps) {
  return { token: randomBytes(12).toString('hex'), until: deps.clock.now() + deps.handlerLeaseMs };
}

/** Runs the handler of a final transfer if it has not succeeded and this caller takes the lease. */
async function finishHandler(deps: PayDeps, doc: TransferDoc): Promise<TransferDoc> {
  if (!isFinal(doc.state) || doc.handler_success === true || !deps.handlersConfigured) return doc;
  const lease = newLease(deps);
  const claimed = await deps.transfers.claimHandler(doc.bill_key, deps.clock.now(), lease);
  if (!claimed) return doc;
  await execute(deps, claimed, lease.token);
  return (await deps.transfers.find(doc.bill_key)) ?? claimed;
}

/** What `pay-notify/transfer.js` receives as `data` (vk-uni-pay's field names). */
export function transferHandlerData(doc: TransferDoc): Record<string, unknown> {
  return {
    provider: doc.provider,
    pid: doc.pid || undefined,
    platform: doc.platform,
    appid: doc.appid,
    mch_id: doc.mch_id,
    openid: doc.payee,
    out_bill_no: doc.out_bill_no,
    transfer_bill_no: doc.transfer_bill_no,
    state: doc.state,
    fail_reason: doc.fail_reason,
    transfer_amount: doc.transfer_amount,
    transfer_remark: doc.transfer_remark,
    create_time: doc.provider_create_time,
    update_time: doc.provider_update_time,
  };
}

/** One handler run under `token`; a failure is recorded only while this run still holds the lease. */
async function execute(deps: PayDeps, doc: TransferDoc, token: string): Promise<boolean> {
  const handler = deps.handlers(TRANSFER_HANDLER);
  let ok = false;
  let error: string | undefined;
  if (!handler) error = `pay-notify/${TRANSFER_HANDLER}.js not found`;
  else {
    try {
      const db = deps.db();
      ok = (await handler({ data: transferHandlerData(doc) }, { db, _: db.command })) !== false;
      if (!ok) error = 'handler returned false';
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
  }
  const recorded = await deps.transfers.finishHandler(doc.bill_key, token, ok, error, deps.clock.now() + deps.handlerRetryDelayMs);
  deps.log[ok ? 'info' : 'warn'](ok ? 'transfer.handler_done' : 'transfer.handler_failed', {
    out_bill_no: doc.out_bill_no,
    state: doc.state,
    recorded,
    error,
  });
  return ok;
}

/** `<notifyUrl>/transferNotify/<provider>/<out_bill_no>[/<pid>]` (WeChat allows no query string). */
async function transferNotifyUrl(deps: PayDeps, doc: TransferDoc): Promise<string> {
  const base = notifyBaseUrl(await deps.configs.load(doc.pid || undefined), deps.spaceId());
  return `${base}/transferNotify/${doc.provider}/${doc.out_bill_no}${doc.pid ? `/${encodeURIComponent(doc.pid)}` : ''}`;
}

function reply(doc: TransferDoc): TransferResult {
  const options = doc.state === 'WAIT_USER_CONFIRM' || doc.state === 'TRANSFERING' ? doc.client_options : undefined;
  return {
    out_bill_no: doc.out_bill_no,
    provider: doc.provider,
    state: doc.state,
    transfer_amount: doc.transfer_amount,
    ...(doc.transfer_bill_no ? { transfer_bill_no: doc.transfer_bill_no } : {}),
    ...(doc.fail_reason ? { fail_reason: doc.fail_reason } : {}),
    ...(options ? { options } : {}),
    result: {
      out_bill_no: doc.out_bill_no,
      transfer_bill_no: doc.transfer_bill_no,
      state: doc.state,
      create_time: doc.provider_create_time,
      ...(options?.package ? { package_info: options.package } : {}),
      ...(doc.fail_reason ? { fail_reason: doc.fail_reason } : {}),
    },
  };
}

/** A failed transfer is a coded error (2106) carrying the same fields. */
function replyOrFail(doc: TransferDoc): TransferResult {
  const r = reply(doc);
  if (doc.state !== 'FAIL') return r;
  throw new PayError('TRANSFER_FAILED', { reason: doc.fail_reason ?? '' }, { ...r });
}

export async function queryTransfer(deps: PayDeps, params: unknown): Promise<TransferResult> {
  const p = asObject(params);
  const t = await transferTarget(deps, p, 'queryTransfer');
  let doc: TransferDoc | undefined;
  let q: { out_bill_no?: string; transfer_bill_no?: string };
  if (p.out_bill_no !== undefined) {
    q = { out_bill_no: checkOutBillNo(p.out_bill_no) };
    doc = await deps.transfers.find(billKey(t.provider, t.pid, q.out_bill_no!));
  } else {
    if (typeof p.transfer_bill_no !== 'string' || !/^[0-9A-Za-z]{1,64}$/.test(p.transfer_bill_no))
      throw new PayError('FIELD_INVALID', { field: 'out_bill_no', reason: 'out_bill_no or transfer_bill_no is required' });
    q = { transfer_bill_no: p.transfer_bill_no };
    doc = await deps.transfers.findByTransferBillNo(t.provider, t.pid, p.transfer_bill_no);
    if (doc) q = { out_bill_no: doc.out_bill_no };
  }
  if (doc && isFinal(doc.state)) return reply(await finishHandler(deps, doc));
  const answer = await t.adapter.queryTransfer!(q, t.ctx);
  if (!doc) {
    // not in this ledger (e.g. paid before the migration): the provider's word, nothing written
    if (answer === 'NOT_FOUND') throw new PayError('TRANSFER_NOT_FOUND', { out_bill_no: q.out_bill_no ?? q.transfer_bill_no });
    return {
      out_bill_no: answer.out_bill_no,
      provider: t.provider,
      state: answer.state,
      transfer_amount: answer.transfer_amount ?? 0,
      ...(answer.transfer_bill_no ? { transfer_bill_no: answer.transfer_bill_no } : {}),
      ...(answer.fail_reason ? { fail_reason: answer.fail_reason } : {}),
      result: answer.raw,
    };
  }
  return reply(answer === 'NOT_FOUND' ? await notFound(deps, doc) : await apply(deps, t, doc, answer));
}

/** The provider's verified "no such bill": final (FAIL) once nothing can still be on its way. */
async function notFound(deps: PayDeps, doc: TransferDoc): Promise<TransferDoc> {
  if (!UNSETTLED.includes(doc.state) || deps.clock.now() - doc.update_date < TRANSFER_SETTLE_GRACE_MS) return doc;
  return settleFinal(deps, doc, 'FAIL', { fail_reason: 'NOT_FOUND' });
}

export async function cancelTransfer(deps: PayDeps, params: unknown): Promise<TransferResult> {
  const p = asObject(params);
  const out_bill_no = checkOutBillNo(p.out_bill_no);
  const t = await transferTarget(deps, p, 'cancelTransfer');
  const doc = await deps.transfers.find(billKey(t.provider, t.pid, out_bill_no));
  if (!doc) throw new PayError('TRANSFER_NOT_FOUND', { out_bill_no });
  if (doc.state === 'CANCELING' || doc.state === 'CANCELLED') return reply(doc);
  if (isFinal(doc.state)) throw new PayError('TRANSFER_NOT_CANCELLABLE', { out_bill_no, state: doc.state }, { state: doc.state });
  let answer: TransferAnswer;
  try {
    answer = await t.adapter.cancelTransfer!({ out_bill_no }, t.ctx);
  } catch (e) {
    if (!isFinalRefusal(e)) throw e; // nothing changed here: cancelling again is safe
    // refused (e.g. the user confirmed first): the provider's current word decides
    const current = await t.adapter.queryTransfer!({ out_bill_no }, t.ctx).catch(() => 'NOT_FOUND' as const);
    const after = current === 'NOT_FOUND' ? doc : await apply(deps, t, doc, current);
    throw new PayError(
      'TRANSFER_NOT_CANCELLABLE',
      { out_bill_no, state: after.state },
      { state: after.state, providerCode: e.providerCode },
    );
  }
  return reply(await apply(deps, t, doc, answer));
}

/**
 * A provider's final-state notification at `/transferNotify/<provider>/<out_bill_no>[/<pid>]`:
 * verified over the raw bytes against the ledger's merchant before anything is written; the reply
 * asks for a retry until the handler has succeeded (where the handlers are deployed).
 */
export async function transferNotify(deps: PayDeps, req: RawHttpRequest): Promise<IntegratedResponse> {
  const m = /^\/?transferNotify\/([a-z-]+)\/([0-9A-Za-z]{1,32})(?:\/([^/?#]+))?\/?$/.exec(req.path);
  const provider = m?.[1] as ProviderName | undefined;
  const adapter = provider && PROVIDERS.includes(provider) ? loadAdapter(provider) : undefined;
  if (!m || !adapter?.verifyTransferNotify) {
    deps.log.warn('transfer.notify_refused', { reason: 'route', path: req.path.slice(0, 120) });
    return { mpserverlessComposedResponse: true, statusCode: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' };
  }
  const fail = (reason: string, code?: number) => {
    deps.log.warn('transfer.notify_refused', { out_bill_no: m[2], reason, code });
    return adapter.notifyReply(false, 'FAIL', req);
  };
  try {
    const pid = m[3] ? decodeURIComponent(m[3]) : '';
    const doc = await deps.transfers.find(billKey(provider!, pid, m[2]));
    if (!doc) return fail('unknown out_bill_no');
    const ctx = providerContext(
      deps,
      configNode<Record<string, any>>(await deps.configs.load(pid || undefined), [doc.provider, doc.platform]),
      pid || undefined,
    );
    const answer = await adapter.verifyTransferNotify(req, ctx);
    const t: TransferTarget = { provider: provider!, pid, platform: doc.platform, adapter, ctx };
    const after = await apply(deps, t, doc, answer);
    return adapter.notifyReply(!deps.handlersConfigured || after.handler_success === true, undefined, req);
  } catch (e) {
    if (isPayError(e)) return fail(e.key, e.code);
    deps.log.error('transfer.notify_error', { out_bill_no: m[2], error: e instanceof Error ? e.message : String(e) });
    return adapter.notifyReply(false, 'FAIL', req);
  }
}

export interface SettleTransfersSummary {
  checked: number;
  /** reached a final state in this run */
  settled: number;
  /** handler runs that succeeded in this run */
  handlers: number;
  errors: number;
}

/**
 * For the reconciliation timer: transfers left open (no notification, lost answers, unconfirmed
 * bills) are asked about again once unchanged for `olderThanMs`, and final ones whose handler has
 * not succeeded get it run (only where the handlers are deployed, i.e. in vk-pay). At most `limit`
 * of each per call; never throws for one transfer's failure.
 */
export async function settlePendingTransfers(
  deps: PayDeps,
  opts: { limit?: number; olderThanMs?: number } = {},
): Promise<SettleTransfersSummary> {
  const now = deps.clock.now();
  const docs = await deps.transfers.unsettled(now, now - (opts.olderThanMs ?? 60_000), opts.limit ?? 50);
  const summary: SettleTransfersSummary = { checked: docs.length, settled: 0, handlers: 0, errors: 0 };
  for (const doc of docs) {
    try {
      let after: TransferDoc;
      if (isFinal(doc.state)) after = await finishHandler(deps, doc);
      else {
        const t = await transferTarget(
          deps,
          { provider: doc.provider, pid: doc.pid || undefined, platform: doc.platform },
          'queryTransfer',
        );
        const answer = await t.adapter.queryTransfer!({ out_bill_no: doc.out_bill_no }, t.ctx);
        after = answer === 'NOT_FOUND' ? await notFound(deps, doc) : await apply(deps, t, doc, answer);
        if (isFinal(after.state)) summary.settled++;
      }
      if (after.handler_success === true && doc.handler_success !== true) summary.handlers++;
    } catch (e) {
      summary.errors++;
      deps.log.warn('transfer.settle_failed', { out_bill_no: doc.out_bill_no, code: isPayError(e) ? e.code : undefined });
    }
  }
  if (docs.length) deps.log.info('transfer.settle_run', { ...summary });
  return summary;
}

/**
 * vk-uni-pay's verifyTransferNotify({provider, platform, pid, headers, body}): checks a notification
 * you received yourself (signature over the raw body, decryption) and returns its content; writes nothing.
 */
export async function verifyTransferNotification(deps: PayDeps, params: unknown): Promise<{ data: Record<string, unknown> }> {
  const p = asObject(params);
  const t = await transferTarget(deps, p, 'queryTransfer');
  if (!t.adapter.verifyTransferNotify)
    throw new PayError('OPERATION_UNSUPPORTED', { provider: t.provider, operation: 'verifyTransferNotify' });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((p.headers as Record<string, unknown>) ?? {})) headers[k.toLowerCase()] = String(v);
  const body = Buffer.isBuffer(p.body) ? p.body : typeof p.body === 'string' ? Buffer.from(p.body, 'utf8') : undefined;
  if (!body) throw new PayError('FIELD_INVALID', { field: 'body', reason: 'the raw notification body (string)' });
  const answer = await t.adapter.verifyTransferNotify({ method: 'POST', path: '', headers, query: {}, body }, t.ctx);
  const { raw, client_options: _o, ...fields } = answer;
  return { data: { ...raw, ...fields } };
}
