/**
 * The refund lifecycle end to end, through the runtime's HTTP server: refunds asked by a business
 * cloud function (the common module), their outcomes arriving as provider notifications at vk-pay
 * (WeChat Pay v3 REFUND.*, Alipay refund notices, the WeChat virtual-payment refund push), the
 * ledger, the order (refund_fee confirmed only, refund_reserved in flight) and the
 * `refund-notify/<type>.js` hook — once per final state. Forged, tampered and replayed
 * notifications are refused and write nothing.
 */
import { randomBytes } from 'node:crypto';
import { CLIENT, startTestStack, tradeNo, until, type TestStack } from '../helpers/project';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack({ alipayRefundNotify: true });
}, 60_000);
afterAll(() => s?.close());
afterEach(() => s.wxpay.holdRefunds(false));

const refund = async (params: Record<string, unknown>) => (await s.call('test-shop', 'refund', [params])).result;
const queryRefund = async (params: Record<string, unknown>) => (await s.call('test-shop', 'queryRefund', [params])).result;
const ledger = async (out_refund_no: string) => (await s.findDocs('vk-pay-refunds', { out_refund_no }))[0];
const hookCalls = (out_refund_no: string) => s.findDocs('test-refund-hook-calls', { out_refund_no });

/** A PC web order paid in the sandbox and settled by its notification. */
async function paidOrder(provider: 'wxpay' | 'alipay', total_fee: number, type = 'counted'): Promise<string> {
  const no = tradeNo('N');
  const r = await s.createPayment({ provider, isPC: true, data: { out_trade_no: no, total_fee, subject: '退款通知', type } });
  expect(r).toMatchObject({ errCode: 0, out_trade_no: no });
  if (provider === 'wxpay') await s.wxpay.pay(no);
  else {
    await fetch(r.orderInfo.codeUrl);
    await s.alipay.pay(no);
  }
  await until(async () => (await s.order(no))?.user_order_success === true);
  return no;
}

/** A WeChat refund the gateway holds in PROCESSING (as WeChat does for most refunds). */
async function processingRefund(no: string, refund_fee: number): Promise<string> {
  s.wxpay.holdRefunds(true);
  const r = await refund({ out_trade_no: no, refund_fee });
  s.wxpay.holdRefunds(false);
  expect(r).toMatchObject({ code: 0, state: 'PROCESSING', refund_fee });
  return r.out_refund_no;
}

/** the refund notification of `out_refund_no` as the sandbox would send it, signed; `over` changes the resource */
function signedRefund(out_refund_no: string, status: string, over: Record<string, unknown> = {}) {
  const resource = { ...s.wxpay.refundNotice(out_refund_no)!, refund_status: status, ...over };
  const n = s.wxpay.buildRefundNotification(s.wxMerchant.mchid, resource, status);
  return { body: n.body, headers: { ...n.headers, 'content-type': 'application/json' } };
}

describe('WeChat Pay v3 REFUND.* notifications', () => {
  test('PROCESSING keeps the amount reserved, not refunded; REFUND.SUCCESS confirms it and the hook runs once', async () => {
    const no = await paidOrder('wxpay', 100);
    const rno = await processingRefund(no, 30);
    expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0, refund_reserved: 30 });
    expect(await ledger(rno)).toMatchObject({ state: 'PROCESSING' });
    // only what is neither refunded nor reserved may be refunded meanwhile
    expect(await refund({ out_trade_no: no, out_refund_no: `${no}-big`, refund_fee: 71 })).toMatchObject({ code: 2003, refundable: 70 });
    expect(await hookCalls(rno)).toHaveLength(0);

    s.wxpay.finishRefund(rno, 'SUCCESS');
    await s.wxpay.waitForDelivery(rno, (d) => d.acknowledged, 15_000);
    expect(await ledger(rno)).toMatchObject({ state: 'SUCCESS', source: 'notify', hook_done: true });
    expect(await s.order(no)).toMatchObject({ status: 2, refund_fee: 30, refund_reserved: 0 });
    const calls = await hookCalls(rno);
    expect(calls).toHaveLength(1);
    // the hook sees the order as it is after this refund
    expect(calls[0]).toMatchObject({
      state: 'SUCCESS',
      refund_fee: 30,
      out_trade_no: no,
      source: 'notify',
      order_refund_fee: 30,
      order_status: 2,
    });
    // the business's query agrees, and asks nothing twice
    expect(await queryRefund({ out_trade_no: no, out_refund_no: rno })).toMatchObject({
      state: 'SUCCESS',
      order: { refund_fee: 30, refund_reserved: 0, status: 2 },
    });
    expect(await hookCalls(rno)).toHaveLength(1);
  });

  test('duplicate notifications, 10 in parallel and again later, run the hook once', async () => {
    const no = await paidOrder('wxpay', 100);
    const rno = await processingRefund(no, 100);
    const n = signedRefund(rno, 'SUCCESS');
    const replies = await Promise.all(Array.from({ length: 10 }, () => s.notify('wxpay_h5', no, n.body, n.headers)));
    expect(replies.every((r) => r.status === 200 || r.status === 500)).toBe(true);
    for (let i = 0; i < 2; i++) expect((await s.notify('wxpay_h5', no, n.body, n.headers)).status).toBe(200);
    expect(await hookCalls(rno)).toHaveLength(1);
    expect(await s.order(no)).toMatchObject({ status: 3, refund_fee: 100, refund_reserved: 0 });
  });

  test.each([['ABNORMAL'], ['CLOSED']])('REFUND.%s: the reservation is released, the hook runs once with FAIL', async (status) => {
    const no = await paidOrder('wxpay', 100);
    const rno = await processingRefund(no, 60);
    s.wxpay.finishRefund(rno, status as 'ABNORMAL' | 'CLOSED');
    await s.wxpay.waitForDelivery(rno, (d) => d.acknowledged, 15_000);
    expect(await ledger(rno)).toMatchObject({ state: 'FAIL', fail_code: status, source: 'notify' });
    expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0, refund_reserved: 0 });
    expect((await s.order(no))!.refund_list[0]).toMatchObject({ out_refund_no: rno, state: 'FAIL' });
    const calls = await hookCalls(rno);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ state: 'FAIL', refund_fee: 60 });
    // a late SUCCESS for the same number changes nothing: a final state stays
    const late = signedRefund(rno, 'SUCCESS');
    expect((await s.notify('wxpay_h5', no, late.body, late.headers)).status).toBe(200);
    expect(await ledger(rno)).toMatchObject({ state: 'FAIL' });
    expect(await hookCalls(rno)).toHaveLength(1);
    // the whole amount may be refunded again
    expect(await refund({ out_trade_no: no })).toMatchObject({ code: 0, state: 'SUCCESS', refund_fee: 100 });
  });

  test('a hook that fails is retried: the notification is answered "retry" until it succeeded once', async () => {
    const no = await paidOrder('wxpay', 100, 'flaky');
    const rno = await processingRefund(no, 40);
    s.wxpay.finishRefund(rno, 'SUCCESS');
    await s.wxpay.waitForDelivery(rno, (d) => d.acknowledged, 15_000);
    const deliveries = s.wxpay.deliveries.filter((d) => d.out_trade_no === rno);
    expect(deliveries[0]).toMatchObject({ status: 500, acknowledged: false });
    expect(await ledger(rno)).toMatchObject({ state: 'SUCCESS', hook_done: true, hook_attempts: 2 });
    const calls = await hookCalls(rno);
    expect(calls.map((c) => c.ok)).toEqual([false, true]);
    expect(await s.order(no)).toMatchObject({ refund_fee: 40, refund_reserved: 0, status: 2 });
  });

  describe('forged, tampered and replayed notifications are refused and write nothing', () => {
    const cases: Array<[string, (no: string, rno: string) => { no?: string; body: string; headers: Record<string, string> }]> = [
      [
        'a body changed after signing',
        (_no, rno) => {
          const n = signedRefund(rno, 'SUCCESS');
          return { body: n.body.replace('"event_type":"REFUND.SUCCESS"', '"event_type":"REFUND.SUCCESS" '), headers: n.headers };
        },
      ],
      [
        'a signature by an unknown key (serial)',
        (_no, rno) => {
          const n = signedRefund(rno, 'SUCCESS');
          const forged = s.wxpay.signNotification(s.wxMerchant.mchid, n.body, { serial: '7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' });
          return { body: n.body, headers: { ...n.headers, ...forged, 'content-type': 'application/json' } };
        },
      ],
      [
        'a replay of a genuine notification after the 5-minute window',
        (_no, rno) => {
          const n = signedRefund(rno, 'SUCCESS');
          const old = s.wxpay.signNotification(s.wxMerchant.mchid, n.body, { timestamp: Math.floor(Date.now() / 1000) - 301 });
          return { body: n.body, headers: { ...n.headers, ...old, 'content-type': 'application/json' } };
        },
      ],
      ['a genuine notification replayed onto another order', (_no, rno) => ({ no: tradeNo('O'), ...signedRefund(rno, 'SUCCESS') })],
      ["another merchant's refund (mchid)", (_no, rno) => signedRefund(rno, 'SUCCESS', { mchid: '1900000999' })],
      [
        'a signature of random bytes',
        (_no, rno) => {
          const n = signedRefund(rno, 'SUCCESS');
          const bad = s.wxpay.signNotification(s.wxMerchant.mchid, n.body, { signature: randomBytes(256).toString('base64') });
          return { body: n.body, headers: { ...n.headers, ...bad, 'content-type': 'application/json' } };
        },
      ],
    ];
    test.each(cases)('%s', async (_name, make) => {
      const no = await paidOrder('wxpay', 100);
      const rno = await processingRefund(no, 50);
      const before = await ledger(rno);
      const n = make(no, rno);
      if (n.no) {
        // the other order exists and is paid: the notification still names this refund's order
        const other = await paidOrder('wxpay', 100);
        const r = await s.notify('wxpay_h5', other, n.body, n.headers);
        expect(r.status).toBe(500);
        expect(await s.order(other)).toMatchObject({ refund_fee: 0, refund_list: [] });
      } else {
        const r = await s.notify('wxpay_h5', no, n.body, n.headers);
        expect(r.status).toBe(500);
        expect(JSON.parse(r.body)).toMatchObject({ code: 'FAIL' });
      }
      expect(await ledger(rno)).toEqual(before);
      expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0, refund_reserved: 50 });
      expect(await hookCalls(rno)).toHaveLength(0);
    });
  });
});

describe('Alipay refund notices', () => {
  test('the answer confirms the refund; the notice on the payment URL runs nothing twice', async () => {
    const no = await paidOrder('alipay', 200);
    const r = await refund({ out_trade_no: no, refund_fee: 50 });
    expect(r).toMatchObject({ code: 0, state: 'SUCCESS' });
    // the notice reaches vk-pay (where the hooks are) and is acknowledged with "success"
    await until(async () =>
      s.alipay.deliveries.some((d) => d.out_trade_no === no && d.body === 'success' && /out_biz_no/.test(d.payload ?? '')),
    );
    await until(async () => (await hookCalls(r.out_refund_no)).length === 1);
    expect(await ledger(r.out_refund_no)).toMatchObject({ state: 'SUCCESS', source: 'answer', hook_done: true });
    // the full refund's notice (TRADE_CLOSED) too
    const all = await refund({ out_trade_no: no });
    expect(all).toMatchObject({ code: 0, state: 'SUCCESS', refund_fee: 150 });
    await until(async () => (await hookCalls(all.out_refund_no)).length === 1);
    expect(await s.order(no)).toMatchObject({ status: 3, refund_fee: 200, refund_reserved: 0 });
    expect(await hookCalls(r.out_refund_no)).toHaveLength(1);
  });
});

describe('WeChat virtual payment: xpay_refund_notify', () => {
  test('the xpay_refund_notify push confirms a refund (PROCESSING at WeChat) and the hook runs once', async () => {
    const { code } = s.wxapi.login();
    const { openid } = await s.call('vk-pay', 'code2SessionWeixinMP', [{ code }], CLIENT.mp);
    const no = tradeNo('V');
    const created = await s.createPayment(
      {
        provider: 'wxpay-virtual',
        data: {
          out_trade_no: no,
          total_fee: 100,
          subject: '金币',
          type: 'counted',
          openid,
          wxpay_virtual: { mode: 'short_series_coin', buy_quantity: 100 },
        },
      },
      CLIENT.mp,
    );
    expect(created).toMatchObject({ errCode: 0 });
    const o = created.orderInfo;
    await s.wxapi.requestVirtualPayment({
      appId: s.wxApp.appId,
      openid,
      signData: o.signData,
      paySig: o.paySig,
      signature: o.signature,
      mode: o.mode,
    });
    await until(async () => (await s.order(no))?.user_order_success === true);
    const r = await refund({ out_trade_no: no, out_refund_no: `${no}R1`, refund_fee: 40 });
    expect(r).toMatchObject({ code: 0 });
    // the push arrives at vk-pay shortly after the answer
    await until(async () => (await ledger(`${no}R1`))?.hook_done === true);
    expect(await ledger(`${no}R1`)).toMatchObject({ state: 'SUCCESS', source: 'notify' });
    expect(await s.order(no)).toMatchObject({ status: 2, refund_fee: 40, refund_reserved: 0 });
    expect(await hookCalls(`${no}R1`)).toHaveLength(1);
  });
});
