/**
 * Douyin guaranteed payment end to end, through the runtime's HTTP server against the Douyin sandbox
 * peer (real SALT request signatures, real Token notification signatures): create in the Douyin mini
 * program → the payer pays in the cashier → signed notification → handler once → queryPayment paid →
 * refund → signed refund notification → ledger SUCCESS. Forged, tampered, replayed and mismatched
 * notifications are refused (err_no 1, Douyin retries) and write nothing.
 */
import { startTestStack, tradeNo, until, type TestStack, expectUntouched } from '../helpers/project';
import type { ClientInfo } from '../../types/unicloud-server';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const PAY_TYPE = 'douyin_mp-toutiao';
const MP_TOUTIAO = { uniPlatform: 'mp-toutiao', appId: '__UNI__TEST', locale: 'zh-Hans' } as ClientInfo;
const ACK = { err_no: 0, err_tips: 'success' };
const notifyUrl = (no: string) => `${s.url}/http/vk-pay/paymentNotify/${PAY_TYPE}/${no}`;
const post = async (no: string, body: string) => {
  const r = await s.douyin.post(notifyUrl(no), body);
  return { status: r.status, json: JSON.parse(r.body) };
};
const server = async (method: string, params: Record<string, unknown>) => (await s.call('test-shop', method, [params])).result;

async function newOrder(total_fee = 100, type = 'counted'): Promise<string> {
  const no = tradeNo('D');
  const r = await s.createPayment(
    { provider: 'douyin', data: { out_trade_no: no, total_fee, subject: '抖音测试商品', type, custom: { note: 'dy' } } },
    MP_TOUTIAO,
  );
  expect(r).toMatchObject({ errCode: 0, provider: 'douyin', pay_type: PAY_TYPE, out_trade_no: no, total_fee, platform: 'mp-toutiao' });
  const peer = s.douyin.order(no)!;
  // exactly what tt.pay takes, nothing secret
  expect(r.orderInfo).toEqual({ order_id: peer.order_id, order_token: peer.order_token });
  expect(peer).toMatchObject({ total_amount: total_fee, notify_url: notifyUrl(no) });
  return no;
}

/** a genuinely signed payment notification for `no` (the order must exist at the peer) */
const genuine = (no: string, msg: Record<string, unknown> = {}) => s.douyin.paymentNotification(no, msg);

test('create → pay → signed notification → handler once → queryPayment paid, provider_pay_method recorded', async () => {
  const no = await newOrder(1234);
  expect((await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }], MP_TOUTIAO)).orderPaid).toBe(false);
  await s.douyin.pay(no, '1');
  const d = await s.douyin.waitForDelivery(no, 15_000);
  expect(d.lastStatus).toBe(200);
  expect(JSON.parse(d.lastReply!)).toEqual(ACK);
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }], MP_TOUTIAO);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, status: 1, user_order_success: true });
  const calls = await s.handlerCalls(no);
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({ total_fee: 1234, custom_note: 'dy' });
  const peer = s.douyin.order(no)!;
  expect(await s.order(no)).toMatchObject({
    status: 1,
    notify_mode: 1,
    handler_attempts: 1,
    transaction_id: peer.order_id,
    provider_pay_method: 'wxpay',
    provider_appid: s.douyinApp.appId,
    notify_info: { cp_orderno: no, way: '1', provider_pay_method: 'wxpay', total_amount: 1234 },
  });
});

test('the active query settles a paid order whose notification never arrived (notify_mode 0)', async () => {
  const no = await newOrder(300);
  // the notification goes nowhere: only query_order can tell
  s.douyin.order(no)!.notify_url = 'http://127.0.0.1:9/unreachable';
  await s.douyin.pay(no);
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }]);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true });
  expect(await s.order(no)).toMatchObject({ status: 1, notify_mode: 0, provider_pay_method: 'alipay' });
  expect(await s.handlerCalls(no)).toHaveLength(1);
});

test('refund: accepted (PROCESSING), then the signed refund notification settles the ledger SUCCESS', async () => {
  const no = await newOrder(100);
  await s.douyin.pay(no);
  await s.douyin.waitForDelivery(no, 15_000);
  const r = await server('refund', { out_trade_no: no, refund_fee: 30, refund_desc: '部分退款' });
  expect(r).toMatchObject({ code: 0, out_trade_no: no, out_refund_no: `${no}-1`, refund_fee: 30 });
  expect(['PROCESSING', 'SUCCESS']).toContain(r.state);
  const peerRefund = s.douyin.order(no)!.refunds.get(`${no}-1`)!;
  expect(peerRefund).toMatchObject({ amount: 30, cp_extra: no });
  const d = await s.douyin.waitForDelivery(`refund:${no}-1`, 15_000);
  expect(JSON.parse(d.lastReply!)).toEqual(ACK);
  const ledger = await until(async () => {
    const [doc] = await s.findDocs('vk-pay-refunds', { out_refund_no: `${no}-1` });
    return doc?.state === 'SUCCESS' ? doc : undefined;
  });
  expect(ledger).toMatchObject({ out_trade_no: no, refund_fee: 30, refund_id: peerRefund.refund_no });
  expect(await server('queryRefund', { out_trade_no: no })).toMatchObject({ code: 0, state: 'SUCCESS', refund_fee: 30 });
  expect(await s.order(no)).toMatchObject({ status: 2, refund_fee: 30 });
});

describe('refused notifications write nothing (err_no 1: Douyin retries)', () => {
  test('forged: signed with another token', async () => {
    const no = await newOrder();
    const forged = s.douyin.buildNotification(
      'payment',
      { appid: s.douyinApp.appId, cp_orderno: no, total_amount: 100, status: 'SUCCESS', order_id: 'N1', way: '2' },
      { token: 'attacker-token' },
    );
    expect((await post(no, forged.body)).json).toMatchObject({ err_no: 1 });
    await expectUntouched(s, no);
  });

  test('tampered: msg changed after signing, or the signature removed', async () => {
    const no = await newOrder(100);
    const good = genuine(no);
    const tampered = JSON.stringify({
      ...good.fields,
      msg: good.fields.msg.replace('"status":"SUCCESS"', '"status":"SUCCESS","way":"10"'),
    });
    expect(tampered).not.toBe(good.body);
    expect((await post(no, tampered)).json).toMatchObject({ err_no: 1 });
    const unsigned = JSON.stringify({ ...good.fields, msg_signature: '' });
    expect((await post(no, unsigned)).json).toMatchObject({ err_no: 1 });
    await expectUntouched(s, no);
  });

  test('mismatched amount, app id or order (all genuinely signed)', async () => {
    const no = await newOrder(100);
    expect((await post(no, genuine(no, { total_amount: 1 }).body)).json).toMatchObject({ err_no: 1 });
    expect((await post(no, genuine(no, { appid: 'tt0000000000000bad' }).body)).json).toMatchObject({ err_no: 1 });
    const other = await newOrder(100);
    // order `other`'s genuine notification posted to `no`'s URL
    expect((await post(no, genuine(other).body)).json).toMatchObject({ err_no: 1 });
    await expectUntouched(s, no);
    await expectUntouched(s, other);
  });

  test('replayed: a stale genuine notification is refused; a repeat after success changes nothing', async () => {
    const no = await newOrder(100);
    const stale = s.douyin.buildNotification(
      'payment',
      { appid: s.douyinApp.appId, cp_orderno: no, total_amount: 100, status: 'SUCCESS', order_id: 'N2', way: '2' },
      { timestamp: String(Math.floor(Date.now() / 1000) - 49 * 3600) },
    );
    expect((await post(no, stale.body)).json).toMatchObject({ err_no: 1 });
    await expectUntouched(s, no);

    await s.douyin.pay(no);
    await s.douyin.waitForDelivery(no, 15_000);
    await until(async () => (await s.order(no))?.user_order_success === true);
    const before = await s.order(no);
    const again = genuine(no);
    expect((await post(no, again.body)).json).toEqual(ACK);
    expect((await post(no, again.body)).json).toEqual(ACK);
    expect(await s.handlerCalls(no)).toHaveLength(1);
    expect(await s.order(no)).toEqual(before);
  });

  test('malformed bodies', async () => {
    const no = await newOrder();
    for (const body of ['', 'not json', '[]', '{"msg":{"a":1}}', JSON.stringify({ ...genuine(no).fields, msg: 'not json' })]) {
      expect((await post(no, body)).json).toMatchObject({ err_no: 1 });
    }
    await expectUntouched(s, no);
  });
});
