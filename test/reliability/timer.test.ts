/**
 * Two runtime processes on one database fire vk-pay's `_timing` at the same moment (as two timer
 * instances would): 20 paid orders whose notifications were lost and 10 still unpaid. Each order
 * is claimed (and asked about) once, each handler runs once, and the two summary lines add up.
 */
import { startTestStack, type TestStack } from '../helpers/project';
import { startChildRuntime, type ChildRuntime } from './child-runtime';
import { lostNotificationOrder, total, type TimerRun } from '../helpers/timer';

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

const order = (paid: boolean) => lostNotificationOrder(s, { paid });

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
