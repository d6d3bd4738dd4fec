/**
 * Paying again with the same out_trade_no, end to end: an unpaid order is reused (one row), may
 * switch provider, and every other state is refused with its own code. Concurrent calls for one
 * out_trade_no leave exactly one order and never leak a database error to the client.
 */
import { startTestStack, tradeNo, WEB_PC, type TestStack, CLIENT } from '../helpers/project';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const MP = CLIENT.mp;
const OPENID = 'oTestOpenid0000000000000003';

function data(over: Record<string, unknown> = {}) {
  return { out_trade_no: tradeNo('R'), total_fee: 100, subject: '测试订单', type: 'counted', openid: OPENID, ...over };
}

function alipayCalls(no: string) {
  return s.alipay.requests.filter((r) => r.biz.out_trade_no === no);
}

test('an identical second call (nothing in the row changes) reuses the unpaid order: same row, same prepay', async () => {
  const d = data({ custom: { note: 'first' } });
  const a = await s.createPayment({ provider: 'wxpay', data: d }, MP);
  expect(a.errCode).toBe(0);
  const before = await s.order(d.out_trade_no);
  const b = await s.createPayment({ provider: 'wxpay', data: d }, MP);
  expect(b).toMatchObject({ errCode: 0, out_trade_no: d.out_trade_no, pay_type: 'wxpay_mp-weixin' });
  expect(b.orderInfo.package).toBe(a.orderInfo.package);
  const rows = await s.orders(d.out_trade_no);
  expect(rows).toHaveLength(1);
  expect(rows[0]._id).toBe(before!._id);
  expect(rows[0]).toMatchObject({ status: 0, total_fee: 100 });
});

test('a second call from another device (the row changes) reuses the unpaid order', async () => {
  const d = data({ custom: { note: 'first' } });
  const a = await s.createPayment({ provider: 'wxpay', data: d }, MP);
  expect(a.errCode).toBe(0);
  const before = await s.order(d.out_trade_no);
  const b = await s.createPaymentVia({ provider: 'wxpay', data: { ...d, custom: { note: 'second' } } }, MP, {
    forwardedFor: '198.51.100.9',
  });
  expect(b).toMatchObject({ errCode: 0, out_trade_no: d.out_trade_no, pay_type: 'wxpay_mp-weixin' });
  expect(b.orderInfo.package).toBe(a.orderInfo.package);
  const rows = await s.orders(d.out_trade_no);
  expect(rows).toHaveLength(1);
  expect(rows[0]._id).toBe(before!._id);
  expect(rows[0]).toMatchObject({ status: 0, total_fee: 100, client_ip: '198.51.100.9', custom: { note: 'second' } });
});

test('paying again through Alipay switches the stored pay type, and the Alipay payment settles the order', async () => {
  const d = data({ openid: undefined });
  expect((await s.createPayment({ provider: 'wxpay', isPC: true, data: d }, WEB_PC)).pay_type).toBe('wxpay_h5');
  const r = await s.createPayment({ provider: 'alipay', isPC: true, data: d }, WEB_PC);
  expect(r).toMatchObject({ errCode: 0, provider: 'alipay', pay_type: 'alipay_h5' });
  expect(alipayCalls(d.out_trade_no).map((x) => x.method)).toEqual(['alipay.trade.precreate']);
  const rows = await s.orders(d.out_trade_no);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({
    status: 0,
    provider: 'alipay',
    pay_type: 'alipay_h5',
    notify_path: `/paymentNotify/alipay_h5/${d.out_trade_no}`,
  });
  await s.alipay.pay(d.out_trade_no);
  await s.alipay.waitForDelivery(d.out_trade_no);
  expect(await s.handlerCalls(d.out_trade_no)).toHaveLength(1);
  expect(await s.order(d.out_trade_no)).toMatchObject({
    status: 1,
    pay_type: 'alipay_h5',
    user_order_success: true,
    transaction_id: s.alipay.order(d.out_trade_no)!.trade_no,
  });
});

test('a changed amount → 2008, the stored amount stays', async () => {
  const d = data();
  expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
  const r = await s.createPaymentRaw({ provider: 'wxpay', data: { ...d, total_fee: 99 } }, MP);
  expect(r.code).toBe(2008);
  expect(r.msg).toContain('100');
  expect(r.msg_en).toMatch(/cannot change/);
  expect(await s.order(d.out_trade_no)).toMatchObject({ total_fee: 100, status: 0 });
  expect(s.wxpay.order(d.out_trade_no)!.total).toBe(100);
});

test('a paid order → 2005, with either provider, and nothing is sent', async () => {
  const d = data();
  expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
  await s.wxpay.pay(d.out_trade_no);
  await s.wxpay.waitForDelivery(d.out_trade_no, (x) => x.acknowledged, 15_000);
  expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(2005);
  const viaAlipay = await s.createPaymentRaw({ provider: 'alipay', isPC: true, data: d }, WEB_PC);
  expect(viaAlipay.code).toBe(2005);
  expect(viaAlipay.msg_en).toMatch(/already paid/);
  expect(alipayCalls(d.out_trade_no)).toHaveLength(0);
  expect(await s.order(d.out_trade_no)).toMatchObject({ status: 1, pay_type: 'wxpay_mp-weixin', provider: 'wxpay' });
  expect(await s.handlerCalls(d.out_trade_no)).toHaveLength(1);
});

test('a closed order (status -1) → 2006', async () => {
  const d = data();
  expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
  expect(await s.updateOrder(d.out_trade_no, { status: -1, cancel_date: Date.now() })).toBe(1);
  const r = await s.createPaymentRaw({ provider: 'wxpay', data: d }, MP);
  expect(r.code).toBe(2006);
  expect(r.msg_en).toMatch(/closed/);
  expect(await s.order(d.out_trade_no)).toMatchObject({ status: -1 });
});

test.each([
  [2, 'partly refunded'],
  [3, 'fully refunded'],
])('a refunded order (status %d, %s) → 2007', async (status) => {
  const d = data();
  expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
  await s.updateOrder(d.out_trade_no, { status, refund_fee: status === 3 ? 100 : 40 });
  const r = await s.createPaymentRaw({ provider: 'wxpay', data: d }, MP);
  expect(r.code).toBe(2007);
  expect(r.msg_en).toMatch(/refunded/);
  expect(await s.order(d.out_trade_no)).toMatchObject({ status });
});

test('another merchant (pid) for an existing order is refused', async () => {
  const d = data();
  expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
  await s.addMerchantConfig({ _id: `pid-repay-${d.out_trade_no}`, wxpay: { 'mp-weixin': s.config.wxpay['mp-weixin'] } });
  const r = await s.createPayment({ provider: 'wxpay', data: { ...d, pid: `pid-repay-${d.out_trade_no}` } }, MP);
  expect(r.errCode).not.toBe(0);
  expect((await s.order(d.out_trade_no))!.pid).toBeUndefined();
});

test.each([[5], [10]])('%d concurrent calls for one out_trade_no → one order row, each call succeeds or fails cleanly', async (n) => {
  const d = data();
  const replies = await Promise.all(Array.from({ length: n }, () => s.createPaymentRaw({ provider: 'wxpay', data: d }, MP)));
  const ok = replies.filter((r) => r.code === 0);
  expect(ok.length).toBeGreaterThanOrEqual(1);
  for (const r of replies) {
    expect(JSON.stringify(r)).not.toMatch(/E11000|duplicate key|SQLITE/i);
    if (r.code === 0) expect(r).toMatchObject({ out_trade_no: d.out_trade_no, pay_type: 'wxpay_mp-weixin', total_fee: 100 });
    else {
      expect(r.code).toBe(2009); // ORDER_BUSY: retry shortly
      expect(r.msg_en).toMatch(/retry/);
    }
  }
  // every success points at the one prepay the gateway created
  expect(new Set(ok.map((r) => r.orderInfo.package)).size).toBe(1);
  expect(ok[0].orderInfo.package).toBe(`prepay_id=${s.wxpay.order(d.out_trade_no)!.prepay_id}`);
  expect(await s.orders(d.out_trade_no)).toHaveLength(1);
});

test('concurrent calls switching provider leave one row whose pay type is one of the two', async () => {
  const d = data({ openid: undefined });
  const replies = await Promise.all(
    Array.from({ length: 6 }, (_, i) => s.createPaymentRaw({ provider: i % 2 ? 'alipay' : 'wxpay', isPC: true, data: d }, WEB_PC)),
  );
  for (const r of replies) {
    expect(JSON.stringify(r)).not.toMatch(/E11000|duplicate key|SQLITE/i);
    expect([0, 2009]).toContain(r.code);
  }
  const rows = await s.orders(d.out_trade_no);
  expect(rows).toHaveLength(1);
  expect(['wxpay_h5', 'alipay_h5']).toContain(rows[0].pay_type);
  expect(rows[0].provider).toBe(rows[0].pay_type.split('_')[0]);
});
