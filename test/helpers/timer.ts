/**
 * Fires vk-pay's `_timing` through the in-process runtime (as uniCloud's scheduler would) and reads
 * each run's summary line (`timer.run`) from the plugin's log.
 */
import nodeConsole from 'node:console';
import { runInThisContext } from 'node:vm';
import type { Stack } from '../../tools/stack';
import { tradeNo, type TestStack } from './project';

export type TimerRun = { run_id: string; ms: number; items: number; stopped?: string; error?: number } & Record<string, any>;

/** Collects every `timer.run` line the plugin prints while installed (other lines are swallowed). */
export function captureTimerRuns(): { runs: TimerRun[]; restore(): void } {
  // the runtime loads the plugin outside jest's sandbox: it reads Node's own process.env and console
  const env = (runInThisContext('process') as NodeJS.Process).env;
  const previous = env.VK_PAY_LOG_LEVEL;
  env.VK_PAY_LOG_LEVEL = 'info';
  const runs: TimerRun[] = [];
  const spy = jest.spyOn(nodeConsole as Console, 'log').mockImplementation((line?: unknown) => {
    if (typeof line !== 'string' || !line.includes('"timer.run"')) return;
    const parsed = JSON.parse(line);
    if (parsed.event === 'timer.run') runs.push(parsed);
  });
  return {
    runs,
    restore() {
      spy.mockRestore();
      if (previous === undefined) delete env.VK_PAY_LOG_LEVEL;
      else env.VK_PAY_LOG_LEVEL = previous;
    },
  };
}

/**
 * Fires `n` timer runs at once and returns their summaries. Rejects when a run failed (the
 * runtime's code and message, e.g. a coded config error).
 */
export async function fireTimer(s: Stack, runs: TimerRun[], n = 1): Promise<TimerRun[]> {
  const before = runs.length;
  await Promise.all(Array.from({ length: n }, () => s.runtime.fireTiming('vk-pay')));
  return runs.slice(before);
}

/** Sum of one count (`<step>.<outcome>`) over runs. */
export function total(runs: TimerRun[], key: string): number {
  return runs.reduce((sum, r) => sum + (Number(r[key]) || 0), 0);
}

/** A WeChat Pay QR order of `s`'s test shop whose notifications never arrive; `paid`: the payer paid it. */
export async function lostNotificationOrder(
  s: TestStack,
  opts: { paid?: boolean; type?: string; data?: Record<string, unknown>; provider?: string } = {},
): Promise<string> {
  const no = tradeNo('TM');
  const { paid = true, type = 'counted', provider = 'wxpay' } = opts;
  const r = await s.createPayment({
    provider,
    isPC: true,
    data: { out_trade_no: no, total_fee: 100, subject: '对账测试', type, ...opts.data },
  });
  expect(r.errCode).toBe(0);
  if (provider !== 'wxpay') return no;
  s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/lost';
  if (paid) await s.wxpay.pay(no);
  return no;
}
