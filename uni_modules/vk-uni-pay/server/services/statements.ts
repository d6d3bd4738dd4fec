/**
 * Statements (对账单) checked against our orders and refund ledger, for one Beijing day: every
 * provider whose adapter downloads statements, every distinct account (merchant) among its config
 * nodes, one run each. A run downloads the statement (verified by the adapter), compares it with the
 * orders paid that day and the refunds asked that day (plus, for statement rows booked on another
 * day here, a lookup by number), and stores the result (vk-pay-statements) with its CSV. A run that
 * fails stores only the error (never a half-read statement) and is retried by the daily run after
 * RETRY_AFTER_MS.
 */
import { PayError, isPayError } from '../core/errors';
import { PAID_STATUSES, type PayOrder } from '../core/order';
import { billDayRange, compareStatement, discrepancyCsv, previousBillDate, type OurEntry, type ProviderStatement } from '../core/statement';
import { loadAdapter } from '../providers/registry';
import type { PayType, ProviderAdapter, ProviderName } from '../providers/types';
import { configNode } from '../store/config';
import type { RefundLedgerDoc } from '../store/refunds';
import { MAX_STORED_DISCREPANCIES, type StatementsRepo, type StatementDoc } from '../store/statements';
import { providerContext, type PayDeps } from './deps';
import { CATALOG, configNodePath, type PlatformKey } from '../core/catalog';

/** Every scene of the providers with the `statements` capability, and its config node path. */
function statementScenes(): { provider: ProviderName; platformKey: PlatformKey; path: string[] }[] {
  return CATALOG.filter((p) => p.capabilities.includes('statements')).flatMap((p) =>
    (Object.keys(p.scenes) as PlatformKey[]).map((platformKey) => ({
      provider: p.name,
      platformKey,
      path: configNodePath(p.name, platformKey),
    })),
  );
}

/** a failed run is tried again by the daily run after this long */
export const RETRY_AFTER_MS = 3600_000;
/** Beijing hour from which yesterday's statements are ready (both providers: after 10:00) */
export const READY_HOUR = 10;

export interface CheckStatementsInput {
  /** `yyyy-MM-dd`, Beijing; default yesterday */
  bill_date?: string;
  /** one provider; default every provider that has statements */
  provider?: string;
  /** merchant (`vk-pay-config` _id) whose config is used; default the config file */
  pid?: string;
}

/** one statement checked: what is stored, without the storage fields */
export type StatementRun = Omit<StatementDoc, '_id' | 'key' | 'pid' | 'csv' | 'create_date' | 'update_date'>;

export interface CheckStatementsResult {
  bill_date: string;
  runs: StatementRun[];
  /** every run's discrepancies (UTF-8 with BOM, opens in Excel) */
  csv: string;
}

interface Target {
  provider: ProviderName;
  adapter: ProviderAdapter<any>;
  account: string;
  node: Record<string, any>;
  payTypes: Set<string>;
}

const runKey = (provider: string, account: string, billDate: string) => `${provider}|${account}|${billDate}`;

/** The accounts to check: config nodes grouped by the account their statement belongs to. */
async function targets(deps: PayDeps, input: CheckStatementsInput): Promise<Target[]> {
  const scenes = statementScenes();
  if (input.provider !== undefined && !scenes.some((s) => s.provider === input.provider))
    throw new PayError('OPERATION_UNSUPPORTED', { provider: String(input.provider), operation: 'statements' });
  const config = await deps.configs.load(input.pid);
  const out = new Map<string, Target>();
  for (const { provider, platformKey, path } of scenes) {
    if (input.provider !== undefined && provider !== input.provider) continue;
    let node: Record<string, any>;
    try {
      node = configNode(config, path);
    } catch {
      continue; // scene not configured
    }
    const adapter = loadAdapter(provider);
    const account = adapter.statementAccount?.(node);
    if (!account || !adapter.downloadStatement) continue;
    const key = `${provider}|${account}`;
    const t = out.get(key) ?? { provider, adapter, account, node, payTypes: new Set<string>() };
    t.payTypes.add(`${provider}_${platformKey}` as PayType);
    out.set(key, t);
  }
  if (input.provider !== undefined && !out.size) throw new PayError('STATEMENT_NOT_CONFIGURED', { provider: input.provider });
  return [...out.values()];
}

const orderEntry = (o: PayOrder): OurEntry => ({
  kind: 'payment',
  out_trade_no: o.out_trade_no,
  amount: o.total_fee,
  status: PAID_STATUSES.includes(o.status) ? String(o.status) : 'NOT_PAID',
  time: o.pay_date,
});

const refundEntry = (r: RefundLedgerDoc): OurEntry => ({
  kind: 'refund',
  out_trade_no: r.out_trade_no,
  out_refund_no: r.out_refund_no,
  amount: r.refund_fee,
  status: r.state,
  time: r.create_date,
});

/** Our side of one account's day, and our entries for the statement's rows we did not book that day. */
async function ourSide(repo: StatementsRepo, t: Target, pid: string | undefined, statement: ProviderStatement) {
  const { start, end } = billDayRange(statement.bill_date);
  const mine = (o: PayOrder | undefined) => !!o && t.payTypes.has(o.pay_type) && (o.pid ?? '') === (pid ?? '');
  const paid = (await repo.ordersPaidBetween(start, end)).filter((o) => mine(o) && PAID_STATUSES.includes(o.status));
  const ledger = (await repo.refundsCreatedBetween(start, end)).filter((r) => r.state !== 'FAIL' && r.state !== 'PENDING');
  const refundOrders = new Map((await repo.ordersByOutTradeNo(ledger.map((r) => r.out_trade_no))).map((o) => [o.out_trade_no, o]));
  const ours = [...paid.map(orderEntry), ...ledger.filter((r) => mine(refundOrders.get(r.out_trade_no))).map(refundEntry)];

  const known = new Set(ours.map((e) => (e.kind === 'payment' ? e.out_trade_no : `r|${e.out_refund_no}`)));
  const rows = statement.entries.filter((e) => !known.has(e.kind === 'payment' ? e.out_trade_no : `r|${e.out_refund_no}`));
  const elsewhere = (await repo.ordersByOutTradeNo(rows.filter((e) => e.kind === 'payment').map((e) => e.out_trade_no)))
    .filter(mine)
    .map(orderEntry);
  const refundRows = rows.filter((e) => e.kind === 'refund').map((e) => e.out_refund_no ?? '');
  const elsewhereRefunds = (await repo.refundsByOutRefundNo(refundRows)).map(refundEntry);
  return { ours, lookup: [...elsewhere, ...elsewhereRefunds] };
}

function errorOf(e: unknown): NonNullable<StatementRun['error']> {
  if (!isPayError(e)) return { code: new PayError('INTERNAL').code, msg: new PayError('INTERNAL').msgZh };
  const providerCode = (e.detail as { providerCode?: string } | undefined)?.providerCode;
  return { code: e.code, msg: e.msgZh, ...(providerCode ? { providerCode } : {}) };
}

async function runOne(
  deps: PayDeps,
  repo: StatementsRepo,
  t: Target,
  billDate: string,
  pid: string | undefined,
): Promise<{ run: StatementRun; error?: unknown }> {
  const base = { provider: t.provider, account: t.account, bill_date: billDate };
  let run: StatementRun;
  let error: unknown;
  try {
    const statement = await t.adapter.downloadStatement!(billDate, providerContext(deps, t.node, pid));
    const { ours, lookup } = await ourSide(repo, t, pid, statement);
    const { counts, discrepancies } = compareStatement(statement, ours, lookup);
    run = {
      ...base,
      status: discrepancies.length ? 'mismatch' : 'ok',
      counts,
      discrepancies: discrepancies.slice(0, MAX_STORED_DISCREPANCIES),
      ...(discrepancies.length > MAX_STORED_DISCREPANCIES
        ? { discrepancies_dropped: discrepancies.length - MAX_STORED_DISCREPANCIES }
        : {}),
      summary: statement.summary,
      ...(statement.extra ? { extra: statement.extra } : {}),
    };
  } catch (e) {
    error = e;
    run = { ...base, status: 'error', discrepancies: [], error: errorOf(e) };
  }
  const doc: Omit<StatementDoc, 'create_date'> = {
    key: runKey(t.provider, t.account, billDate),
    ...run,
    ...(pid ? { pid } : {}),
    csv: discrepancyCsv([run]),
    update_date: deps.clock.now(),
  };
  await repo.save(doc, deps.clock.now());
  deps.log[error ? 'warn' : 'info']('statement', {
    provider: t.provider,
    bill_date: billDate,
    status: run.status,
    discrepancies: run.discrepancies.length,
    ...(run.error ? { code: run.error.code } : {}),
  });
  return { run, error };
}

/**
 * Checks the day's statements (on demand, server-only). Throws only for bad input or when every
 * run failed (then with the first run's error); otherwise each run says how it went.
 */
export async function checkStatements(deps: PayDeps, input: CheckStatementsInput = {}): Promise<CheckStatementsResult> {
  if (input.pid !== undefined && (typeof input.pid !== 'string' || !input.pid))
    throw new PayError('FIELD_INVALID', { field: 'pid', reason: 'string' });
  const billDate = input.bill_date ?? previousBillDate(deps.clock.now());
  if (billDayRange(billDate).start > deps.clock.now()) throw new PayError('STATEMENT_DATE_INVALID', { bill_date: billDate });
  const repo = deps.statements;
  const runs: StatementRun[] = [];
  const failures: unknown[] = [];
  for (const t of await targets(deps, input)) {
    const { run, error } = await runOne(deps, repo, t, billDate, input.pid);
    runs.push(run);
    if (run.error) failures.push(error);
  }
  if (runs.length && failures.length === runs.length) throw failures[0];
  return { bill_date: billDate, runs, csv: discrepancyCsv(runs) };
}

/**
 * The reconciliation timer's daily step (a batch step: `(ctx, limit) => dailyStatements(ctx.deps,
 * { limit, deadline: ctx.deadline })`): yesterday's statements once they are ready (10:00 Beijing),
 * for each account not checked yet; a failed check is tried again after RETRY_AFTER_MS. At most
 * `limit` downloads, none started after `deadline` (Date.now() ms). Counts by outcome (`ok`,
 * `mismatch`, `error`, `done` for accounts already checked); never throws for one account. Two
 * overlapping runs may both check an account: the result is the same document either way.
 */
export async function dailyStatements(deps: PayDeps, opts: { limit?: number; deadline?: number } = {}): Promise<Record<string, number>> {
  const now = deps.clock.now();
  const counts: Record<string, number> = {};
  const count = (outcome: string) => (counts[outcome] = (counts[outcome] ?? 0) + 1);
  if (new Date(now + 8 * 3600_000).getUTCHours() < READY_HOUR) return counts;
  const billDate = previousBillDate(now);
  let list: Target[];
  try {
    list = await targets(deps, {});
  } catch (e) {
    deps.log.warn('statement targets', { code: errorOf(e).code });
    return { error: 1 };
  }
  let started = 0;
  for (const t of list) {
    if (started >= (opts.limit ?? Infinity) || Date.now() > (opts.deadline ?? Infinity)) break;
    const done = await deps.statements.find(runKey(t.provider, t.account, billDate));
    if (done && (done.status !== 'error' || now - done.update_date < RETRY_AFTER_MS)) {
      count('done');
      continue;
    }
    started++;
    count((await runOne(deps, deps.statements, t, billDate, undefined)).run.status);
  }
  return counts;
}
