/**
 * Multi-merchant mode (`data.pid` → a `vk-pay-config` document, keys as content strings) end to
 * end: a second WeChat Pay merchant in its own sandbox receives the order, its notification is
 * verified with its own keys only, and missing configurations give their codes.
 */
import { createVerify } from 'node:crypto';
import { startTestStack, tradeNo, type TestStack, CLIENT } from '../helpers/project';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { alipayNodeConfig } from '../../tools/sandbox/alipay/testkit';

const MP = CLIENT.mp;
const OPENID = 'oTestOpenid0000000000000006';
const APPID_MP2 = 'wx5000000000000005';
const APPID_WEB2 = 'wx5000000000000006';

let s: TestStack;
let wx2: WxpaySandbox;
let m2: WxpaySandboxMerchant;
const PID = `m2-${Date.now().toString(36)}`;
const PID_NO_WX = `m3-${Date.now().toString(36)}`;

function node2(appId: string) {
  return {
    appId,
    mchId: m2.mchid,
    version: 3,
    v3Key: m2.apiV3Key,
    appCertContent: m2.merchant.certPem,
    appPrivateKeyContent: m2.merchant.keyPem,
    wxpayPublicKeyContent: m2.publicKey.publicKeyPem,
    wxpayPublicKeyId: m2.publicKeyId,
    gateway: wx2.url,
  };
}

beforeAll(async () => {
  s = await startTestStack();
  m2 = await createWxpayMerchant({ appids: [APPID_MP2, APPID_WEB2], signMode: 'public-key' });
  wx2 = await startWxpaySandbox({ merchants: [m2], port: 0, quiet: true, retryDelaysMs: [400, 800, 1600] });
  await s.addMerchantConfig({
    _id: PID,
    wxpay: { 'mp-weixin': node2(APPID_MP2), h5: node2(APPID_WEB2) },
    alipay: { h5: alipayNodeConfig(s.alipayApp, s.alipay) },
  });
  await s.addMerchantConfig({ _id: PID_NO_WX, alipay: { h5: alipayNodeConfig(s.alipayApp, s.alipay) } });
}, 60_000);
afterAll(async () => {
  await wx2?.close();
  await s?.close();
});

function data(over: Record<string, unknown> = {}) {
  return { out_trade_no: tradeNo('P'), total_fee: 100, subject: '多商户', type: 'counted', openid: OPENID, pid: PID, ...over };
}

test('a pid order goes to the second merchant, is stored with its pid and settles from its notification', async () => {
  const d = data({ custom: { note: 'm2' } });
  const r = await s.createPayment({ provider: 'wxpay', data: d }, MP);
  expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_mp-weixin' });
  // the request reached the second sandbox, as the second merchant, and never the first
  const o2 = wx2.order(d.out_trade_no, m2.mchid);
  expect(o2).toMatchObject({ mchid: m2.mchid, appid: APPID_MP2, total: 100, trade_type: 'JSAPI' });
  expect(s.wxpay.order(d.out_trade_no)).toBeUndefined();
  // client parameters are signed with the second merchant's key
  const oi = r.orderInfo;
  expect(oi).toMatchObject({ appId: APPID_MP2, package: `prepay_id=${o2!.prepay_id}` });
  const msg = `${oi.appId}\n${oi.timeStamp}\n${oi.nonceStr}\n${oi.package}\n`;
  expect(createVerify('RSA-SHA256').update(msg).verify(m2.merchant.certPem, oi.paySign, 'base64')).toBe(true);
  expect(createVerify('RSA-SHA256').update(msg).verify(s.wxMerchant.merchant.certPem, oi.paySign, 'base64')).toBe(false);
  expect(await s.order(d.out_trade_no)).toMatchObject({ status: 0, pid: PID, mch_id: m2.mchid, provider_appid: APPID_MP2 });
  // the second merchant's notification (its own v3 key and public key) is verified
  await wx2.pay(d.out_trade_no, { mchid: m2.mchid });
  await wx2.waitForDelivery(d.out_trade_no, (x) => x.acknowledged, 15_000);
  expect(await s.handlerCalls(d.out_trade_no)).toHaveLength(1);
  expect(await s.order(d.out_trade_no)).toMatchObject({ status: 1, user_order_success: true, transaction_id: o2!.transaction_id });
});

test('a notification signed by the FIRST merchant for a pid order is refused; nothing written', async () => {
  const d = data({ openid: undefined });
  expect((await s.createPayment({ provider: 'wxpay', isPC: true, data: d }, { ...MP, uniPlatform: 'web' })).errCode).toBe(0);
  expect(wx2.order(d.out_trade_no, m2.mchid)).toMatchObject({ trade_type: 'NATIVE', appid: APPID_WEB2 });
  const tx = (mchid: string, appid: string) => ({
    appid,
    mchid,
    out_trade_no: d.out_trade_no,
    transaction_id: '4200000000202611270000000002',
    trade_type: 'NATIVE',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    success_time: '2026-11-27T19:00:00+08:00',
    payer: { openid: OPENID },
    amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
  });
  for (const content of [tx(m2.mchid, APPID_WEB2), tx(s.wxMerchant.mchid, s.config.wxpay.h5.appId)]) {
    const n = s.wxpay.buildPaymentNotification(s.wxMerchant.mchid, content);
    const r = await s.notify('wxpay_h5', d.out_trade_no, n.body, { ...n.headers, 'content-type': 'application/json' });
    expect(r.status).toBe(500);
  }
  const order = await s.order(d.out_trade_no);
  expect(order).toMatchObject({ status: 0, pid: PID });
  expect(order!.transaction_id).toBeUndefined();
  expect(await s.handlerCalls(d.out_trade_no)).toHaveLength(0);
  // the same content signed by the second merchant is accepted
  const good = wx2.buildPaymentNotification(m2.mchid, tx(m2.mchid, APPID_WEB2));
  expect((await s.notify('wxpay_h5', d.out_trade_no, good.body, { ...good.headers, 'content-type': 'application/json' })).status).toBe(200);
  expect(await s.order(d.out_trade_no)).toMatchObject({ status: 1, user_order_success: true });
});

test('the same order number without pid and the first merchant are untouched by pid orders', async () => {
  const d = data({ pid: undefined });
  expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
  expect(s.wxpay.order(d.out_trade_no)).toMatchObject({ mchid: s.wxMerchant.mchid });
  expect(wx2.order(d.out_trade_no, m2.mchid)).toBeUndefined();
  expect((await s.order(d.out_trade_no))!.pid).toBeUndefined();
});

test('alipay with pid uses the alipay node of the merchant document', async () => {
  const d = data({ openid: undefined });
  const r = await s.createPayment({ provider: 'alipay', isPC: true, data: d }, { ...MP, uniPlatform: 'web' });
  expect(r).toMatchObject({ errCode: 0, pay_type: 'alipay_h5' });
  expect(await s.order(d.out_trade_no)).toMatchObject({ pid: PID, provider: 'alipay' });
});

test('an unknown pid → 105, nothing stored or sent', async () => {
  const d = data({ pid: 'no-such-merchant' });
  const r = await s.createPaymentRaw({ provider: 'wxpay', data: d }, MP);
  expect(r.code).toBe(105);
  expect(r.msg).toContain('no-such-merchant');
  expect(r.msg_en).toMatch(/vk-pay-config/);
  expect(await s.order(d.out_trade_no)).toBeNull();
  expect(s.wxpay.order(d.out_trade_no)).toBeUndefined();
});

test('a pid document without the wxpay node → 103 naming the node', async () => {
  const d = data({ pid: PID_NO_WX });
  const r = await s.createPaymentRaw({ provider: 'wxpay', data: d }, MP);
  expect(r.code).toBe(103);
  expect(r.msg_en).toContain('wxpay.mp-weixin');
  expect(await s.order(d.out_trade_no)).toBeNull();
  expect(s.wxpay.order(d.out_trade_no)).toBeUndefined();
});
