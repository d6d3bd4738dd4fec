/** What a client may call on the vk-pay cloud object, over the real uniCloud client protocol. */
import { startTestStack, tradeNo, type TestStack } from '../helpers/project';
import { callCloudObject } from '../../tools/local-unicloud';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

test.each(['createPayment', 'closeOrder', 'refund', 'queryRefund', 'paymentNotify', 'wxpayVirtualNotify', 'appleNotify'])(
  'a client cannot call %s (money moves or notifications)',
  async (method) => {
    const r = await s.call('vk-pay', method, [
      { out_trade_no: 'ORDER_0001', provider: 'wxpay', data: { out_trade_no: 'ORDER_0001', total_fee: 1, subject: 's', type: 'counted' } },
    ]);
    expect(r).toMatchObject({ errCode: 5001, errSubject: 'vk-pay' });
    expect(r.errMsg).toContain(method);
  },
);

test('the error message follows the client locale', async () => {
  const r = await s.call('vk-pay', 'refund', [{ out_trade_no: 'ORDER_0001' }], { uniPlatform: 'web', locale: 'en' });
  expect(r.errMsg).toBe('refund may only be called from the cloud');
});

test('private hooks are not callable', async () => {
  const r = await callCloudObject(s.url, 'vk-pay', '_before', [], {
    clientInfo: { uniPlatform: 'web' },
    clientSecret: s.runtime.clientSecret,
    spaceId: s.runtime.spaceId,
  });
  expect(r.success).toBe(false);
});

test('queryPayment shows a client the order state only (no openid, IP, custom data or raw notification)', async () => {
  const no = tradeNo();
  await s.createPayment({
    provider: 'wxpay',
    isPC: true,
    data: { out_trade_no: no, total_fee: 100, subject: 's', type: 'counted', openid: 'o-secret', custom: { note: 'private' } },
  });
  await s.wxpay.pay(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true);
  const r = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, pay_order_info: true }]);
  expect(r).toMatchObject({ errCode: 0, orderPaid: true, payOrder: { out_trade_no: no, total_fee: 100, status: 1 } });
  const text = JSON.stringify(r);
  for (const leak of ['o-secret', 'private', 'client_ip', 'notify_info', 'handler_', 'custom']) expect(text).not.toContain(leak);
});
