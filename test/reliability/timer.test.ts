/**
 * Two runtime processes on one database fire vk-pay's `_timing` at the same moment (as two timer
 * instances would): 20 paid orders whose notifications were lost and 10 still unpaid. Each order
 * is claimed (and asked about) once, each handler runs once, and the two summary lines add up.
 */
import { startTestStack, tradeNo, type TestStack } from '../helpers/project';
import { startChildRuntime, type ChildRuntime } from './child-runtime';
import { total, type TimerRun } from '../helpers/timer';

let s: TestStack;
let runtimes: ChildRuntime[] = [];
const printed: string[] = ['', ''];
beforeAll(async () => {
  s = await startTestStack({ configOverrides: { timer: { queryAfterSeconds: 0, maxItems: 100 } } });
  runtimes = await Promise.all([0, 1].map(() => startChildRuntime(s, { VK_PAY_LOG_LEVEL: 'info' })));
  runtimes.forEach((r, i) => r.child.stdout!.on('data', (c) => (printed[i] += c)));
}, 90_000);
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.kill()));
  await s?.close();
});

async function order(paid: boolean): Promise<string> {
  const no = tradeNo('RT');
  const r = await s.createPayment({
    provider: 'wxpay',
    isPC: true,
    data: { out_trade_no: no, total_fee: 100, subject: '并行对账', type: 'counted' },
  });
  expect(r.errCode).toBe(0);
  s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/lost';
  if (paid) await s.wxpay.pay(no);
  return no;
}

const summaries = (text: string): TimerRun[] =>
  text
    .split('\n')
    .filter((l) => l.includes('"timer.run"'))
    .map((l) => JSON.parse(l));

test('two processes, one database: every order claimed once, every handler once, counts add up', async () => {
  const paid = await Promise.all(Array.from({ length: 20 }, () => order(true)));
  const unpaid = await Promise.all(Array.from({ length: 10 }, () => order(false)));
  const fired = await Promise.all(runtimes.map((r) => fetch(`${r.url}/__runtime/timing/vk-pay`, { method: 'POST' })));
  expect(fired.map((r) => r.status)).toEqual([200, 200]);
  const runs = printed.flatMap(summaries);
  expect(runs).toHaveLength(2);
  for (const no of paid) {
    expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true, reconcile_attempts: 1 });
    expect(await s.handlerCalls(no)).toHaveLength(1);
  }
  for (const no of unpaid) expect(await s.order(no)).toMatchObject({ status: 0, reconcile_attempts: 1 });
  expect(total(runs, 'pending.paid')).toBe(paid.length);
  expect(total(runs, 'pending.unpaid')).toBe(unpaid.length);
  expect(total(runs, 'items')).toBe(paid.length + unpaid.length);
  process.stdout.write(`timer, two processes: ${runs.map((r) => `${r.items} items in ${r.ms} ms`).join(', ')}\n`);
});
