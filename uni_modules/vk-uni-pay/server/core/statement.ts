/**
 * Statements (对账单): the provider-neutral shape of a day's statement, the comparison with our
 * orders and refund ledger, and the CSV of the result. Pure functions: the adapters download and
 * parse (providers/<name>/statement.ts), the service reads the store (services/statements.ts).
 * Formats and sources: docs/statements.md.
 */
import { PayError } from './errors';

/** One payment or refund as the provider's statement lists it. */
export interface StatementEntry {
  kind: 'payment' | 'refund';
  out_trade_no: string;
  transaction_id?: string;
  out_refund_no?: string;
  refund_id?: string;
  /** integer fen, > 0: the order amount of a payment, the requested amount of a refund */
  amount: number;
  /** provider time (ms) of the payment or of the refund */
  time?: number;
  /** the provider's status word of the row (e.g. WeChat 退款状态 SUCCESS / PROCESSING), when it has one */
  status?: string;
}

/** A downloaded, verified and parsed statement of one account (merchant) and one day. */
export interface ProviderStatement {
  /** `yyyy-MM-dd` (Asia/Shanghai) */
  bill_date: string;
  entries: StatementEntry[];
  /** the provider's own summary rows, label → value as printed (kept for the record) */
  summary: Record<string, string>;
  /** other files of the same day (e.g. WeChat fund flow bill): their summary rows, by name */
  extra?: Record<string, Record<string, string>>;
}

/** Our side of one entry: an order (payment) or a ledger row (refund). */
export interface OurEntry {
  kind: 'payment' | 'refund';
  out_trade_no: string;
  out_refund_no?: string;
  amount: number;
  /** our status: order status number or ledger state */
  status: string;
  /** our time (ms) of the payment / refund, near a day boundary the provider may book it on the other day */
  time?: number;
}

/**
 * - `missing_here`: the provider lists money we do not have (no order, an order not paid here, no ledger row)
 * - `missing_there`: we have money the provider's statement does not list
 * - `amount_mismatch`: both list it with different amounts
 */
export type DiscrepancyKind = 'missing_here' | 'missing_there' | 'amount_mismatch';

export interface Discrepancy {
  kind: DiscrepancyKind;
  entry: 'payment' | 'refund';
  out_trade_no: string;
  out_refund_no?: string;
  transaction_id?: string;
  /** fen, as the provider lists it */
  provider_amount?: number;
  /** fen, as we have it */
  our_amount?: number;
  our_status?: string;
  /** ours lies within CUTOFF_MS of the day's start or end: the provider may have booked it on the neighbouring day */
  near_cutoff?: boolean;
}

export interface ComparisonCounts {
  provider_payments: number;
  provider_payment_fee: number;
  provider_refunds: number;
  provider_refund_fee: number;
  our_payments: number;
  our_payment_fee: number;
  our_refunds: number;
  our_refund_fee: number;
  matched: number;
}

export interface Comparison {
  counts: ComparisonCounts;
  discrepancies: Discrepancy[];
}

/** how close to midnight a booking may fall on the provider's other day */
export const CUTOFF_MS = 5 * 60_000;

const SHANGHAI_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

/** `yyyy-MM-dd` → [start, end) epoch ms of that day in Asia/Shanghai; coded error for anything else. */
export function billDayRange(billDate: unknown): { start: number; end: number } {
  const m = typeof billDate === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(billDate) : null;
  const start = m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) - SHANGHAI_OFFSET_MS : NaN;
  // a round trip catches 2026-02-30 and 2026-13-01
  if (Number.isNaN(start) || new Date(start + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10) !== billDate)
    throw new PayError('STATEMENT_DATE_INVALID', { bill_date: String(billDate) });
  return { start, end: start + DAY_MS };
}

/** The Asia/Shanghai day before `nowMs` as `yyyy-MM-dd` (statements are ready the next morning). */
export function previousBillDate(nowMs: number): string {
  return new Date(nowMs + SHANGHAI_OFFSET_MS - DAY_MS).toISOString().slice(0, 10);
}

function tally(counts: ComparisonCounts, side: 'our' | 'provider', e: { kind: 'payment' | 'refund'; amount: number }): void {
  const kind = e.kind === 'payment' ? 'payment' : 'refund';
  counts[`${side}_${kind}s`]++;
  counts[`${side}_${kind}_fee`] += e.amount;
}

const key = (e: { kind: string; out_trade_no: string; out_refund_no?: string }) =>
  e.kind === 'payment' ? `p|${e.out_trade_no}` : `r|${e.out_refund_no ?? ''}`;

/**
 * Compares a statement with our entries. `ours` are our entries of the day; `lookup` holds our
 * entries found for statement rows outside the day (booked on the neighbouring day here), so they
 * are not reported missing. A provider row we have but as not paid / not refunded comes back as
 * `missing_here` with `our_status`.
 */
export function compareStatement(statement: ProviderStatement, ours: OurEntry[], lookup: OurEntry[] = []): Comparison {
  const { start, end } = billDayRange(statement.bill_date);
  const counts: ComparisonCounts = {
    provider_payments: 0,
    provider_payment_fee: 0,
    provider_refunds: 0,
    provider_refund_fee: 0,
    our_payments: 0,
    our_payment_fee: 0,
    our_refunds: 0,
    our_refund_fee: 0,
    matched: 0,
  };
  const mine = new Map<string, OurEntry>();
  for (const e of ours) {
    mine.set(key(e), e);
    tally(counts, 'our', e);
  }
  const elsewhere = new Map(lookup.map((e): [string, OurEntry] => [key(e), e]));
  const discrepancies: Discrepancy[] = [];
  const seen = new Set<string>();
  for (const s of statement.entries) {
    tally(counts, 'provider', s);
    const k = key(s);
    seen.add(k);
    const ref = {
      entry: s.kind,
      out_trade_no: s.out_trade_no,
      ...(s.out_refund_no ? { out_refund_no: s.out_refund_no } : {}),
      ...(s.transaction_id ? { transaction_id: s.transaction_id } : {}),
    };
    const our = mine.get(k) ?? elsewhere.get(k);
    if (!our || our.status === 'NOT_PAID' || our.status === 'FAIL') {
      discrepancies.push({ kind: 'missing_here', ...ref, provider_amount: s.amount, ...(our ? { our_status: our.status } : {}) });
    } else if (our.amount !== s.amount) {
      discrepancies.push({ kind: 'amount_mismatch', ...ref, provider_amount: s.amount, our_amount: our.amount, our_status: our.status });
    } else counts.matched++;
  }
  for (const e of ours) {
    if (seen.has(key(e))) continue;
    const near = e.time !== undefined && (e.time - start < CUTOFF_MS || end - e.time <= CUTOFF_MS);
    discrepancies.push({
      kind: 'missing_there',
      entry: e.kind,
      out_trade_no: e.out_trade_no,
      ...(e.out_refund_no ? { out_refund_no: e.out_refund_no } : {}),
      our_amount: e.amount,
      our_status: e.status,
      ...(near ? { near_cutoff: true } : {}),
    });
  }
  return { counts, discrepancies };
}

// ---- CSV ----------------------------------------------------------------------------------

/** Splits one CSV line: commas, fields optionally in double quotes ("" inside = one quote). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(','); // the common case: no quoted field
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Lines of a text file without the BOM and without empty lines (CRLF or LF). */
export function textLines(text: string): string[] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
}

const cell = (v: unknown): string => {
  const s = v === undefined || v === null ? '' : String(v);
  // quote what Excel would split or misread; a leading = + - @ would be read as a formula
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/** CSV with a UTF-8 BOM (so Excel opens the Chinese header as UTF-8), CRLF line ends. */
export function toCsv(header: string[], rows: unknown[][]): string {
  return '\uFEFF' + [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

export const DISCREPANCY_CSV_HEADER = [
  '账单日期 bill_date',
  '支付渠道 provider',
  '商户 account',
  '差异类型 kind',
  '单据 entry',
  '商户订单号 out_trade_no',
  '商户退款单号 out_refund_no',
  '渠道交易号 transaction_id',
  '渠道金额(分) provider_amount',
  '本地金额(分) our_amount',
  '本地状态 our_status',
  '临近日切 near_cutoff',
];

export function discrepancyCsv(runs: { bill_date: string; provider: string; account: string; discrepancies: Discrepancy[] }[]): string {
  const rows = runs.flatMap((r) =>
    r.discrepancies.map((d) => [
      r.bill_date,
      r.provider,
      r.account,
      d.kind,
      d.entry,
      d.out_trade_no,
      d.out_refund_no,
      d.transaction_id,
      d.provider_amount,
      d.our_amount,
      d.our_status,
      d.near_cutoff ? 'Y' : '',
    ]),
  );
  return toCsv(DISCREPANCY_CSV_HEADER, rows);
}
