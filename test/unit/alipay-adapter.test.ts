/**
 * Alipay adapter against the Alipay sandbox peer (loopback): request content per scene, money and
 * time at the boundary, response verification, notifications.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { alipayAdapter, type AlipayNodeConfig } from '../../uni_modules/vk-uni-pay/server/providers/alipay';
import { getAlipayRuntime } from '../../uni_modules/vk-uni-pay/server/providers/alipay/config';
import { topLevelRawMembers } from '../../uni_modules/vk-uni-pay/server/providers/alipay/crypto';
import type { CreateOrderInput, ProviderContext, RawHttpRequest } from '../../uni_modules/vk-uni-pay/server/providers/types';
import type { HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { countingTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { toPkcs1 } from '../../tools/sandbox/pki';
import { rsa2Sign } from '../../tools/sandbox/alipay/crypto';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox, type AlipaySandboxApp } from '../../tools/sandbox/alipay';
import { alipayNodeConfig, loopbackTransport } from '../../tools/sandbox/alipay/testkit';

// 2026-01-01 16:30:05 UTC = 2026-01-02 00:30:05 Beijing
const FIXED = Date.UTC(2026, 0, 1, 16, 30, 5);

let keyApp: AlipaySandboxApp;
let certApp: AlipaySandboxApp;
let otherApp: AlipaySandboxApp;
let sb: AlipaySandbox;
let seq = 0;
const no = () => `UT${Date.now()}${seq++}`;

beforeAll(async () => {
  [keyApp, certApp, otherApp] = await Promise.all([createAlipayApp(), createAlipayApp({ certMode: true }), createAlipayApp()]);
  sb = await startAlipaySandbox({ apps: [keyApp, certApp, otherApp], quiet: true, retryDelaysMs: [] });
});
afterAll(() => sb.close());

function ctxFor(
  config: Record<string, unknown>,
  http: HttpTransport = loopbackTransport(),
  now = FIXED,
): ProviderContext<AlipayNodeConfig> {
  return { config: config as unknown as AlipayNodeConfig, http, clock: { now: () => now }, cache: memoryCache() };
}
const keyCtx = (extra: Record<string, unknown> = {}, http?: HttpTransport) => ctxFor(alipayNodeConfig(keyApp, sb, extra), http);

function input(over: Partial<CreateOrderInput> = {}): CreateOrderInput {
  return {
    payType: 'alipay_h5',
    platformKey: 'h5',
    out_trade_no: no(),
    total_fee: 1,
    subject: '测试订单',
    notify_url: 'https://fc.example.com/http/vk-pay/paymentNotify/alipay_h5/x',
    client_ip: '127.0.0.1',
    needQRcode: false,
    other: {},
    extra: {},
    ...over,
  };
}

const lastRequest = () => sb.requests[sb.requests.length - 1];

async function expectPayError(p: Promise<unknown>, key: string, detail?: Record<string, unknown>) {
  const e = await p.then(
    () => undefined,
    (err) => err,
  );
  expect(e).toBeDefined();
  expect(e.name).toBe('PayError');
  expect(e.key).toBe(key);
  if (detail) expect(e.msgEn).toEqual(expect.stringContaining(String(Object.values(detail)[0])));
  return e;
}

describe('createOrder scenes', () => {
  test('alipay_h5: precreate, amount in yuan from fen, Beijing timestamp and time_expire, codeUrl', async () => {
    const http = countingTransport(loopbackTransport());
    const inp = input({ total_fee: 1999, body: '描述', time_expire: Date.UTC(2026, 0, 1, 16, 40, 0) });
    const r = await alipayAdapter.createOrder(inp, keyCtx({}, http));
    const req = lastRequest();
    expect(req.method).toBe('alipay.trade.precreate');
    expect(req.biz).toEqual({
      product_code: 'FACE_TO_FACE_PAYMENT',
      out_trade_no: inp.out_trade_no,
      total_amount: '19.99',
      subject: '测试订单',
      body: '描述',
      time_expire: '2026-01-02 00:40:00',
    });
    expect(req.params.timestamp).toBe('2026-01-02 00:30:05');
    expect(req.params.notify_url).toBe(inp.notify_url);
    expect(req.params.app_id).toBe(keyApp.appId);
    expect(r.codeUrl).toBe(`${sb.url}/cashier/${sb.order(inp.out_trade_no)!.cashier_id}`);
    expect(r.orderInfo).toEqual({ codeUrl: r.codeUrl });
    expect(r.orderPatch).toEqual({ provider_appid: keyApp.appId });
    // common params in the URL query, biz_content in the form body (as the SDK's exec does)
    const sent = http.calls[0];
    expect(sent.url.startsWith(sb.gateway + '?')).toBe(true);
    expect(new URL(sent.url).searchParams.get('notify_url')).toBe(inp.notify_url);
    expect(String(sent.body)).toMatch(/^biz_content=/);
  });

  test('1 fen → "0.01"; amounts never pass through floating point', async () => {
    const inp = input({ total_fee: 1 });
    await alipayAdapter.createOrder(inp, keyCtx());
    expect(lastRequest().biz.total_amount).toBe('0.01');
    const inp2 = input({ total_fee: 10_000_000_000 });
    await alipayAdapter.createOrder(inp2, keyCtx());
    expect(lastRequest().biz.total_amount).toBe('100000000.00');
    await expectPayError(alipayAdapter.createOrder(input({ total_fee: 1.5 }), keyCtx()), 'TOTAL_FEE_INVALID');
  });

  test('forced QR (needQRcode) on any platform → precreate', async () => {
    const r = await alipayAdapter.createOrder(input({ platformKey: 'app-plus', payType: 'alipay_app-plus', needQRcode: true }), keyCtx());
    expect(lastRequest().method).toBe('alipay.trade.precreate');
    expect(r.codeUrl).toMatch(/\/cashier\//);
  });

  test('alipay_mp-alipay: trade.create, buyer_id = openid, JSAPI_PAY default, trade_no as orderInfo', async () => {
    const inp = input({ payType: 'alipay_mp-alipay', platformKey: 'mp-alipay', openid: '2088102146225135', total_fee: 250 });
    const r = await alipayAdapter.createOrder(inp, keyCtx());
    const req = lastRequest();
    expect(req.method).toBe('alipay.trade.create');
    expect(req.biz).toMatchObject({
      buyer_id: '2088102146225135',
      product_code: 'JSAPI_PAY',
      total_amount: '2.50',
      out_trade_no: inp.out_trade_no,
    });
    expect(req.biz).not.toHaveProperty('op_buyer_open_id');
    const trade_no = sb.order(inp.out_trade_no)!.trade_no;
    expect(r.orderInfo).toBe(trade_no);
  });

  test('product_code: config.productCode, then other.product_code override the default', async () => {
    const mp = { payType: 'alipay_mp-alipay' as const, platformKey: 'mp-alipay' as const, openid: '2088102146225135' };
    await alipayAdapter.createOrder(input(mp), keyCtx({ productCode: 'FACE_TO_FACE_PAYMENT' }));
    expect(lastRequest().biz.product_code).toBe('FACE_TO_FACE_PAYMENT');
    await alipayAdapter.createOrder(input({ ...mp, other: { product_code: 'CUSTOM_X' } }), keyCtx({ productCode: 'FACE_TO_FACE_PAYMENT' }));
    expect(lastRequest().biz.product_code).toBe('CUSTOM_X');
  });

  test('op_app_id mode: op_app_id + op_buyer_open_id, no buyer_id', async () => {
    const mp = { payType: 'alipay_mp-alipay' as const, platformKey: 'mp-alipay' as const };
    await alipayAdapter.createOrder(
      input({ ...mp, openid: '2088102146225135', other: { op_app_id: '2021000000000777', op_buyer_open_id: '074aXyz_openid' } }),
      keyCtx(),
    );
    let biz = lastRequest().biz;
    expect(biz).toMatchObject({ op_app_id: '2021000000000777', op_buyer_open_id: '074aXyz_openid', product_code: 'JSAPI_PAY' });
    expect(biz).not.toHaveProperty('buyer_id');
    // op_app_id alone: the openid is the buyer's openid under that mini-program
    await alipayAdapter.createOrder(input({ ...mp, openid: '074aOpenIdOfUser', other: { op_app_id: '2021000000000777' } }), keyCtx());
    biz = lastRequest().biz;
    expect(biz).toMatchObject({ op_app_id: '2021000000000777', op_buyer_open_id: '074aOpenIdOfUser' });
    expect(biz).not.toHaveProperty('buyer_id');
    // a non-2088 openid without op_app_id is an Alipay openid
    await alipayAdapter.createOrder(input({ ...mp, openid: '074aOpenIdOfUser' }), keyCtx());
    expect(lastRequest().biz).toMatchObject({ buyer_open_id: '074aOpenIdOfUser' });
    await expectPayError(alipayAdapter.createOrder(input({ ...mp }), keyCtx()), 'OPENID_REQUIRED');
  });

  test('other is merged but cannot override amount, out_trade_no, notify_url, buyer or app ids', async () => {
    const inp = input({
      payType: 'alipay_mp-alipay',
      platformKey: 'mp-alipay',
      openid: '2088102146225135',
      total_fee: 5000,
      other: {
        total_amount: '0.01',
        totalAmount: '0.01',
        out_trade_no: 'EVIL0001',
        OUT_TRADE_NO: 'EVIL0002',
        notify_url: 'http://evil.example/n',
        buyer_id: '2088000000000666',
        seller_id: '2088000000000667',
        app_id: '2021000000000666',
        passback_params: 'k%3Dv',
        extend_params: { sys_service_provider_id: '2088000000000001' },
      },
    });
    await alipayAdapter.createOrder(inp, keyCtx());
    const req = lastRequest();
    expect(req.biz).toEqual({
      product_code: 'JSAPI_PAY',
      passback_params: 'k%3Dv',
      extend_params: { sys_service_provider_id: '2088000000000001' },
      out_trade_no: inp.out_trade_no,
      total_amount: '50.00',
      subject: '测试订单',
      buyer_id: '2088102146225135',
    });
    expect(req.params.notify_url).toBe(inp.notify_url);
    expect(req.params.app_id).toBe(keyApp.appId);
  });

  test('alipay_app-plus: signed order string (no HTTP), QUICK_MSECURITY_PAY, accepted by the sandbox app', async () => {
    const http = countingTransport(loopbackTransport());
    const inp = input({ payType: 'alipay_app-plus', platformKey: 'app-plus', total_fee: 100, time_expire: Date.UTC(2026, 0, 1, 17, 0, 0) });
    const r = await alipayAdapter.createOrder(inp, keyCtx({}, http));
    expect(http.calls).toHaveLength(0);
    const orderStr = r.orderInfo as string;
    expect(typeof orderStr).toBe('string');
    const params = new URLSearchParams(orderStr);
    expect(params.get('method')).toBe('alipay.trade.app.pay');
    expect(params.get('notify_url')).toBe(inp.notify_url);
    expect(params.get('timestamp')).toBe('2026-01-02 00:30:05');
    expect(JSON.parse(params.get('biz_content')!)).toEqual({
      product_code: 'QUICK_MSECURITY_PAY',
      out_trade_no: inp.out_trade_no,
      total_amount: '1.00',
      subject: '测试订单',
      time_expire: '2026-01-02 01:00:00',
    });
    const t = await sb.submitAppOrder(orderStr);
    expect(t.out_trade_no).toBe(inp.out_trade_no);
    // a tampered order string is refused by the "Alipay app"
    await expect(sb.submitAppOrder(orderStr.replace('1.00', '0.01'))).rejects.toThrow(/invalid-signature/);
  });

  test('unsupported platform key', async () => {
    await expectPayError(
      alipayAdapter.createOrder(input({ platformKey: 'mweb', payType: 'alipay_mweb' }), keyCtx()),
      'PLATFORM_UNSUPPORTED',
    );
  });
});

describe('key formats and cert mode', () => {
  test('PKCS1 PEM, bare base64 PKCS1 and bare base64 PKCS8 private keys all sign acceptably', async () => {
    const pkcs1 = toPkcs1(keyApp.appPrivateKeyPem);
    const bare1 = pkcs1.replace(/-----[^-]+-----|\s/g, '');
    const bare8 = keyApp.appPrivateKeyPem.replace(/-----[^-]+-----|\s/g, '');
    const barePub = keyApp.alipayPublicKeyPem.replace(/-----[^-]+-----|\s/g, '');
    for (const [privateKey, keyType] of [
      [pkcs1, undefined],
      [bare1, 'PKCS1'],
      [bare8, 'PKCS8'],
      [bare8, undefined],
    ] as const) {
      const r = await alipayAdapter.createOrder(input(), keyCtx({ privateKey, keyType, alipayPublicKey: barePub }));
      expect(r.codeUrl).toMatch(/cashier/);
    }
    await expectPayError(alipayAdapter.createOrder(input(), keyCtx({ privateKey: 'not a key' })), 'CONFIG_KEY_INVALID');
    await expectPayError(alipayAdapter.createOrder(input(), keyCtx({ alipayPublicKey: undefined })), 'CONFIG_FIELD_MISSING');
  });

  test('cert mode (content as string and Buffer): requests accepted, responses verified, query works', async () => {
    const cfg = alipayNodeConfig(certApp, sb) as Record<string, unknown>;
    cfg.alipayRootCertContent = Buffer.from(cfg.alipayRootCertContent as string);
    const ctx = ctxFor(cfg);
    const inp = input({ total_fee: 88 });
    await alipayAdapter.createOrder(inp, ctx);
    expect(lastRequest().params.app_cert_sn).toMatch(/^[0-9a-f]{32}$/);
    expect(lastRequest().response).toContain('"alipay_cert_sn"');
    await sb.pay(inp.out_trade_no);
    const q = await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, ctx);
    expect(q).toMatchObject({ state: 'PAID', total_fee: 88 });
    // Alipay signs with a certificate this node does not have (rotation): a coded error naming the SN
    const stranger = await createAlipayApp({ certMode: true });
    const wrong = ctxFor({ ...cfg, alipayPublicCertContent: stranger.alipayCert!.certPem });
    const sn = /"alipay_cert_sn":"([0-9a-f]+)"/.exec(lastRequest().response)![1];
    await expectPayError(alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, wrong), 'GATEWAY_CERT_UNKNOWN', { sn });
    // with the new certificate added next to the old one, answers verify again
    const rotated = ctxFor({ ...cfg, alipayPublicCertContent: stranger.alipayCert!.certPem + certApp.alipayCert!.certPem });
    expect(await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, rotated)).toMatchObject({ state: 'PAID' });
  });

  test('one runtime per config node (object and equal copies)', () => {
    const cfg = alipayNodeConfig(keyApp, sb) as unknown as AlipayNodeConfig;
    const a = getAlipayRuntime(cfg);
    expect(getAlipayRuntime(cfg)).toBe(a);
    expect(getAlipayRuntime({ ...cfg })).toBe(a);
    expect(getAlipayRuntime({ ...cfg, productCode: 'X' })).not.toBe(a);
  });
});

describe('response verification and errors', () => {
  const rewriting = (rewrite: (s: string) => string): HttpTransport => {
    const inner = loopbackTransport();
    return {
      async request(req) {
        const r = await inner.request(req);
        return { ...r, body: Buffer.from(rewrite(r.body.toString('utf8'))) };
      },
    };
  };

  test('a tampered response → GATEWAY_RESPONSE_UNVERIFIED', async () => {
    const inp = input();
    await alipayAdapter.createOrder(inp, keyCtx());
    await sb.pay(inp.out_trade_no);
    const ok = await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, keyCtx());
    expect(ok.state).toBe('PAID');
    const http = rewriting((s) => s.replace('"trade_status":"TRADE_SUCCESS"', '"trade_status":"WAIT_BUYER_PAY"'));
    await expectPayError(alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, keyCtx({}, http)), 'GATEWAY_RESPONSE_UNVERIFIED');
  });

  test('wrong Alipay public key, stripped sign, forged sign → unverified', async () => {
    const inp = input();
    await expectPayError(
      alipayAdapter.createOrder(inp, keyCtx({ alipayPublicKey: otherApp.alipayPublicKeyPem })),
      'GATEWAY_RESPONSE_UNVERIFIED',
    );
    const strip = rewriting((s) => s.replace(/,"sign":"[^"]*"/, ''));
    await expectPayError(alipayAdapter.createOrder(input(), keyCtx({}, strip)), 'GATEWAY_RESPONSE_UNVERIFIED');
    const forge = rewriting((s) => s.replace(/"sign":"[^"]*"/, '"sign":"AAAA"'));
    await expectPayError(alipayAdapter.createOrder(input(), keyCtx({}, forge)), 'GATEWAY_RESPONSE_UNVERIFIED');
    const garbage = rewriting(() => '<html>gateway timeout</html>');
    await expectPayError(alipayAdapter.createOrder(input(), keyCtx({}, garbage)), 'GATEWAY_RESPONSE_INVALID');
  });

  test('business errors → GATEWAY_ERROR with sub_code / sub_msg', async () => {
    const inp2 = input({ payType: 'alipay_mp-alipay', platformKey: 'mp-alipay', openid: '2088102146225135' });
    await alipayAdapter.createOrder(inp2, keyCtx());
    const e = await expectPayError(
      alipayAdapter.refund!({ out_trade_no: inp2.out_trade_no, out_refund_no: 'R1', total_fee: 1, refund_fee: 1 }, keyCtx()),
      'GATEWAY_ERROR',
    );
    expect(e.msgEn).toContain('ACQ.TRADE_STATUS_ERROR');
    expect(e.detail).toMatchObject({ providerCode: 'ACQ.TRADE_STATUS_ERROR', verified: true, retryable: false });
    // wrong app private key → isv.invalid-signature, signed by the gateway
    const e2 = await expectPayError(
      alipayAdapter.queryOrder({ out_trade_no: 'X1234567' }, keyCtx({ privateKey: otherApp.appPrivateKeyPem })),
      'GATEWAY_ERROR',
    );
    expect(e2.detail.providerCode).toBe('isv.invalid-signature');
    // unknown app: unsigned error, reported but flagged unverified, never turned into an order state
    const e3 = await expectPayError(
      alipayAdapter.queryOrder({ out_trade_no: 'X1234567' }, keyCtx({ appId: '2021999999999999' })),
      'GATEWAY_ERROR',
    );
    expect(e3.detail).toMatchObject({ verified: false, retryable: true });
    expect(e3.detail.providerCode).toBeUndefined();
    expect(e3.msgEn).toContain('isv.invalid-app-id (unsigned answer, not trusted)');
    const fakeNotExist = rewriting(
      () => '{"alipay_trade_query_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"x"}}',
    );
    const e4 = await expectPayError(alipayAdapter.queryOrder({ out_trade_no: 'X1234567' }, keyCtx({}, fakeNotExist)), 'GATEWAY_ERROR');
    expect(e4.detail).toMatchObject({ verified: false });
  });

  test('verified refusals: system errors are retryable, business refusals final; providerCode = sub_code || code', async () => {
    const answer = (inner: Record<string, string>): HttpTransport => ({
      request: async () => {
        const text = JSON.stringify(inner);
        const body = `{"alipay_trade_refund_response":${text},"sign":"${rsa2Sign(text, keyApp.alipayPrivateKeyPem)}"}`;
        return { status: 200, headers: {}, body: Buffer.from(body) };
      },
    });
    const refund = (http: HttpTransport) =>
      alipayAdapter.refund!({ out_trade_no: 'X1234567', out_refund_no: 'R1', total_fee: 1, refund_fee: 1 }, keyCtx({}, http));
    const cases: Array<[Record<string, string>, string, boolean]> = [
      [
        { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'aop.ACQ.SYSTEM_ERROR', sub_msg: '系统繁忙' },
        'aop.ACQ.SYSTEM_ERROR',
        true,
      ],
      [{ code: '40004', msg: 'Business Failed', sub_code: 'ACQ.SYSTEM_ERROR', sub_msg: '系统错误' }, 'ACQ.SYSTEM_ERROR', true],
      [{ code: '20000', msg: 'Service Currently Unavailable' }, '20000', true],
      [{ code: '40004', msg: 'Business Failed', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' }, 'isp.unknow-error', true],
      [
        { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', sub_msg: 'x' },
        'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL',
        false,
      ],
    ];
    for (const [inner, providerCode, retryable] of cases) {
      const e = await expectPayError(refund(answer(inner)), 'GATEWAY_ERROR');
      expect(e).toMatchObject({ providerCode, verified: true, retryable });
    }
  });

  test('network failure and 5xx → GATEWAY_UNREACHABLE', async () => {
    await expectPayError(alipayAdapter.createOrder(input(), keyCtx({ gateway: 'http://127.0.0.1:1/gateway.do' })), 'GATEWAY_UNREACHABLE');
    const down: HttpTransport = { request: async () => ({ status: 502, headers: {}, body: Buffer.from('bad gateway') }) };
    await expectPayError(alipayAdapter.createOrder(input(), keyCtx({}, down)), 'GATEWAY_UNREACHABLE');
  });
});

describe('query, close, refund', () => {
  test('lifecycle on a precreate order', async () => {
    const ctx = keyCtx();
    const inp = input({ total_fee: 1000 });
    await alipayAdapter.createOrder(inp, ctx);
    // never scanned: Alipay does not know the trade yet
    expect((await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, ctx)).state).toBe('NOT_FOUND');
    expect((await alipayAdapter.closeOrder!({ out_trade_no: inp.out_trade_no }, ctx)).closed).toBe(false);
    await fetch(`${sb.url}/cashier/${sb.order(inp.out_trade_no)!.cashier_id}`); // the buyer scans
    expect((await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, ctx)).state).toBe('NOTPAY');
    await sb.pay(inp.out_trade_no, { buyer_id: '2088000000000042' });
    const paid = await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, ctx);
    const o = sb.order(inp.out_trade_no)!;
    expect(paid).toMatchObject({
      state: 'PAID',
      total_fee: 1000,
      transaction_id: o.trade_no,
      openid: '2088000000000042',
      out_trade_no: inp.out_trade_no,
    });
    expect(paid.pay_date).toBe(Math.floor(o.gmt_payment! / 1000) * 1000);

    const r1 = await alipayAdapter.refund!(
      { out_trade_no: inp.out_trade_no, out_refund_no: `${inp.out_trade_no}-1`, total_fee: 1000, refund_fee: 250, refund_desc: '部分退款' },
      ctx,
    );
    expect(r1).toMatchObject({ state: 'SUCCESS', refund_fee: 250 });
    const req = lastRequest();
    expect(req.biz).toEqual({
      out_trade_no: inp.out_trade_no,
      refund_amount: '2.50',
      out_request_no: `${inp.out_trade_no}-1`,
      refund_reason: '部分退款',
    });
    const again = await alipayAdapter.refund!(
      { out_trade_no: inp.out_trade_no, out_refund_no: `${inp.out_trade_no}-1`, total_fee: 1000, refund_fee: 250 },
      ctx,
    );
    expect(again.state).toBe('PROCESSING'); // fund_change N
    expect(await alipayAdapter.queryRefund!({ out_trade_no: inp.out_trade_no, out_refund_no: `${inp.out_trade_no}-1` }, ctx)).toMatchObject(
      { state: 'SUCCESS', refund_fee: 250 },
    );
    expect((await alipayAdapter.queryRefund!({ out_trade_no: inp.out_trade_no, out_refund_no: 'never-sent' }, ctx)).state).toBe('FAIL');
    await expectPayError(
      alipayAdapter.refund!(
        { out_trade_no: inp.out_trade_no, out_refund_no: `${inp.out_trade_no}-2`, total_fee: 1000, refund_fee: 751 },
        ctx,
      ),
      'GATEWAY_ERROR',
    );
    await alipayAdapter.refund!(
      { out_trade_no: inp.out_trade_no, out_refund_no: `${inp.out_trade_no}-3`, total_fee: 1000, refund_fee: 750 },
      ctx,
    );
    expect((await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, ctx)).state).toBe('REFUND');
  });

  test('close an unpaid mini-program trade → CLOSED', async () => {
    const ctx = keyCtx();
    const inp = input({ payType: 'alipay_mp-alipay', platformKey: 'mp-alipay', openid: '2088102146225135' });
    await alipayAdapter.createOrder(inp, ctx);
    expect((await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, ctx)).state).toBe('NOTPAY');
    expect((await alipayAdapter.closeOrder!({ out_trade_no: inp.out_trade_no }, ctx)).closed).toBe(true);
    expect((await alipayAdapter.queryOrder({ out_trade_no: inp.out_trade_no }, ctx)).state).toBe('CLOSED');
    expect((await alipayAdapter.closeOrder!({ out_trade_no: inp.out_trade_no }, ctx)).closed).toBe(true);
  });
});

describe('verifyNotify', () => {
  const base = () => ({
    notify_type: 'trade_status_sync',
    notify_id: 'n1',
    notify_time: '2026-01-02 00:31:00',
    app_id: keyApp.appId,
    auth_app_id: keyApp.appId,
    charset: 'utf-8',
    version: '1.0',
    trade_no: '2026010222001400001234567890',
    out_trade_no: 'ORDER0001',
    buyer_id: '2088000000000042',
    seller_id: '2088000000000001',
    trade_status: 'TRADE_SUCCESS',
    total_amount: '19.99',
    receipt_amount: '19.99',
    subject: '会员 100% 充值 a+b&c=d',
    gmt_create: '2026-01-02 00:30:05',
    gmt_payment: '2026-01-02 00:30:59',
    fund_bill_list: '[{"amount":"19.99","fundChannel":"ALIPAYACCOUNT"}]',
  });
  const req = (body: string, ct = 'application/x-www-form-urlencoded; charset=utf-8'): RawHttpRequest => ({
    method: 'POST',
    path: '/paymentNotify/alipay_h5/ORDER0001',
    headers: { 'content-type': ct },
    query: {},
    body: Buffer.from(body),
  });

  test('accepts a gateway-signed payment notification and normalises it', async () => {
    const ev = await alipayAdapter.verifyNotify(req(sb.buildNotification(keyApp.appId, base())), keyCtx());
    expect(ev).toMatchObject({
      kind: 'payment',
      out_trade_no: 'ORDER0001',
      transaction_id: '2026010222001400001234567890',
      total_fee: 1999,
      paid: true,
      appid: keyApp.appId,
      openid: '2088000000000042',
      pay_date: Date.UTC(2026, 0, 1, 16, 30, 59),
    });
    if (ev.kind !== 'payment') throw new Error();
    expect(ev.info.subject).toBe('会员 100% 充值 a+b&c=d');
    expect(ev.info).not.toHaveProperty('sign');
  });

  test('TRADE_FINISHED accepted; buyer_open_id used as openid', async () => {
    const f: Record<string, string> = { ...base(), trade_status: 'TRADE_FINISHED', buyer_open_id: '074aOpen' };
    delete f.buyer_id;
    const ev = await alipayAdapter.verifyNotify(req(sb.buildNotification(keyApp.appId, f)), keyCtx());
    expect(ev).toMatchObject({ kind: 'payment', paid: true, openid: '074aOpen' });
  });

  test('rejects a tampered amount, another key, a missing sign, a sign_type downgrade', async () => {
    const body = sb.buildNotification(keyApp.appId, base());
    await expectPayError(
      alipayAdapter.verifyNotify(req(body.replace('total_amount=19.99', 'total_amount=0.01')), keyCtx()),
      'NOTIFY_SIGNATURE_INVALID',
    );
    await expectPayError(
      alipayAdapter.verifyNotify(req(sb.buildNotification(otherApp.appId, base())), keyCtx()),
      'NOTIFY_SIGNATURE_INVALID',
    );
    await expectPayError(alipayAdapter.verifyNotify(req(body.replace(/&?sign=[^&]*/, '')), keyCtx()), 'NOTIFY_SIGNATURE_INVALID');
    await expectPayError(
      alipayAdapter.verifyNotify(req(body.replace('sign_type=RSA2', 'sign_type=RSA')), keyCtx()),
      'NOTIFY_SIGNATURE_INVALID',
    );
    // an added field breaks the signature too
    await expectPayError(alipayAdapter.verifyNotify(req(body + '&refund_fee=0.01'), keyCtx()), 'NOTIFY_SIGNATURE_INVALID');
  });

  test('a refund notice is a verified refund SUCCESS of out_biz_no; non-paid statuses are verified but ignored', async () => {
    const refundNotice = { ...base(), refund_fee: '1.00', gmt_refund: '2026-01-02 01:00:00.000', out_biz_no: 'ORDER0001-1' };
    const event = await alipayAdapter.verifyNotify(req(sb.buildNotification(keyApp.appId, refundNotice)), keyCtx());
    expect(event).toMatchObject({ kind: 'refund', out_refund_no: 'ORDER0001-1', state: 'SUCCESS', info: { trade_refund_fee: 100 } });
    // refund_fee there is the trade's total refunded, never taken as this refund's amount
    expect(event).not.toHaveProperty('refund_fee');
    for (const trade_status of ['WAIT_BUYER_PAY', 'TRADE_CLOSED']) {
      expect(
        await alipayAdapter.verifyNotify(req(sb.buildNotification(keyApp.appId, { ...base(), trade_status })), keyCtx()),
      ).toMatchObject({ kind: 'ignore' });
    }
    // ignoring still requires a valid signature
    const forged = sb.buildNotification(otherApp.appId, refundNotice);
    await expectPayError(alipayAdapter.verifyNotify(req(forged), keyCtx()), 'NOTIFY_SIGNATURE_INVALID');
  });

  test('malformed: bad amount (signed), bad escapes, duplicate keys, wrong content type, empty', async () => {
    await expectPayError(
      alipayAdapter.verifyNotify(req(sb.buildNotification(keyApp.appId, { ...base(), total_amount: '19.999' })), keyCtx()),
      'NOTIFY_MALFORMED',
    );
    const noAmount = base() as Record<string, string>;
    delete noAmount.total_amount;
    await expectPayError(alipayAdapter.verifyNotify(req(sb.buildNotification(keyApp.appId, noAmount)), keyCtx()), 'NOTIFY_MALFORMED');
    await expectPayError(alipayAdapter.verifyNotify(req('a=%E0%A4%A&sign=x'), keyCtx()), 'NOTIFY_MALFORMED');
    await expectPayError(alipayAdapter.verifyNotify(req('a=1&a=2&sign=x'), keyCtx()), 'NOTIFY_MALFORMED');
    await expectPayError(
      alipayAdapter.verifyNotify(req(sb.buildNotification(keyApp.appId, base()), 'application/json'), keyCtx()),
      'NOTIFY_MALFORMED',
    );
    await expectPayError(alipayAdapter.verifyNotify(req(''), keyCtx()), 'NOTIFY_MALFORMED');
  });

  test('cert mode: verified with the key of the Alipay public cert', async () => {
    const ctx = ctxFor(alipayNodeConfig(certApp, sb));
    const f = { ...base(), app_id: certApp.appId };
    expect(await alipayAdapter.verifyNotify(req(sb.buildNotification(certApp.appId, f)), ctx)).toMatchObject({
      kind: 'payment',
      total_fee: 1999,
    });
    await expectPayError(alipayAdapter.verifyNotify(req(sb.buildNotification(keyApp.appId, f)), ctx), 'NOTIFY_SIGNATURE_INVALID');
  });

  test('end to end: a real sandbox delivery verifies', async () => {
    const received: Buffer[] = [];
    const http = await import('node:http');
    const server = http.createServer((rq, rs) => {
      const chunks: Buffer[] = [];
      rq.on('data', (c) => chunks.push(c));
      rq.on('end', async () => {
        const body = Buffer.concat(chunks);
        received.push(body);
        const ctx = keyCtx();
        try {
          const ev = await alipayAdapter.verifyNotify(
            { method: 'POST', path: rq.url!, headers: { 'content-type': String(rq.headers['content-type']) }, query: {}, body },
            ctx,
          );
          const reply = alipayAdapter.notifyReply(ev.kind === 'payment');
          rs.writeHead(reply.statusCode, reply.headers);
          rs.end(reply.body);
        } catch {
          const reply = alipayAdapter.notifyReply(false);
          rs.writeHead(reply.statusCode, reply.headers);
          rs.end(reply.body);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const inp = input({
        total_fee: 1234,
        subject: '端到端 100%',
        notify_url: `http://127.0.0.1:${(server.address() as any).port}/paymentNotify/alipay_h5/x`,
      });
      await alipayAdapter.createOrder(inp, keyCtx());
      await sb.pay(inp.out_trade_no);
      await sb.waitForDelivery(inp.out_trade_no, (d) => d.body === 'success', 5000);
      expect(received).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('notifyReply and lazy loading', () => {
  test('notifyReply', () => {
    expect(alipayAdapter.notifyReply(true)).toEqual({
      mpserverlessComposedResponse: true,
      statusCode: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: 'success',
    });
    expect(alipayAdapter.notifyReply(false).body).toBe('fail');
  });

  test('the adapter never loads alipay-sdk (test oracle only), even when signing', () => {
    const root = path.resolve(__dirname, '../..');
    const script = [
      "require('./uni_modules/vk-uni-pay/server/providers/alipay');",
      "const loaded = () => Object.keys(require.cache).some((k) => k.includes('node_modules/alipay-sdk/'));",
      'const before = loaded();',
      "try { require('./uni_modules/vk-uni-pay/server/providers/alipay/config').getAlipayRuntime({ appId: '1', privateKey: 'x', alipayPublicKey: 'y' }); } catch {}",
      "const { generateKeyPairSync } = require('node:crypto');",
      "const k = generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });",
      "const rt = require('./uni_modules/vk-uni-pay/server/providers/alipay/config').getAlipayRuntime({ appId: '1', privateKey: k.privateKey, alipayPublicKey: k.publicKey });",
      "require('./uni_modules/vk-uni-pay/server/providers/alipay/gateway').signedParamString(rt, 'alipay.trade.query', { out_trade_no: 'X' }, {}, 0);",
      'console.log(JSON.stringify({ before, after: loaded() }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ before: false, after: false });
  });

  test('raw member scanner keeps exact text (escapes, nested braces in strings)', () => {
    const text = '{"a_response":{"x":"}{\\"\\/","n":[1,{"b":2}]},"alipay_cert_sn":"ab","sign":"s=="}';
    const m = topLevelRawMembers(text)!;
    expect(m.get('a_response')).toBe('{"x":"}{\\"\\/","n":[1,{"b":2}]}');
    expect(m.get('sign')).toBe('"s=="');
    expect(topLevelRawMembers('{"a":')).toBeUndefined();
  });
});
