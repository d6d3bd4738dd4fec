/**
 * Crash points: the runtime runs in a child process and is SIGKILLed at each step of the notify
 * path (after the paid transition = at the handler's start, inside the handler before and after
 * its side effect) and of the refund path (before the refund request, after the provider
 * answered). It is started again; then the order is paid once, the idempotent handler's effect is
 * applied once, Σ refunds ≤ paid, and ledger = order = provider.
 * Crash hooks: VK_TEST_CRASH_AT in the test handler (test/helpers/project.ts) and
 * LOCAL_UNICLOUD_CRASH in the local runtime's httpclient; both inert unless set, neither shipped.
 */
import { callCloudObject } from '../../tools/local-unicloud';
import { wxPaymentNotification } from '../../tools/stack';
import { startTestStack, tradeNo, type TestStack } from '../helpers/project';
import { startChildRuntime, type ChildRuntime } from './child-runtime';

let s: TestStack;
let child: ChildRuntime | undefined;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterEach(async () => {
  await child?.kill();
  child = undefined;
});
afterAll(() => s?.close());

const PAY_TYPE = 'wxpay_h5';

async function newOrder(type: string, total_fee = 100): Promise<string> {
  const no = tradeNo('K');
  const r = await s.createPayment({ provider: 'wxpay', isPC: true, data: { out_trade_no: no, total_fee, subject: '崩溃测试', type } });
  expect(r.errCode).toBe(0);
  return no;
}

/** Pays at the sandbox with its own delivery lost, and returns the genuine signed notification. */
async function paidAtProvider(no: string, total = 100) {
  s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/lost';
  await s.wxpay.pay(no);
  return wxPaymentNotification(s, no, total, s.wxpay.order(no)!.transaction_id!);
}

async function notifyChild(no: string, n: { body: string; headers: Record<string, string> }) {
  const res = await fetch(`${child!.url}/http/vk-pay/paymentNotify/${PAY_TYPE}/${no}`, {
    method: 'POST',
    headers: n.headers,
    body: n.body,
  });
  return res.status;
}

const credits = async (no: string) => (await s.findDocs('test-credits', { out_trade_no: no })).length;

describe('notify path', () => {
  test.each([
    ['handler-start', 1],
    ['handler-before-effect', 2],
    ['handler-after-effect', 2],
  ])('SIGKILL at %s, restart: paid once, effect once', async (point, expectedRuns) => {
    const no = await newOrder('crashy');
    const n = await paidAtProvider(no);
    child = await startChildRuntime(s, { VK_TEST_CRASH_AT: point });
    await expect(notifyChild(no, n)).rejects.toThrow();
    expect(await child.exited).toBe('SIGKILL');
    // the paid transition (and the lease) survived; the handler has not succeeded
    const crashed = (await s.order(no))!;
    expect(crashed).toMatchObject({ status: 1, handler_attempts: 1 });
    expect(crashed.user_order_success).toBeUndefined();

    child = await startChildRuntime(s);
    // the crashed run still holds its lease: the provider is told to retry
    expect(await notifyChild(no, n)).not.toBe(200);
    // ... until the lease has run out
    await s.updateOrder(no, { handler_lock_until: 0 });
    expect(await notifyChild(no, n)).toBe(200);
    expect(await notifyChild(no, n)).toBe(200);
    expect(await s.order(no)).toMatchObject({
      status: 1,
      user_order_success: true,
      handler_attempts: 2,
      transaction_id: s.wxpay.order(no)!.transaction_id,
    });
    expect(await s.orders(no)).toHaveLength(1);
    expect(await credits(no)).toBe(1);
    expect(await s.handlerCalls(no)).toHaveLength(expectedRuns);
  });
});

describe('refund path', () => {
  async function paidOrder(total_fee: number): Promise<string> {
    const no = await newOrder('counted', total_fee);
    await s.wxpay.pay(no);
    await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true, 15_000);
    return no;
  }

  const refundVia = async (url: string, method: 'refund' | 'queryRefund', params: Record<string, unknown>) => {
    const r = await callCloudObject(url, 'test-shop', method, [params], {
      clientSecret: s.runtime.clientSecret,
      spaceId: s.runtime.spaceId,
    });
    if (!r.success) throw new Error(JSON.stringify(r.error));
    return r.data.result;
  };

  /** Σ refunds ≤ paid; settled: the ledger's live amounts = the order's (confirmed) refund_fee = what the provider refunded, nothing reserved */
  async function expectConsistent(no: string, total_fee: number) {
    const order = (await s.order(no))!;
    const ledger = await s.findDocs('vk-pay-refunds', { out_trade_no: no });
    const live = ledger.filter((d) => d.state !== 'FAIL').reduce((sum, d) => sum + d.refund_fee, 0);
    expect(order.refund_fee).toBeLessThanOrEqual(total_fee);
    expect(live).toBe(order.refund_fee);
    expect(order.refund_reserved ?? 0).toBe(0);
    expect(s.wxpay.order(no)!.refunded).toBe(order.refund_fee);
    expect(ledger.every((d) => d.state === 'SUCCESS' || d.state === 'FAIL')).toBe(true);
  }

  test.each([
    ['before', 'the request', 0],
    ['after', 'the provider answered', 40],
  ])('SIGKILL %s %s, restart, retry: Σ ≤ paid, ledger = order = provider', async (when, _what, refunded) => {
    const no = await paidOrder(100);
    const out_refund_no = `${no}-R1`;
    child = await startChildRuntime(s, { LOCAL_UNICLOUD_CRASH: `${when}:/v3/refund/domestic/refunds` });
    await expect(refundVia(child.url, 'refund', { out_trade_no: no, out_refund_no, refund_fee: 40 })).rejects.toThrow();
    expect(await child.exited).toBe('SIGKILL');
    expect(s.wxpay.order(no)!.refunded).toBe(refunded);
    // the reservation survived the crash: nothing more can be refunded than paid (a refund the
    // provider made may already be confirmed by its REFUND.SUCCESS notification to vk-pay)
    const held = (await s.order(no))!;
    expect(held.refund_fee + (held.refund_reserved ?? 0)).toBe(40);
    expect(held.refund_fee).toBeLessThanOrEqual(refunded);

    child = await startChildRuntime(s);
    const retried = await refundVia(child.url, 'refund', { out_trade_no: no, out_refund_no, refund_fee: 40 });
    // a refund the provider never received is released once the settle grace has passed
    if (refunded === 0) {
      await s.call('test-shop', 'updateDocs', ['vk-pay-refunds', { out_refund_no }, { create_date: Date.now() - 3_600_000 }]);
      await refundVia(child.url, 'queryRefund', { out_trade_no: no, out_refund_no });
    } else {
      expect(retried).toMatchObject({ code: 0 });
      await refundVia(child.url, 'queryRefund', { out_trade_no: no, out_refund_no });
    }
    await expectConsistent(no, 100);
    // over-subscribing afterwards is refused: Σ stays ≤ paid
    const more = await refundVia(child.url, 'refund', { out_trade_no: no, refund_fee: 100 - refunded + 1 });
    expect(more.code).not.toBe(0);
    await expectConsistent(no, 100);
  });
});
