/**
 * Statements (对账单): the parsers on files built here in each provider's layout (WeChat: UTF-8 with
 * BOM, backquoted fields, trailing summary; Alipay: a zip of GBK CSVs with # comment lines), the
 * comparison, the CSV, and the downloads against the sandboxes (hash check, unsigned answers, empty days).
 */
import { createHash } from 'node:crypto';
import {
  billDayRange,
  compareStatement,
  discrepancyCsv,
  previousBillDate,
  splitCsvLine,
  type OurEntry,
  type ProviderStatement,
} from '../../uni_modules/vk-uni-pay/server/core/statement';
import { readZip } from '../../uni_modules/vk-uni-pay/server/core/zip';
import { downloadWxpayStatement, parseWxpayTradeBill } from '../../uni_modules/vk-uni-pay/server/providers/wxpay/statement';
import { downloadAlipayStatement, parseAlipayStatementZip } from '../../uni_modules/vk-uni-pay/server/providers/alipay/statement';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import type { HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox, type AlipaySandboxApp } from '../../tools/sandbox/alipay';
import { alipayNodeConfig, loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { encodeGbk } from '../../tools/sandbox/statements';
import { signedV3Request } from '../../tools/sandbox/wxpay/testkit';
import { callAlipay } from '../../uni_modules/vk-uni-pay/server/providers/alipay/gateway';
import { writeZip } from '../../tools/zip';

const DAY = '2026-11-30';
const { start } = billDayRange(DAY);

// ---- parsers on hand-built files --------------------------------------------------------------

const WX_HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
const bq = (cells: string[]) => cells.map((c) => '`' + c).join(',');
const wxPay = (no: string, total: string) =>
  bq([
    '2026-11-30 10:00:00',
    'wx1',
    '1900000001',
    '0',
    '',
    `4200${no}`,
    no,
    'o1',
    'JSAPI',
    'SUCCESS',
    'OTHERS',
    'CNY',
    total,
    '0.00',
    '0',
    '0',
    '0.00',
    '0.00',
    '',
    '',
    '商品,含逗号'.replace(',', '，'),
    '',
    '0.01',
    '0.60%',
    total,
    '0.00',
    '',
  ]);
const wxRefund = (no: string, refundNo: string, amount: string) =>
  bq([
    '2026-11-30 11:00:00',
    'wx1',
    '1900000001',
    '0',
    '',
    `4200${no}`,
    no,
    'o1',
    'JSAPI',
    'REFUND',
    'OTHERS',
    'CNY',
    '0.00',
    '0.00',
    `50${refundNo}`,
    refundNo,
    amount,
    '0.00',
    'ORIGINAL',
    'PROCESSING',
    'x',
    '',
    '-0.01',
    '0.60%',
    '10.00',
    amount,
    '',
  ]);
const wxFile = (rows: string[], count = rows.length) =>
  '\uFEFF' +
  [
    WX_HEADER,
    ...rows,
    '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
    bq([String(count), '0', '0', '0', '0', '0', '0']),
  ].join('\r\n') +
  '\r\n';

test('WeChat trade bill: BOM, backquotes, payments and refunds in fen, summary kept', () => {
  const s = parseWxpayTradeBill(wxFile([wxPay('A0001', '10.00'), wxRefund('A0001', 'A0001-1', '2.50'), wxPay('A0002', '0.01')]), DAY);
  expect(s.entries).toEqual([
    { kind: 'payment', out_trade_no: 'A0001', transaction_id: '4200A0001', amount: 1000, time: start + 10 * 3600_000 },
    {
      kind: 'refund',
      out_trade_no: 'A0001',
      transaction_id: '4200A0001',
      out_refund_no: 'A0001-1',
      refund_id: '50A0001-1',
      amount: 250,
      status: 'PROCESSING',
      time: start + 11 * 3600_000,
    },
    { kind: 'payment', out_trade_no: 'A0002', transaction_id: '4200A0002', amount: 1, time: start + 10 * 3600_000 },
  ]);
  expect(s.summary['总交易单数']).toBe('3');
});

test.each([
  ['a summary count that disagrees with the rows (file cut short)', wxFile([wxPay('A1', '1.00')], 2)],
  ['no summary at all', WX_HEADER + '\r\n' + wxPay('A1', '1.00') + '\r\n'],
  ['an amount that is not yuan with two decimals', wxFile([wxPay('A1', '1.005')])],
  ['a row with a missing field', wxFile([wxPay('A1', '1.00').split(',').slice(1).join(',')])],
])('WeChat trade bill refused with a coded error: %s', (_n, text) => {
  expect(() => parseWxpayTradeBill(text, DAY)).toThrow(expect.objectContaining({ key: 'STATEMENT_FORMAT_INVALID' }));
});

const ALI_HEADER =
  '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注';
const aliRow = (tradeNo: string, no: string, kind: string, amount: string, reqNo = '') =>
  [
    `${tradeNo}\t`,
    `${no}\t`,
    kind,
    '商品',
    '2026-11-30 09:00:00',
    '2026-11-30 09:00:05',
    '',
    '',
    '',
    '',
    'a***@b.c',
    amount,
    amount,
    '0.00',
    '0.00',
    '0.00',
    '0.00',
    '0.00',
    '',
    '0.00',
    '0.00',
    `${reqNo}\t`,
    '0.00',
    '0.00',
    '',
  ].join(',');
function aliZip(
  rows: string[],
  declared = { trades: rows.filter((r) => r.includes(',交易,')).length, refunds: rows.filter((r) => r.includes(',退款,')).length },
) {
  const detail = [
    '#支付宝业务明细查询',
    '#账号：[20880000000000010156]',
    '#起始日期：[2026年11月30日 00:00:00]   终止日期：[2026年12月01日 00:00:00]',
    '#-----------------------------------------业务明细列表----------------------------------------',
    ALI_HEADER,
    ...rows,
    '#-----------------------------------------业务明细列表结束------------------------------------',
    `#交易合计：${declared.trades}笔，商家实收共1.00元，商家优惠共0.00元`,
    `#退款合计：${declared.refunds}笔，商家实收退款共-0.50元，商家优惠退款共0.00元`,
    '#导出时间：[2026年12月01日 10:00:00]',
  ].join('\r\n');
  const summary = [
    '#支付宝业务汇总查询',
    '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）',
    '合计,,1,1,0.50',
    '#导出时间：[2026年12月01日 10:00:00]',
  ].join('\r\n');
  const f = (name: string, text: string) => ({ name, rawName: encodeGbk(name), data: encodeGbk(text) });
  return writeZip([
    f('20880000000000010156_20261130_业务明细.csv', detail),
    f('20880000000000010156_20261130_业务明细(汇总).csv', summary),
  ]);
}

test('Alipay trade statement: zip with GBK names and files, # comments, tabs, negative refunds → fen', () => {
  const zip = aliZip([aliRow('2026113022001', 'B0001', '交易', '1.00'), aliRow('2026113022001', 'B0001', '退款', '-0.50', 'B0001-1')]);
  expect(readZip(zip).map((e) => e.name)).toEqual([
    '20880000000000010156_20261130_业务明细.csv',
    '20880000000000010156_20261130_业务明细(汇总).csv',
  ]);
  const s = parseAlipayStatementZip(zip, DAY);
  expect(s.entries).toEqual([
    { kind: 'payment', out_trade_no: 'B0001', transaction_id: '2026113022001', amount: 100, time: start + 9 * 3600_000 + 5000 },
    {
      kind: 'refund',
      out_trade_no: 'B0001',
      transaction_id: '2026113022001',
      out_refund_no: 'B0001-1',
      amount: 50,
      time: start + 9 * 3600_000 + 5000,
    },
  ]);
  expect(s.summary).toMatchObject({ 门店编号: '合计', 交易订单总笔数: '1', '订单金额(元)': '0.50' });
});

test.each([
  ['declared totals that disagree with the rows', aliZip([aliRow('1', 'B1', '交易', '1.00')], { trades: 2, refunds: 0 })],
  [
    'a damaged archive (CRC)',
    (() => {
      const z = aliZip([aliRow('1', 'B1', '交易', '1.00')]);
      z[120] ^= 0xff; // inside the first file's deflated data
      return z;
    })(),
  ],
  ['not a zip at all', Buffer.from('<html>下载超时</html>')],
  ['an unknown 业务类型', aliZip([aliRow('1', 'B1', '冻结', '1.00')], { trades: 0, refunds: 0 })],
])('Alipay statement refused with a coded error: %s', (_n, zip) => {
  expect(() => parseAlipayStatementZip(zip, DAY)).toThrow(expect.objectContaining({ key: 'STATEMENT_FORMAT_INVALID' }));
});

// ---- comparison and CSV ------------------------------------------------------------------

test('comparison reports money there and not here, here and not there, and different amounts', () => {
  const statement: ProviderStatement = {
    bill_date: DAY,
    summary: {},
    entries: [
      { kind: 'payment', out_trade_no: 'P1', amount: 100 },
      { kind: 'payment', out_trade_no: 'P2', amount: 200 }, // ours says 250
      { kind: 'payment', out_trade_no: 'EXTRA', amount: 999 }, // not ours at all
      { kind: 'payment', out_trade_no: 'UNPAID', amount: 300 }, // ours, but not paid here
      { kind: 'payment', out_trade_no: 'YESTERDAY', amount: 50 }, // ours, booked on the day before here
      { kind: 'refund', out_trade_no: 'P1', out_refund_no: 'P1-1', amount: 40 },
      { kind: 'refund', out_trade_no: 'P1', out_refund_no: 'P1-2', amount: 10 }, // no ledger row
    ],
  };
  const ours: OurEntry[] = [
    { kind: 'payment', out_trade_no: 'P1', amount: 100, status: '1' },
    { kind: 'payment', out_trade_no: 'P2', amount: 250, status: '1' },
    { kind: 'payment', out_trade_no: 'LOST', amount: 70, status: '1', time: start + 3600_000 },
    { kind: 'payment', out_trade_no: 'LATE', amount: 80, status: '1', time: start + 24 * 3600_000 - 1000 },
    { kind: 'refund', out_trade_no: 'P1', out_refund_no: 'P1-1', amount: 45, status: 'SUCCESS' },
  ];
  const lookup: OurEntry[] = [
    { kind: 'payment', out_trade_no: 'UNPAID', amount: 300, status: 'NOT_PAID' },
    { kind: 'payment', out_trade_no: 'YESTERDAY', amount: 50, status: '2' },
  ];
  const { counts, discrepancies } = compareStatement(statement, ours, lookup);
  expect(counts).toEqual({
    provider_payments: 5,
    provider_payment_fee: 1649,
    provider_refunds: 2,
    provider_refund_fee: 50,
    our_payments: 4,
    our_payment_fee: 500,
    our_refunds: 1,
    our_refund_fee: 45,
    matched: 2,
  });
  expect(discrepancies).toEqual([
    { kind: 'amount_mismatch', entry: 'payment', out_trade_no: 'P2', provider_amount: 200, our_amount: 250, our_status: '1' },
    { kind: 'missing_here', entry: 'payment', out_trade_no: 'EXTRA', provider_amount: 999 },
    { kind: 'missing_here', entry: 'payment', out_trade_no: 'UNPAID', provider_amount: 300, our_status: 'NOT_PAID' },
    {
      kind: 'amount_mismatch',
      entry: 'refund',
      out_trade_no: 'P1',
      out_refund_no: 'P1-1',
      provider_amount: 40,
      our_amount: 45,
      our_status: 'SUCCESS',
    },
    { kind: 'missing_here', entry: 'refund', out_trade_no: 'P1', out_refund_no: 'P1-2', provider_amount: 10 },
    { kind: 'missing_there', entry: 'payment', out_trade_no: 'LOST', our_amount: 70, our_status: '1' },
    { kind: 'missing_there', entry: 'payment', out_trade_no: 'LATE', our_amount: 80, our_status: '1', near_cutoff: true },
  ]);
  const csv = discrepancyCsv([{ bill_date: DAY, provider: 'wxpay', account: '1900000001', discrepancies }]);
  expect(csv.startsWith('\uFEFF账单日期 bill_date,')).toBe(true);
  const lines = csv.slice(1).trimEnd().split('\r\n');
  expect(lines).toHaveLength(1 + discrepancies.length);
  expect(splitCsvLine(lines[1])).toEqual([DAY, 'wxpay', '1900000001', 'amount_mismatch', 'payment', 'P2', '', '', '200', '250', '1', '']);
});

test('CSV cells an Excel user could be tricked by are neutralised; quotes and commas survive a round trip', () => {
  const csv = discrepancyCsv([
    {
      bill_date: DAY,
      provider: 'x',
      account: '=HYPERLINK("evil")',
      discrepancies: [{ kind: 'missing_here', entry: 'payment', out_trade_no: 'a,"b"' }],
    },
  ]);
  const row = splitCsvLine(csv.slice(1).trimEnd().split('\r\n')[1]);
  expect(row[2]).toBe(`'=HYPERLINK("evil")`);
  expect(row[5]).toBe('a,"b"');
});

test('bill dates: Beijing days, malformed or impossible dates refused', () => {
  expect(billDayRange('2026-12-01').start).toBe(Date.UTC(2026, 10, 30, 16));
  expect(previousBillDate(Date.UTC(2026, 10, 30, 16, 30))).toBe('2026-11-30'); // 00:30 Beijing on Dec 1
  for (const bad of ['2026-02-30', '20261201', '', undefined, '2026-13-01'])
    expect(() => billDayRange(bad)).toThrow(expect.objectContaining({ key: 'STATEMENT_DATE_INVALID' }));
});

// ---- downloads against the sandboxes ----------------------------------------------------------

let wx: WxpaySandbox;
let wxM: WxpaySandboxMerchant;
let ali: AlipaySandbox;
let aliApp: AlipaySandboxApp;
const http = loopbackTransport() as HttpTransport;
const today = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);

beforeAll(async () => {
  [wxM, aliApp] = await Promise.all([createWxpayMerchant({ signMode: 'public-key' }), createAlipayApp()]);
  [wx, ali] = await Promise.all([
    startWxpaySandbox({ merchants: [wxM], quiet: true }),
    startAlipaySandbox({ apps: [aliApp], quiet: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([wx.close(), ali.close()]);
});

function wxCtx(transport: HttpTransport = http) {
  const config = {
    appId: wxM.appids[0],
    mchId: wxM.mchid,
    v3Key: wxM.apiV3Key,
    appCertContent: wxM.merchant.certPem,
    appPrivateKeyContent: wxM.merchant.keyPem,
    wxpayPublicKeyId: wxM.publicKeyId,
    wxpayPublicKeyContent: wxM.publicKey.publicKeyPem,
    gateway: wx.url,
  };
  return { config, http: transport, clock: { now: () => Date.now() }, cache: memoryCache() };
}

async function wxPaid(no: string, total: number) {
  const body = JSON.stringify({
    appid: wxM.appids[0],
    mchid: wxM.mchid,
    description: '商品',
    out_trade_no: no,
    notify_url: 'http://127.0.0.1:9/n',
    amount: { total, currency: 'CNY' },
  });
  const cred = { mchid: wxM.mchid, serial: wxM.merchant.serialHex, privateKeyPem: wxM.merchant.keyPem };
  expect((await signedV3Request(wx.url, cred, 'POST', '/v3/pay/transactions/native', body)).status).toBe(200);
  await wx.pay(no);
}

describe('WeChat Pay download', () => {
  beforeAll(async () => {
    await wxPaid('WXS0001', 1999);
    await wxPaid('WXS0002', 1);
  });
  afterEach(() => {
    wx.statements.corruptFile = false;
  });

  test.each([true, false])('trade bill downloaded (gzip %s), digest checked, parsed; fund flow summary kept', async (gzip) => {
    const s = await downloadWxpayStatement(wxCtx(), today(), { gzip });
    expect(s.entries.map((e) => [e.kind, e.out_trade_no, e.amount])).toEqual([
      ['payment', 'WXS0001', 1999],
      ['payment', 'WXS0002', 1],
    ]);
    expect(s.summary['总交易单数']).toBe('2');
    expect(s.extra?.fundflow).toMatchObject({ 资金流水总笔数: '2', 收入笔数: '2', 收入金额: '20.00' });
  });

  test('a file whose digest differs from the signed answer is refused, nothing returned', async () => {
    wx.statements.corruptFile = true;
    await expect(downloadWxpayStatement(wxCtx(), today())).rejects.toMatchObject({ key: 'STATEMENT_HASH_MISMATCH', code: 8102 });
    await expect(downloadWxpayStatement(wxCtx(), today(), { gzip: false })).rejects.toMatchObject({ key: 'STATEMENT_HASH_MISMATCH' });
  });

  test('an unsigned (or re-signed) bill answer is refused before anything is downloaded', async () => {
    const calls: string[] = [];
    const stripping: HttpTransport = {
      async request(req) {
        calls.push(req.url);
        const res = await http.request(req);
        if (req.url.includes('/v3/bill/')) {
          const { ['wechatpay-signature']: _sig, ...headers } = res.headers;
          // a man in the middle points the download elsewhere and drops the signature
          const body = Buffer.from(
            JSON.stringify({ ...JSON.parse(res.body.toString()), hash_value: createHash('sha1').update('x').digest('hex') }),
          );
          return { ...res, headers, body };
        }
        return res;
      },
    };
    await expect(downloadWxpayStatement(wxCtx(stripping), today())).rejects.toMatchObject({
      key: 'GATEWAY_RESPONSE_UNVERIFIED',
      verified: false,
    });
    expect(calls.filter((u) => u.includes('/billdownload/'))).toEqual([]);
  });

  test('a day without trades is an empty statement (NO_STATEMENT_EXIST is a verified answer)', async () => {
    const s = await downloadWxpayStatement(wxCtx(), '2026-01-01');
    expect(s).toEqual({ bill_date: '2026-01-01', entries: [], summary: {} });
  });
});

describe('Alipay download', () => {
  const ctx = (transport: HttpTransport = http) => ({
    config: alipayNodeConfig(aliApp, ali) as any,
    http: transport,
    clock: { now: () => Date.now() },
    cache: memoryCache(),
  });

  test('trade statement: verified download URL, zip of GBK CSVs parsed into fen', async () => {
    await callAlipay(ctx(), { method: 'alipay.trade.precreate', biz: { out_trade_no: 'ALS0001', total_amount: '12.34', subject: '商品' } });
    await ali.pay('ALS0001');
    await callAlipay(ctx(), {
      method: 'alipay.trade.refund',
      biz: { out_trade_no: 'ALS0001', refund_amount: '0.34', out_request_no: 'ALS0001-1' },
    });
    const s = await downloadAlipayStatement(ctx(), today());
    expect(s.entries.map((e) => [e.kind, e.out_trade_no, e.out_refund_no, e.amount])).toEqual([
      ['payment', 'ALS0001', undefined, 1234],
      ['refund', 'ALS0001', 'ALS0001-1', 34],
    ]);
    expect(s.summary['交易订单总笔数']).toBe('1');
  });

  test('an unsigned answer is refused; a day without trades is empty', async () => {
    const stripping: HttpTransport = {
      async request(req) {
        const res = await http.request(req);
        return { ...res, body: Buffer.from(res.body.toString().replace(/,"sign":"[^"]*"/, '')) };
      },
    };
    await expect(downloadAlipayStatement(ctx(stripping), today())).rejects.toMatchObject({ verified: false });
    expect(await downloadAlipayStatement(ctx(), '2026-01-01')).toEqual({ bill_date: '2026-01-01', entries: [], summary: {} });
  });
});
