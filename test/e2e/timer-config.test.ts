/**
 * The timer's settings through the runtime: the per-step item budget, and a bad value (a coded
 * error in the summary line and the run's failure, payments unaffected).
 */
import { startTestStack, type TestStack } from '../helpers/project';
import { captureTimerRuns, fireTimer, lostNotificationOrder } from '../helpers/timer';

let log: ReturnType<typeof captureTimerRuns>;
beforeAll(() => {
  log = captureTimerRuns();
});
afterAll(() => log.restore());

const paidNotificationLost = (s: TestStack) => lostNotificationOrder(s);

describe('timer.maxItems 2', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack({ configOverrides: { timer: { maxItems: 2, queryAfterSeconds: 0 } } });
  }, 60_000);
  afterAll(() => s?.close());

  test('5 lost notifications: a run settles 2, the next 2, the last 1; each handler once', async () => {
    const nos = [];
    for (let i = 0; i < 5; i++) nos.push(await paidNotificationLost(s));
    const paid = [];
    for (let i = 0; i < 3; i++) paid.push((await fireTimer(s, log.runs))[0]['pending.paid']);
    expect(paid).toEqual([2, 2, 1]);
    for (const no of nos) expect(await s.handlerCalls(no)).toHaveLength(1);
  });
});

describe('a bad timer config', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack({ configOverrides: { timer: { maxItems: 0, queryAfterSeconds: 0 } } });
  }, 60_000);
  afterAll(() => s?.close());

  test('the run fails with code 120 naming the key, touches nothing, and payments still work', async () => {
    const no = await paidNotificationLost(s);
    const before = log.runs.length;
    await expect(s.runtime.fireTiming('vk-pay')).rejects.toMatchObject({ message: expect.stringContaining('timer.maxItems') });
    expect(log.runs.slice(before)).toEqual([expect.objectContaining({ event: 'timer.run', level: 'error', error: 120 })]);
    expect(await s.order(no)).toMatchObject({ status: 0 });
    expect((await s.order(no))!.reconcile_attempts).toBeUndefined();
    // the same order through the client's query: settled as usual
    expect(await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }])).toMatchObject({ orderPaid: true });
  });
});
