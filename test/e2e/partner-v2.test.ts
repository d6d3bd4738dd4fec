/**
 * WeChat Pay service-provider (服务商) mode on API v2 end to end: 统一下单 / 查单 / 关单 with the
 * service provider's appid / mch_id plus the order's sub_mch_id (and sub_appid, sub_openid), the
 * client parameters for the sub-merchant's app, and the v2 notification matched on sub_mch_id.
 */
import { startTestStack, tradeNo, WEB_PC, CLIENT, expectUntouched, type TestStack } from '../helpers/project';
import { v2Sign, toXml } from '../../tools/sandbox/wxpay';
import { WX_APPIDS, WX_SUB_MERCHANTS } from '../../tools/stack';

const SUB = WX_SUB_MERCHANTS[0];
const OTHER_SUB = WX_SUB_MERCHANTS[1];

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack({ wxVersion: 2 });
}, 60_000);
afterAll(() => s?.close());

const queryPayment = (no: string, extra: Record<string, unknown> = {}) =>
  s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, ...extra }]);
const data = (over: Record<string, unknown> = {}) => ({
  out_trade_no: tradeNo('SV'),
  total_fee: 100,
  subject: '服务商v2',
  type: 'counted',
  ...over,
});

/** a signed v2 payment notification for a partner order (what the gateway posts), fields replaceable */
function notification(no: string, over: Record<string, string | number> = {}) {
  const f: Record<string, string | number> = {
    appid: WX_APPIDS.oa,
    mch_id: s.wxMerchant.mchid,
    sub_mch_id: SUB.sub_mchid,
    nonce_str: 'n0nce000000000000000000000000001',
    result_code: 'SUCCESS',
    return_code: 'SUCCESS',
    openid: 'o-sp-user',
    out_trade_no: no,
    total_fee: 100,
    cash_fee: 100,
    fee_type: 'CNY',
    bank_type: 'OTHERS',
    trade_type: 'NATIVE',
    transaction_id: '4200000000202612010000000001',
    time_end: '20261201120000',
    ...over,
  };
  f.sign = v2Sign(f, s.wxMerchant.apiV2Key, 'MD5');
  return toXml(f);
}

test('JSAPI for the sub-merchant’s mini program: sub_mch_id + sub_appid + sub_openid; paySign names the sub-merchant’s app; paid, notified, handled once', async () => {
  const d = data({ openid: 'o-sub-user', sub_mchid: SUB.sub_mchid, sub_appid: SUB.appids[0] });
  const r = await s.createPayment({ provider: 'wxpay', data: d }, CLIENT.mp);
  expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_mp-weixin' });
  const sent = s.wxpay.order(d.out_trade_no)!.request as Record<string, string>;
  expect(sent).toMatchObject({
    appid: WX_APPIDS.mp,
    mch_id: s.wxMerchant.mchid,
    sub_mch_id: SUB.sub_mchid,
    sub_appid: SUB.appids[0],
    sub_openid: 'o-sub-user',
  });
  expect(sent.openid).toBeUndefined();
  expect(r.orderInfo.appId).toBe(SUB.appids[0]);
  await s.wxpay.pay(d.out_trade_no);
  await s.wxpay.waitForDelivery(d.out_trade_no, (x) => x.acknowledged, 15_000);
  expect(await s.handlerCalls(d.out_trade_no)).toHaveLength(1);
  expect(await queryPayment(d.out_trade_no, { await_notify: true })).toMatchObject({ orderPaid: true, user_order_success: true });
  expect(await s.order(d.out_trade_no)).toMatchObject({ status: 1, sub_mchid: SUB.sub_mchid, openid: 'o-sub-user' });
});

test('APP: partnerid is the sub-merchant, appid the sub-merchant’s App', async () => {
  const d = data({ sub_mchid: SUB.sub_mchid, sub_appid: SUB.appids[1] });
  const r = await s.createPayment({ provider: 'wxpay', data: d }, CLIENT.app);
  expect(r.orderInfo).toMatchObject({ appid: SUB.appids[1], partnerid: SUB.sub_mchid, package: 'Sign=WXPay' });
  const signed = { ...r.orderInfo };
  delete signed.sign;
  expect(r.orderInfo.sign).toBe(v2Sign(signed, s.wxMerchant.apiV2Key, 'MD5'));
});

test('a lost notification: queryPayment asks 查单 with the order’s sub_mch_id; close names it too', async () => {
  const d = data({ sub_mchid: SUB.sub_mchid });
  expect((await s.createPayment({ provider: 'wxpay', isPC: true, data: d }, WEB_PC)).errCode).toBe(0);
  s.wxpay.order(d.out_trade_no)!.notify_url = 'http://127.0.0.1:9/nowhere';
  await s.wxpay.pay(d.out_trade_no);
  expect(await queryPayment(d.out_trade_no, { await_notify: true })).toMatchObject({ orderPaid: true, user_order_success: true });
  expect(await s.order(d.out_trade_no)).toMatchObject({ status: 1, notify_mode: 0 });

  const c = data({ sub_mchid: SUB.sub_mchid });
  expect((await s.createPayment({ provider: 'wxpay', isPC: true, data: c }, WEB_PC)).errCode).toBe(0);
  expect((await s.call('test-shop', 'closeOrder', [{ out_trade_no: c.out_trade_no }])).result).toMatchObject({ code: 0, status: -1 });
  expect(s.wxpay.order(c.out_trade_no)!.trade_state).toBe('CLOSED');
});

test('v2 notifications for another sub-merchant, or without one, are refused and write nothing; the right one settles', async () => {
  const d = data({ sub_mchid: SUB.sub_mchid });
  expect((await s.createPayment({ provider: 'wxpay', isPC: true, data: d }, WEB_PC)).errCode).toBe(0);
  const post = (body: string) => s.notify('wxpay_h5', d.out_trade_no, body, { 'content-type': 'text/xml' });
  expect((await post(notification(d.out_trade_no, { sub_mch_id: OTHER_SUB.sub_mchid }))).status).toBe(500);
  // a genuine direct-merchant notification (signed, no sub_mch_id) for this partner order
  expect((await post(notification(d.out_trade_no, { sub_mch_id: '' }))).status).toBe(500);
  await expectUntouched(s, d.out_trade_no);
  expect((await post(notification(d.out_trade_no))).status).toBe(200);
  expect(await s.handlerCalls(d.out_trade_no)).toHaveLength(1);
});
