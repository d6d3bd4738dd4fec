/**
 * createPayment with WeChat Pay API v3, every scene, end to end: the built plugin in the local
 * runtime, called over the uniCloud client protocol, talking to the v3 sandbox gateway. What the
 * client gets back is checked against what really reached the sandbox and what was stored.
 */
import { createVerify } from 'node:crypto';
import { startTestStack, tradeNo, WEB_PC, type TestStack, CLIENT } from '../helpers/project';
import { WX_APPIDS } from '../../tools/stack';
import type { ClientInfo } from '../../types/unicloud-server';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const MP = CLIENT.mp;
const APP: ClientInfo = { uniPlatform: 'app', appId: '__UNI__TEST', locale: 'zh-Hans', osName: 'android' };
const WEB = CLIENT.web;
const WECHAT_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI';
const MOBILE_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36';
const OPENID = 'oTestOpenid0000000000000001';

const RESULT_KEYS = ['code', 'msg', 'orderInfo', 'out_trade_no', 'provider', 'pay_type', 'needQRcode', 'total_fee', 'platform'].sort();

function data(over: Record<string, unknown> = {}) {
  return { out_trade_no: tradeNo('W'), total_fee: 100, subject: '测试订单', type: 'counted', ...over };
}

function rsaOk(message: string, signature: string): boolean {
  return createVerify('RSA-SHA256').update(message).verify(s.wxMerchant.merchant.certPem, signature, 'base64');
}

/** the request body the sandbox received for this order */
function sent(no: string): Record<string, any> {
  const o = s.wxpay.order(no);
  expect(o).toBeDefined();
  return o!.request as Record<string, any>;
}

describe('scenes', () => {
  test('mp-weixin + openid → JSAPI orderInfo whose paySign verifies with the merchant certificate', async () => {
    const d = data({ openid: OPENID, user_id: 'u-1', nickname: '小明', custom: { note: 'n1', coupon: 3 } });
    const r = await s.createPaymentRaw({ provider: 'wxpay', data: d }, MP);
    expect(Object.keys(r).sort()).toEqual(RESULT_KEYS);
    expect(r).toMatchObject({
      code: 0,
      out_trade_no: d.out_trade_no,
      provider: 'wxpay',
      pay_type: 'wxpay_mp-weixin',
      needQRcode: false,
      total_fee: 100,
      platform: 'mp-weixin',
    });
    const oi = r.orderInfo;
    expect(Object.keys(oi).sort()).toEqual(['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
    const sb = s.wxpay.order(d.out_trade_no)!;
    expect(oi).toMatchObject({ appId: WX_APPIDS.mp, package: `prepay_id=${sb.prepay_id}`, signType: 'RSA' });
    expect(oi.timeStamp).toMatch(/^\d{10}$/);
    expect(Math.abs(Number(oi.timeStamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(rsaOk(`${oi.appId}\n${oi.timeStamp}\n${oi.nonceStr}\n${oi.package}\n`, oi.paySign)).toBe(true);
    // a paySign over anything else must not verify (the check can fail)
    expect(rsaOk(`${oi.appId}\n${oi.timeStamp}\n${oi.nonceStr}\nprepay_id=other\n`, oi.paySign)).toBe(false);
    // what reached the gateway
    expect(sb.trade_type).toBe('JSAPI');
    expect(sent(d.out_trade_no)).toMatchObject({
      appid: WX_APPIDS.mp,
      mchid: s.wxMerchant.mchid,
      description: '测试订单',
      amount: { total: 100, currency: 'CNY' },
      payer: { openid: OPENID },
    });
    expect(sent(d.out_trade_no).notify_url).toBe(`${s.url}/http/vk-pay/paymentNotify/wxpay_mp-weixin/${d.out_trade_no}`);
    // what was stored
    const order = await s.order(d.out_trade_no);
    expect(order).toMatchObject({
      status: 0,
      out_trade_no: d.out_trade_no,
      total_fee: 100,
      provider: 'wxpay',
      pay_type: 'wxpay_mp-weixin',
      platform: 'mp-weixin',
      uni_platform: 'mp-weixin',
      type: 'counted',
      openid: OPENID,
      user_id: 'u-1',
      nickname: '小明',
      client_ip: '127.0.0.1',
      custom: { note: 'n1', coupon: 3 },
      notify_url: `${s.url}/http/vk-pay`,
      notify_path: `/paymentNotify/wxpay_mp-weixin/${d.out_trade_no}`,
    });
    expect(order!.notify_url + order!.notify_path).toBe(sent(d.out_trade_no).notify_url);
    expect(await s.orders(d.out_trade_no)).toHaveLength(1);
  });

  test('app → APP orderInfo whose sign verifies over appid, timestamp, noncestr, prepayid', async () => {
    const d = data();
    const r = await s.createPaymentRaw({ provider: 'wxpay', data: d }, APP);
    expect(Object.keys(r).sort()).toEqual(RESULT_KEYS);
    expect(r).toMatchObject({ code: 0, pay_type: 'wxpay_app-plus', platform: 'app-plus', needQRcode: false });
    const oi = r.orderInfo;
    const sb = s.wxpay.order(d.out_trade_no)!;
    expect(sb.trade_type).toBe('APP');
    expect(oi).toMatchObject({ appid: WX_APPIDS.app, partnerid: s.wxMerchant.mchid, prepayid: sb.prepay_id, package: 'Sign=WXPay' });
    expect(rsaOk(`${oi.appid}\n${oi.timestamp}\n${oi.noncestr}\n${oi.prepayid}\n`, oi.sign)).toBe(true);
    expect(rsaOk(`${oi.appid}\n${oi.timestamp}\n${oi.noncestr}\nprepay_id=${oi.prepayid}\n`, oi.sign)).toBe(false);
    expect(await s.order(d.out_trade_no)).toMatchObject({
      status: 0,
      pay_type: 'wxpay_app-plus',
      platform: 'app-plus',
      uni_platform: 'app',
    });
  });

  test('web inside WeChat (MicroMessenger UA) → JSAPI for the official account, openid required', async () => {
    const no = tradeNo('W');
    const refused = await s.createPaymentVia({ provider: 'wxpay', data: data({ out_trade_no: no }) }, WEB, { userAgent: WECHAT_UA });
    expect(refused.errCode).toBe(1006);
    expect(await s.order(no)).toBeNull();
    const d = data({ openid: OPENID });
    const r = await s.createPaymentVia({ provider: 'wxpay', data: d }, WEB, { userAgent: WECHAT_UA });
    expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_h5-weixin', platform: 'h5', needQRcode: false });
    expect(r.orderInfo).toMatchObject({ appId: WX_APPIDS.oa, signType: 'RSA' });
    expect(
      rsaOk(`${r.orderInfo.appId}\n${r.orderInfo.timeStamp}\n${r.orderInfo.nonceStr}\n${r.orderInfo.package}\n`, r.orderInfo.paySign),
    ).toBe(true);
    expect(s.wxpay.order(d.out_trade_no)!.trade_type).toBe('JSAPI');
    expect(sent(d.out_trade_no).payer).toEqual({ openid: OPENID });
    expect(await s.order(d.out_trade_no)).toMatchObject({ pay_type: 'wxpay_h5-weixin', platform: 'h5', uni_platform: 'web' });
  });

  test('web isPC → NATIVE codeUrl (also inside the WeChat desktop browser)', async () => {
    const d = data();
    const r = await s.createPaymentVia({ provider: 'wxpay', isPC: true, data: d }, WEB, { userAgent: `${WECHAT_UA} WindowsWechat` });
    expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_h5', platform: 'h5', needQRcode: true });
    expect(r.orderInfo).toEqual({ codeUrl: s.wxpay.order(d.out_trade_no)!.code_url });
    expect(s.wxpay.order(d.out_trade_no)!.trade_type).toBe('NATIVE');
    expect(r.qrcodeImage).toBeUndefined();
  });

  test('mobile web → H5 mwebUrl; the payer IP (x-forwarded-for) and h5_info reach the gateway', async () => {
    const d = data();
    const r = await s.createPaymentVia({ provider: 'wxpay', data: d }, WEB, { userAgent: MOBILE_UA, forwardedFor: '203.0.113.7' });
    expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_mweb', platform: 'h5', needQRcode: false });
    const sb = s.wxpay.order(d.out_trade_no)!;
    expect(sb.trade_type).toBe('MWEB');
    expect(r.orderInfo).toEqual({ mwebUrl: sb.h5_url });
    expect(sent(d.out_trade_no).scene_info).toEqual({
      payer_client_ip: '203.0.113.7',
      h5_info: { type: 'Wap', app_url: 'http://127.0.0.1', app_name: 'vk-uni-pay 演示' },
    });
    expect(await s.order(d.out_trade_no)).toMatchObject({ client_ip: '203.0.113.7', pay_type: 'wxpay_mweb' });
  });

  test.each([
    ['mp-weixin', MP],
    ['app', APP],
    ['web (mobile)', WEB],
  ])('needQRcode: true in %s → NATIVE QR, no openid needed', async (_n, ci) => {
    const d = data();
    const r = await s.createPaymentRaw({ provider: 'wxpay', needQRcode: true, data: d }, ci);
    expect(Object.keys(r).sort()).toEqual(RESULT_KEYS);
    expect(r).toMatchObject({ code: 0, pay_type: 'wxpay_h5', needQRcode: true });
    expect(r.orderInfo.codeUrl).toBe(s.wxpay.order(d.out_trade_no)!.code_url);
    expect(s.wxpay.order(d.out_trade_no)!.trade_type).toBe('NATIVE');
  });

  test("needQRcode: 'image' → qrcodeImage is a PNG data URL", async () => {
    const d = data();
    const r = await s.createPaymentRaw({ provider: 'wxpay', needQRcode: 'image', data: d }, APP);
    expect(Object.keys(r).sort()).toEqual([...RESULT_KEYS, 'qrcodeImage'].sort());
    expect(r).toMatchObject({ code: 0, pay_type: 'wxpay_h5', needQRcode: true });
    expect(r.qrcodeImage).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    const png = Buffer.from(r.qrcodeImage.slice('data:image/png;base64,'.length), 'base64');
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect(png.length).toBeGreaterThan(200);
  });

  test('a mini-program payment is paid in the sandbox, notified and handled once', async () => {
    const d = data({ openid: OPENID, custom: { note: 'mp' } });
    expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
    await s.wxpay.pay(d.out_trade_no);
    await s.wxpay.waitForDelivery(d.out_trade_no, (x) => x.acknowledged, 15_000);
    const calls = await s.handlerCalls(d.out_trade_no);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ total_fee: 100, custom_note: 'mp' });
    expect(await s.order(d.out_trade_no)).toMatchObject({
      status: 1,
      user_order_success: true,
      transaction_id: s.wxpay.order(d.out_trade_no)!.transaction_id,
    });
  });
});

describe('time_expire (TZ=UTC on the host, Beijing time at the gateway)', () => {
  /** independent expectation: Beijing wall clock of ms */
  const rfc3339 = (ms: number) => `${new Date(ms + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;

  test('arrives at v3 as RFC 3339 with +08:00', async () => {
    expect(process.env.TZ).toBe('UTC');
    const te = Math.floor((Date.now() + 10 * 60_000) / 1000) * 1000;
    const d = data({ openid: OPENID, time_expire: te });
    expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
    expect(sent(d.out_trade_no).time_expire).toBe(rfc3339(te));
    expect(sent(d.out_trade_no).time_expire).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(s.wxpay.order(d.out_trade_no)!.time_expire).toBe(te);
    expect(await s.order(d.out_trade_no)).toMatchObject({ time_expire: te });
  });

  test('QR minimum is 1 minute (1012 below it), other WeChat scenes 5 minutes', async () => {
    const tooSoonQr = data({ time_expire: Date.now() + 50_000 });
    const r1 = await s.createPayment({ provider: 'wxpay', isPC: true, data: tooSoonQr }, WEB_PC);
    expect(r1.errCode).toBe(1012);
    expect(await s.order(tooSoonQr.out_trade_no)).toBeNull();
    expect(s.wxpay.order(tooSoonQr.out_trade_no)).toBeUndefined();
    const okQr = data({ time_expire: Date.now() + 2 * 60_000 });
    expect((await s.createPayment({ provider: 'wxpay', isPC: true, data: okQr }, WEB_PC)).errCode).toBe(0);
    // 2 minutes is enough for a QR code but not for the mini program
    const tooSoonMp = data({ openid: OPENID, time_expire: Date.now() + 2 * 60_000 });
    expect((await s.createPayment({ provider: 'wxpay', data: tooSoonMp }, MP)).errCode).toBe(1012);
    const okMp = data({ openid: OPENID, time_expire: Date.now() + 6 * 60_000 });
    expect((await s.createPayment({ provider: 'wxpay', data: okMp }, MP)).errCode).toBe(0);
    // not a 13-digit ms timestamp
    const seconds = data({ openid: OPENID, time_expire: Math.floor(Date.now() / 1000) + 600 });
    expect((await s.createPayment({ provider: 'wxpay', data: seconds }, MP)).errCode).toBe(1012);
  });

  test.each([
    ['appleiap', APP],
    ['vkspay', WEB],
  ])('%s refuses time_expire with 1013 before any provider call', async (provider, ci) => {
    const d = data({ time_expire: Date.now() + 10 * 60_000 });
    const r = await s.createPaymentRaw({ provider, data: d }, ci);
    expect(r.code).toBe(1013);
    expect(r.msg).toContain(provider);
    expect(r.msg_en).toContain(`${provider} does not support time_expire`);
    expect(await s.order(d.out_trade_no)).toBeNull();
  });
});

describe('other: passed to the provider as-is, never overriding the order', () => {
  test('attach and goods_tag reach the gateway; the amount stays the order amount', async () => {
    const d = data({ openid: OPENID, total_fee: 321, other: { attach: 'biz-42', goods_tag: 'WXG' } });
    expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
    expect(sent(d.out_trade_no)).toMatchObject({ attach: 'biz-42', goods_tag: 'WXG', amount: { total: 321, currency: 'CNY' } });
    expect(s.wxpay.order(d.out_trade_no)!.total).toBe(321);
  });
});

describe('client context shapes give the same pay type', () => {
  const cases: Array<[string, Record<string, unknown>, ClientInfo, Record<string, unknown>, string]> = [
    [
      'mp-weixin',
      { PLATFORM: 'mp-weixin', APPID: '__UNI__TEST', CLIENTIP: '198.51.100.1', SPACEINFO: { provider: 'aliyun', spaceId: 'local-space' } },
      MP,
      { openid: OPENID },
      'wxpay_mp-weixin',
    ],
    [
      'app-plus',
      { PLATFORM: 'app-plus', APPID: '__UNI__TEST', CLIENTIP: '198.51.100.1', SPACEINFO: { provider: 'aliyun', spaceId: 'local-space' } },
      APP,
      {},
      'wxpay_app-plus',
    ],
    [
      'h5 in WeChat',
      {
        PLATFORM: 'h5',
        APPID: '__UNI__TEST',
        CLIENTIP: '198.51.100.1',
        CLIENTUA: WECHAT_UA,
        SPACEINFO: { provider: 'aliyun', spaceId: 'local-space' },
      },
      { ...WEB, ua: WECHAT_UA },
      { openid: OPENID },
      'wxpay_h5-weixin',
    ],
    [
      'h5 mobile',
      {
        PLATFORM: 'h5',
        APPID: '__UNI__TEST',
        CLIENTIP: '198.51.100.1',
        CLIENTUA: MOBILE_UA,
        SPACEINFO: { provider: 'aliyun', spaceId: 'local-space' },
      },
      { ...WEB, ua: MOBILE_UA },
      {},
      'wxpay_mweb',
    ],
  ];

  test.each(cases)('%s: classic cloud-function context', async (_n, ctx, ci, extra, payType) => {
    const viaClientInfo = await s.createPayment({ provider: 'wxpay', data: data(extra) }, ci);
    expect(viaClientInfo).toMatchObject({ errCode: 0, pay_type: payType });
    const d = data(extra);
    const viaContext = await s.createPayment({ provider: 'wxpay', context: ctx, data: d }, WEB_PC);
    expect(viaContext).toMatchObject({ errCode: 0, pay_type: payType });
    // the context's own client IP is used, not the caller's
    expect(await s.order(d.out_trade_no)).toMatchObject({ pay_type: payType, client_ip: '198.51.100.1' });
    if (payType === 'wxpay_mweb') expect(sent(d.out_trade_no).scene_info.payer_client_ip).toBe('198.51.100.1');
  });

  test('VK originalParam.context (cloud-function context plus uni-app client info)', async () => {
    // what vk-unicloud hands a cloud function: the function context, with the uploaded client info merged in
    const vkContext = {
      PLATFORM: 'mp-weixin',
      APPID: '__UNI__TEST',
      CLIENTIP: '198.51.100.2',
      CLIENTUA: '',
      DEVICEID: 'dev-1',
      SPACEINFO: { provider: 'aliyun', spaceId: 'local-space' },
      uniPlatform: 'mp-weixin',
      appId: '__UNI__TEST',
      deviceId: 'dev-1',
      osName: 'ios',
      locale: 'zh-Hans',
    };
    const d = data({ openid: OPENID });
    const r = await s.createPayment({ provider: 'wxpay', context: vkContext, data: d }, WEB_PC);
    expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_mp-weixin', platform: 'mp-weixin' });
    expect(await s.order(d.out_trade_no)).toMatchObject({ pay_type: 'wxpay_mp-weixin', client_ip: '198.51.100.2', device_id: 'dev-1' });
  });

  test('a context of another space, missing from notifyUrl → 101', async () => {
    const d = data();
    const r = await s.createPaymentRaw(
      {
        provider: 'wxpay',
        context: { PLATFORM: 'app-plus', CLIENTIP: '198.51.100.1', SPACEINFO: { provider: 'aliyun', spaceId: 'space-not-configured' } },
        data: d,
      },
      WEB_PC,
    );
    expect(r.code).toBe(101);
    expect(r.msg).toContain('space-not-configured');
    expect(r.msg_en).toContain('notifyUrl');
    expect(await s.order(d.out_trade_no)).toBeNull();
    expect(s.wxpay.order(d.out_trade_no)).toBeUndefined();
  });
});
