/** Huawei Pay on the client: a HarmonyOS app and an atomic service hand the orderStr to uni.requestPayment({ provider: 'huawei' }). */
import { VkPayClient } from '../../uni_modules/vk-uni-pay/js_sdk/client';
import { normalizePlatform } from '../../uni_modules/vk-uni-pay/js_sdk/platform';
import { FakeCloud, FakeUni, PAID, created, env, makeDeps, recorder } from './fakes';

const SHOP = { name: 'demo-shop', method: 'createOrder' };
const ORDER_STR =
  '{"app_id":"5765880207854262001","merc_no":"101540000089","prepay_id":"pp1","timestamp":"1764558000123","noncestr":"n","auth_id":"1202","sign":"s"}';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('app-harmony is an App, mp-harmony an atomic service', () => {
  expect(normalizePlatform('app-harmony')).toBe('app');
  expect(normalizePlatform('mp-harmony')).toBe('mp-harmony');
});

test.each([
  ['app-harmony', 'huawei_app-plus'],
  ['mp-harmony', 'huawei_mp-harmony'],
])('%s: the orderStr goes to uni.requestPayment as is, then the server confirms', async (platform, payType) => {
  const uni = new FakeUni();
  const cloud = new FakeCloud().on('demo-shop.createOrder', () => created(payType, ORDER_STR)).on('vk-pay.queryPayment', () => PAID);
  const rec = recorder();
  const client = new VkPayClient(makeDeps({ uni, cloud, env: env(platform) }), {}, rec.listeners);
  await client.createPayment({ action: SHOP, data: { provider: 'huawei' } });
  expect(uni.payments).toEqual([{ provider: 'huawei', orderInfo: ORDER_STR }]);
  await jest.advanceTimersByTimeAsync(200);
  expect(rec.events).toEqual(['create', 'success']);
  expect(rec.successes[0]).toMatchObject({ out_trade_no: 'T1', orderPaid: true, provider: 'huawei', pay_type: payType });
  // no openid is fetched for Huawei Pay
  expect(uni.logins).toEqual([]);
});
