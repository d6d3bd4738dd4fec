/**
 * refund / queryRefund in process: the real services on the local database (unique indexes and
 * conditional updates as the runtime has them) against the WeChat Pay v3 and Alipay sandboxes on
 * loopback. A transport wrapper in front of the sandboxes loses answers or fails requests on demand.
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT, WX_APPIDS, sandboxConfig } from '../../tools/stack';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox, type AlipaySandboxApp } from '../../tools/sandbox/alipay';
import { loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { createDeps, type PayDeps } from '../../uni_modules/vk-uni-pay/server/services/deps';
import { createLogger } from '../../uni_modules/vk-uni-pay/server/services/log';
import { staticConfigSource, configNode } from '../../uni_modules/vk-uni-pay/server/store/config';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { RefundsRepo } from '../../uni_modules/vk-uni-pay/server/store/refunds';
import { loadAdapter } from '../../uni_modules/vk-uni-pay/server/providers/registry';
import { ORDER_STATUS, type PayOrder } from '../../uni_modules/vk-uni-pay/server/core/order';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { REFUND_SETTLE_GRACE_MS, queryRefund, refund } from '../../uni_modules/vk-uni-pay/server/services/refund';

type Provider = 'wxpay' | 'alipay';

let dir: string;
let db: ReturnType<typeof createDatabase>;
let wx: WxpaySandbox;
let ali: AlipaySandbox;
let wxMerchant: WxpaySandboxMerchant;
let aliApp: AlipaySandboxApp;
let config: Record<string, any>;
let deps: PayDeps;
let clockOffset = 0;

/** what the transport does with the next refund requests */
type Fault = 'lose-answer' | 'fail-before' | 'http-500' | undefined;
let fault: Fault;
const refundRequests: Record<Provider, number> = { wxpay: 0, alipay: 0 };

function refundCall(req: HttpRequest): Provider | undefined {
  if (req.method === 'POST' && req.url.endsWith('/v3/refund/domestic/refunds')) return 'wxpay';
  if (req.url.includes('method=alipay.trade.refund')) return 'alipay';
  return undefined;
}

function faultyTransport(inner: HttpTransport): HttpTransport {
  return {
    async request(req): Promise<HttpResponse> {
      const which = refundCall(req);
      if (which && fault === 'fail-before') throw new Error('connect ECONNREFUSED (simulated)');
      if (which && fault === 'http-500') {
        return {
          status: 500,
          headers: { 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify({ code: 'SYSTEM_ERROR', message: '系统错误' })),
        };
      }
      if (which) refundRequests[which]++;
      const res = await inner.request(req);
      if (which && fault === 'lose-answer') throw new Error('socket hang up (simulated, after the gateway processed it)');
      return res;
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vkpay-refund-'));
  db = createDatabase({ file: path.join(dir, 'db.sqlite'), indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')] });
  [wxMerchant, aliApp] = await Promise.all([
    createWxpayMerchant({ appids: Object.values(WX_APPIDS), signMode: 'public-key' }),
    createAlipayApp(),
  ]);
  [wx, ali] = await Promise.all([
    startWxpaySandbox({ merchants: [wxMerchant], port: 0, retryDelaysMs: [], quiet: true }),
    startAlipaySandbox({ apps: [aliApp], port: 0, retryDelaysMs: [], quiet: true }),
  ]);
  config = sandboxConfig({
    notifyUrl: 'http://127.0.0.1:9/http/vk-pay',
    spaceId: 'local-space',
    wx: wxMerchant,
    wxGateway: wx.url,
    wxApiBase: 'http://127.0.0.1:9', // not used by refunds
    wxVersion: 3,
    ali: aliApp,
    aliGateway: ali.gateway,
    pemDir: path.join(dir, 'pem'),
  });
  deps = createDeps({
    db: () => db,
    configs: staticConfigSource(config as any),
    http: faultyTransport(loopbackTransport()),
    clock: { now: () => Date.now() + clockOffset },
    cache: memoryCache(),
    log: createLogger(() => {}),
    spaceId: () => 'local-space',
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([wx?.close(), ali?.close()]);
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fault = undefined;
  clockOffset = 0;
});

let seq = 0;
const tradeNo = (p: string) => `RF${p}${Date.now().toString(36)}${(seq++).toString(36)}`.slice(0, 32);

/** A paid order: created and paid at the sandbox, recorded as paid (status 1) in vk-pay-orders. */
async function paidOrder(provider: Provider, total_fee: number): Promise<string> {
  const out_trade_no = tradeNo(provider === 'wxpay' ? 'W' : 'A');
  const platformKey = 'h5' as const;
  const adapter = loadAdapter(provider);
  const ctx = {
    config: configNode(config as any, [provider, platformKey]),
    http: loopbackTransport(),
    clock: { now: () => Date.now() },
    cache: memoryCache(),
  };
  const created = await adapter.createOrder(
    {
      payType: `${provider}_h5`,
      platformKey,
      out_trade_no,
      total_fee,
      subject: '退款测试',
      notify_url: 'http://127.0.0.1:9/notify',
      client_ip: '127.0.0.1',
      needQRcode: true,
      other: {},
      extra: {},
    },
    ctx,
  );
  let transaction_id: string;
  if (provider === 'wxpay') {
    await wx.pay(out_trade_no);
    transaction_id = wx.order(out_trade_no)!.transaction_id!;
  } else {
    await fetch(String(created.codeUrl)); // the buyer scans
    await ali.pay(out_trade_no);
    transaction_id = ali.order(out_trade_no)!.trade_no;
  }
  await insertOrder({ out_trade_no, total_fee, provider, status: ORDER_STATUS.PAID, transaction_id });
  return out_trade_no;
}

async function insertOrder(o: Pick<PayOrder, 'out_trade_no' | 'total_fee' | 'provider' | 'status'> & Partial<PayOrder>): Promise<void> {
  const order: PayOrder = {
    pay_type: `${o.provider}_h5`,
    platform: 'h5',
    uni_platform: 'web',
    type: 'goods',
    description: '退款测试',
    client_ip: '127.0.0.1',
    custom: {},
    notify_url: 'http://127.0.0.1:9/http/vk-pay',
    notify_path: `/paymentNotify/${o.provider}_h5/${o.out_trade_no}`,
    create_date: Date.now(),
    refund_fee: 0,
    refund_num: 0,
    refund_list: [],
    stat_data: {},
    handler_lock_until: 0,
    handler_attempts: 0,
    ...o,
  };
  expect(await deps.orders.insert(order)).not.toBe('duplicate');
}

const order = async (no: string) => (await deps.orders.findByOutTradeNo(no))!;
const ledger = (no: string) => new RefundsRepo(deps.db).find(no);
/** fen refunded at the gateway for this trade */
const refundedAtGateway = (provider: Provider, no: string) => (provider === 'wxpay' ? wx.order(no)!.refunded : ali.order(no)!.refunded_fen);

/** the PayError a call is refused with (fails the test when the call succeeds) */
const payError = (p: Promise<unknown>): Promise<any> =>
  p.then(
    (v) => {
      throw new Error(`expected a PayError, got ${JSON.stringify(v)}`);
    },
    (e) => (expect(e).toMatchObject({ name: 'PayError' }), e),
  );

describe.each<[Provider]>([['wxpay'], ['alipay']])('%s', (provider) => {
  test('a full refund by default: the whole amount, status 3, ledger SUCCESS, refund_list recorded', async () => {
    const no = await paidOrder(provider, 1000);
    const r = await refund(deps, { out_trade_no: no, refund_desc: '全额退款' });
    expect(r).toMatchObject({ out_trade_no: no, out_refund_no: `${no}-1`, refund_fee: 1000, state: 'SUCCESS' });
    expect(refundedAtGateway(provider, no)).toBe(1000);
    const o = await order(no);
    expect(o).toMatchObject({ status: ORDER_STATUS.REFUNDED, refund_fee: 1000, refund_num: 1 });
    expect(o.refund_list).toEqual([
      expect.objectContaining({ out_refund_no: `${no}-1`, refund_fee: 1000, refund_desc: '全额退款', state: 'SUCCESS' }),
    ]);
    expect(await ledger(`${no}-1`)).toMatchObject({ out_trade_no: no, refund_fee: 1000, state: 'SUCCESS', refund_desc: '全额退款' });
    // a repeat of the same number is answered from the ledger, even now that nothing is left
    const before = refundRequests[provider];
    expect(await refund(deps, { out_trade_no: no, out_refund_no: `${no}-1` })).toEqual(r);
    expect(refundRequests[provider]).toBe(before);
    // nothing is left to refund
    const e = await payError(refund(deps, { out_trade_no: no }));
    expect(e).toMatchObject({ code: 2003, detail: { refundable: 0 } });
  });

  test('two partial refunds: status 2, then 3; default numbers -1, -2; queryRefund reports the latest', async () => {
    const no = await paidOrder(provider, 1000);
    const r1 = await refund(deps, { out_trade_no: no, refund_fee: 300 });
    expect(r1).toMatchObject({ out_refund_no: `${no}-1`, refund_fee: 300, state: 'SUCCESS' });
    expect(await order(no)).toMatchObject({ status: ORDER_STATUS.PART_REFUNDED, refund_fee: 300 });
    const r2 = await refund(deps, { out_trade_no: no });
    expect(r2).toMatchObject({ out_refund_no: `${no}-2`, refund_fee: 700, state: 'SUCCESS' });
    expect(await order(no)).toMatchObject({ status: ORDER_STATUS.REFUNDED, refund_fee: 1000, refund_num: 2 });
    expect(refundedAtGateway(provider, no)).toBe(1000);
    const q = await queryRefund(deps, { out_trade_no: no });
    expect(q).toMatchObject({
      out_refund_no: `${no}-2`,
      refund_fee: 700,
      state: 'SUCCESS',
      order: { total_fee: 1000, refund_fee: 1000, status: 3 },
    });
    const q1 = await queryRefund(deps, { out_trade_no: no, out_refund_no: `${no}-1` });
    expect(q1).toMatchObject({ out_refund_no: `${no}-1`, refund_fee: 300, state: 'SUCCESS' });
  });

  test('an over-refund is refused with 2003 and nothing reaches the gateway', async () => {
    const no = await paidOrder(provider, 500);
    await refund(deps, { out_trade_no: no, refund_fee: 200 });
    const before = refundRequests[provider];
    for (const refund_fee of [301, 0, -1, 1.5, '100' as unknown as number]) {
      const e = await payError(refund(deps, { out_trade_no: no, refund_fee }));
      expect(e).toMatchObject({ code: 2003, key: 'REFUND_FEE_INVALID', detail: { refundable: 300 } });
    }
    expect(refundRequests[provider]).toBe(before);
    expect(refundedAtGateway(provider, no)).toBe(200);
    expect(await order(no)).toMatchObject({ status: 2, refund_fee: 200, refund_num: 1 });
  });

  test('concurrent partial refunds whose sum exceeds the total never refund more than the total', async () => {
    const no = await paidOrder(provider, 1000);
    const before = refundRequests[provider];
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => refund(deps, { out_trade_no: no, out_refund_no: `${no}-c${i}`, refund_fee: 300 })),
    );
    const ok = results.filter((r): r is PromiseFulfilledResult<any> => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok.every((r) => r.value.state === 'SUCCESS')).toBe(true);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(3);
    for (const r of refused) expect([2003, 2004]).toContain(r.reason.code);
    const o = await order(no);
    expect(o.refund_fee).toBe(300 * ok.length);
    expect(refundedAtGateway(provider, no)).toBe(300 * ok.length);
    expect(o.refund_fee).toBeLessThanOrEqual(o.total_fee);
    // only the reserved refunds were sent; a refused one stays FAIL (a repeat reports the refusal), a contention left no claim
    expect(refundRequests[provider] - before).toBe(ok.length);
    expect(o.refund_list.map((r) => r.out_refund_no).sort()).toEqual(ok.map((r) => r.value.out_refund_no).sort());
    for (const r of refused) {
      const number = `${no}-c${results.indexOf(r)}`;
      if (r.reason.code === 2004) expect(await ledger(number)).toBeUndefined();
      else {
        expect(await ledger(number)).toMatchObject({ state: 'FAIL', fail_code: 'REFUND_FEE_INVALID' });
        expect(await payError(refund(deps, { out_trade_no: no, out_refund_no: number, refund_fee: 300 }))).toMatchObject({ code: 2003 });
      }
    }
    expect(refundRequests[provider] - before).toBe(ok.length);
  });

  test('concurrent default-numbered refunds join an unsettled one or take a new number, and stop at the total', async () => {
    const no = await paidOrder(provider, 1000);
    const before = refundRequests[provider];
    const results = await Promise.allSettled(Array.from({ length: 7 }, () => refund(deps, { out_trade_no: no, refund_fee: 200 })));
    const ok = results.filter((r): r is PromiseFulfilledResult<any> => r.status === 'fulfilled').map((r) => r.value);
    for (const r of results) if (r.status === 'rejected') expect([2003, 2004]).toContain(r.reason.code);
    const numbers = new Set(ok.map((r) => r.out_refund_no));
    expect(numbers.size).toBeGreaterThanOrEqual(1);
    expect(numbers.size).toBeLessThanOrEqual(5);
    for (const n of numbers) await queryRefund(deps, { out_trade_no: no, out_refund_no: n });
    const o = await order(no);
    expect(o.refund_fee).toBe(200 * numbers.size);
    expect(refundedAtGateway(provider, no)).toBe(200 * numbers.size);
    expect(o.status).toBe(numbers.size === 5 ? 3 : 2);
    expect(refundRequests[provider] - before).toBe(numbers.size);
  });

  test('the same out_refund_no again, in sequence and in parallel, is one gateway refund', async () => {
    const no = await paidOrder(provider, 1000);
    const before = refundRequests[provider];
    const first = await refund(deps, { out_trade_no: no, out_refund_no: `${no}-R1`, refund_fee: 100 });
    const again = await refund(deps, { out_trade_no: no, out_refund_no: `${no}-R1`, refund_fee: 100 });
    expect(again).toEqual(first);
    const parallel = await Promise.all(
      Array.from({ length: 5 }, () => refund(deps, { out_trade_no: no, out_refund_no: `${no}-R2`, refund_fee: 150 })),
    );
    for (const r of parallel) expect(r).toMatchObject({ out_refund_no: `${no}-R2`, refund_fee: 150 });
    expect(refundRequests[provider] - before).toBe(2);
    expect(refundedAtGateway(provider, no)).toBe(250);
    expect(await order(no)).toMatchObject({ refund_fee: 250, refund_num: 2, status: 2 });
    // a repeat that changes the amount is refused, not sent
    const e = await payError(refund(deps, { out_trade_no: no, out_refund_no: `${no}-R1`, refund_fee: 200 }));
    expect(e).toMatchObject({ code: 1021 });
    expect(refundRequests[provider] - before).toBe(2);
  });

  test('a refusal by the gateway releases the reservation and records FAIL', async () => {
    const no = await paidOrder(provider, 1000);
    await refund(deps, { out_trade_no: no, refund_fee: 100 });
    // a second path (not through this service) refunds 600 at the gateway: only 300 remain there
    const adapter = loadAdapter(provider);
    const ctx = {
      config: configNode(config as any, [provider, 'h5']),
      http: loopbackTransport(),
      clock: { now: () => Date.now() },
      cache: memoryCache(),
    };
    await adapter.refund!({ out_trade_no: no, out_refund_no: `${no}-side`, total_fee: 1000, refund_fee: 600 }, ctx);
    const e = await payError(refund(deps, { out_trade_no: no, out_refund_no: `${no}-big`, refund_fee: 500 }));
    expect(e).toMatchObject({
      code: 3001,
      key: 'GATEWAY_ERROR',
      detail: expect.objectContaining({ out_refund_no: `${no}-big`, state: 'FAIL' }),
    });
    const o = await order(no);
    expect(o).toMatchObject({ status: ORDER_STATUS.PART_REFUNDED, refund_fee: 100 });
    expect(o.refund_list.find((r) => r.out_refund_no === `${no}-big`)).toMatchObject({ state: 'FAIL', refund_fee: 500 });
    expect(await ledger(`${no}-big`)).toMatchObject({ state: 'FAIL' });
    // the repeat neither resends nor double-releases
    const before = refundRequests[provider];
    expect(await payError(refund(deps, { out_trade_no: no, out_refund_no: `${no}-big` }))).toMatchObject({
      code: 3001,
      detail: { state: 'FAIL' },
    });
    expect(refundRequests[provider]).toBe(before);
    expect(await queryRefund(deps, { out_trade_no: no, out_refund_no: `${no}-big` })).toMatchObject({
      state: 'FAIL',
      order: { refund_fee: 100, status: 2 },
    });
    // what the order still allows can be refunded
    expect(await refund(deps, { out_trade_no: no, refund_fee: 300 })).toMatchObject({ state: 'SUCCESS' });
    expect(refundedAtGateway(provider, no)).toBe(1000);
  });

  test('a refusal that releases the only refund puts the order back to paid (status 1)', async () => {
    const no = await paidOrder(provider, 400);
    const adapter = loadAdapter(provider);
    const ctx = {
      config: configNode(config as any, [provider, 'h5']),
      http: loopbackTransport(),
      clock: { now: () => Date.now() },
      cache: memoryCache(),
    };
    await adapter.refund!({ out_trade_no: no, out_refund_no: `${no}-side`, total_fee: 400, refund_fee: 300 }, ctx);
    await payError(refund(deps, { out_trade_no: no })); // 400 asked, 100 left at the gateway
    expect(await order(no)).toMatchObject({ status: ORDER_STATUS.PAID, refund_fee: 0, refund_num: 1 });
  });

  test('a lost answer keeps the reservation (UNKNOWN); queryRefund settles it as SUCCESS', async () => {
    const no = await paidOrder(provider, 1000);
    fault = 'lose-answer';
    const r = await refund(deps, { out_trade_no: no, refund_fee: 400 });
    fault = undefined;
    expect(r).toMatchObject({ state: 'UNKNOWN', refund_fee: 400 });
    expect(await ledger(r.out_refund_no)).toMatchObject({ state: 'UNKNOWN' });
    expect(await order(no)).toMatchObject({ refund_fee: 400, status: 2 });
    expect(refundedAtGateway(provider, no)).toBe(400);
    // only 600 may still be refunded meanwhile (under a new number: without one, the unsettled refund is resumed)
    expect(await payError(refund(deps, { out_trade_no: no, out_refund_no: `${no}-X`, refund_fee: 601 }))).toMatchObject({
      code: 2003,
      detail: { refundable: 600 },
    });
    const q = await queryRefund(deps, { out_trade_no: no });
    expect(q).toMatchObject({ out_refund_no: r.out_refund_no, state: 'SUCCESS', order: { refund_fee: 400, status: 2 } });
    expect((await order(no)).refund_list[0]).toMatchObject({ state: 'SUCCESS' });
  });

  test('issue 9: a retry WITHOUT out_refund_no after a lost answer resumes that refund (400 intended stays 400, not 800)', async () => {
    const no = await paidOrder(provider, 1000);
    const before = refundRequests[provider];
    fault = 'lose-answer';
    const r = await refund(deps, { out_trade_no: no, refund_fee: 400 });
    fault = undefined;
    expect(r).toMatchObject({ state: 'UNKNOWN', refund_fee: 400 });
    // the caller retries the same call (it never learned the number)
    const again = await refund(deps, { out_trade_no: no, refund_fee: 400 });
    expect(again).toMatchObject({ out_refund_no: r.out_refund_no, refund_fee: 400, state: 'SUCCESS' });
    const third = await refund(deps, { out_trade_no: no, refund_fee: 400 }); // settled: now a new refund is a new refund
    expect(third.out_refund_no).not.toBe(r.out_refund_no);
    expect(refundRequests[provider] - before).toBe(2);
    expect(refundedAtGateway(provider, no)).toBe(800);
    expect(await order(no)).toMatchObject({ refund_fee: 800, refund_num: 2 });
  });

  test('issue 9: a retry without out_refund_no after a crash (claim left PENDING) resumes it, never a second refund', async () => {
    const no = await paidOrder(provider, 1000);
    // the crash: the number was claimed, then the process died before it asked the provider
    const now = Date.now();
    await new RefundsRepo(deps.db).insert({
      out_refund_no: `${no}-1`,
      out_trade_no: no,
      refund_fee: 400,
      state: 'PENDING',
      create_date: now,
      update_date: now,
    });
    const before = refundRequests[provider];
    const r = await refund(deps, { out_trade_no: no, refund_fee: 400 });
    expect(r).toMatchObject({ out_refund_no: `${no}-1`, state: 'PENDING' });
    expect(refundRequests[provider] - before).toBe(0);
    // a different amount without a number is not silently another refund
    expect(await payError(refund(deps, { out_trade_no: no, refund_fee: 300 }))).toMatchObject({ code: 1021 });
    // past the grace period the provider's "no such refund" releases it; then a new refund may start
    clockOffset = REFUND_SETTLE_GRACE_MS + 1000;
    await queryRefund(deps, { out_trade_no: no, out_refund_no: `${no}-1` });
    expect(await ledger(`${no}-1`)).toMatchObject({ state: 'FAIL' });
    const next = await refund(deps, { out_trade_no: no, refund_fee: 400 });
    expect(next).toMatchObject({ state: 'SUCCESS', refund_fee: 400 });
    expect(refundedAtGateway(provider, no)).toBe(400);
  });

  test('a request that never arrived stays reserved until the grace period, then queryRefund releases it', async () => {
    const no = await paidOrder(provider, 1000);
    fault = 'fail-before';
    const r = await refund(deps, { out_trade_no: no, refund_fee: 250 });
    fault = undefined;
    expect(r).toMatchObject({ state: 'UNKNOWN' });
    expect(refundedAtGateway(provider, no)).toBe(0);
    // the gateway does not know it yet: too early to call it failed
    expect(await queryRefund(deps, { out_trade_no: no })).toMatchObject({ state: 'UNKNOWN', order: { refund_fee: 250, status: 2 } });
    // the same number repeated is still no second send
    const before = refundRequests[provider];
    expect(await refund(deps, { out_trade_no: no, out_refund_no: r.out_refund_no })).toMatchObject({ state: 'UNKNOWN' });
    expect(refundRequests[provider]).toBe(before);
    clockOffset = REFUND_SETTLE_GRACE_MS + 1000;
    expect(await queryRefund(deps, { out_trade_no: no, out_refund_no: r.out_refund_no })).toMatchObject({
      state: 'FAIL',
      order: { refund_fee: 0, status: 1 },
    });
    expect(await ledger(r.out_refund_no)).toMatchObject({ state: 'FAIL' });
    // settled twice: released once
    expect(await queryRefund(deps, { out_trade_no: no, out_refund_no: r.out_refund_no })).toMatchObject({
      state: 'FAIL',
      order: { refund_fee: 0, status: 1 },
    });
    expect(await refund(deps, { out_trade_no: no })).toMatchObject({ state: 'SUCCESS', refund_fee: 1000, out_refund_no: `${no}-2` });
    expect(await order(no)).toMatchObject({ refund_fee: 1000, status: 3, refund_num: 2 });
  });

  test('releases racing each other and new reservations: released once, status always matches refund_fee', async () => {
    const no = await paidOrder(provider, 1000);
    fault = 'fail-before';
    const lost = await refund(deps, { out_trade_no: no, refund_fee: 250 });
    fault = undefined;
    expect(lost.state).toBe('UNKNOWN');
    clockOffset = REFUND_SETTLE_GRACE_MS + 1000;
    const results = await Promise.allSettled([
      ...Array.from({ length: 5 }, () => queryRefund(deps, { out_trade_no: no, out_refund_no: lost.out_refund_no })),
      ...Array.from({ length: 4 }, (_, i) => refund(deps, { out_trade_no: no, out_refund_no: `${no}-x${i}`, refund_fee: 300 })),
    ]);
    const queries = results.slice(0, 5);
    for (const q of queries) expect(q).toMatchObject({ status: 'fulfilled', value: { state: 'FAIL' } });
    const ok = results.slice(5).filter((r): r is PromiseFulfilledResult<any> => r.status === 'fulfilled');
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(ok.length).toBeLessThanOrEqual(3);
    const o = await order(no);
    expect(o.refund_fee).toBe(300 * ok.length);
    expect(refundedAtGateway(provider, no)).toBe(300 * ok.length);
    expect(o.status).toBe(o.refund_fee === 0 ? 1 : o.refund_fee < 1000 ? 2 : 3);
    expect(o.refund_list.filter((r) => r.state === 'FAIL').map((r) => r.out_refund_no)).toEqual([lost.out_refund_no]);
  });
});

test('wxpay: a 500 SYSTEM_ERROR is not a refusal: the reservation is kept (UNKNOWN)', async () => {
  const no = await paidOrder('wxpay', 800);
  fault = 'http-500';
  const r = await refund(deps, { out_trade_no: no, refund_fee: 800 });
  expect(r).toMatchObject({ state: 'UNKNOWN' });
  expect(await order(no)).toMatchObject({ refund_fee: 800, status: 3 });
});

test('order checks: unknown order 2001, unpaid 2002, closed 2002, bad out_refund_no 1021, Apple unsupported 3005', async () => {
  expect(await payError(refund(deps, { out_trade_no: 'NO_SUCH_ORDER_1' }))).toMatchObject({ code: 2001 });
  const unpaid = tradeNo('U');
  await insertOrder({ out_trade_no: unpaid, total_fee: 100, provider: 'wxpay', status: ORDER_STATUS.UNPAID });
  expect(await payError(refund(deps, { out_trade_no: unpaid }))).toMatchObject({ code: 2002 });
  const closed = tradeNo('C');
  await insertOrder({ out_trade_no: closed, total_fee: 100, provider: 'alipay', status: ORDER_STATUS.CLOSED });
  expect(await payError(refund(deps, { out_trade_no: closed, refund_fee: 1 }))).toMatchObject({ code: 2002 });
  const paid = tradeNo('P');
  await insertOrder({ out_trade_no: paid, total_fee: 100, provider: 'wxpay', status: ORDER_STATUS.PAID });
  for (const out_refund_no of ['has space', 'x'.repeat(65), '', 'a/b']) {
    expect(await payError(refund(deps, { out_trade_no: paid, out_refund_no }))).toMatchObject({ code: 1021 });
  }
  expect(await payError(refund(deps, {} as any))).toMatchObject({ code: 1021 });
  const apple = tradeNo('I');
  await insertOrder({
    out_trade_no: apple,
    total_fee: 600,
    provider: 'appleiap',
    status: ORDER_STATUS.PAID,
    pay_type: 'appleiap_app-plus' as any,
  });
  expect(await payError(refund(deps, { out_trade_no: apple }))).toMatchObject({ code: 3005 });
  expect(await deps.orders.findByOutTradeNo(paid)).toMatchObject({ refund_fee: 0, refund_num: 0, refund_list: [] });
  // queryRefund without any refund
  expect(await payError(queryRefund(deps, { out_trade_no: paid }))).toMatchObject({ code: 1021 });
  expect(await payError(queryRefund(deps, { out_trade_no: 'NO_SUCH_ORDER_2' }))).toMatchObject({ code: 2001 });
});
