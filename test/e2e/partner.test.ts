/**
 * Service-provider (服务商 / ISV) mode end to end, through the runtime's HTTP server and the loopback
 * sandboxes: WeChat Pay partner API v3 (sub_mchid / sub_appid per call) on jsapi, native and app —
 * create → pay → notification → handler once → queryPayment paid → refund — with notifications
 * matched on the sub-merchant; Alipay with the merchant's app_auth_token on every call.
 */
import { CLIENT, WEB_PC, expectUntouched, startTestStack, tradeNo, wxpayTransaction, type TestStack } from '../helpers/project';
import { ALIPAY_AUTHORIZATIONS, WX_APPIDS, WX_SUB_MERCHANTS } from '../../tools/stack';
import type { ClientInfo } from '../../types/unicloud-server';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const SUB = WX_SUB_MERCHANTS[0];
const OTHER_SUB = WX_SUB_MERCHANTS[1];
const [TOKEN, OTHER_TOKEN] = Object.keys(ALIPAY_AUTHORIZATIONS);

const refund = async (params: Record<string, unknown>) => (await s.call('test-shop', 'refund', [params])).result;
const queryRefund = async (params: Record<string, unknown>) => (await s.call('test-shop', 'queryRefund', [params])).result;
const closeOrder = async (params: Record<string, unknown>) => (await s.call('test-shop', 'closeOrder', [params])).result;
const queryPayment = (no: string, extra: Record<string, unknown> = {}) =>
  s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, ...extra }]);

interface Scene {
  name: string;
  payType: string;
  client: ClientInfo;
  options: Record<string, unknown>;
  data: Record<string, unknown>;
  /** what the sandbox order must look like, and what the client gets */
  check(orderInfo: any, no: string): void;
}

const SCENES: Scene[] = [
  {
    name: 'jsapi (mini program of the sub-merchant: sub_appid + sub_openid)',
    payType: 'wxpay_mp-weixin',
    client: CLIENT.mp,
    options: {},
    data: { sub_mchid: SUB.sub_mchid, sub_appid: SUB.appids[0], openid: 'o-sub-mini-user' },
    check(orderInfo, no) {
      const o = s.wxpay.order(no)!;
      expect(o.partner).toEqual({ sub_mchid: SUB.sub_mchid, sub_appid: SUB.appids[0], openid_kind: 'sub' });
      expect(o.openid).toBe('o-sub-mini-user');
      expect(orderInfo).toMatchObject({ appId: SUB.appids[0], package: `prepay_id=${o.prepay_id}`, signType: 'RSA' });
    },
  },
  {
    name: 'native (PC QR, the service provider’s appid, no sub_appid)',
    payType: 'wxpay_h5',
    client: WEB_PC,
    options: { isPC: true },
    data: { sub_mchid: SUB.sub_mchid },
    check(orderInfo, no) {
      const o = s.wxpay.order(no)!;
      expect(o.partner).toEqual({ sub_mchid: SUB.sub_mchid, openid_kind: 'sp' });
      expect(o.appid).toBe(WX_APPIDS.oa);
      expect(orderInfo.codeUrl).toBe(o.code_url);
    },
  },
  {
    name: 'app (the sub-merchant’s App; partnerid is the sub-merchant)',
    payType: 'wxpay_app-plus',
    client: CLIENT.app,
    options: {},
    data: { sub_mchid: SUB.sub_mchid, sub_appid: SUB.appids[1] },
    check(orderInfo, no) {
      const o = s.wxpay.order(no)!;
      expect(o.partner).toMatchObject({ sub_mchid: SUB.sub_mchid, sub_appid: SUB.appids[1] });
      expect(orderInfo).toMatchObject({ appid: SUB.appids[1], partnerid: SUB.sub_mchid, prepayid: o.prepay_id, package: 'Sign=WXPay' });
    },
  },
];

async function partnerOrder(scene: Scene, total_fee = 100): Promise<string> {
  const no = tradeNo('SP');
  const r = await s.createPayment(
    { provider: 'wxpay', ...scene.options, data: { out_trade_no: no, total_fee, subject: '服务商订单', type: 'counted', ...scene.data } },
    scene.client,
  );
  expect(r).toMatchObject({ errCode: 0, pay_type: scene.payType, out_trade_no: no });
  scene.check(r.orderInfo, no);
  return no;
}

describe.each(SCENES.map((sc) => [sc.name, sc] as const))('WeChat Pay partner: %s', (_name, scene) => {
  test('create → pay → notification → handler once → queryPayment paid → refund, all for the sub-merchant', async () => {
    const no = await partnerOrder(scene);
    expect(await s.order(no)).toMatchObject({
      status: 0,
      sp_appid: s.wxpay.order(no)!.appid,
      sp_mchid: s.wxMerchant.mchid,
      sub_mchid: SUB.sub_mchid,
    });
    await s.wxpay.pay(no);
    await s.wxpay.waitForDelivery(no, (d) => d.acknowledged, 15_000);
    expect(await s.handlerCalls(no)).toHaveLength(1);
    expect(await queryPayment(no, { await_notify: true })).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true });
    const stored = (await s.order(no))!;
    expect(stored).toMatchObject({ status: 1, notify_mode: 1, transaction_id: s.wxpay.order(no)!.transaction_id });
    expect(stored.openid).toBe(s.wxpay.order(no)!.openid);

    const r1 = await refund({ out_trade_no: no, refund_fee: 40 });
    expect(r1).toMatchObject({ code: 0, refund_fee: 40, state: 'SUCCESS' });
    expect(s.wxpay.refund(`${no}-1`)).toMatchObject({ sub_mchid: SUB.sub_mchid, refund: 40 });
    expect(await queryRefund({ out_trade_no: no })).toMatchObject({ code: 0, out_refund_no: `${no}-1`, state: 'SUCCESS' });
    expect(await s.order(no)).toMatchObject({ status: 2, refund_fee: 40 });
    expect(await s.handlerCalls(no)).toHaveLength(1);
  });
});

describe('WeChat Pay partner notifications are matched on the sub-merchant', () => {
  const scene = SCENES[1];

  /** a partner TRANSACTION.SUCCESS for `no`, signed and encrypted by the sandbox; `over` replaces fields */
  function partnerNotification(no: string, over: Record<string, unknown> = {}) {
    const { appid, mchid, payer, ...rest } = wxpayTransaction(s, no);
    const t = { sp_appid: appid, sp_mchid: mchid, sub_mchid: SUB.sub_mchid, ...rest, payer: { sp_openid: (payer as any).openid }, ...over };
    const { body, headers } = s.wxpay.buildPaymentNotification(s.wxMerchant.mchid, t);
    return { body, headers: { ...headers, 'content-type': 'application/json' } };
  }

  test('a notification for another sub-merchant is refused and writes nothing', async () => {
    const no = await partnerOrder(scene);
    const n = partnerNotification(no, { sub_mchid: OTHER_SUB.sub_mchid });
    expect((await s.notify(scene.payType, no, n.body, n.headers)).status).toBe(500);
    await expectUntouched(s, no);
  });

  test('a notification with a sub_appid the order was not created with is refused', async () => {
    const no = await partnerOrder(scene);
    const n = partnerNotification(no, { sub_appid: SUB.appids[0] });
    expect((await s.notify(scene.payType, no, n.body, n.headers)).status).toBe(500);
    await expectUntouched(s, no);
  });

  test('a direct-merchant notification (no sub-merchant) for a partner order is refused', async () => {
    const no = await partnerOrder(scene);
    const { body, headers } = s.wxpay.buildPaymentNotification(s.wxMerchant.mchid, wxpayTransaction(s, no));
    expect((await s.notify(scene.payType, no, body, { ...headers, 'content-type': 'application/json' })).status).toBe(500);
    await expectUntouched(s, no);
  });

  test('a partner notification for a direct order is refused', async () => {
    const no = tradeNo('SD');
    expect(
      (await s.createPayment({ provider: 'wxpay', isPC: true, data: { out_trade_no: no, total_fee: 100, subject: 'd', type: 'counted' } }))
        .errCode,
    ).toBe(0);
    const n = partnerNotification(no);
    expect((await s.notify('wxpay_h5', no, n.body, n.headers)).status).toBe(500);
    await expectUntouched(s, no);
  });

  test('forged (tampered body), replayed (stale timestamp) are refused with nothing written; the genuine one, sent twice, runs the handler once', async () => {
    const no = await partnerOrder(scene);
    const n = partnerNotification(no);
    const tampered = n.body.replace('支付成功', '支付成功 ');
    expect((await s.notify(scene.payType, no, tampered, n.headers)).status).toBe(500);
    const stale = {
      ...n.headers,
      ...s.wxpay.signNotification(s.wxMerchant.mchid, n.body, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
      'content-type': 'application/json',
    };
    expect((await s.notify(scene.payType, no, n.body, stale)).status).toBe(500);
    await expectUntouched(s, no);
    expect((await s.notify(scene.payType, no, n.body, n.headers)).status).toBe(200);
    expect((await s.notify(scene.payType, no, n.body, n.headers)).status).toBe(200);
    expect(await s.handlerCalls(no)).toHaveLength(1);
    expect(await s.order(no)).toMatchObject({ status: 1, sub_mchid: SUB.sub_mchid });
  });
});

describe('WeChat Pay partner: the order keeps its sub-merchant', () => {
  test('a lost notification: queryPayment asks the partner query of the order’s sub-merchant and settles it once', async () => {
    const no = await partnerOrder(SCENES[1]);
    s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/nowhere'; // the notification never arrives
    await s.wxpay.pay(no);
    const q = await queryPayment(no, { await_notify: true });
    expect(q).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true });
    expect(await s.order(no)).toMatchObject({ status: 1, notify_mode: 0, transaction_id: s.wxpay.order(no)!.transaction_id });
    expect(await s.handlerCalls(no)).toHaveLength(1);
  });

  test('closeOrder closes the sub-merchant’s trade', async () => {
    const no = await partnerOrder(SCENES[1]);
    expect(await closeOrder({ out_trade_no: no })).toMatchObject({ code: 0, status: -1 });
    expect(s.wxpay.order(no)!.trade_state).toBe('CLOSED');
  });

  test('paying the same order again keeps its sub-merchant: another sub_mchid is refused (1021)', async () => {
    const no = await partnerOrder(SCENES[1]);
    const again = await s.createPaymentRaw(
      {
        provider: 'wxpay',
        isPC: true,
        data: { out_trade_no: no, total_fee: 100, subject: '服务商订单', type: 'counted', sub_mchid: OTHER_SUB.sub_mchid },
      },
      WEB_PC,
    );
    expect(again).toMatchObject({ code: 1021 });
    expect(await s.order(no)).toMatchObject({ sub_mchid: SUB.sub_mchid });
  });

  test('a sub-merchant not bound to the service provider: the gateway refuses, the order names it', async () => {
    const no = tradeNo('SP');
    const r = await s.createPaymentRaw(
      { provider: 'wxpay', isPC: true, data: { out_trade_no: no, total_fee: 100, subject: 'x', type: 'counted', sub_mchid: '1999999999' } },
      WEB_PC,
    );
    expect(r.code).not.toBe(0);
    expect(s.wxpay.order(no)).toBeUndefined();
  });
});

test.each([['sub_mch_id'], ['sub_mchid'], ['sub_appid'], ['app_auth_token']])(
  'data.other cannot name another sub-merchant (%s): 1011, nothing stored',
  async (key) => {
    const no = tradeNo('SP');
    const r = await s.createPaymentRaw(
      {
        provider: 'wxpay',
        isPC: true,
        data: {
          out_trade_no: no,
          total_fee: 100,
          subject: 'x',
          type: 'counted',
          sub_mchid: SUB.sub_mchid,
          other: { [key]: OTHER_SUB.sub_mchid },
        },
      },
      WEB_PC,
    );
    expect(r).toMatchObject({ code: 1011 });
    expect(await s.order(no)).toBeNull();
  },
);

describe('Alipay with the merchant’s app_auth_token', () => {
  const aliRaw = (no: string, app_auth_token: string) =>
    s.createPaymentRaw(
      { provider: 'alipay', isPC: true, data: { out_trade_no: no, total_fee: 100, subject: 'x', type: 'counted', app_auth_token } },
      WEB_PC,
    );

  test('create (token sent, not dropped) → pay → notification → handler once → queryPayment paid → refund with the same token', async () => {
    const no = tradeNo('AI');
    const r = await s.createPayment({
      provider: 'alipay',
      isPC: true,
      data: { out_trade_no: no, total_fee: 200, subject: 'ISV 订单', type: 'counted', app_auth_token: TOKEN },
    });
    expect(r).toMatchObject({ errCode: 0, pay_type: 'alipay_h5' });
    const created = s.alipay.requests.find((q) => q.method === 'alipay.trade.precreate' && q.biz.out_trade_no === no)!;
    expect(created.params.app_auth_token).toBe(TOKEN);
    expect((await s.order(no))!.app_auth_token).toBe(TOKEN);

    await fetch(r.orderInfo.codeUrl); // the buyer scans
    await s.alipay.pay(no);
    await s.alipay.waitForDelivery(no);
    expect(await s.handlerCalls(no)).toHaveLength(1);
    const q = await queryPayment(no, { await_notify: true });
    expect(q).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true });
    expect(JSON.stringify(q)).not.toContain(TOKEN); // a credential never reaches a client
    const stored = (await s.order(no))!;
    expect(stored.notify_info).toMatchObject({
      auth_app_id: ALIPAY_AUTHORIZATIONS[TOKEN as keyof typeof ALIPAY_AUTHORIZATIONS].auth_app_id,
    });

    // the sandbox finds the trade only with its merchant's token: refund and its query prove the token is sent
    expect(await refund({ out_trade_no: no, refund_fee: 50 })).toMatchObject({ code: 0, refund_fee: 50, state: 'SUCCESS' });
    expect(await queryRefund({ out_trade_no: no })).toMatchObject({ code: 0, state: 'SUCCESS' });
    const calls = s.alipay.requests.filter((x) => x.biz.out_trade_no === no && x.method !== 'alipay.trade.precreate');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((x) => x.params.app_auth_token === TOKEN)).toBe(true);
    expect(await s.handlerCalls(no)).toHaveLength(1);
  });

  test('query and close of an unpaid ISV order act for its merchant', async () => {
    const no = tradeNo('AI');
    const r = await s.createPayment(
      {
        provider: 'alipay',
        data: { out_trade_no: no, total_fee: 100, subject: 'x', type: 'counted', openid: '2088000000000009', app_auth_token: OTHER_TOKEN },
      },
      CLIENT.mpAlipay,
    );
    expect(r.errCode).toBe(0);
    expect((await queryPayment(no)).orderPaid).toBe(false);
    expect(await closeOrder({ out_trade_no: no })).toMatchObject({ code: 0, status: -1 });
    expect(s.alipay.order(no)!.trade_status).toBe('TRADE_CLOSED');
    const calls = s.alipay.requests.filter((x) => x.biz.out_trade_no === no);
    expect(calls.map((x) => x.params.app_auth_token)).toEqual(calls.map(() => OTHER_TOKEN));
  });

  test('a token Alipay does not know is refused with a coded error', async () => {
    const no = tradeNo('AI');
    const r = await aliRaw(no, 'unknownToken123');
    expect(r.code).not.toBe(0);
    expect(typeof r.msg).toBe('string');
    expect(s.alipay.order(no)).toBeUndefined();
  });

  test('a malformed token is refused before anything is stored', async () => {
    const no = tradeNo('AI');
    const r = await aliRaw(no, 'bad token!');
    expect(r).toMatchObject({ code: 1021 });
    expect(await s.order(no)).toBeNull();
  });
});
