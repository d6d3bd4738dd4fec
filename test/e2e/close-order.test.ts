/** closeOrder, and a verified payment that arrives for an order closed here. */
import { startTestStack, tradeNo, wxpayTransaction, type TestStack } from '../helpers/project';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const close = async (out_trade_no: string) => (await s.call('test-shop', 'closeOrder', [{ out_trade_no }])).result;

async function newOrder(provider: 'wxpay' | 'alipay', type = 'counted'): Promise<string> {
  const no = tradeNo('C');
  const r = await s.createPayment({ provider, isPC: true, data: { out_trade_no: no, total_fee: 100, subject: '关单测试', type } });
  expect(r.errCode).toBe(0);
  return no;
}

test('an unpaid WeChat order is closed at the provider, then here; it cannot be paid or re-used', async () => {
  const no = await newOrder('wxpay');
  expect(await close(no)).toMatchObject({ code: 0, status: -1 });
  expect(s.wxpay.order(no)!.trade_state).toBe('CLOSED');
  expect(await s.order(no)).toMatchObject({ status: -1 });
  await expect(s.wxpay.pay(no)).rejects.toMatchObject({ code: 'ORDER_CLOSED' });
  const again = await s.createPayment({
    provider: 'wxpay',
    isPC: true,
    data: { out_trade_no: no, total_fee: 100, subject: '关单测试', type: 'counted' },
  });
  expect(again.errCode).toBe(2006);
  expect(await close(no)).toMatchObject({ code: 0, status: -1 }); // idempotent
});

test('an order paid a moment ago is settled, not closed; vk-pay then runs its handler once', async () => {
  const no = await newOrder('wxpay');
  s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/lost'; // the notification never arrives
  await s.wxpay.pay(no);
  // called from a business cloud function: the pay-notify handlers are not deployed there
  expect(await close(no)).toMatchObject({ code: 2005 });
  const settled = (await s.order(no))!;
  expect(settled.status).toBe(1);
  expect(settled.user_order_success).toBeUndefined(); // left to vk-pay, not recorded as a failure
  expect(await s.handlerCalls(no)).toHaveLength(0);
  // the client's next query through vk-pay runs it
  expect(await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }])).toMatchObject({
    orderPaid: true,
    user_order_success: true,
  });
  expect(await s.handlerCalls(no)).toHaveLength(1);
});

test('an Alipay QR never scanned cannot be closed yet (it stays payable until it expires)', async () => {
  const no = await newOrder('alipay');
  expect(await close(no)).toMatchObject({ code: 2010 });
  expect(await s.order(no)).toMatchObject({ status: 0 });
});

test('apple cannot close (no such API): a clear error', async () => {
  const no = tradeNo('A');
  const r = await s.createPayment(
    { provider: 'appleiap', data: { out_trade_no: no, total_fee: 600, subject: 'coins', type: 'counted', productid: 'coins_600' } },
    { uniPlatform: 'app' },
  );
  expect(r.errCode).toBe(0);
  expect(await close(no)).toMatchObject({ code: 3005 });
});

test('a verified payment for an order closed here is still accepted: the money arrived', async () => {
  const no = await newOrder('wxpay');
  expect(await s.updateOrder(no, { status: -1, cancel_date: Date.now() })).toBe(1);
  const { body, headers } = s.wxpay.buildPaymentNotification(
    s.wxMerchant.mchid,
    wxpayTransaction(s, no, {
      appid: (await s.order(no))!.provider_appid,
      transaction_id: '4200000000000000000000000777',
      payer: { openid: 'o1' },
    }),
  );
  expect((await s.notify('wxpay_h5', no, body, { ...headers, 'content-type': 'application/json' })).status).toBe(200);
  expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true, transaction_id: '4200000000000000000000000777' });
  expect(await s.handlerCalls(no)).toHaveLength(1);
});
