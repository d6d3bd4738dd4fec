/**
 * WeChat Pay API v2 (XML, MD5 and HMAC-SHA256) end to end: unifiedorder for every scene, client
 * parameters signed over exactly the documented keys, a sandbox payment answered by the v2 XML
 * notification, and forged notifications refused without a write.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { startTestStack, tradeNo, WEB_PC, type TestStack, CLIENT } from '../helpers/project';
import { WX_APPIDS } from '../../tools/stack';

const MP = CLIENT.mp;
const APP = CLIENT.app;
const WEB = CLIENT.web;
const MOBILE_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36';
const OPENID = 'oTestOpenid0000000000000004';

/** v2 signature (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3), written here independently of the plugin and the sandbox */
function v2Sign(params: Record<string, unknown>, key: string, type: 'MD5' | 'HMAC-SHA256'): string {
  const str =
    Object.keys(params)
      .filter((k) => k !== 'sign' && params[k] !== undefined && params[k] !== '')
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join('&') + `&key=${key}`;
  return (type === 'MD5' ? createHash('md5').update(str, 'utf8') : createHmac('sha256', key).update(str, 'utf8'))
    .digest('hex')
    .toUpperCase();
}

function xml(fields: Record<string, string | number>): string {
  return `<xml>${Object.entries(fields)
    .map(([k, v]) => (typeof v === 'number' ? `<${k}>${v}</${k}>` : `<${k}><![CDATA[${v}]]></${k}>`))
    .join('')}</xml>`;
}

describe.each([['MD5' as const], ['HMAC-SHA256' as const]])('v2 %s', (signType) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(signType === 'MD5' ? { wxVersion: 2 } : { wxVersion: 2, wxSignType: 'HMAC-SHA256' });
  }, 60_000);
  afterAll(() => s?.close());

  const data = (over: Record<string, unknown> = {}) => ({
    out_trade_no: tradeNo('V'),
    total_fee: 100,
    subject: '测试订单',
    type: 'counted',
    ...over,
  });
  const sent = (no: string) => s.wxpay.order(no)!.request as Record<string, string>;

  test('JSAPI (mini program): paySign is the v2 sign over appId, timeStamp, nonceStr, package, signType', async () => {
    const d = data({ openid: OPENID, other: { attach: 'a-v2' } });
    const r = await s.createPayment({ provider: 'wxpay', data: d }, MP);
    expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_mp-weixin', needQRcode: false });
    const sb = s.wxpay.order(d.out_trade_no)!;
    expect(sb.protocol).toBe('v2');
    expect(sb.trade_type).toBe('JSAPI');
    expect(sent(d.out_trade_no)).toMatchObject({
      appid: WX_APPIDS.mp,
      mch_id: s.wxMerchant.mchid,
      openid: OPENID,
      total_fee: '100',
      body: '测试订单',
      attach: 'a-v2',
    });
    expect(sent(d.out_trade_no).sign_type ?? 'MD5').toBe(signType);
    const oi = r.orderInfo;
    expect(Object.keys(oi).sort()).toEqual(['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
    expect(oi).toMatchObject({ appId: WX_APPIDS.mp, package: `prepay_id=${sb.prepay_id}`, signType });
    const { paySign, ...signed } = oi;
    expect(paySign).toBe(v2Sign(signed, s.wxMerchant.apiV2Key, signType));
    expect(paySign).not.toBe(v2Sign({ ...signed, package: 'prepay_id=x' }, s.wxMerchant.apiV2Key, signType));
  });

  test('APP: sign over the six keys appid, partnerid, prepayid, package, noncestr, timestamp', async () => {
    const d = data();
    const r = await s.createPayment({ provider: 'wxpay', data: d }, APP);
    expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_app-plus' });
    const sb = s.wxpay.order(d.out_trade_no)!;
    expect(sb.trade_type).toBe('APP');
    const { sign, ...six } = r.orderInfo;
    expect(Object.keys(six).sort()).toEqual(['appid', 'noncestr', 'package', 'partnerid', 'prepayid', 'timestamp']);
    expect(six).toMatchObject({ appid: WX_APPIDS.app, partnerid: s.wxMerchant.mchid, prepayid: sb.prepay_id, package: 'Sign=WXPay' });
    expect(sign).toBe(v2Sign(six, s.wxMerchant.apiV2Key, signType));
  });

  test('NATIVE (PC): code_url', async () => {
    const d = data();
    const r = await s.createPayment({ provider: 'wxpay', isPC: true, data: d }, WEB_PC);
    expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_h5', needQRcode: true });
    const sb = s.wxpay.order(d.out_trade_no)!;
    expect(sb.trade_type).toBe('NATIVE');
    expect(r.orderInfo).toEqual({ codeUrl: sb.code_url });
    expect(sent(d.out_trade_no).product_id).toBe(d.out_trade_no);
  });

  test('MWEB: mweb_url; spbill_create_ip is the payer IP and scene_info carries h5_info', async () => {
    const d = data();
    const r = await s.createPaymentVia({ provider: 'wxpay', data: d }, WEB, { userAgent: MOBILE_UA, forwardedFor: '203.0.113.20' });
    expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_mweb' });
    const sb = s.wxpay.order(d.out_trade_no)!;
    expect(sb.trade_type).toBe('MWEB');
    expect(r.orderInfo).toEqual({ mwebUrl: sb.h5_url });
    expect(sent(d.out_trade_no).spbill_create_ip).toBe('203.0.113.20');
    expect(JSON.parse(sent(d.out_trade_no).scene_info)).toMatchObject({
      h5_info: { type: 'Wap', wap_url: 'http://127.0.0.1', wap_name: 'vk-uni-pay 演示' },
    });
  });

  test('time_expire arrives as yyyyMMddHHmmss in Beijing time', async () => {
    expect(process.env.TZ).toBe('UTC');
    const te = Math.floor((Date.now() + 10 * 60_000) / 1000) * 1000;
    const d = data({ time_expire: te });
    expect((await s.createPayment({ provider: 'wxpay', isPC: true, data: d }, WEB_PC)).errCode).toBe(0);
    const bj = new Date(te + 8 * 3600_000).toISOString();
    const expected = bj.slice(0, 19).replace(/[-:T]/g, '');
    expect(sent(d.out_trade_no).time_expire).toBe(expected);
    expect(s.wxpay.order(d.out_trade_no)!.time_expire).toBe(te);
  });

  test('a sandbox payment → v2 XML notification → verified, handler once, XML SUCCESS acknowledged', async () => {
    const d = data({ openid: OPENID, custom: { note: 'v2' } });
    expect((await s.createPayment({ provider: 'wxpay', data: d }, MP)).errCode).toBe(0);
    await s.wxpay.pay(d.out_trade_no);
    await s.wxpay.waitForDelivery(d.out_trade_no, (x) => x.acknowledged, 15_000);
    const deliveries = s.wxpay.deliveries.filter((x) => x.out_trade_no === d.out_trade_no);
    expect(deliveries[0]).toMatchObject({ protocol: 'v2', status: 200, acknowledged: true });
    const calls = await s.handlerCalls(d.out_trade_no);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ total_fee: 100, custom_note: 'v2' });
    expect(await s.order(d.out_trade_no)).toMatchObject({
      status: 1,
      user_order_success: true,
      transaction_id: s.wxpay.order(d.out_trade_no)!.transaction_id,
    });
  });

  describe('notifications posted directly', () => {
    function notification(no: string, over: Record<string, string | number> = {}) {
      const fields: Record<string, string | number> = {
        appid: WX_APPIDS.oa,
        bank_type: 'OTHERS',
        cash_fee: 100,
        fee_type: 'CNY',
        is_subscribe: 'N',
        mch_id: s.wxMerchant.mchid,
        nonce_str: randomBytes(16).toString('hex'),
        openid: OPENID,
        out_trade_no: no,
        result_code: 'SUCCESS',
        return_code: 'SUCCESS',
        ...(signType === 'HMAC-SHA256' ? { sign_type: 'HMAC-SHA256' } : {}),
        time_end: '20261127190000',
        total_fee: 100,
        trade_type: 'NATIVE',
        transaction_id: `42000${Date.now()}${Math.floor(Math.random() * 1e6)}`.slice(0, 28),
        ...over,
      };
      fields.sign = v2Sign(fields, s.wxMerchant.apiV2Key, signType);
      return fields;
    }
    const post = (no: string, body: string) => s.notify('wxpay_h5', no, body, { 'content-type': 'text/xml' });

    async function newOrder() {
      const d = data();
      expect((await s.createPayment({ provider: 'wxpay', isPC: true, data: d }, WEB_PC)).errCode).toBe(0);
      return d.out_trade_no;
    }

    test('a correctly signed one is acknowledged with XML SUCCESS; a resend runs nothing twice', async () => {
      const no = await newOrder();
      const body = xml(notification(no));
      const r = await post(no, body);
      expect(r.status).toBe(200);
      expect(r.body).toMatch(/<return_code><!\[CDATA\[SUCCESS\]\]><\/return_code>/);
      expect((await post(no, body)).status).toBe(200);
      expect(await s.handlerCalls(no)).toHaveLength(1);
      expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
    });

    test.each([
      ['total_fee changed, old sign kept', (f: Record<string, string | number>) => ({ ...f, total_fee: 1, cash_fee: 1 })],
      ['out_trade_no kept, appid changed, old sign kept', (f: Record<string, string | number>) => ({ ...f, appid: 'wx9999999999999999' })],
      ['signed with another key', (f: Record<string, string | number>) => ({ ...f, sign: v2Sign(f, 'k'.repeat(32), signType) })],
      ['no sign at all', (f: Record<string, string | number>) => Object.fromEntries(Object.entries(f).filter(([k]) => k !== 'sign'))],
    ])('%s → HTTP 500 XML FAIL, nothing written', async (_n, tamper) => {
      const no = await newOrder();
      const r = await post(no, xml(tamper(notification(no))));
      expect(r.status).toBe(500);
      expect(r.body).toContain('FAIL');
      const order = await s.order(no);
      expect(order).toMatchObject({ status: 0 });
      expect(order!.transaction_id).toBeUndefined();
      expect(await s.handlerCalls(no)).toHaveLength(0);
    });

    test('a correctly signed notification with a different amount is refused too', async () => {
      const no = await newOrder();
      const r = await post(no, xml(notification(no, { total_fee: 1, cash_fee: 1 })));
      expect(r.status).toBe(500);
      expect(await s.order(no)).toMatchObject({ status: 0 });
      expect(await s.handlerCalls(no)).toHaveLength(0);
    });
  });
});
