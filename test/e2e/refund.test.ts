/**
 * refund / queryRefund end to end: the built common module inside the local runtime (called by a
 * business cloud object, never by a client), the WeChat Pay v3 and Alipay sandboxes on loopback.
 */
import { startTestStack, tradeNo, until, type TestStack } from '../helpers/project';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

type Provider = 'wxpay' | 'alipay';

const refund = async (params: Record<string, unknown>) => (await s.call('test-shop', 'refund', [params])).result;
const queryRefund = async (params: Record<string, unknown>) => (await s.call('test-shop', 'queryRefund', [params])).result;
const refundedAtGateway = (provider: Provider, no: string) =>
  provider === 'wxpay' ? s.wxpay.order(no)!.refunded : s.alipay.order(no)!.refunded_fen;
const gatewayRefundCalls = (no: string) =>
  s.alipay.requests.filter((r) => r.method === 'alipay.trade.refund' && r.biz.out_trade_no === no).length;

/** A PC web order paid in the sandbox and settled by its notification. */
async function paidOrder(provider: Provider, total_fee: number): Promise<string> {
  const no = tradeNo('R');
  const r = await s.createPayment({ provider, isPC: true, data: { out_trade_no: no, total_fee, subject: '退款测试', type: 'counted' } });
  expect(r).toMatchObject({ errCode: 0, out_trade_no: no });
  if (provider === 'wxpay') {
    await s.wxpay.pay(no);
  } else {
    await fetch(r.orderInfo.codeUrl); // the buyer scans
    await s.alipay.pay(no);
  }
  await until(async () => (await s.order(no))?.status === 1);
  return no;
}

describe.each<[Provider]>([['wxpay'], ['alipay']])('%s', (provider) => {
  test('two partial refunds: status 2 then 3, ledger and queryRefund agree with the gateway', async () => {
    const no = await paidOrder(provider, 100);
    const r1 = await refund({ out_trade_no: no, refund_fee: 30, refund_desc: '部分退款' });
    expect(r1).toMatchObject({ code: 0, out_trade_no: no, out_refund_no: `${no}-1`, refund_fee: 30, state: 'SUCCESS' });
    expect(await s.order(no)).toMatchObject({ status: 2, refund_fee: 30, refund_num: 1 });
    const r2 = await refund({ out_trade_no: no });
    expect(r2).toMatchObject({ code: 0, out_refund_no: `${no}-2`, refund_fee: 70, state: 'SUCCESS' });
    expect(await s.order(no)).toMatchObject({ status: 3, refund_fee: 100, refund_num: 2 });
    expect(refundedAtGateway(provider, no)).toBe(100);
    expect(await queryRefund({ out_trade_no: no })).toMatchObject({
      code: 0,
      out_refund_no: `${no}-2`,
      state: 'SUCCESS',
      order: { total_fee: 100, refund_fee: 100, status: 3 },
    });
    const docs = await s.findDocs('vk-pay-refunds', { out_trade_no: no });
    expect(docs.map((d) => [d.out_refund_no, d.refund_fee, d.state]).sort()).toEqual([
      [`${no}-1`, 30, 'SUCCESS'],
      [`${no}-2`, 70, 'SUCCESS'],
    ]);
    expect(await refund({ out_trade_no: no, refund_fee: 1 })).toMatchObject({ code: 2003, refundable: 0 });
  });

  test('an over-refund is refused (2003, zh + en) and nothing reaches the gateway', async () => {
    const no = await paidOrder(provider, 100);
    const before = provider === 'alipay' ? gatewayRefundCalls(no) : 0;
    const r = await refund({ out_trade_no: no, refund_fee: 101 });
    expect(r).toMatchObject({ code: 2003, refundable: 100 });
    expect(r.msg).toMatch(/[\u4e00-\u9fff]/);
    expect(r.msg_en).toMatch(/refundable 100/);
    expect(refundedAtGateway(provider, no)).toBe(0);
    if (provider === 'alipay') expect(gatewayRefundCalls(no)).toBe(before);
    expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0, refund_num: 0, refund_list: [] });
    expect(await s.findDocs('vk-pay-refunds', { out_trade_no: no })).toEqual([]);
  });

  test('concurrent refunds through the runtime never exceed the total', async () => {
    const no = await paidOrder(provider, 100);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => refund({ out_trade_no: no, out_refund_no: `${no}-p${i}`, refund_fee: 40 })),
    );
    const ok = results.filter((r) => r.code === 0);
    for (const r of results.filter((x) => x.code !== 0)) expect([2003, 2004]).toContain(r.code);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(2);
    expect(refundedAtGateway(provider, no)).toBe(40 * ok.length);
    expect(await s.order(no)).toMatchObject({ refund_fee: 40 * ok.length, status: 2 });
  });

  test('the same out_refund_no twice is one refund at the gateway', async () => {
    const no = await paidOrder(provider, 100);
    const a = await refund({ out_trade_no: no, out_refund_no: `${no}-same`, refund_fee: 25 });
    const b = await refund({ out_trade_no: no, out_refund_no: `${no}-same`, refund_fee: 25 });
    expect(a).toMatchObject({ code: 0, state: 'SUCCESS' });
    expect(b).toEqual(a);
    expect(refundedAtGateway(provider, no)).toBe(25);
    if (provider === 'alipay') expect(gatewayRefundCalls(no)).toBe(1);
    else expect(s.wxpay.refund(`${no}-same`)).toMatchObject({ refund: 25 });
    expect(await s.order(no)).toMatchObject({ refund_fee: 25, refund_num: 1, status: 2 });
  });
});

test('refund of an unknown order → 2001, of an unpaid order → 2002, bad out_refund_no → 1021', async () => {
  expect(await refund({ out_trade_no: tradeNo('X') })).toMatchObject({ code: 2001 });
  const no = tradeNo('U');
  expect(
    (
      await s.createPayment({
        provider: 'wxpay',
        isPC: true,
        data: { out_trade_no: no, total_fee: 100, subject: '未支付', type: 'counted' },
      })
    ).errCode,
  ).toBe(0);
  expect(await refund({ out_trade_no: no })).toMatchObject({ code: 2002 });
  expect(await refund({ out_trade_no: no, out_refund_no: 'bad refund no' })).toMatchObject({ code: 1021 });
  expect(await s.order(no)).toMatchObject({ status: 0, refund_fee: 0 });
});
