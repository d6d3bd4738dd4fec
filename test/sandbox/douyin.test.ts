/**
 * The Douyin adapter against the Douyin sandbox peer, both directions with real signatures: the
 * peer checks every request's salt signature; the adapter checks every notification's Token
 * signature. No runtime here (test/e2e/douyin.test.ts runs the whole plugin).
 */
import { startDouyinSandbox, type DouyinSandbox, type DouyinApp } from '../../tools/sandbox/douyin';
import { startLoopbackServer, nodeTransport, type LoopbackServer } from '../../tools/sandbox/loopback';
import { adapter, type DouyinConfig } from '../../uni_modules/vk-uni-pay/server/providers/douyin';
import type { CreateOrderInput, NotifyEvent, ProviderContext } from '../../uni_modules/vk-uni-pay/server/providers/types';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { isGatewayFailure } from '../../uni_modules/vk-uni-pay/server/core/gateway-failure';

const APP: DouyinApp = {
  appId: 'tt0000000000000001',
  salt: 'salt-' + Math.random().toString(36).slice(2),
  token: 'tok-x1',
  mchId: 'M7000000000001',
};
let dy: DouyinSandbox;
let plugin: LoopbackServer;
let ctx: ProviderContext<DouyinConfig>;
const events: NotifyEvent[] = [];

beforeAll(async () => {
  dy = await startDouyinSandbox({ apps: [APP, { appId: 'tt0000000000000002', salt: 's2', token: 't2', mchId: 'M2' }] });
  ctx = { config: { ...APP, gateway: dy.url }, http: nodeTransport(), clock: { now: () => Date.now() }, cache: memoryCache() };
  plugin = await startLoopbackServer(async (req) => {
    let r;
    try {
      events.push(
        await adapter.verifyNotify({ method: req.method, path: req.path, headers: req.headers, query: req.query, body: req.body }, ctx),
      );
      r = adapter.notifyReply(true);
    } catch (e) {
      r = adapter.notifyReply(false, String(e));
    }
    return { status: r.statusCode, headers: r.headers, body: r.body };
  });
});
afterAll(async () => {
  await dy.close();
  await plugin.close();
});

const no = () => `DY${Date.now()}${Math.floor(Math.random() * 1e6)}`;
const input = (out_trade_no: string, total_fee: number, over: Partial<CreateOrderInput> = {}): CreateOrderInput => ({
  payType: 'douyin_mp-toutiao' as CreateOrderInput['payType'],
  platformKey: 'mp-toutiao' as CreateOrderInput['platformKey'],
  out_trade_no,
  total_fee,
  subject: '抖音测试商品',
  notify_url: `${plugin.url}/paymentNotify/douyin_mp-toutiao/${out_trade_no}`,
  client_ip: '127.0.0.1',
  needQRcode: false,
  other: {},
  extra: {},
  ...over,
});

test('create_order → orderInfo {order_id, order_token} → pay → signed notification verified → query_order PAID', async () => {
  const o = no();
  const created = await adapter.createOrder(input(o, 1234), ctx);
  const peer = dy.order(o)!;
  expect(created.orderInfo).toEqual({ order_id: peer.order_id, order_token: peer.order_token });
  expect((await adapter.queryOrder({ out_trade_no: o }, ctx)).state).toBe('PAYING');
  await dy.pay(o, '1');
  await dy.waitForDelivery(o);
  const ev = events.find((e) => e.kind === 'payment' && e.out_trade_no === o);
  expect(ev).toMatchObject({ kind: 'payment', paid: true, total_fee: 1234, transaction_id: peer.order_id, appid: APP.appId });
  expect(ev).toMatchObject({ info: { provider_pay_method: 'wxpay', way: '1' } });
  const q = await adapter.queryOrder({ out_trade_no: o }, ctx);
  expect(q).toMatchObject({ state: 'PAID', total_fee: 1234, transaction_id: peer.order_id });
  // pay_time is Beijing time on the wire: parsed back to the same second
  expect(Math.abs(q.pay_date! - peer.paid_at!)).toBeLessThan(1000);
});

test('refund is only accepted (PROCESSING); the signed refund notification and query_refund give SUCCESS', async () => {
  const o = no();
  await adapter.createOrder(input(o, 500), ctx);
  await dy.pay(o);
  await dy.waitForDelivery(o);
  const r = await adapter.refund!(
    { out_trade_no: o, out_refund_no: `${o}-1`, total_fee: 500, refund_fee: 200, notify_url: input(o, 1).notify_url },
    ctx,
  );
  expect(r).toMatchObject({ state: 'PROCESSING', refund_fee: 200 });
  await dy.waitForDelivery(`refund:${o}-1`);
  expect(events.find((e) => e.kind === 'refund' && e.out_refund_no === `${o}-1`)).toMatchObject({ out_trade_no: o, refund_fee: 200 });
  expect(await adapter.queryRefund!({ out_trade_no: o, out_refund_no: `${o}-1` }, ctx)).toMatchObject({
    state: 'SUCCESS',
    refund_fee: 200,
    refund_id: r.refund_id,
  });
});

test('an unknown order is NOT_FOUND; a wrong salt is a verified final refusal (err_no 2008)', async () => {
  expect((await adapter.queryOrder({ out_trade_no: no() }, ctx)).state).toBe('NOT_FOUND');
  const bad = { ...ctx, config: { ...ctx.config, salt: 'wrong' } };
  const e = await adapter.queryOrder({ out_trade_no: no() }, bad).catch((x) => x);
  expect(isGatewayFailure(e)).toBe(true);
  expect(e).toMatchObject({ key: 'GATEWAY_ERROR', providerCode: '2008', verified: true, retryable: false });
});

test('the balance query reads the alipay channel account in fen, under vk-uni-pay names', async () => {
  dy.balance.withdrawable = 12345;
  dy.balance.freeze = 7;
  const b = await adapter.queryBalance!(ctx);
  expect(b).toMatchObject({ withdrawableAmount: 12345, availableAmount: 12345, freezeAmount: 7 });
  expect(Number.isSafeInteger(b.onlineAmount)).toBe(true);
});

test('notifications: forged token, tampered msg and another app are refused with err_no 1', async () => {
  const o = no();
  await adapter.createOrder(input(o, 100), ctx);
  const url = input(o, 1).notify_url;
  const msg = { appid: APP.appId, cp_orderno: o, total_amount: 100, status: 'SUCCESS', order_id: 'N1', way: '2' };
  const forged = dy.buildNotification('payment', msg, { token: 'not-the-token' });
  expect(JSON.parse((await dy.post(url, forged.body)).body)).toMatchObject({ err_no: 1 });
  const good = dy.buildNotification('payment', msg);
  const tampered = good.body.replace('\\"total_amount\\":100', '\\"total_amount\\":1');
  expect(tampered).not.toBe(good.body);
  expect(JSON.parse((await dy.post(url, tampered)).body)).toMatchObject({ err_no: 1 });
  const other = dy.buildNotification('payment', { ...msg, appid: 'tt0000000000000002' }, { appId: APP.appId });
  expect(JSON.parse((await dy.post(url, other.body)).body)).toMatchObject({ err_no: 1 });
  expect(JSON.parse((await dy.post(url, good.body)).body)).toEqual({ err_no: 0, err_tips: 'success' });
});
