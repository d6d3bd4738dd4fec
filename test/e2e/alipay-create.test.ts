/**
 * Alipay end to end (key mode): every createPayment scene against the sandbox gateway (what
 * reached it is read from `s.alipay.requests`), a payment notified and handled once, and forged or
 * irrelevant notifications that must write nothing.
 */
import { randomBytes } from 'node:crypto';
import { startTestStack, tradeNo, WEB_PC, type TestStack, expectUntouched as expectUntouchedIn, CLIENT } from '../helpers/project';
import type { ClientInfo } from '../../types/unicloud-server';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const MP_ALIPAY = CLIENT.mpAlipay;
const APP = CLIENT.app;
const WEB: ClientInfo = { uniPlatform: 'web', appId: '__UNI__TEST', locale: 'zh-Hans', ua: 'Mozilla/5.0 (iPhone) Mobile Safari' };
const BUYER = '2088102146225135';
const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

function data(over: Record<string, unknown> = {}) {
  return { out_trade_no: tradeNo('A'), total_fee: 100, subject: '测试订单', type: 'counted', ...over };
}

function gatewayCalls(no: string) {
  return s.alipay.requests.filter((r) => r.biz.out_trade_no === no);
}

function only(no: string) {
  const calls = gatewayCalls(no);
  expect(calls).toHaveLength(1);
  return calls[0];
}

/** Beijing `yyyy-MM-dd HH:mm:ss`, computed independently of the plugin */
const beijing = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

describe('scenes', () => {
  test('mp-alipay with a 2088 user id → trade.create, product_code JSAPI_PAY, orderInfo is the trade_no', async () => {
    const d = data({ openid: BUYER });
    const r = await s.createPayment({ provider: 'alipay', data: d }, MP_ALIPAY);
    expect(r).toMatchObject({
      errCode: 0,
      provider: 'alipay',
      pay_type: 'alipay_mp-alipay',
      platform: 'mp-alipay',
      needQRcode: false,
      total_fee: 100,
    });
    const call = only(d.out_trade_no);
    expect(call.method).toBe('alipay.trade.create');
    expect(call.biz).toMatchObject({
      out_trade_no: d.out_trade_no,
      total_amount: '1.00',
      subject: '测试订单',
      product_code: 'JSAPI_PAY',
      buyer_id: BUYER,
    });
    expect(call.params.notify_url).toBe(`${s.url}/http/vk-pay/paymentNotify/alipay_mp-alipay/${d.out_trade_no}`);
    expect(r.orderInfo).toBe(s.alipay.order(d.out_trade_no)!.trade_no);
    expect(await s.order(d.out_trade_no)).toMatchObject({
      status: 0,
      provider: 'alipay',
      pay_type: 'alipay_mp-alipay',
      platform: 'mp-alipay',
      uni_platform: 'mp-alipay',
      openid: BUYER,
    });
  });

  test('other.product_code overrides the default; other keys reach biz_content as-is', async () => {
    const d = data({ openid: BUYER, other: { product_code: 'QUICK_MSECURITY_PAY', goods_type: '1', timeout_express: '90m' } });
    expect((await s.createPayment({ provider: 'alipay', data: d }, MP_ALIPAY)).errCode).toBe(0);
    expect(only(d.out_trade_no).biz).toMatchObject({
      product_code: 'QUICK_MSECURITY_PAY',
      goods_type: '1',
      timeout_express: '90m',
      total_amount: '1.00',
    });
  });

  test('op_app_id + op_buyer_open_id mode works without data.openid', async () => {
    const d = data({ other: { op_app_id: '2021004100000001', op_buyer_open_id: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5' } });
    const r = await s.createPayment({ provider: 'alipay', data: d }, MP_ALIPAY);
    expect(r).toMatchObject({ errCode: 0, pay_type: 'alipay_mp-alipay' });
    const biz = only(d.out_trade_no).biz;
    expect(biz).toMatchObject({
      op_app_id: '2021004100000001',
      op_buyer_open_id: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5',
      product_code: 'JSAPI_PAY',
    });
    expect(biz).not.toHaveProperty('buyer_id');
  });

  test('mp-alipay without any buyer → 1006, nothing sent', async () => {
    const d = data();
    const r = await s.createPaymentRaw({ provider: 'alipay', data: d }, MP_ALIPAY);
    expect(r.code).toBe(1006);
    expect(gatewayCalls(d.out_trade_no)).toHaveLength(0);
    expect(await s.order(d.out_trade_no)).toBeNull();
  });

  test('app → a signed app.pay order string the Alipay App accepts', async () => {
    const d = data({ total_fee: 1999 });
    const r = await s.createPayment({ provider: 'alipay', data: d }, APP);
    expect(r).toMatchObject({ errCode: 0, pay_type: 'alipay_app-plus', platform: 'app-plus' });
    expect(typeof r.orderInfo).toBe('string');
    expect(gatewayCalls(d.out_trade_no)).toHaveLength(0); // no HTTP call for app pay
    const created = await s.alipay.submitAppOrder(r.orderInfo);
    expect(created.out_trade_no).toBe(d.out_trade_no);
    expect(only(d.out_trade_no).biz).toMatchObject({ product_code: 'QUICK_MSECURITY_PAY', total_amount: '19.99' });
    expect(only(d.out_trade_no).params.notify_url).toBe(`${s.url}/http/vk-pay/paymentNotify/alipay_app-plus/${d.out_trade_no}`);
    // a tampered order string is refused by the App (the signature covers it)
    await expect(s.alipay.submitAppOrder(r.orderInfo.replace('19.99', '0.01'))).rejects.toThrow(/invalid-signature/);
  });

  test.each([
    ['mobile web', WEB, {}, false],
    ['PC web', WEB_PC, { isPC: true }, true],
    ['App with alipayAppPayToH5Pay', APP, { alipayAppPayToH5Pay: true }, true],
    ['mini program with needQRcode', MP_ALIPAY, { needQRcode: true }, true],
  ])('%s → precreate (当面付) QR', async (_n, ci, opts, qr) => {
    const d = data();
    const r = await s.createPayment({ provider: 'alipay', ...opts, data: d }, ci);
    expect(r).toMatchObject({ errCode: 0, pay_type: 'alipay_h5', needQRcode: qr });
    const call = only(d.out_trade_no);
    expect(call.method).toBe('alipay.trade.precreate');
    expect(call.biz).toMatchObject({ total_amount: '1.00', product_code: 'FACE_TO_FACE_PAYMENT' });
    expect(r.orderInfo).toEqual({ codeUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/cashier\/[0-9a-f]+$/) });
    expect(await s.order(d.out_trade_no)).toMatchObject({ pay_type: 'alipay_h5' });
  });

  test("needQRcode: 'image' → a PNG data URL next to codeUrl", async () => {
    const d = data();
    const r = await s.createPayment({ provider: 'alipay', needQRcode: 'image', data: d }, APP);
    expect(r.qrcodeImage).toMatch(/^data:image\/png;base64,/);
    const png = Buffer.from(r.qrcodeImage.split(',')[1], 'base64');
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  test.each([
    [1, '0.01'],
    [10, '0.10'],
    [1999, '19.99'],
    [100000, '1000.00'],
    [123456789, '1234567.89'],
  ])('total_fee %d fen → total_amount "%s"', async (fee, yuan) => {
    const d = data({ total_fee: fee });
    expect((await s.createPayment({ provider: 'alipay', isPC: true, data: d }, WEB_PC)).errCode).toBe(0);
    expect(only(d.out_trade_no).biz.total_amount).toBe(yuan);
    expect(s.alipay.order(d.out_trade_no)!.total_fen).toBe(fee);
  });
});

describe('time_expire', () => {
  test('arrives as yyyy-MM-dd HH:mm:ss Beijing time (host TZ=UTC)', async () => {
    expect(process.env.TZ).toBe('UTC');
    const te = Math.floor((Date.now() + 3 * 60_000) / 1000) * 1000;
    const d = data({ time_expire: te });
    expect((await s.createPayment({ provider: 'alipay', isPC: true, data: d }, WEB_PC)).errCode).toBe(0);
    expect(only(d.out_trade_no).biz.time_expire).toBe(beijing(te));
    expect(s.alipay.order(d.out_trade_no)!.time_expire).toBe(te);
  });

  test('the minimum is 1 second (1012 below it); 5 seconds is accepted', async () => {
    const late = data({ time_expire: Date.now() - 1000 });
    expect((await s.createPaymentRaw({ provider: 'alipay', isPC: true, data: late }, WEB_PC)).code).toBe(1012);
    expect(gatewayCalls(late.out_trade_no)).toHaveLength(0);
    const ok = data({ time_expire: Date.now() + 5000 });
    expect((await s.createPayment({ provider: 'alipay', isPC: true, data: ok }, WEB_PC)).errCode).toBe(0);
  });
});

describe('notifications', () => {
  async function newOrder(total_fee = 100) {
    const d = data({ total_fee, custom: { note: 'ali' } });
    expect((await s.createPayment({ provider: 'alipay', isPC: true, data: d }, WEB_PC)).errCode).toBe(0);
    return d.out_trade_no;
  }

  function fields(no: string, over: Record<string, string> = {}): Record<string, string> {
    const o = s.alipay.order(no)!;
    return {
      notify_time: beijing(Date.now()),
      notify_type: 'trade_status_sync',
      notify_id: randomBytes(12).toString('hex'),
      app_id: s.alipayApp.appId,
      auth_app_id: s.alipayApp.appId,
      charset: 'utf-8',
      version: '1.0',
      trade_no: o.trade_no,
      out_trade_no: no,
      trade_status: 'TRADE_SUCCESS',
      total_amount: o.total_amount,
      receipt_amount: o.total_amount,
      buyer_id: BUYER,
      seller_id: '2088000000000001',
      subject: o.subject,
      gmt_create: beijing(o.gmt_create),
      gmt_payment: beijing(Date.now()),
      ...over,
    };
  }

  async function expectUntouched(no: string) {
    await expectUntouchedIn(s, no);
  }

  test('pay in the sandbox → form notification → verified, handler once; the duplicate runs nothing', async () => {
    const no = await newOrder();
    await s.alipay.pay(no, { buyer_id: BUYER });
    await s.alipay.waitForDelivery(no);
    const calls = await s.handlerCalls(no);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ total_fee: 100, custom_note: 'ali' });
    expect(await s.order(no)).toMatchObject({
      status: 1,
      user_order_success: true,
      transaction_id: s.alipay.order(no)!.trade_no,
      notify_mode: 1,
    });
    // Alipay resends the very same form: acknowledged, nothing runs twice
    const payload = s.alipay.deliveries.find((x) => x.out_trade_no === no)!.payload!;
    for (let i = 0; i < 3; i++) {
      const r = await s.notify('alipay_h5', no, payload, FORM);
      expect(r).toEqual({ status: 200, body: 'success' });
    }
    expect(await s.handlerCalls(no)).toHaveLength(1);
  });

  test('TRADE_FINISHED is a payment too', async () => {
    const no = await newOrder();
    const r = await s.notify(
      'alipay_h5',
      no,
      s.alipay.buildNotification(s.alipayApp.appId, fields(no, { trade_status: 'TRADE_FINISHED' })),
      FORM,
    );
    expect(r).toEqual({ status: 200, body: 'success' });
    expect(await s.handlerCalls(no)).toHaveLength(1);
    expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
  });

  test('a partial-refund notice on the pay URL is acknowledged and ignored', async () => {
    const no = await newOrder();
    await s.alipay.pay(no);
    await s.alipay.waitForDelivery(no);
    const before = await s.order(no);
    await s.alipay.sendRefundNotice(no, 30);
    await s.alipay.waitForDelivery(no, (x) => x.payload!.includes('refund_fee') && x.body === 'success');
    const after = await s.order(no);
    expect(after).toMatchObject({ status: 1, refund_fee: 0, user_order_success: true });
    expect(after!.notify_date).toBe(before!.notify_date);
    expect(await s.handlerCalls(no)).toHaveLength(1);
  });

  test('a WAIT_BUYER_PAY notice is acknowledged and ignored', async () => {
    const no = await newOrder();
    const r = await s.notify(
      'alipay_h5',
      no,
      s.alipay.buildNotification(s.alipayApp.appId, fields(no, { trade_status: 'WAIT_BUYER_PAY' })),
      FORM,
    );
    expect(r).toEqual({ status: 200, body: 'success' });
    await expectUntouched(no);
  });

  const forged: Array<[string, (no: string) => string]> = [
    [
      'the amount changed after signing',
      (no) => s.alipay.buildNotification(s.alipayApp.appId, fields(no)).replace('total_amount=1.00', 'total_amount=0.01'),
    ],
    [
      'a correctly signed different amount',
      (no) => s.alipay.buildNotification(s.alipayApp.appId, fields(no, { total_amount: '0.01', receipt_amount: '0.01' })),
    ],
    [
      'a correctly signed other app_id',
      (no) => s.alipay.buildNotification(s.alipayApp.appId, fields(no, { app_id: '2021000000000999', auth_app_id: '2021000000000999' })),
    ],
    [
      'app_id changed after signing',
      (no) => s.alipay.buildNotification(s.alipayApp.appId, fields(no)).replace(`app_id=${s.alipayApp.appId}`, 'app_id=2021000000000999'),
    ],
    [
      'a garbage signature',
      (no) =>
        s.alipay
          .buildNotification(s.alipayApp.appId, fields(no))
          .replace(/sign=[^&]+/, `sign=${encodeURIComponent(randomBytes(256).toString('base64'))}`),
    ],
    ['no signature', (no) => s.alipay.buildNotification(s.alipayApp.appId, fields(no)).replace(/&?sign=[^&]+/, '')],
    [
      'sign_type downgraded to RSA',
      (no) => s.alipay.buildNotification(s.alipayApp.appId, fields(no)).replace('sign_type=RSA2', 'sign_type=RSA'),
    ],
    [
      'another order posted to this order',
      (no) => s.alipay.buildNotification(s.alipayApp.appId, fields(no, { out_trade_no: `${no.slice(0, 20)}X` })),
    ],
  ];
  test.each(forged)('%s → refused, nothing written', async (_n, make) => {
    const no = await newOrder();
    const r = await s.notify('alipay_h5', no, make(no), FORM);
    // Alipay's documented refusal: the plain text `fail` (it retries on anything but `success`)
    expect(r).toEqual({ status: 200, body: 'fail' });
    await expectUntouched(no);
  });
});
