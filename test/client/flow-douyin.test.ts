/** Douyin mini program (mp-toutiao): uni.requestPayment → tt.pay with service 5; its `code` decides the path. */
import { VkPayClient } from '../../uni_modules/vk-uni-pay/js_sdk/client';
import { normalizePlatform } from '../../uni_modules/vk-uni-pay/js_sdk/platform';
import type { PayOptions } from '../../uni_modules/vk-uni-pay/js_sdk/types';
import { FakeCloud, FakeUni, PAID, created, env, makeDeps, recorder } from './fakes';

const SHOP = { name: 'demo-shop', method: 'createRechargeOrder' };
const INFO = { order_id: 'N7100000000000000001', order_token: 'CgwIARDiDRi' };

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function setup(code: number | undefined, options: Partial<PayOptions> = {}) {
  const uni = new FakeUni();
  if (code !== undefined) uni.onPay = (o) => o.success?.({ code });
  const cloud = new FakeCloud()
    .on('demo-shop.createRechargeOrder', () => created('douyin_mp-toutiao', INFO))
    .on('vk-pay.queryPayment', () => PAID);
  const rec = recorder();
  const client = new VkPayClient(makeDeps({ uni, cloud, env: env('mp-toutiao') }), options, rec.listeners);
  return { uni, cloud, rec, client };
}

test('mp-toutiao is its own platform (no openid login: Douyin payment needs none)', async () => {
  expect(normalizePlatform('mp-toutiao')).toBe('mp-toutiao');
  const { uni, cloud, client } = setup(0);
  await client.createPayment({ action: SHOP, data: { provider: 'douyin' } });
  expect(uni.logins).toEqual([]);
  expect(cloud.callsTo('demo-shop.createRechargeOrder')[0].data).toEqual({ provider: 'douyin', isPC: false });
});

test('code 0 → the orderInfo goes to tt.pay with service 5 → server confirms → success', async () => {
  const { uni, cloud, rec, client } = setup(0);
  await client.createPayment({ action: SHOP, data: { provider: 'douyin' } });
  expect(uni.payments).toEqual([{ provider: 'toutiao', orderInfo: INFO, service: 5 }]);
  await jest.advanceTimersByTimeAsync(200);
  expect(rec.events).toEqual(['create', 'success']);
  expect(cloud.callsTo('vk-pay.queryPayment')).toHaveLength(1);
});

test('code 9 ("ask your server") always queries, even on the fast path', async () => {
  const { cloud, rec, client } = setup(9, { payOrderInfo: false, awaitNotify: false });
  await client.createPayment({ action: SHOP, data: { provider: 'douyin' } });
  expect(rec.events).toEqual(['create']);
  await jest.advanceTimersByTimeAsync(200);
  expect(cloud.callsTo('vk-pay.queryPayment').length).toBeGreaterThan(0);
  expect(rec.events).toEqual(['create', 'success']);
});

test.each([
  [4, 'cancel'],
  [1, 'fail:request'],
  [2, 'fail:request'],
  [3, 'fail:request'],
])('code %p → %s, no success without the server', async (code, event) => {
  const { cloud, rec, client } = setup(code, { payOrderInfo: false, awaitNotify: false });
  await client.createPayment({ action: SHOP, data: { provider: 'douyin' } });
  await jest.advanceTimersByTimeAsync(500);
  expect(rec.events).toEqual(['create', event]);
  expect(cloud.callsTo('vk-pay.queryPayment')).toHaveLength(0);
});
