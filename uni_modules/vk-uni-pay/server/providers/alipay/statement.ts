/**
 * Alipay statements: `alipay.data.dataservice.bill.downloadurl.query` (bill_type `trade`, a day
 * `yyyy-MM-dd`) answers, verified, with `bill_download_url` (valid 30 s); a GET of it returns a zip
 * of GBK CSV files: `<pid>0156_<yyyyMMdd>_业务明细.csv` (the detail) and `…_业务明细(汇总).csv` (the
 * summary). Lines starting with `#` are comments (title, account, period, section rules, totals
 * `#交易合计：N笔…` and `#退款合计：M笔…`); fields may carry trailing tabs. Refund rows (业务类型 退款)
 * have negative amounts and our out_request_no in 退款批次号/请求号. The file is not signed; the URL
 * comes from a verified answer and every zip entry's CRC is checked. Sources: docs/statements.md.
 */
import { PayError } from '../../core/errors';
import { yuanToFen } from '../../core/money';
import { parseProviderTime } from '../../core/time';
import { splitCsvLine, textLines, type ProviderStatement, type StatementEntry } from '../../core/statement';
import { decodeGbk, readZip } from '../../core/zip';
import { callGateway, GatewayFailure } from '../gateway';
import type { ProviderContext } from '../types';
import type { AlipayNodeConfig } from './config';
import { callAlipay } from './gateway';

type Ctx = ProviderContext<AlipayNodeConfig>;

const METHOD = 'alipay.data.dataservice.bill.downloadurl.query';
/** verified answer meaning "no bill for that day" (nothing traded) */
const NO_BILL = 'isp.bill_not_exist';

const bad = (reason: string) => new PayError('STATEMENT_FORMAT_INVALID', { reason });

/** `订单金额（元）` and `订单金额(元)` are the same column */
const norm = (h: string) => h.replace(/（/g, '(').replace(/）/g, ')').trim();

/** A GBK CSV with `#` comment lines: header (first other line) → rows, and the comments. */
export function parseHashCsv(text: string): { rows: Record<string, string>[]; comments: string[] } {
  const lines = textLines(text);
  const comments = lines.filter((l) => l.startsWith('#'));
  const data = lines.filter((l) => !l.startsWith('#')).map((l) => splitCsvLine(l).map((c) => c.trim()));
  if (!data.length) return { rows: [], comments };
  const header = data[0].map(norm);
  const rows = data.slice(1).map((c) => Object.fromEntries(header.map((h, j): [string, string] => [h, c[j] ?? ''])));
  return { rows, comments };
}

function fen(row: Record<string, string>, column: string): number {
  const v = yuanToFen((row[column] ?? '').replace(/^-/, ''));
  if (v === undefined) throw bad(`${column} = ${row[column] ?? 'missing'}`);
  return v;
}

/** `#交易合计：3笔，…` → 3 */
function declared(comments: string[], label: string): number | undefined {
  for (const c of comments) {
    const m = new RegExp(`${label}[:：]\\s*(\\d+)\\s*笔`).exec(c);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The detail file (业务明细) → entries; the declared totals must match the rows read. */
export function parseAlipayTradeDetail(text: string, billDate: string): StatementEntry[] {
  const { rows, comments } = parseHashCsv(text);
  const entries: StatementEntry[] = [];
  for (const r of rows) {
    const kind = r['业务类型'];
    const base = { out_trade_no: r['商户订单号'], transaction_id: r['支付宝交易号'] || undefined, time: parseProviderTime(r['完成时间']) };
    if (!base.out_trade_no) throw bad('a row without 商户订单号');
    if (kind === '交易') entries.push({ kind: 'payment', ...base, amount: fen(r, '订单金额(元)') });
    else if (kind === '退款')
      entries.push({ kind: 'refund', ...base, out_refund_no: r['退款批次号/请求号'] || base.out_trade_no, amount: fen(r, '订单金额(元)') });
    else throw bad(`业务类型 ${kind}`);
  }
  const payments = entries.filter((e) => e.kind === 'payment').length;
  for (const [label, n] of [
    ['交易合计', payments],
    ['退款合计', entries.length - payments],
  ] as const) {
    const said = declared(comments, label);
    if (said !== undefined && said !== n) throw bad(`${label} ${said} but ${n} rows (${billDate})`);
  }
  return entries;
}

/** The summary file (业务明细(汇总)): its 合计 row (or its only row), label → value. */
export function parseAlipayTradeSummary(text: string): Record<string, string> {
  const { rows } = parseHashCsv(text);
  const total = rows.find((r) => Object.values(r)[0] === '合计') ?? rows[rows.length - 1];
  return total ? Object.fromEntries(Object.entries(total).filter(([k]) => k)) : {};
}

/** The zip → statement: the detail file and the summary file, told apart by name. */
export function parseAlipayStatementZip(zip: Buffer, billDate: string): ProviderStatement {
  let files;
  try {
    files = readZip(zip);
  } catch (e) {
    throw bad(`zip: ${(e as Error).message}`);
  }
  const csv = files.filter((f) => f.name.endsWith('.csv'));
  const summaryFile = csv.find((f) => f.name.includes('汇总'));
  const detailFile = csv.find((f) => f.name.includes('明细') && f !== summaryFile);
  if (!detailFile) throw bad(`no 业务明细 file among ${files.map((f) => f.name).join(', ') || 'none'}`);
  return {
    bill_date: billDate,
    entries: parseAlipayTradeDetail(decodeGbk(detailFile.data), billDate),
    summary: summaryFile ? parseAlipayTradeSummary(decodeGbk(summaryFile.data)) : {},
  };
}

/** The day's trade statement (bill_type trade). */
export async function downloadAlipayStatement(ctx: Ctx, billDate: string): Promise<ProviderStatement> {
  const answer = await callAlipay(ctx, { method: METHOD, biz: { bill_type: 'trade', bill_date: billDate }, answers: [NO_BILL] });
  if (answer.sub_code === NO_BILL) return { bill_date: billDate, entries: [], summary: {} };
  let url: URL | undefined;
  try {
    url = new URL(String(answer.bill_download_url));
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol)) throw new GatewayFailure('GATEWAY_RESPONSE_INVALID', { verified: true, retryable: true });
  const zip = await callGateway(ctx.http, {
    request: { method: 'GET', url: url.href, timeoutMs: ctx.config.timeout },
    // an unsigned file: only a 200 answer that is a zip archive is taken (an expired link answers with a page)
    verify: (res) => {
      if (res.status !== 200 || res.body.length < 4 || res.body.readUInt32LE(0) !== 0x04034b50)
        throw new GatewayFailure('GATEWAY_RESPONSE_INVALID', { httpStatus: res.status, verified: false, retryable: true });
    },
    refusal: () => undefined,
    parse: (res) => res.body,
  });
  return parseAlipayStatementZip(zip, billDate);
}

/** The account a node's statement belongs to: the app id. */
export function alipayStatementAccount(config: AlipayNodeConfig): string | undefined {
  return config.appId ? String(config.appId) : undefined;
}
