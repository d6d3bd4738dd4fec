/**
 * WeChat Pay v3 notifications end to end, through the runtime's HTTP server: verified over raw
 * bytes, refused when anything is off (and nothing written), handled exactly once.
 * The sandbox runs in "migrating" mode, so notifications arrive signed by the platform certificate
 * and by the WeChat Pay public key in turn, and the plugin must fetch /v3/certificates itself.
 */
import { randomBytes } from 'node:crypto';
import { startTestStack, tradeNo, wxpayTransaction, type TestStack, expectUntouched as expectUntouchedIn } from '../helpers/project';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack({ wxSignMode: 'migrating' });
}, 60_000);
afterAll(() => s?.close());

const PAY_TYPE = 'wxpay_h5';

async function newOrder(type = 'counted', total_fee = 100): Promise<string> {
  const no = tradeNo();
  const r = await s.createPayment({
    provider: 'wxpay',
    isPC: true,
    data: { out_trade_no: no, total_fee, subject: '测试订单', type, custom: { note: 'n1' } },
  });
  expect(r).toMatchObject({ errCode: 0, pay_type: PAY_TYPE, out_trade_no: no, total_fee, needQRcode: true, platform: 'h5' });
  expect(r.orderInfo.codeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/cashier\//);
  return no;
}

function transaction(no: string, over: Record<string, unknown> = {}) {
  return wxpayTransaction(s, no, over);
}

function signed(no: string, over: Record<string, unknown> = {}) {
  const { body, headers } = s.wxpay.buildPaymentNotification(s.wxMerchant.mchid, transaction(no, over));
  return { body, headers: { ...headers, 'content-type': 'application/json' } };
}

async function expectUntouched(no: string) {
  await expectUntouchedIn(s, no);
}

test('a payment made in the sandbox is notified, verified and handled once', async () => {
  const no = await newOrder();
  expect((await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }])).orderPaid).toBe(false);
  await s.wxpay.pay(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true, 15_000);
  const calls = await s.handlerCalls(no);
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({ total_fee: 100, custom_note: 'n1' }); // custom flattened into data
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }]);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true, status: 1 });
  expect(q.transaction_id).toBeUndefined(); // a client that cannot prove it owns the order sees the state only
  expect((await s.order(no))!.transaction_id).toBe(s.wxpay.order(no)!.transaction_id);
  expect(await s.order(no)).toMatchObject({ status: 1, notify_mode: 1, user_order_success: true });
});

test('duplicate notifications, sequential and 20 in parallel, run the handler once', async () => {
  const no = await newOrder();
  const n = signed(no);
  const replies = await Promise.all(Array.from({ length: 20 }, () => s.notify(PAY_TYPE, no, n.body, n.headers)));
  expect(replies.every((r) => r.status === 200 || r.status === 500)).toBe(true);
  expect(replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
  // every later resend is acknowledged and changes nothing
  for (let i = 0; i < 2; i++) {
    const r = await s.notify(PAY_TYPE, no, n.body, n.headers);
    expect(r.status).toBe(200);
  }
  expect(await s.handlerCalls(no)).toHaveLength(1);
  expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true, handler_attempts: 1 });
});

describe('forged or wrong notifications are refused and write nothing', () => {
  const cases: Array<[string, (no: string) => { path?: string; body: string; headers: Record<string, string> }]> = [
    [
      'a body changed after signing',
      (no) => {
        const n = signed(no);
        return { body: n.body.replace('支付成功', '支付成功!'), headers: n.headers };
      },
    ],
    [
      'an unknown certificate serial',
      (no) => {
        const n = signed(no);
        return {
          body: n.body,
          headers: {
            ...n.headers,
            ...s.wxpay.signNotification(s.wxMerchant.mchid, n.body, { serial: '7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' }),
            'content-type': 'application/json',
          },
        };
      },
    ],
    [
      'a timestamp outside the 5-minute window',
      (no) => {
        const n = signed(no);
        return {
          body: n.body,
          headers: {
            ...n.headers,
            ...s.wxpay.signNotification(s.wxMerchant.mchid, n.body, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
            'content-type': 'application/json',
          },
        };
      },
    ],
    [
      'a WECHATPAY/SIGNTEST probe',
      (no) => {
        const n = signed(no);
        return {
          body: n.body,
          headers: {
            ...n.headers,
            ...s.wxpay.signNotification(s.wxMerchant.mchid, n.body, {
              signature: `WECHATPAY/SIGNTEST/${randomBytes(64).toString('base64')}`,
            }),
            'content-type': 'application/json',
          },
        };
      },
    ],
    [
      'a tampered GCM tag (correctly signed)',
      (no) => {
        const outer = JSON.parse(signed(no).body);
        const raw = Buffer.from(outer.resource.ciphertext, 'base64');
        raw[raw.length - 1] ^= 0x01;
        outer.resource.ciphertext = raw.toString('base64');
        const body = JSON.stringify(outer);
        return { body, headers: { ...s.wxpay.signNotification(s.wxMerchant.mchid, body), 'content-type': 'application/json' } };
      },
    ],
    ['a different amount', (no) => signed(no, { amount: { total: 1, payer_total: 1, currency: 'CNY', payer_currency: 'CNY' } })],
    ['another merchant id', (no) => signed(no, { mchid: '1900000999' })],
    ['another appid', (no) => signed(no, { appid: 'wx9999999999999999' })],
    ['a notification for another order posted to this order', (no) => signed(`${no.slice(0, 28)}XXXX`)],
  ];
  test.each(cases)('%s', async (_name, make) => {
    const no = await newOrder();
    const n = make(no);
    const r = await s.notify(PAY_TYPE, no, n.body, n.headers);
    expect(r.status).toBe(500);
    expect(r.body).toContain('FAIL');
    await expectUntouched(no);
  });

  test('an unknown out_trade_no', async () => {
    const no = tradeNo('U');
    const n = signed(no);
    const r = await s.notify(PAY_TYPE, no, n.body, n.headers);
    expect(r.status).toBe(500);
    expect(await s.order(no)).toBeNull();
    expect(await s.handlerCalls(no)).toHaveLength(0);
  });

  test('a malformed route', async () => {
    const r = await fetch(`${s.url}/http/vk-pay/paymentNotify/evil_type/..%2F..%2Fx`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(404);
  });
});

test('a handler that throws once is finished by the retry, and succeeds only once', async () => {
  const no = await newOrder('flaky');
  await s.wxpay.pay(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true, 20_000);
  const attempts = s.wxpay.deliveries.filter((d) => d.out_trade_no === no);
  expect(attempts[0].acknowledged).toBe(false); // the failure reply made WeChat retry
  const calls = await s.handlerCalls(no);
  expect(calls.map((c) => c.ok)).toEqual([false, true]);
  expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
}, 30_000);

test('queryPayment settles a payment whose notification has not arrived (active callback)', async () => {
  const no = await newOrder();
  // the payer pays, but the notification is lost on the way: the query finds out
  s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/lost';
  await s.wxpay.pay(no);
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }]);
  expect(q).toMatchObject({ orderPaid: true, user_order_success: true, status: 1 });
  expect(await s.order(no)).toMatchObject({ notify_mode: 0 });
  expect(await s.handlerCalls(no)).toHaveLength(1);
  // the late notification is acknowledged without a second run
  const n = signed(no, { transaction_id: s.wxpay.order(no)!.transaction_id });
  expect((await s.notify(PAY_TYPE, no, n.body, n.headers)).status).toBe(200);
  expect(await s.handlerCalls(no)).toHaveLength(1);
});

test('a second, different payment for a paid order is recorded for refunding, and runs nothing', async () => {
  const no = await newOrder();
  const first = signed(no);
  expect((await s.notify(PAY_TYPE, no, first.body, first.headers)).status).toBe(200);
  const second = signed(no); // same order, another transaction id: the payer paid twice
  for (let i = 0; i < 2; i++) expect((await s.notify(PAY_TYPE, no, second.body, second.headers)).status).toBe(200);
  const order = (await s.order(no))!;
  expect(order.duplicate_payments).toHaveLength(1);
  expect(order.duplicate_payments[0]).toMatchObject({ total_fee: 100, pay_type: PAY_TYPE });
  expect(order.duplicate_payments[0].transaction_id).not.toBe(order.transaction_id);
  expect(await s.handlerCalls(no)).toHaveLength(1);
});

test('queryPayment says "not paid" in the client language', async () => {
  const no = await newOrder();
  expect(await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }], { uniPlatform: 'web', locale: 'en' })).toMatchObject({
    errCode: 0,
    orderPaid: false,
    errMsg: 'The order is not paid',
  });
  expect(await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }])).toMatchObject({
    errCode: 0,
    orderPaid: false,
    errMsg: '订单未支付',
  });
});
