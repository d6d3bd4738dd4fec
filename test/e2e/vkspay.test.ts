/**
 * VksPay end to end, through the runtime's HTTP server against the VksPay sandbox peer:
 * createPayment (webpay, signed MD5) → codeUrl → the payer pays in the peer → an UNSIGNED form
 * notification arrives → the plugin treats it as a hint and asks `orderquery` → paid, handler once,
 * reply {"code":"SUCCESS","msg":"SUCCESS"}. Hints for unpaid or unknown orders write nothing.
 */
import { startTestStack, tradeNo, until, WEB_PC, type TestStack, expectUntouched as expectUntouchedIn } from '../helpers/project';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const PAY_TYPE = 'vkspay_h5';
const ACK = { code: 'SUCCESS', msg: 'SUCCESS' };

async function newOrder(total_fee = 100, type = 'counted'): Promise<{ no: string; r: any }> {
  const no = tradeNo('K');
  const r = await s.createPayment(
    { provider: 'vkspay', data: { out_trade_no: no, total_fee, subject: 'VksPay 测试', type, custom: { note: 'vks' } } },
    WEB_PC,
  );
  expect(r).toMatchObject({ errCode: 0, pay_type: PAY_TYPE, out_trade_no: no, total_fee });
  expect(r.orderInfo.codeUrl).toMatch(new RegExp(`^${s.vkspay.url}/cashier/[a-f0-9]+$`));
  return { no, r };
}

const peerOrder = (no: string) => s.vkspay.orders.get(`${s.vksMerchant.mchId}|${no}`);
const notifyUrl = (no: string) => `${s.url}/http/vk-pay/paymentNotify/${PAY_TYPE}/${no}`;
const queriesOf = (from: number) => s.vkspay.calls.slice(from).filter((c) => c.method === 'orderquery');

async function expectUntouched(no: string) {
  await expectUntouchedIn(s, no);
}

async function expectPaidOnce(no: string, total_fee: number) {
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }]);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, status: 1, user_order_success: true });
  const calls = await s.handlerCalls(no);
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({ total_fee, custom_note: 'vks' });
  expect(await s.order(no)).toMatchObject({ status: 1, handler_attempts: 1 });
}

test('create → pay in the peer → hint → orderquery → paid, handler once, vendor acknowledgement', async () => {
  const { no } = await newOrder(100);
  expect((await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }])).orderPaid).toBe(false);
  const before = s.vkspay.calls.length;
  await s.vkspay.pay(no);
  const d = await s.vkspay.waitForDelivery(no, 15_000);
  expect(d.lastStatus).toBe(200);
  expect(JSON.parse(d.lastReply!)).toEqual(ACK);
  // the hint was confirmed by asking the gateway
  expect(queriesOf(before).some((c) => c.return_code === 'SUCCESS')).toBe(true);
  await expectPaidOnce(no, 100);
  expect(await s.order(no)).toMatchObject({ notify_mode: 1 });
});

test('amounts go to the peer in yuan, converted once (1 fen → 0.01, 1999 fen → 19.99)', async () => {
  const one = await newOrder(1);
  expect(peerOrder(one.no)).toMatchObject({ total_fee: 1, status: 'NOTPAY' }); // the peer stores cents of what it got
  const big = await newOrder(1999);
  expect(peerOrder(big.no)).toMatchObject({ total_fee: 1999 });
  await s.vkspay.pay(one.no);
  await s.vkspay.waitForDelivery(one.no, 15_000);
  const calls = await s.handlerCalls(one.no);
  expect(calls).toHaveLength(1);
  expect(calls[0].total_fee).toBe(1);
  expect(await s.order(one.no)).toMatchObject({ status: 1, total_fee: 1 });
});

test('a base64-encoded notification body is understood', async () => {
  s.vksMerchant.base64Notify = true;
  try {
    const { no } = await newOrder(100);
    await s.vkspay.pay(no);
    await s.vkspay.waitForDelivery(no, 15_000);
    await expectPaidOnce(no, 100);
  } finally {
    s.vksMerchant.base64Notify = false;
  }
});

test('a forged hint for an UNPAID order is acknowledged as the vendor expects, but writes nothing', async () => {
  const { no } = await newOrder(100);
  const before = s.vkspay.calls.length;
  const r = await s.vkspay.notify(no, { trade_status: 'SUCCESS' });
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body)).toEqual(ACK);
  const q = queriesOf(before);
  expect(q).toHaveLength(1);
  expect(q[0].return_code).toBe('FAIL');
  await expectUntouched(no);
  expect((await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }])).orderPaid).toBe(false);
});

test('a hint for an unknown order writes nothing', async () => {
  const no = tradeNo('U');
  const r = await s.vkspay.notify(no, {}, notifyUrl(no));
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body).code).not.toBe('SUCCESS');
  expect(await s.order(no)).toBeNull();
  expect(await s.handlerCalls(no)).toHaveLength(0);
});

test('a hint naming a PAID order, posted to the route of an unpaid one, writes nothing', async () => {
  const paid = await newOrder(100);
  await s.vkspay.pay(paid.no);
  await s.vkspay.waitForDelivery(paid.no, 15_000);
  const victim = await newOrder(100);
  const r = await s.vkspay.notify(paid.no, {}, notifyUrl(victim.no));
  expect(JSON.parse(r.body).code).not.toBe('SUCCESS');
  await expectUntouched(victim.no);
});

test('a hint without out_trade_no or with a malformed body is refused', async () => {
  const { no } = await newOrder(100);
  for (const body of ['', 'foo=bar', 'out_trade_no=../../x', '%%%']) {
    const res = await fetch(notifyUrl(no), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(JSON.parse(await res.text()).code).not.toBe('SUCCESS');
  }
  await expectUntouched(no);
});

test('the gateway reporting another amount than the order is not settled', async () => {
  const { no } = await newOrder(100);
  peerOrder(no)!.notify_url = undefined; // only the hint below arrives
  await s.vkspay.pay(no);
  // the gateway's record says 0.01 (e.g. a tampered or mixed-up order at the provider)
  peerOrder(no)!.total_fee = 1;
  const r = await s.vkspay.notify(no, {}, notifyUrl(no));
  expect(JSON.parse(r.body).code).not.toBe('SUCCESS');
  await expectUntouched(no);
});

test('duplicate hints (sequential and 10 in parallel) run the handler once', async () => {
  const { no } = await newOrder(100);
  await s.vkspay.pay(no);
  await s.vkspay.waitForDelivery(no, 15_000);
  const replies = await Promise.all(Array.from({ length: 10 }, () => s.vkspay.notify(no)));
  expect(replies.every((r) => r.status === 200)).toBe(true);
  for (let i = 0; i < 2; i++) expect(JSON.parse((await s.vkspay.notify(no)).body)).toEqual(ACK);
  await expectPaidOnce(no, 100);
});

test('parallel duplicate hints racing on an order paid just now run the handler once', async () => {
  const { no } = await newOrder(100);
  const o = peerOrder(no)!;
  o.notify_url = undefined; // the gateway's own notification is lost: only the hints below arrive
  await s.vkspay.pay(no);
  const replies = await Promise.all(Array.from({ length: 10 }, () => s.vkspay.notify(no, {}, notifyUrl(no))));
  expect(replies.some((r) => JSON.parse(r.body).code === 'SUCCESS')).toBe(true);
  await until(async () => JSON.parse((await s.vkspay.notify(no, {}, notifyUrl(no))).body).code === 'SUCCESS');
  await expectPaidOnce(no, 100);
});

test('time_expire is refused (1013) and no order is stored', async () => {
  const no = tradeNo('K');
  const r = await s.createPayment(
    { provider: 'vkspay', data: { out_trade_no: no, total_fee: 100, subject: 's', type: 'counted', time_expire: Date.now() + 3600_000 } },
    WEB_PC,
  );
  expect(r.errCode).toBe(1013);
  expect(await s.order(no)).toBeNull();
  expect(peerOrder(no)).toBeUndefined();
});

test('queryPayment settles a payment whose notification was lost (active query)', async () => {
  const { no } = await newOrder(100);
  peerOrder(no)!.notify_url = undefined;
  await s.vkspay.pay(no);
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }]);
  expect(q).toMatchObject({ orderPaid: true, status: 1, user_order_success: true });
  expect(await s.order(no)).toMatchObject({ notify_mode: 0 });
  expect(await s.handlerCalls(no)).toHaveLength(1);
});
