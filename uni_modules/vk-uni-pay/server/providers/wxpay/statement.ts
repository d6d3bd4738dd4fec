/**
 * WeChat Pay statements (API v3): the trade bill (交易账单) and the fund flow bill (资金账单) of a day.
 * Step 1, a signed and verified GET of /v3/bill/tradebill (or /fundflowbill) answers with
 * download_url + hash_type/hash_value; step 2, a signed GET of download_url returns the file, which
 * WeChat does not sign: its SHA1 (of the uncompressed file) must equal hash_value from the verified
 * answer, or nothing is kept. Files: UTF-8 (BOM tolerated), a header line, rows whose every field
 * starts with a backquote, then a summary header and a summary row. Amounts are yuan with two
 * decimals. Sources: docs/statements.md.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { PayError } from '../../core/errors';
import { yuanToFen } from '../../core/money';
import { parseProviderTime } from '../../core/time';
import { splitCsvLine, textLines, type ProviderStatement, type StatementEntry } from '../../core/statement';
import { callGateway, GatewayFailure, isGatewayFailure } from '../gateway';
import type { ProviderContext } from '../types';
import { buildAuthorization, nonceStr } from './crypto';
import { isV2, type WxpayNodeConfig } from './config';
import { merchantState, v3Refusal, WxpayV3Client } from './v3';

type Ctx = ProviderContext<WxpayNodeConfig>;

/** A verified refusal that means "no statement for that day": nothing was traded. */
const NO_STATEMENT = 'NO_STATEMENT_EXIST';

const bad = (reason: string) => new PayError('STATEMENT_FORMAT_INVALID', { reason });

/** Backquoted CSV: header, detail rows and the summary (the two lines from `summaryLabel` on). */
export function parseBackquoteCsv(text: string, summaryLabel: string): { rows: Record<string, string>[]; summary: Record<string, string> } {
  const lines = textLines(text);
  const cells = (line: string) => splitCsvLine(line).map((c) => c.replace(/^`/, '').trim());
  if (!lines.length) throw bad('empty file');
  const header = cells(lines[0]);
  const at = lines.findIndex((l) => cells(l)[0] === summaryLabel);
  if (at < 1 || at + 1 >= lines.length) throw bad(`no summary (${summaryLabel})`);
  const rows = lines.slice(1, at).map((l, i) => {
    const c = cells(l);
    if (c.length !== header.length) throw bad(`row ${i + 2} has ${c.length} fields, the header ${header.length}`);
    return Object.fromEntries(header.map((h, j): [string, string] => [h, c[j]]));
  });
  const sumHeader = cells(lines[at]);
  const sumRow = cells(lines[at + 1]);
  const summary = Object.fromEntries(sumHeader.map((h, j): [string, string] => [h, sumRow[j] ?? '']));
  const count = Number(summary[summaryLabel]);
  if (count !== rows.length) throw bad(`${summaryLabel} ${summary[summaryLabel]} but ${rows.length} rows`);
  return { rows, summary };
}

function fen(row: Record<string, string>, ...columns: string[]): number {
  const col = columns.find((c) => row[c] !== undefined);
  const v = col === undefined ? undefined : yuanToFen(row[col]);
  if (v === undefined) throw bad(`amount ${columns[0]} = ${col === undefined ? 'missing' : row[col]}`);
  return v;
}

/**
 * The trade bill (bill_type ALL, SUCCESS or REFUND) → entries. Columns are read by name (their
 * order differs between types). Payment rows (交易状态 SUCCESS) carry 订单金额 (older formats:
 * 应结订单金额 / 总金额); refund rows (REFUND) carry 申请退款金额. REVOKED rows (a payment revoked
 * the same day: the money went back) are not money kept and are left out.
 */
export function parseWxpayTradeBill(text: string, billDate: string): ProviderStatement {
  const { rows, summary } = parseBackquoteCsv(text, '总交易单数');
  const entries: StatementEntry[] = [];
  for (const r of rows) {
    const state = r['交易状态'];
    const base = { out_trade_no: r['商户订单号'], transaction_id: r['微信订单号'] || undefined, time: parseProviderTime(r['交易时间']) };
    if (!base.out_trade_no) throw bad('a row without 商户订单号');
    if (state === 'SUCCESS') entries.push({ kind: 'payment', ...base, amount: fen(r, '订单金额', '应结订单金额', '总金额') });
    else if (state === 'REFUND')
      entries.push({
        kind: 'refund',
        ...base,
        out_refund_no: r['商户退款单号'],
        refund_id: r['微信退款单号'] || undefined,
        amount: fen(r, '申请退款金额', '退款金额'),
        status: r['退款状态'] || undefined,
      });
    else if (state !== 'REVOKED') throw bad(`交易状态 ${state}`);
  }
  return { bill_date: billDate, entries, summary };
}

/** The fund flow bill: only its summary is kept (资金流水总笔数, 收入/支出 笔数 and 金额); rows are counted. */
export function parseWxpayFundFlowBill(text: string): Record<string, string> {
  return parseBackquoteCsv(text, '资金流水总笔数').summary;
}

/** Step 2: the signed download; the file's digest must match the verified answer's. */
async function downloadFile(ctx: Ctx, client: WxpayV3Client, answer: Record<string, any>, gzip: boolean): Promise<Buffer> {
  const { download_url: url, hash_type: hashType, hash_value: hashValue } = answer;
  let target: URL | undefined;
  try {
    target = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    target = undefined;
  }
  if (!target || !/^https?:$/.test(target.protocol) || hashType !== 'SHA1' || !/^[0-9a-f]{40}$/i.test(String(hashValue)))
    throw new GatewayFailure('GATEWAY_RESPONSE_INVALID', { verified: true, retryable: true });
  const authorization = buildAuthorization(merchantState(ctx.config).signer, {
    method: 'GET',
    canonicalUrl: target.pathname + target.search,
    body: '',
    timestamp: Math.floor(ctx.clock.now() / 1000),
    nonce: nonceStr(),
  });
  const raw = await callGateway(ctx.http, {
    request: { method: 'GET', url: target.href, headers: { Accept: '*/*', Authorization: authorization }, timeoutMs: ctx.config.timeout },
    // the file itself is not signed (its digest is checked below); error answers are
    verify: (res) => (res.status === 200 ? undefined : client.verify(res.headers, res.body, 'response')),
    refusal: v3Refusal,
    parse: (res) => res.body,
  });
  let file: Buffer;
  try {
    file = gzip ? gunzipSync(raw) : raw;
  } catch {
    throw new PayError('STATEMENT_HASH_MISMATCH', { hash_type: hashType });
  }
  if (createHash('sha1').update(file).digest('hex') !== String(hashValue).toLowerCase())
    throw new PayError('STATEMENT_HASH_MISMATCH', { hash_type: hashType });
  return file;
}

/** One bill: undefined when WeChat says there is none for the day (nothing traded). */
async function bill(ctx: Ctx, path: string, gzip: boolean): Promise<string | undefined> {
  const client = new WxpayV3Client(ctx.config, ctx);
  let answer: Record<string, any>;
  try {
    answer = (await client.request('GET', path + (gzip ? '&tar_type=GZIP' : ''))).data;
  } catch (e) {
    if (isGatewayFailure(e) && e.verified && e.providerCode === NO_STATEMENT) return undefined;
    throw e;
  }
  return (await downloadFile(ctx, client, answer, gzip)).toString('utf8');
}

export interface WxpayStatementOptions {
  /** ask for the gzip file (smaller download; the digest covers the uncompressed file); default true */
  gzip?: boolean;
}

/** The day's trade bill (ALL) parsed into entries, with the fund flow bill's summary (BASIC account). */
export async function downloadWxpayStatement(ctx: Ctx, billDate: string, opts: WxpayStatementOptions = {}): Promise<ProviderStatement> {
  if (isV2(ctx.config)) throw new PayError('OPERATION_UNSUPPORTED', { provider: 'wxpay (version 2)', operation: 'statements' });
  const gzip = opts.gzip ?? true;
  const date = encodeURIComponent(billDate);
  const trade = await bill(ctx, `/v3/bill/tradebill?bill_date=${date}&bill_type=ALL`, gzip);
  const fund = await bill(ctx, `/v3/bill/fundflowbill?bill_date=${date}&account_type=BASIC`, gzip);
  const statement = trade === undefined ? { bill_date: billDate, entries: [], summary: {} } : parseWxpayTradeBill(trade, billDate);
  return fund === undefined ? statement : { ...statement, extra: { fundflow: parseWxpayFundFlowBill(fund) } };
}

/** The account a node's statement belongs to: the merchant number. */
export function wxpayStatementAccount(config: WxpayNodeConfig): string | undefined {
  return !isV2(config) && config.mchId && config.appPrivateKeyContent ? String(config.mchId) : undefined;
}
