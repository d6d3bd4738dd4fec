/**
 * Huawei Pay end to end, through the runtime's HTTP server against the Huawei Pay sandbox:
 * createPayment (pre-order signed with the merchant's RSA key) → orderStr → the device's Payment Kit
 * pays → an SM2-signed notification → verified, handler once, Huawei's reply → queryPayment paid →
 * refund (processing, then settled by the signed refund notice and a verified refund query).
 * Forged, tampered, replayed and mismatched notifications are refused and write nothing.
 */
import { HUAWEI_APPIDS } from '../../tools/stack';
import { startTestStack, tradeNo, until, type TestStack, expectUntouched as expectUntouchedIn } from '../helpers/project';
import type { ClientInfo } from '../../types/unicloud-server';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const HARMONY_APP = { uniPlatform: 'app-harmony', appId: '__UNI__TEST', locale: 'zh-Hans', osName: 'harmonyos' } as ClientInfo;
const HARMONY_MP = { uniPlatform: 'mp-harmony', appId: '__UNI__TEST', locale: 'zh-Hans' } as ClientInfo;
const SUCCESS = { resultCode: '000000', resultDesc: 'Success.' };

async function newOrder(total_fee = 100, client = HARMONY_APP, type = 'counted'): Promise<{ no: string; r: any }> {
  const no = tradeNo('H');
  const r = await s.createPayment(
    { provider: 'huawei', data: { out_trade_no: no, total_fee, subject: '鸿蒙会员', type, biz_type: '100001', custom: { note: 'hw' } } },
    client,
  );
  return { no, r };
}

const payType = (client: ClientInfo) => (client === HARMONY_MP ? 'huawei_mp-harmony' : 'huawei_app-plus');
const gatewayOrder = (no: string) => s.huawei.orders.get(`${s.huaweiMerchant.mchId}|${no}`);
const post = (no: string, body: string, pt = 'huawei_app-plus') =>
  s.notify(pt, no, body, { 'content-type': 'application/json;charset=UTF-8' });

async function expectUntouched(no: string) {
  await expectUntouchedIn(s, no);
}

async function expectPaidOnce(no: string, total_fee: number) {
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }]);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, status: 1, user_order_success: true });
  const calls = await s.handlerCalls(no);
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({ total_fee, custom_note: 'hw' });
}

describe.each([
  ['HarmonyOS app', HARMONY_APP, HUAWEI_APPIDS.app, 'app'],
  ['atomic service (元服务)', HARMONY_MP, HUAWEI_APPIDS.mp, 'fa'],
])('%s', (_name, client, appId, scene) => {
  test('create → Payment Kit pays → signed notification → handler once → queryPayment paid', async () => {
    const { no, r } = await newOrder(1999, client);
    expect(r).toMatchObject({
      errCode: 0,
      provider: 'huawei',
      pay_type: payType(client),
      out_trade_no: no,
      total_fee: 1999,
      needQRcode: false,
    });
    // the orderStr the client hands to uni.requestPayment({ provider: 'huawei', orderInfo })
    expect(typeof r.orderInfo).toBe('string');
    expect(JSON.parse(r.orderInfo)).toMatchObject({ app_id: appId, merc_no: s.huaweiMerchant.mchId, auth_id: s.huaweiMerchant.authId });
    expect(gatewayOrder(no)).toMatchObject({ scene, appId, totalAmount: 1999, status: 'TRX_APPLY' });
    expect(await s.order(no)).toMatchObject({
      status: 0,
      pay_type: payType(client),
      provider_appid: appId,
      mch_id: s.huaweiMerchant.mchId,
    });
    expect((await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }])).orderPaid).toBe(false);

    expect(await s.huawei.requestPayment(r.orderInfo)).toEqual({ resultCode: '0' });
    const d = await s.huawei.waitForDelivery(no, 15_000);
    expect(JSON.parse(d.lastReply!)).toEqual(SUCCESS);
    await expectPaidOnce(no, 1999);
    expect(await s.order(no)).toMatchObject({
      status: 1,
      notify_mode: 1,
      transaction_id: gatewayOrder(no)!.sysTransOrderNo,
      notify_info: { orderStatus: 'TRX_SUCCESS', totalAmount: 1999, paymentTools: 'HUAWEIPAY' },
    });
  });
});

test('refund: processing at first, settled by the signed refund notice and a verified query; queryRefund agrees', async () => {
  const { no, r } = await newOrder(500);
  await s.huawei.requestPayment(r.orderInfo);
  await s.huawei.waitForDelivery(no, 15_000);
  await expectPaidOnce(no, 500);
  const first = (await s.call('test-shop', 'refund', [{ out_trade_no: no, refund_fee: 200, refund_desc: '部分退款' }])).result;
  expect(first).toMatchObject({ code: 0, out_trade_no: no, refund_fee: 200 });
  const out_refund_no = first.out_refund_no;
  expect(s.huawei.refunds.get(`${s.huaweiMerchant.mchId}|${out_refund_no}`)).toMatchObject({ refundAmount: 200 });
  // the refund notice reaches the order's route and is acknowledged; the ledger follows Huawei's answer
  const d = await s.huawei.waitForDelivery(out_refund_no, 15_000);
  expect(JSON.parse(d.lastReply!)).toEqual(SUCCESS);
  await until(async () => (await s.findDocs('vk-pay-refunds', { out_refund_no }))[0]?.state === 'SUCCESS');
  expect(await s.order(no)).toMatchObject({ status: 2, refund_fee: 200 });
  const q = (await s.call('test-shop', 'queryRefund', [{ out_trade_no: no, out_refund_no }])).result;
  expect(q).toMatchObject({ code: 0, out_refund_no, refund_fee: 200, state: 'SUCCESS' });
  // the rest, then nothing more
  const second = (await s.call('test-shop', 'refund', [{ out_trade_no: no }])).result;
  expect(second).toMatchObject({ code: 0, refund_fee: 300 });
  await until(async () => (await s.findDocs('vk-pay-refunds', { out_refund_no: second.out_refund_no }))[0]?.state === 'SUCCESS');
  expect(await s.order(no)).toMatchObject({ status: 3, refund_fee: 500 });
  expect(gatewayOrder(no)!.refunded).toBe(500);
});

test('queryPayment settles a payment whose notification never came (verified order query)', async () => {
  const { no } = await newOrder(300);
  const o = gatewayOrder(no)!;
  o.status = 'TRX_SUCCESS'; // paid at Huawei, notification lost
  o.finishTime = Date.now();
  await expectPaidOnce(no, 300);
  expect(await s.order(no)).toMatchObject({ status: 1, notify_mode: 0, transaction_id: o.sysTransOrderNo });
});

test('the same genuine notification, again and 10 in parallel, runs the handler once; a late replay writes nothing', async () => {
  const { no, r } = await newOrder(100);
  const genuine = s.huawei.paymentNotification(no);
  const replies = await Promise.all(Array.from({ length: 10 }, () => post(no, genuine)));
  for (const rep of replies) expect(rep.status).toBe(200);
  expect(replies.some((rep) => JSON.parse(rep.body).resultCode === '000000')).toBe(true);
  await until(async () => (await s.order(no))?.user_order_success === true);
  expect(await s.handlerCalls(no)).toHaveLength(1);
  const before = await s.order(no);
  expect(JSON.parse((await post(no, genuine)).body)).toEqual(SUCCESS);
  expect(await s.order(no)).toEqual(before);
  expect(await s.handlerCalls(no)).toHaveLength(1);
  expect(r.errCode).toBe(0);
});

describe('refused, nothing written, Huawei asked to retry', () => {
  const refused = async (no: string, body: string, pt?: string) => {
    const rep = await post(no, body, pt);
    expect(rep.status).toBe(200);
    expect(JSON.parse(rep.body).resultCode).not.toBe('000000');
    await expectUntouched(no);
  };

  test('forged: unsigned, signed by another key, or not JSON', async () => {
    const { no } = await newOrder(100);
    await refused(no, s.huawei.paymentNotification(no, { sign: null }));
    const other = JSON.parse(s.huawei.paymentNotification(no));
    other.sign = 'MEQCIBAo8cFAPccYVjQ9l0jZxj6rlSR0KTqJHFWxa5/k1FvnAiBgD1WhYJmOBvwiXw/+TZ8thGoNMuXxTaOXu57H8baDmg==';
    await refused(no, JSON.stringify(other));
    await refused(no, 'orderStatus=TRX_SUCCESS');
  });

  test('tampered: amount, status or a field added after signing', async () => {
    const { no } = await newOrder(100);
    const genuine = s.huawei.paymentNotification(no, { orderStatus: 'TRX_FAILED' });
    await refused(no, genuine.replace('"orderStatus":"TRX_FAILED"', '"orderStatus":"TRX_SUCCESS"'));
    await refused(no, s.huawei.paymentNotification(no).replace('"totalAmount":100', '"totalAmount":1'));
    await refused(no, s.huawei.paymentNotification(no).replace(/}$/, ',"bonus":"1"}'));
  });

  test("mismatched: another order's genuine notification on this route, another amount, app or merchant", async () => {
    const a = await newOrder(100);
    const b = await newOrder(100);
    await refused(b.no, s.huawei.paymentNotification(a.no));
    await refused(b.no, s.huawei.paymentNotification(b.no, { totalAmount: 1 }));
    await refused(b.no, s.huawei.paymentNotification(b.no, { appId: HUAWEI_APPIDS.mp }));
    await refused(b.no, s.huawei.paymentNotification(b.no, { mercNo: '101540000999' }));
    await refused(b.no, s.huawei.paymentNotification(b.no), 'huawei_mp-harmony'); // the route names the other scene's app
    await expectUntouched(a.no);
  });

  test('a failed payment is acknowledged but pays nothing', async () => {
    const { no } = await newOrder(100);
    expect(JSON.parse((await post(no, s.huawei.paymentNotification(no, { orderStatus: 'TRX_FAILED' }))).body)).toEqual(SUCCESS);
    await expectUntouched(no);
  });
});

test('client errors: a non-HarmonyOS client and a bad biz_type are coded, nothing reaches Huawei', async () => {
  const before = s.huawei.calls.length;
  const web = await s
    .createPayment({ provider: 'huawei', data: { out_trade_no: tradeNo('H'), total_fee: 1, subject: 'x', type: 'counted' } })
    .catch((e: Error) => e.message);
  expect(String(JSON.stringify(web))).toMatch(/1007|PLATFORM/);
  const bad = await s
    .createPayment(
      { provider: 'huawei', data: { out_trade_no: tradeNo('H'), total_fee: 1, subject: 'x', type: 'counted', biz_type: 'abc' } },
      HARMONY_APP,
    )
    .catch((e: Error) => e.message);
  expect(String(JSON.stringify(bad))).toMatch(/1021|biz_type/);
  // data.other reaches the pre-order body, but never its amount, order number, merchant, app or callback
  for (const key of ['totalAmount', 'mercOrderNo', 'mercNo', 'appId', 'callbackUrl']) {
    const no = tradeNo('H');
    const r = await s
      .createPayment(
        { provider: 'huawei', data: { out_trade_no: no, total_fee: 1, subject: 'x', type: 'counted', other: { [key]: 'x' } } },
        HARMONY_APP,
      )
      .catch((e: Error) => e.message);
    expect(String(JSON.stringify(r))).toMatch(/1011/);
    expect(await s.order(no)).toBeNull();
  }
  expect(s.huawei.calls.length).toBe(before);
});
