/**
 * Load on one database from two runtime processes: 100 orders × 10 concurrent genuine
 * notifications split between them → exactly 100 handler runs; 50 concurrent over-subscribed
 * refunds split between them → Σ refunded ≤ paid, ledger = order = provider.
 */
import http from 'node:http';
import { callCloudObject } from '../../tools/local-unicloud';
import { wxPaymentNotification } from '../../tools/stack';
import { startTestStack, tradeNo, type TestStack } from '../helpers/project';
import { startChildRuntime, type ChildRuntime } from './child-runtime';

let s: TestStack;
let runtimes: ChildRuntime[] = [];
beforeAll(async () => {
  s = await startTestStack();
  runtimes = await Promise.all([startChildRuntime(s), startChildRuntime(s)]);
}, 90_000);
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.kill()));
  await s?.close();
});

/** One POST on its own connection (no keep-alive reuse racing the server's idle close); resolves with the status. */
function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs the tasks with at most `width` in flight. */
async function pool<T>(tasks: Array<() => Promise<T>>, width: number): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

async function paidOrder(total_fee: number, deliver: boolean): Promise<string> {
  const no = tradeNo('S');
  const r = await s.createPayment({
    provider: 'wxpay',
    isPC: true,
    data: { out_trade_no: no, total_fee, subject: '压力测试', type: 'counted' },
  });
  expect(r.errCode).toBe(0);
  if (!deliver) s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/lost';
  await s.wxpay.pay(no);
  return no;
}

const notification = (no: string, total: number) => wxPaymentNotification(s, no, total, s.wxpay.order(no)!.transaction_id!);

test('100 orders × 10 concurrent notifications over two processes → exactly 100 handler runs', async () => {
  const orders = await pool(
    Array.from({ length: 100 }, () => () => paidOrder(100, false)),
    8,
  );
  const sends = orders.flatMap((no) => {
    const n = notification(no, 100);
    return Array.from({ length: 10 }, (_, i) => async () => {
      return post(`${runtimes[i % 2].url}/http/vk-pay/paymentNotify/wxpay_h5/${no}`, n.body, n.headers);
    });
  });
  const started = Date.now();
  const statuses = await pool(sends, 50);
  const seconds = (Date.now() - started) / 1000;
  // a notification that meets another's lease is told to retry; at least one per order is acknowledged
  expect(statuses.every((st) => st === 200 || st === 500)).toBe(true);
  const calls = (await s.findDocs('test-handler-calls', { type: 'counted' })).filter((c) => orders.includes(c.out_trade_no));
  expect(calls).toHaveLength(100);
  expect(new Set(calls.map((c) => c.out_trade_no)).size).toBe(100);
  const rows = (await s.findDocs('vk-pay-orders', { type: 'counted' })).filter((o) => orders.includes(o.out_trade_no));
  expect(rows).toHaveLength(100);
  for (const o of rows) expect(o).toMatchObject({ status: 1, user_order_success: true, handler_attempts: 1 });
  process.stdout.write(
    `[storm] 1000 notifications for 100 orders over 2 processes in ${seconds.toFixed(1)} s: ${statuses.filter((x) => x === 200).length} acknowledged, ${calls.length} handler runs\n`,
  );
}, 240_000);

test('50 concurrent over-subscribed refunds over two processes → Σ refunded ≤ paid, ledger = order = provider', async () => {
  const no = await paidOrder(1000, true);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true, 15_000);
  const results = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const r = await callCloudObject(
        runtimes[i % 2].url,
        'test-shop',
        'refund',
        [{ out_trade_no: no, out_refund_no: `${no}-${i}`, refund_fee: 100 }],
        {
          clientSecret: s.runtime.clientSecret,
          spaceId: s.runtime.spaceId,
        },
      );
      return r.data.result as { code: number };
    }),
  );
  const ok = results.filter((r) => r.code === 0).length;
  expect(ok).toBeGreaterThan(0);
  expect(ok).toBeLessThanOrEqual(10);
  const order = (await s.order(no))!;
  const ledger = await s.findDocs('vk-pay-refunds', { out_trade_no: no });
  const live = ledger.filter((d) => d.state !== 'FAIL').reduce((sum, d) => sum + d.refund_fee, 0);
  expect(order.refund_fee).toBe(ok * 100);
  expect(order.refund_fee).toBeLessThanOrEqual(1000);
  expect(live).toBe(order.refund_fee);
  expect(s.wxpay.order(no)!.refunded).toBe(order.refund_fee);
  process.stdout.write(`[storm] 50 refunds of 100 on a 1000 order: ${ok} succeeded, refunded ${order.refund_fee}\n`);
}, 120_000);
