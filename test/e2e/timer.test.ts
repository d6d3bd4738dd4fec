/**
 * The reconciliation timer end to end: vk-pay's `_timing` fired through the local runtime (as
 * uniCloud's scheduler does), the sandbox gateways, the built plugin. Each run's summary line is
 * read from the log.
 */
import { startTestStack, type TestStack } from '../helpers/project';
import { captureTimerRuns, fireTimer, lostNotificationOrder, total, type TimerRun } from '../helpers/timer';

let s: TestStack;
let log: ReturnType<typeof captureTimerRuns>;
const fire = (n = 1) => fireTimer(s, log.runs, n);

beforeAll(async () => {
  log = captureTimerRuns();
  s = await startTestStack({
    configOverrides: {
      timer: { queryAfterSeconds: 0, handlerAfterSeconds: 0, refundAfterSeconds: 0, maxItems: 50 },
      autoDeleteExpiredOrders: 1,
    },
  });
}, 60_000);
afterAll(async () => {
  await s?.close();
  log?.restore();
});

const newOrder = (type = 'counted', data: Record<string, unknown> = {}) => lostNotificationOrder(s, { paid: false, type, data });
/** paid at the provider, its notification lost on the way */
const paidNotificationLost = (type = 'counted', data: Record<string, unknown> = {}) => lostNotificationOrder(s, { type, data });

/** every count of the runs that concerns one step */
function stepCounts(runs: TimerRun[], step: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r)) if (k.startsWith(`${step}.`)) out[k] = (out[k] ?? 0) + Number(v);
  return out;
}

test('a lost notification is settled by the timer through the notification gate: paid once, handler once', async () => {
  const no = await paidNotificationLost();
  expect(await s.order(no)).toMatchObject({ status: 0 });
  const [run] = await fire();
  expect(run['pending.paid']).toBeGreaterThanOrEqual(1);
  expect(await s.order(no)).toMatchObject({ status: 1, notify_mode: 0, user_order_success: true, reconcile_attempts: 1 });
  expect(await s.handlerCalls(no)).toHaveLength(1);
  // the next run has nothing left to do for it
  await fire();
  expect(await s.handlerCalls(no)).toHaveLength(1);
  expect((await s.order(no))!.reconcile_attempts).toBe(1);
});

test('an unpaid order is asked about with backoff: once per due time, not on every run', async () => {
  const no = await newOrder();
  await fire();
  const first = (await s.order(no))!;
  expect(first).toMatchObject({ status: 0, reconcile_attempts: 1 });
  expect(first.reconcile_next_at).toBeGreaterThan(Date.now() + 50_000); // backoffSeconds 60 by default
  await fire();
  expect((await s.order(no))!.reconcile_attempts).toBe(1);
  // once due again it is asked again, and the wait doubles
  expect(await s.updateOrder(no, { reconcile_next_at: Date.now() - 1 })).toBe(1);
  await fire();
  const third = (await s.order(no))!;
  expect(third.reconcile_attempts).toBe(2);
  expect(third.reconcile_next_at).toBeGreaterThan(Date.now() + 110_000);
  expect(await s.handlerCalls(no)).toHaveLength(0);
});

test('two runs at once split the work: each order claimed and queried once, each handler once, counts add up', async () => {
  const nos = await Promise.all(Array.from({ length: 6 }, () => paidNotificationLost()));
  const runs = await fire(2);
  expect(runs).toHaveLength(2);
  for (const no of nos) {
    expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true, reconcile_attempts: 1 });
    expect(await s.handlerCalls(no)).toHaveLength(1);
  }
  // every order was settled by exactly one of the runs; the other found it claimed (busy) or no longer due
  expect(total(runs, 'pending.paid')).toBe(nos.length);
  const pending = stepCounts(runs, 'pending');
  expect(Object.keys(pending).every((k) => ['pending.paid', 'pending.busy'].includes(k))).toBe(true);
  expect(total(runs, 'items')).toBe(nos.length);
});

test('an expired QR still open at the provider is closed there first, then here', async () => {
  const no = await newOrder('counted', { time_expire: Date.now() + 10 * 60_000 });
  // our deadline passed (the provider's is later): the provider still has it open
  expect(await s.updateOrder(no, { time_expire: Date.now() - 1000 })).toBe(1);
  expect(s.wxpay.order(no)!.trade_state).toBe('NOTPAY');
  const [run] = await fire();
  expect(run['expired.closed']).toBeGreaterThanOrEqual(1);
  expect(s.wxpay.order(no)!.trade_state).toBe('CLOSED');
  expect(await s.order(no)).toMatchObject({ status: -1 });
  await expect(s.wxpay.pay(no)).rejects.toMatchObject({ code: 'ORDER_CLOSED' });
});

test('an order paid just before it expired is not closed: it is settled paid, its handler once', async () => {
  const no = await paidNotificationLost('counted', { time_expire: Date.now() + 10 * 60_000 });
  expect(await s.updateOrder(no, { time_expire: Date.now() - 1000 })).toBe(1);
  const [run] = await fire();
  expect(run['expired.paid']).toBeGreaterThanOrEqual(1);
  expect(s.wxpay.order(no)!.trade_state).toBe('SUCCESS');
  expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
  expect(await s.handlerCalls(no)).toHaveLength(1);
});

test('an expired Alipay QR never scanned (the provider has no such trade, verified) is closed; one still valid is left alone', async () => {
  const data = { time_expire: Date.now() + 10 * 60_000 };
  const [open, expired] = [
    await lostNotificationOrder(s, { provider: 'alipay', data }),
    await lostNotificationOrder(s, { provider: 'alipay', data }),
  ];
  expect(await s.updateOrder(expired, { time_expire: Date.now() - 1000 })).toBe(1);
  await fire();
  expect(await s.order(expired)).toMatchObject({ status: -1 });
  expect(await s.order(open)).toMatchObject({ status: 0, reconcile_attempts: 1 });
});

test('a payment settled by business code outside vk-pay (no handlers there) gets its handler run by the timer', async () => {
  const no = await paidNotificationLost();
  // closeOrder from the business object: the order turns out paid, the handler is left to vk-pay
  expect((await s.call('test-shop', 'closeOrder', [{ out_trade_no: no }])).result).toMatchObject({ code: 2005 });
  expect((await s.order(no))!.user_order_success).toBeUndefined();
  const [run] = await fire();
  expect(run['handlers.done']).toBeGreaterThanOrEqual(1);
  expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
  expect(await s.handlerCalls(no)).toHaveLength(1);
});

test('a handler that failed is re-run by the timer (lease rules kept); one that keeps failing waits with backoff', async () => {
  const flaky = await paidNotificationLost('flaky');
  const missing = await paidNotificationLost('no_such_handler');
  await fire(); // settles both; flaky's first run fails on purpose, the other has no handler file
  expect(await s.order(flaky)).toMatchObject({ status: 1, user_order_success: false });
  expect(await s.order(missing)).toMatchObject({ status: 1, user_order_success: false });
  await new Promise((r) => setTimeout(r, 3200)); // the pause after a failed run (handlerRetryDelayMs)
  const [run] = await fire();
  expect(run['handlers.done']).toBeGreaterThanOrEqual(1);
  expect(run['handlers.failed']).toBeGreaterThanOrEqual(1);
  expect(await s.order(flaky)).toMatchObject({ user_order_success: true });
  expect((await s.handlerCalls(flaky)).map((c) => c.ok)).toEqual([false, true]);
  const deferred = (await s.order(missing))!;
  expect(deferred.handler_retry_at).toBeGreaterThan(Date.now() + 50_000);
  const attempts = deferred.handler_attempts;
  await new Promise((r) => setTimeout(r, 3200));
  await fire();
  expect((await s.order(missing))!.handler_attempts).toBe(attempts); // not re-run before its backoff
});

test('a refund whose answer was lost (UNKNOWN) is settled by the timer with a verified query', async () => {
  const no = await newOrder();
  await s.wxpay.pay(no);
  await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }]);
  const refund = (await s.call('test-shop', 'refund', [{ out_trade_no: no, refund_fee: 40 }])).result;
  expect(refund.code).toBe(0);
  // as if the provider's answer had been lost: the ledger does not know the outcome
  await s.call('test-shop', 'updateDocs', ['vk-pay-refunds', { out_refund_no: refund.out_refund_no }, { state: 'UNKNOWN' }]);
  const [run] = await fire();
  expect(run['refunds.success']).toBeGreaterThanOrEqual(1);
  expect(await s.findDocs('vk-pay-refunds', { out_refund_no: refund.out_refund_no })).toEqual([
    expect.objectContaining({ state: 'SUCCESS', check_attempts: 1 }),
  ]);
});

test('autoDeleteExpiredOrders: closed orders older than N days are deleted; unpaid and paid ones are kept', async () => {
  const dayAgo = Date.now() - 2 * 86_400_000;
  const closed = await newOrder();
  expect((await s.call('test-shop', 'closeOrder', [{ out_trade_no: closed }])).result).toMatchObject({ code: 0, status: -1 });
  const recentClosed = await newOrder();
  expect((await s.call('test-shop', 'closeOrder', [{ out_trade_no: recentClosed }])).result).toMatchObject({ code: 0 });
  const unpaid = await newOrder();
  const paid = await paidNotificationLost();
  await fire();
  for (const no of [closed, unpaid, paid]) expect(await s.updateOrder(no, { create_date: dayAgo })).toBe(1);
  const [run] = await fire();
  expect(run['delete.deleted']).toBe(1);
  expect(await s.order(closed)).toBeNull();
  expect(await s.order(recentClosed)).toMatchObject({ status: -1 });
  expect(await s.order(unpaid)).toMatchObject({ status: 0 });
  expect(await s.order(paid)).toMatchObject({ status: 1 });
});

test('exactly one summary line per run, with the counts and no order data', async () => {
  const runs = await fire(3);
  expect(runs).toHaveLength(3);
  expect(new Set(runs.map((r) => r.run_id)).size).toBe(3);
  for (const r of runs) {
    expect(r).toMatchObject({ level: 'info', event: 'timer.run', ms: expect.any(Number), items: expect.any(Number) });
    expect(JSON.stringify(r)).not.toMatch(/out_trade_no|transaction_id|openid/);
  }
});
