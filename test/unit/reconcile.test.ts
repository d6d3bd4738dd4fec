/**
 * The reconciliation timer in process: its settings (every bad value a coded error), the budget
 * (items per step, wall time), the step contract, and its cost per run (database round trips and
 * gateway calls for N pending orders) on the local database against the WeChat Pay v3 sandbox.
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT, WX_APPIDS, sandboxConfig } from '../../tools/stack';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox } from '../../tools/sandbox/wxpay';
import { createAlipayApp } from '../../tools/sandbox/alipay';
import { loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { createDeps, type PayDeps } from '../../uni_modules/vk-uni-pay/server/services/deps';
import { createLogger } from '../../uni_modules/vk-uni-pay/server/services/log';
import { staticConfigSource, configNode } from '../../uni_modules/vk-uni-pay/server/store/config';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { countingDatabase } from '../../uni_modules/vk-uni-pay/server/store/db';
import { loadAdapter } from '../../uni_modules/vk-uni-pay/server/providers/registry';
import { type PayOrder } from '../../uni_modules/vk-uni-pay/server/core/order';
import { countingTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { backoffAfter, timerSettings } from '../../uni_modules/vk-uni-pay/server/core/timer-settings';
import { runTimer, type TimerStep } from '../../uni_modules/vk-uni-pay/server/services/reconcile';
import { pendingStep } from '../../uni_modules/vk-uni-pay/server/services/reconcile-steps';

describe('settings', () => {
  test('defaults when the timer node is absent', () => {
    expect(timerSettings({})).toEqual({
      enable: true,
      statements: true,
      maxItems: 20,
      maxMs: 25_000,
      queryAfterMs: 60_000,
      queryMaxAgeMs: 86_400_000,
      backoffMs: 60_000,
      maxBackoffMs: 3_600_000,
      handlerAfterMs: 300_000,
      refundAfterMs: 60_000,
      deleteAfterDays: 0,
    });
    expect(timerSettings({ timer: { maxItems: 5, maxSeconds: 10 }, autoDeleteExpiredOrders: 3 })).toMatchObject({
      maxItems: 5,
      maxMs: 10_000,
      deleteAfterDays: 3,
    });
  });

  test.each([
    [{ timer: 'on' }, 'timer'],
    [{ timer: [] }, 'timer'],
    [{ timer: { maxItems: 0 } }, 'timer.maxItems'],
    [{ timer: { maxItems: 2.5 } }, 'timer.maxItems'],
    [{ timer: { maxItems: '20' } }, 'timer.maxItems'],
    [{ timer: { maxSeconds: -1 } }, 'timer.maxSeconds'],
    [{ timer: { queryAfterSeconds: Number.NaN } }, 'timer.queryAfterSeconds'],
    [{ timer: { backoffSeconds: 600, maxBackoffSeconds: 60 } }, 'timer.maxBackoffSeconds'],
    [{ timer: { enable: 'yes' } }, 'timer.enable'],
    [{ timer: { maxitems: 5 } }, 'timer.maxitems'],
    [{ autoDeleteExpiredOrders: -1 }, 'autoDeleteExpiredOrders'],
    [{ autoDeleteExpiredOrders: '3' }, 'autoDeleteExpiredOrders'],
    [{ autoDeleteExpiredOrders: true }, 'autoDeleteExpiredOrders'],
  ])('%p is refused with code 120 naming %s', (config, field) => {
    let error: any;
    try {
      timerSettings(config as Record<string, unknown>);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 120, key: 'TIMER_CONFIG_INVALID' });
    expect(error.msgZh).toContain(field);
    expect(error.msgEn).toContain(field);
  });

  test('backoff doubles per attempt up to its cap', () => {
    const s = { backoffMs: 60_000, maxBackoffMs: 300_000 };
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffAfter(s, n))).toEqual([60_000, 120_000, 240_000, 300_000, 300_000, 300_000]);
  });
});

describe('runs against the sandbox', () => {
  let dir: string;
  let db: ReturnType<typeof createDatabase>;
  let wx: WxpaySandbox;
  let config: Record<string, any>;
  const lines: Array<Record<string, any>> = [];
  /** requests whose URL matches are lost before they reach the gateway (a reset connection) */
  let lose: RegExp | undefined;
  const http = countingTransport({
    async request(req) {
      if (lose?.test(req.url)) throw new Error('socket hang up (simulated)');
      return loopbackTransport().request(req);
    },
  });
  const counted = { db: undefined as unknown as ReturnType<typeof countingDatabase> };
  let handled: string[] = [];

  const depsWith = (timer: Record<string, unknown>): PayDeps =>
    createDeps({
      db: () => counted.db.db,
      // the daily statement step has its own tests (statements-daily, statements e2e); off here so the counts are the order steps'
      configs: staticConfigSource({ ...config, timer: { statements: false, ...timer } }),
      http,
      cache: memoryCache(),
      log: createLogger((l) => lines.push(JSON.parse(l))),
      spaceId: () => 'local-space',
      handlers:
        () =>
        async ({ data }) => {
          handled.push(String(data.out_trade_no));
          return true;
        },
      handlerRetryDelayMs: 0,
    });

  const level = process.env.VK_PAY_LOG_LEVEL;
  beforeAll(async () => {
    process.env.VK_PAY_LOG_LEVEL = 'info';
    dir = mkdtempSync(path.join(tmpdir(), 'vkpay-timer-'));
    db = createDatabase({ file: path.join(dir, 'db.sqlite'), indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')] });
    counted.db = countingDatabase(db);
    const wxMerchant = await createWxpayMerchant({ appids: Object.values(WX_APPIDS), signMode: 'public-key' });
    wx = await startWxpaySandbox({ merchants: [wxMerchant], port: 0, retryDelaysMs: [], quiet: true });
    config = sandboxConfig({
      notifyUrl: 'http://127.0.0.1:9/http/vk-pay',
      spaceId: 'local-space',
      wx: wxMerchant,
      wxGateway: wx.url,
      wxApiBase: 'http://127.0.0.1:9',
      wxVersion: 3,
      ali: await createAlipayApp(),
      aliGateway: 'http://127.0.0.1:9/gateway.do',
      pemDir: path.join(dir, 'pem'),
    });
  }, 60_000);

  afterAll(async () => {
    process.env.VK_PAY_LOG_LEVEL = level;
    await wx?.close();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let seq = 0;
  /** an unpaid wxpay order here and at the sandbox (notifications go nowhere); `paid`: the payer paid */
  async function lostOrder(deps: PayDeps, paid: boolean, extra: Partial<PayOrder> = {}): Promise<string> {
    const out_trade_no = `RT${Date.now().toString(36)}${(seq++).toString(36)}`;
    const ctx = {
      config: configNode(config as any, ['wxpay', 'h5']),
      http: loopbackTransport(),
      clock: { now: () => Date.now() },
      cache: memoryCache(),
    };
    const input = { out_trade_no, total_fee: 100, subject: '对账', notify_url: 'http://127.0.0.1:9/n', client_ip: '127.0.0.1' };
    await loadAdapter('wxpay').createOrder({ ...input, payType: 'wxpay_h5', platformKey: 'h5', needQRcode: true } as any, ctx);
    await deps.orders.insert({
      ...input,
      provider: 'wxpay',
      pay_type: 'wxpay_h5',
      platform: 'h5',
      uni_platform: 'web',
      type: 'goods',
      description: '对账',
      custom: {},
      notify_path: `/paymentNotify/wxpay_h5/${out_trade_no}`,
      create_date: Date.now() - 120_000,
      refund_fee: 0,
      refund_num: 0,
      refund_list: [],
      stat_data: {},
      handler_lock_until: 0,
      handler_attempts: 0,
      status: 0,
      ...extra,
    } as PayOrder);
    if (paid) await wx.pay(out_trade_no);
    return out_trade_no;
  }

  const summaries = () => lines.filter((l) => l.event === 'timer.run');

  test('maxItems bounds each step: 3 paid orders with maxItems 2 take two runs; each handler once', async () => {
    const deps = depsWith({ maxItems: 2 });
    handled = [];
    const nos = [await lostOrder(deps, true), await lostOrder(deps, true), await lostOrder(deps, true)];
    const first = await runTimer(deps, [pendingStep]);
    expect(first.counts).toEqual({ 'pending.paid': 2 });
    const second = await runTimer(deps, [pendingStep]);
    expect(second.counts).toEqual({ 'pending.paid': 1 });
    expect(handled.sort()).toEqual([...nos].sort());
    expect((await runTimer(deps, [pendingStep])).counts).toEqual({});
  });

  test('cost per run: N pending orders cost N gateway queries and a bounded number of database round trips', async () => {
    const deps = depsWith({ maxItems: 50 });
    // settle anything left by the tests before, so only this test's orders are due
    await runTimer(deps);
    // per order: still unpaid = claim + release; paid = claim, the paid gate (with the handler lease), the handler's outcome, a re-read, release
    const perOrder = { unpaid: 2, paid: 5 };
    for (const outcome of ['unpaid', 'paid'] as const)
      for (const n of [1, 10]) {
        for (let i = 0; i < n; i++) await lostOrder(deps, outcome === 'paid');
        counted.db.reset();
        const calls = http.calls.length;
        const run = await runTimer(deps);
        const gateway = http.calls.length - calls;
        const roundTrips = counted.db.count();
        expect(run.counts).toEqual({ [`pending.${outcome}`]: n });
        expect(gateway).toBe(n);
        // one read per order step (pending, expired, handlers, refunds), two each for refund_hooks and
        // transfers (open entries, then final ones whose hook or handler is pending); delete and statements off
        expect(roundTrips).toBe(8 + perOrder[outcome] * n);
        process.stdout.write(`timer cost, ${n} ${outcome} orders: ${gateway} gateway calls, ${roundTrips} DB round trips, ${run.ms} ms\n`);
      }
  });

  test('an answer that proves nothing changes nothing: a lost query or close leaves the order unpaid, looked at again later', async () => {
    const deps = depsWith({});
    await runTimer(deps);
    const pending = await lostOrder(deps, false);
    const expired = await lostOrder(deps, false, { time_expire: Date.now() - 1000 });
    lose = /\/v3\/pay\/transactions\/out-trade-no\/[^/]+\?/; // every query
    let run = await runTimer(deps);
    expect(run.counts).toEqual({ 'pending.error': 1, 'expired.error': 1 });
    for (const no of [pending, expired]) expect(await deps.orders.findByOutTradeNo(no)).toMatchObject({ status: 0, reconcile_attempts: 1 });
    // the query answers, the close does not: still payable, so not closed
    lose = /\/close$/;
    await deps.db().collection('vk-pay-orders').where({ out_trade_no: expired }).update({ reconcile_next_at: 0 });
    run = await runTimer(deps);
    expect(run.counts).toEqual({ 'expired.error': 1 });
    expect(wx.order(expired)!.trade_state).toBe('NOTPAY');
    expect(await deps.orders.findByOutTradeNo(expired)).toMatchObject({ status: 0, reconcile_attempts: 2 });
    lose = undefined;
    await deps.db().collection('vk-pay-orders').where({ out_trade_no: expired }).update({ reconcile_next_at: 0 });
    expect((await runTimer(deps)).counts).toEqual({ 'expired.closed': 1 });
    expect(wx.order(expired)!.trade_state).toBe('CLOSED');
  });

  test('the wall-time budget: no new item after maxSeconds; the summary says so', async () => {
    const deps = depsWith({ maxSeconds: 1 });
    const slow: TimerStep<number> = {
      name: 'slow',
      candidates: async () => [1, 2, 3, 4, 5, 6],
      id: (n) => String(n),
      settle: async () => {
        await new Promise((r) => setTimeout(r, 300));
        return 'done';
      },
    };
    const after: TimerStep<number> = { name: 'after', candidates: async () => [1], id: String, settle: async () => 'done' };
    const run = await runTimer(deps, [slow, after]);
    expect(run.stopped).toBe('deadline');
    expect(run.counts['slow.done']).toBeGreaterThanOrEqual(3);
    expect(run.counts['slow.done']).toBeLessThanOrEqual(4);
    expect(run.counts['after.done']).toBeUndefined();
    expect(summaries().at(-1)).toMatchObject({ event: 'timer.run', stopped: 'deadline', 'slow.done': run.counts['slow.done'] });
  });

  test('an item that throws is counted as error and logged with its code; the run goes on; a lost claim is busy', async () => {
    const deps = depsWith({});
    const step: TimerStep<number> = {
      name: 'mixed',
      candidates: async () => [1, 2, 3],
      id: String,
      claim: async (_ctx, n) => n !== 3,
      settle: async (_ctx, n) => {
        if (n === 1) throw new Error('boom');
        return 'ok';
      },
    };
    // batch steps (a service that walks its own items) report their counts; one that throws is an error
    let budget = 0;
    const batch: TimerStep = {
      name: 'batch',
      batch: async (ctx, limit) => {
        budget = limit;
        expect(ctx.deadline).toBeGreaterThan(Date.now());
        return { settled: 2, failed: 0, checked: 3 };
      },
    };
    const broken: TimerStep = {
      name: 'broken',
      batch: async () => {
        throw new Error('down');
      },
    };
    const run = await runTimer(deps, [step, batch, broken]);
    expect(run.counts).toEqual({
      'mixed.error': 1,
      'mixed.ok': 1,
      'mixed.busy': 1,
      'batch.settled': 2,
      'batch.checked': 3,
      'broken.error': 1,
    });
    expect(budget).toBe(20);
    expect(lines).toContainEqual(expect.objectContaining({ event: 'timer.item_error', step: 'mixed', id: '1', error: 'boom' }));
  });

  test('a bad timer config: the run throws its coded error, does nothing, and still prints one summary line', async () => {
    const deps = depsWith({ maxItems: 0 });
    const before = summaries().length;
    let touched = false;
    const step: TimerStep<number> = {
      name: 'never',
      candidates: async () => {
        touched = true;
        return [];
      },
      id: String,
      settle: async () => 'x',
    };
    await expect(runTimer(deps, [step])).rejects.toMatchObject({ code: 120 });
    expect(touched).toBe(false);
    expect(summaries().slice(before)).toEqual([expect.objectContaining({ level: 'error', error: 120 })]);
  });

  test('timer.enable false: the run does nothing', async () => {
    const deps = depsWith({ enable: false });
    const no = await lostOrder(deps, true);
    expect((await runTimer(deps)).counts).toEqual({ 'timer.disabled': 1 });
    expect((await deps.orders.findByOutTradeNo(no))!.status).toBe(0);
  });
});
