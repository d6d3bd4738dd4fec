/**
 * The demo's business object, as a user would copy it: prices come from its own catalogue (the
 * client only names an item), and its pay-notify handlers credit idempotently.
 */
import { startStack, type Stack } from '../../tools/stack';
import { callCloudObject } from '../../tools/local-unicloud';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

let s: Stack;
const web = { uniPlatform: 'web', appId: '__UNI__DEMO', locale: 'zh-Hans' };
const app = { uniPlatform: 'app', osName: 'ios', appId: '__UNI__DEMO' };
async function call(method: string, params: Record<string, unknown>, clientInfo: Record<string, unknown> = web) {
  const r = await callCloudObject(s.url, 'demo-shop', method, [params], {
    clientInfo,
    clientSecret: s.runtime.clientSecret,
    spaceId: s.runtime.spaceId,
  });
  return r.data as any;
}

beforeAll(async () => {
  s = await startStack({ port: 0, dataDir: mkdtempSync(path.join(tmpdir(), 'vkpay-demo-')), quiet: true, retryDelaysMs: [300, 600, 1200] });
}, 60_000);
afterAll(() => s?.close());

test('the client cannot set the price: unknown items are refused, known items cost the catalogue price', async () => {
  expect(
    await call('createRechargeOrder', { item_id: 'r-free', provider: 'wxpay', isPC: true, user_id: 'u1', total_fee: 1 }),
  ).toMatchObject({ errCode: 'DEMO_ITEM_NOT_FOUND' });
  const r = await call('createRechargeOrder', { item_id: 'r600', provider: 'wxpay', isPC: true, user_id: 'u1', total_fee: 1 });
  expect(r).toMatchObject({ errCode: 0, total_fee: 600, pay_type: 'wxpay_h5' });
  expect(s.wxpay.order(r.out_trade_no)!.request).toMatchObject({ amount: { total: 600 } });
});

test('recharge: paid once, credited once (with the bonus), even when the notification is resent', async () => {
  const r = await call('createRechargeOrder', { item_id: 'r600', provider: 'alipay', isPC: true, user_id: 'u2' });
  expect(r).toMatchObject({ errCode: 0, pay_type: 'alipay_h5', total_fee: 600 });
  await s.alipay.pay(r.out_trade_no);
  await s.alipay.waitForDelivery(r.out_trade_no, undefined, 10_000);
  const again = s.alipay.deliveries.find((d) => d.out_trade_no === r.out_trade_no)!;
  expect(again.payload).toBeDefined();
  const res = await fetch(`${s.url}/http/vk-pay/paymentNotify/alipay_h5/${r.out_trade_no}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: again.payload,
  });
  expect(await res.text()).toBe('success');
  expect(await call('getAccount', { user_id: 'u2' })).toMatchObject({ errCode: 0, balance: 660 });
});

test('Apple in-app purchase priced from the App Store catalogue, verified, credited', async () => {
  const r = await call('createAppleOrder', { productid: 'coins_600', user_id: 'u3' }, app);
  expect(r).toMatchObject({
    errCode: 0,
    pay_type: 'appleiap_app-plus',
    total_fee: 600,
    orderInfo: { out_trade_no: r.out_trade_no, productid: 'coins_600' },
  });
  const transactionId = `2000000${Date.now()}`;
  const receipt = s.apple.issueReceipt({ transactionId, productId: 'coins_600', environment: 'Production' });
  const v = await callCloudObject(
    s.url,
    'vk-pay',
    'verifyAppleReceipt',
    [{ out_trade_no: r.out_trade_no, transaction_receipt: receipt, transaction_identifier: transactionId }],
    { clientInfo: app, clientSecret: s.runtime.clientSecret, spaceId: s.runtime.spaceId },
  );
  expect(v.data).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true });
  expect(await call('getAccount', { user_id: 'u3' })).toMatchObject({ balance: 600 });
  expect(await call('createAppleOrder', { productid: 'coins_9999', user_id: 'u3' }, app)).toMatchObject({ errCode: 'DEMO_ITEM_NOT_FOUND' });
});

test('goods: delivered once', async () => {
  const r = await call('createGoodsOrder', { goods_id: 'g2', provider: 'wxpay', isPC: true, user_id: 'u4' });
  expect(r).toMatchObject({ errCode: 0, total_fee: 1999 });
  await s.wxpay.pay(r.out_trade_no);
  await s.wxpay.waitForDelivery(r.out_trade_no, (d) => d.acknowledged === true, 10_000);
  const acct = await call('getAccount', { user_id: 'u4' });
  expect(acct.goods).toEqual([{ goods_id: 'g2', out_trade_no: r.out_trade_no }]);
  expect(acct.orders[0]).toMatchObject({ out_trade_no: r.out_trade_no, status: 1, user_order_success: true });
});
