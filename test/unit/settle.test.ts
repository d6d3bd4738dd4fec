/**
 * The paid gate, the handler lease and the provider-query gate, in process: the real services on
 * the local database against the WeChat Pay v3 and Alipay sandboxes on loopback.
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT, WX_APPIDS, sandboxConfig } from '../../tools/stack';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox } from '../../tools/sandbox/wxpay';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox } from '../../tools/sandbox/alipay';
import { loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { createDeps, type NotifyHandler, type PayDeps } from '../../uni_modules/vk-uni-pay/server/services/deps';
import { createLogger } from '../../uni_modules/vk-uni-pay/server/services/log';
import { staticConfigSource, configNode } from '../../uni_modules/vk-uni-pay/server/store/config';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { loadAdapter } from '../../uni_modules/vk-uni-pay/server/providers/registry';
import { ORDER_STATUS, type PayOrder } from '../../uni_modules/vk-uni-pay/server/core/order';
import { countingTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { runHandler, settlePaid } from '../../uni_modules/vk-uni-pay/server/services/settle';
import { CLIENT_QUERY_INTERVAL_MS, queryPayment } from '../../uni_modules/vk-uni-pay/server/services/query-payment';
import { closeOrder } from '../../uni_modules/vk-uni-pay/server/services/close-order';

type Provider = 'wxpay' | 'alipay';

let dir: string;
let db: ReturnType<typeof createDatabase>;
let wx: WxpaySandbox;
let ali: AlipaySandbox;
let config: Record<string, any>;
let deps: PayDeps;
/** when set, the gateway's answer to a close request is lost after the gateway processed it */
let loseCloseAnswer = false;
const http = countingTransport({
  async request(req) {
    const res = await loopbackTransport().request(req);
    if (loseCloseAnswer && (req.url.endsWith('/close') || req.url.includes('method=alipay.trade.close')))
      throw new Error('socket hang up (simulated)');
    return res;
  },
});
/** handler behaviour per order, and every run it made */
const behaviour = new Map<string, (run: number) => Promise<unknown>>();
const runs = new Map<string, number>();

const handler: NotifyHandler = async ({ data }) => {
  const no = String(data.out_trade_no);
  const run = (runs.get(no) ?? 0) + 1;
  runs.set(no, run);
  return (behaviour.get(no) ?? (async () => true))(run);
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vkpay-settle-'));
  db = createDatabase({ file: path.join(dir, 'db.sqlite'), indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')] });
  const [wxMerchant, aliApp] = await Promise.all([
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
    wxApiBase: 'http://127.0.0.1:9',
    wxVersion: 3,
    ali: aliApp,
    aliGateway: ali.gateway,
    pemDir: path.join(dir, 'pem'),
  });
  deps = createDeps({
    db: () => db,
    configs: staticConfigSource(config as any),
    http,
    cache: memoryCache(),
    log: createLogger(() => {}),
    spaceId: () => 'local-space',
    handlers: () => handler,
    handlerLeaseMs: 150,
    handlerRetryDelayMs: 0,
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([wx?.close(), ali?.close()]);
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
const tradeNo = (p: string) => `ST${p}${Date.now().toString(36)}${(seq++).toString(36)}`.slice(0, 32);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const order = async (no: string) => (await deps.orders.findByOutTradeNo(no))!;

async function insertOrder(o: Pick<PayOrder, 'out_trade_no' | 'provider' | 'status'> & Partial<PayOrder>): Promise<void> {
  await deps.orders.insert({
    total_fee: 100,
    pay_type: `${o.provider}_h5`,
    platform: 'h5',
    uni_platform: 'web',
    type: 'goods',
    description: '租约测试',
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
  } as PayOrder);
}

/** An unpaid order that exists at the provider (its QR code scanned, for Alipay). */
async function providerOrder(provider: Provider): Promise<string> {
  const out_trade_no = tradeNo(provider === 'wxpay' ? 'W' : 'A');
  const ctx = {
    config: configNode(config as any, [provider, 'h5']),
    http: loopbackTransport(),
    clock: { now: () => Date.now() },
    cache: memoryCache(),
  };
  const created = await loadAdapter(provider).createOrder(
    {
      payType: `${provider}_h5`,
      platformKey: 'h5',
      out_trade_no,
      total_fee: 100,
      subject: '网关测试',
      notify_url: 'http://127.0.0.1:9/notify',
      client_ip: '127.0.0.1',
      needQRcode: true,
      other: {},
      extra: {},
    },
    ctx,
  );
  if (provider === 'alipay') await fetch(String(created.codeUrl)); // the buyer scans
  await insertOrder({ out_trade_no, provider, status: ORDER_STATUS.UNPAID });
  return out_trade_no;
}

describe('handler lease', () => {
  test('a run that outlives its lease cannot overwrite the newer run that succeeded; no third run', async () => {
    const no = tradeNo('L');
    await insertOrder({ out_trade_no: no, provider: 'wxpay', status: ORDER_STATUS.PAID, transaction_id: 'T1' });
    // run 1 is slow and fails; run 2 (taking the expired lease) succeeds
    behaviour.set(no, async (run) => (run === 1 ? (await sleep(400), false) : true));
    const first = runHandler(deps, no);
    await sleep(200);
    expect(await runHandler(deps, no)).toBe('done');
    expect(await first).toBe('failed');
    expect(await order(no)).toMatchObject({ user_order_success: true, handler_attempts: 2 });
    await sleep(200);
    expect(await runHandler(deps, no)).toBe('done');
    expect(runs.get(no)).toBe(2);
  });

  test('a stale run that succeeds records the success; the newer failure cannot undo it', async () => {
    const no = tradeNo('L');
    await insertOrder({ out_trade_no: no, provider: 'wxpay', status: ORDER_STATUS.PAID, transaction_id: 'T2' });
    behaviour.set(no, async (run) => (run === 1 ? (await sleep(400), true) : (await sleep(600), false)));
    const first = runHandler(deps, no);
    await sleep(200);
    const second = runHandler(deps, no);
    expect(await first).toBe('done');
    expect(await second).toBe('failed');
    expect(await order(no)).toMatchObject({ user_order_success: true });
    expect(await runHandler(deps, no)).toBe('done');
    expect(runs.get(no)).toBe(2);
  });

  test('the paid transition takes the lease in the same update: one run however many settle at once', async () => {
    const no = tradeNo('P');
    await insertOrder({ out_trade_no: no, provider: 'wxpay', status: ORDER_STATUS.UNPAID });
    const unpaid = await order(no);
    behaviour.set(no, async () => (await sleep(50), true));
    const longLease = { ...deps, handlerLeaseMs: 60_000 };
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => settlePaid(longLease, unpaid, { transaction_id: 'TX-SAME', notify_mode: 1, pay_type: 'wxpay_h5' })),
    );
    expect(outcomes.filter((o) => o === 'done').length).toBeGreaterThanOrEqual(1);
    expect(runs.get(no)).toBe(1);
    expect(await order(no)).toMatchObject({ status: 1, user_order_success: true, handler_attempts: 1, transaction_id: 'TX-SAME' });
  });
});

describe('provider queries of one order', () => {
  const queriesOf = (no: string) => http.calls.filter((c) => c.method === 'GET' && c.url.includes(`/out-trade-no/${no}`)).length;

  test('50 concurrent client queries of an unpaid order make one provider query; polling within the interval none', async () => {
    const no = await providerOrder('wxpay');
    const replies = await Promise.all(Array.from({ length: 50 }, () => queryPayment(deps, { out_trade_no: no, caller: {} })));
    expect(replies.every((r) => r.orderPaid === false)).toBe(true);
    expect(queriesOf(no)).toBe(1);
    await queryPayment(deps, { out_trade_no: no, caller: {} });
    expect(queriesOf(no)).toBe(1);
    await sleep(CLIENT_QUERY_INTERVAL_MS + 100);
    await queryPayment(deps, { out_trade_no: no, caller: {} });
    expect(queriesOf(no)).toBe(2);
  });

  test('server calls are not held to the interval, but still one query in flight', async () => {
    const no = await providerOrder('wxpay');
    await Promise.all(Array.from({ length: 20 }, () => queryPayment(deps, { out_trade_no: no })));
    expect(queriesOf(no)).toBe(1);
    await queryPayment(deps, { out_trade_no: no });
    expect(queriesOf(no)).toBe(2);
  });

  test('a payment found by the gated query settles the order and runs the handler once', async () => {
    const no = await providerOrder('wxpay');
    await wx.pay(no);
    const replies = await Promise.all(Array.from({ length: 10 }, () => queryPayment(deps, { out_trade_no: no, caller: {} })));
    expect(replies.some((r) => r.orderPaid)).toBe(true);
    expect(await order(no)).toMatchObject({ status: 1, user_order_success: true });
    expect(runs.get(no)).toBe(1);
  });
});

describe.each<[Provider]>([['wxpay'], ['alipay']])('closeOrder (%s)', (provider) => {
  afterEach(() => {
    loseCloseAnswer = false;
  });

  test('an answer lost after the provider closed the trade: reported closed, not an error', async () => {
    const no = await providerOrder(provider);
    loseCloseAnswer = true;
    expect(await closeOrder(deps, { out_trade_no: no })).toMatchObject({ status: ORDER_STATUS.CLOSED });
    expect(await order(no)).toMatchObject({ status: ORDER_STATUS.CLOSED });
  });

  test('concurrent calls all report the order closed', async () => {
    const no = await providerOrder(provider);
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => closeOrder(deps, { out_trade_no: no })));
    for (const r of results) expect(r).toMatchObject({ status: 'fulfilled', value: { status: ORDER_STATUS.CLOSED } });
  });
});
