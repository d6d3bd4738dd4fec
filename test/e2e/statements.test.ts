/**
 * Statements (对账单) end to end: orders paid and refunded through the runtime and the sandboxes,
 * the sandboxes' statements made to disagree (an order left out, an extra one, another amount),
 * checked by the server-only checkStatements; the result in vk-pay-statements and as CSV.
 */
import { startTestStack, tradeNo, until, type TestStack } from '../helpers/project';
import { splitCsvLine } from '../../uni_modules/vk-uni-pay/server/core/statement';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const today = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
const check = async (params: Record<string, unknown>) => (await s.call('test-shop', 'checkStatements', [params])).result;

afterEach(() => {
  for (const t of [s.wxpay.statements, s.alipay.statements]) {
    t.omit.clear();
    t.extra.length = 0;
    t.amounts.clear();
    t.corruptFile = false;
  }
});

async function paid(provider: 'wxpay' | 'alipay', total_fee: number): Promise<string> {
  const no = tradeNo(provider === 'wxpay' ? 'SW' : 'SA');
  const r = await s.createPayment({ provider, isPC: true, data: { out_trade_no: no, total_fee, subject: '对账测试', type: 'counted' } });
  expect(r.errCode).toBe(0);
  await (provider === 'wxpay' ? s.wxpay.pay(no) : s.alipay.pay(no));
  await until(async () => (await s.order(no))?.status === 1);
  return no;
}

test('WeChat Pay: a missing order, an extra one and an amount mismatch are each reported; the rest matches', async () => {
  const [a, b, c, d] = [await paid('wxpay', 100), await paid('wxpay', 200), await paid('wxpay', 300), await paid('wxpay', 400)];
  expect((await s.call('test-shop', 'refund', [{ out_trade_no: d, refund_fee: 150 }])).result).toMatchObject({ code: 0 });
  s.wxpay.statements.omit.add(b); // money here, not at WeChat
  s.wxpay.statements.extra.push({ out_trade_no: 'NOT_OURS_0001', amount: 999 }); // money at WeChat, not here
  s.wxpay.statements.amounts.set(c, 301);

  const r = await check({ provider: 'wxpay', bill_date: today() });
  expect(r).toMatchObject({ code: 0, bill_date: today() });
  expect(r.runs).toHaveLength(1);
  const run = r.runs[0];
  expect(run).toMatchObject({ provider: 'wxpay', account: s.wxMerchant.mchid, status: 'mismatch' });
  expect(run.counts).toMatchObject({ provider_payments: 4, our_payments: 4, provider_refunds: 1, our_refunds: 1, matched: 3 });
  const found = run.discrepancies.map((x: any) => [x.kind, x.entry, x.out_trade_no, x.provider_amount, x.our_amount]);
  expect(found).toEqual(
    expect.arrayContaining([
      ['missing_there', 'payment', b, undefined, 200],
      ['missing_here', 'payment', 'NOT_OURS_0001', 999, undefined],
      ['amount_mismatch', 'payment', c, 301, 300],
    ]),
  );
  expect(found).toHaveLength(3);
  expect(found.map((x: unknown[]) => x[2])).not.toContain(a);
  expect(run.extra.fundflow).toMatchObject({ 收入笔数: '4', 支出笔数: '1' });

  // kept: one document per statement, with its CSV (UTF-8 with BOM)
  const [doc] = await s.findDocs('vk-pay-statements', { key: `wxpay|${s.wxMerchant.mchid}|${today()}` });
  expect(doc).toMatchObject({ status: 'mismatch', bill_date: today(), discrepancies: run.discrepancies });
  expect(doc.csv.startsWith('\uFEFF')).toBe(true);
  const rows = doc.csv.slice(1).trimEnd().split('\r\n').map(splitCsvLine);
  expect(rows).toHaveLength(4);
  expect(
    rows
      .slice(1)
      .map((x: string[]) => x[3])
      .sort(),
  ).toEqual(['amount_mismatch', 'missing_here', 'missing_there']);
  expect(r.csv).toBe(doc.csv);

  // fixed at the provider's side: a second run replaces the document
  s.wxpay.statements.omit.clear();
  s.wxpay.statements.extra.length = 0;
  s.wxpay.statements.amounts.clear();
  const again = await check({ provider: 'wxpay', bill_date: today() });
  expect(again.runs[0]).toMatchObject({ status: 'ok', discrepancies: [] });
  expect(await s.findDocs('vk-pay-statements', { key: `wxpay|${s.wxMerchant.mchid}|${today()}` })).toHaveLength(1);
});

test('Alipay: a refund at a different amount and a refund only at Alipay are reported', async () => {
  const a = await paid('alipay', 500);
  expect((await s.call('test-shop', 'refund', [{ out_trade_no: a, refund_fee: 100 }])).result).toMatchObject({ code: 0 });
  const [refund] = await s.findDocs('vk-pay-refunds', { out_trade_no: a });
  s.alipay.statements.amounts.set(refund.out_refund_no, 120);
  s.alipay.statements.extra.push({ kind: 'refund', out_trade_no: a, out_refund_no: `${a}-x`, amount: 5 });

  const r = await check({ provider: 'alipay', bill_date: today() });
  const run = r.runs[0];
  expect(run).toMatchObject({ provider: 'alipay', status: 'mismatch' });
  const found = run.discrepancies.map((x: any) => [x.kind, x.entry, x.out_refund_no, x.provider_amount, x.our_amount]);
  expect(found).toHaveLength(2);
  expect(found).toEqual(
    expect.arrayContaining([
      ['amount_mismatch', 'refund', refund.out_refund_no, 120, 100],
      ['missing_here', 'refund', `${a}-x`, 5, undefined],
    ]),
  );
  expect(run.summary).toMatchObject({ 交易订单总笔数: '1' });
});

test('a WeChat file that fails its digest is refused with a coded error; only the error is kept', async () => {
  await paid('wxpay', 100);
  s.wxpay.statements.corruptFile = true;
  const r = await check({ provider: 'wxpay', bill_date: today() });
  expect(r).toMatchObject({ code: 8102 });
  const [doc] = await s.findDocs('vk-pay-statements', { key: `wxpay|${s.wxMerchant.mchid}|${today()}` });
  expect(doc).toMatchObject({ status: 'error', discrepancies: [], error: { code: 8102 } });
  expect(doc.counts).toBeUndefined();
});

test('a day without trades: every configured account checked, nothing to report', async () => {
  const r = await check({ bill_date: '2026-01-01' });
  expect(r.runs.map((x: any) => [x.provider, x.status, x.counts.provider_payments, x.counts.our_payments])).toEqual([
    ['wxpay', 'ok', 0, 0],
    ['alipay', 'ok', 0, 0],
  ]);
});

test('bad input is a coded error; a client cannot call it', async () => {
  expect(await check({ bill_date: '2026-02-30' })).toMatchObject({ code: 8101 });
  expect(await check({ bill_date: '2999-01-01' })).toMatchObject({ code: 8101 });
  expect(await check({ provider: 'appleiap' })).toMatchObject({ code: 3005 });
  expect(await s.call('vk-pay', 'checkStatements', [{}])).toMatchObject({ errCode: 5001 });
});
