/**
 * The timer's settings through the runtime: the per-step item budget, and a bad value (a coded
 * error in the summary line and the run's failure, payments unaffected).
 */
import { startTestStack, tradeNo, type TestStack } from '../helpers/project';
import { captureTimerRuns, fireTimer } from '../helpers/timer';

let log: ReturnType<typeof captureTimerRuns>;
beforeAll(() => {
  log = captureTimerRuns();
});
afterAll(() => log.restore());

async function paidNotificationLost(s: TestStack): Promise<string> {
  const no = tradeNo('TB');
  const r = await s.createPayment({
    provider: 'wxpay',
    isPC: true,
    data: { out_trade_no: no, total_fee: 100, subject: '预算', type: 'counted' },
  });
  expect(r.errCode).toBe(0);
  s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/lost';
  await s.wxpay.pay(no);
  return no;
}

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
