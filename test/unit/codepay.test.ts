/**
 * Codepay rules and the counter flow in process: the pure rules (code shapes from the catalog, the
 * bounded schedule) and runCodepay on the local database with a scripted adapter, for the branches
 * the sandboxes do not reach (amount mismatch, a final refusal of the cancel, PAYERROR while polled).
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT } from '../../tools/stack';
import { createDeps, type PayDeps } from '../../uni_modules/vk-uni-pay/server/services/deps';
import { createLogger } from '../../uni_modules/vk-uni-pay/server/services/log';
import { staticConfigSource } from '../../uni_modules/vk-uni-pay/server/store/config';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { runCodepay } from '../../uni_modules/vk-uni-pay/server/services/codepay';
import { codepayScene, codepayTiming, CODEPAY_CANCEL_ATTEMPTS } from '../../uni_modules/vk-uni-pay/server/core/codepay';
import { GatewayFailure } from '../../uni_modules/vk-uni-pay/server/core/gateway-failure';
import type { PayOrder } from '../../uni_modules/vk-uni-pay/server/core/order';
import type { ProviderAdapter, QueryOrderResult } from '../../uni_modules/vk-uni-pay/server/providers/types';
import type { CodepayAnswer } from '../../uni_modules/vk-uni-pay/server/providers/hooks';

describe('rules', () => {
  test.each([
    ['wxpay', '134567890123456789', 'wxpay_codepay'],
    ['wxpay', '104567890123456789', 'wxpay_codepay'],
    ['alipay', '2812345678901234', 'alipay_codepay'],
    ['alipay', '301234567890123456789012', 'alipay_codepay'],
  ] as const)('%s accepts %s as %s', (provider, code, payType) => {
    expect(codepayScene(provider, code)).toEqual({ payType, platformKey: 'codepay', qr: false });
  });

  test.each([
    ['wxpay', '164567890123456789'],
    ['wxpay', '13456789012345678'],
    ['wxpay', ' 134567890123456789'],
    ['alipay', '241234567890123456'],
    ['alipay', '281234567890123'],
    ['alipay', '2812345678901234567890123'],
    ['alipay', 2812345678901234],
  ] as const)('%s refuses %s (AUTH_CODE_INVALID 1041)', (provider, code) => {
    expect(() => codepayScene(provider, code)).toThrow(expect.objectContaining({ key: 'AUTH_CODE_INVALID', code: 1041 }));
  });

  test('providers without the capability refuse any auth_code (3005)', () => {
    for (const p of ['vkspay', 'appleiap', 'wxpay-virtual'] as const)
      expect(() => codepayScene(p, '134567890123456789')).toThrow(expect.objectContaining({ key: 'OPERATION_UNSUPPORTED' }));
  });

  test('the schedule defaults to 30 s / 5 s and stays bounded', () => {
    expect(codepayTiming({})).toEqual({ waitMs: 30_000, pollMs: 5_000 });
    expect(codepayTiming({ codepayWaitMs: 10 ** 9, codepayPollMs: 10 ** 9 })).toEqual({ waitMs: 45_000, pollMs: 10_000 });
    expect(codepayTiming({ codepayWaitMs: -5, codepayPollMs: 0 })).toEqual({ waitMs: 0, pollMs: 5 });
    expect(codepayTiming({ codepayWaitMs: '9' })).toEqual({ waitMs: 30_000, pollMs: 5_000 });
  });
});

describe('runCodepay', () => {
  let dir: string;
  let db: ReturnType<typeof createDatabase>;
  let deps: PayDeps;
  const handled: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vkpay-codepay-'));
    db = createDatabase({ file: path.join(dir, 'db.sqlite'), indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')] });
    deps = createDeps({
      db: () => db,
      configs: staticConfigSource({} as any),
      cache: memoryCache(),
      log: createLogger(() => {}),
      handlers:
        () =>
        async ({ data }) => {
          handled.push(String(data.out_trade_no));
          return true;
        },
    });
  });
  afterAll(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let seq = 0;
  async function newOrder(): Promise<PayOrder> {
    const no = `UCP${Date.now().toString(36)}${seq++}`;
    const order = {
      out_trade_no: no,
      total_fee: 500,
      status: 0,
      provider: 'wxpay',
      pay_type: 'wxpay_codepay',
      platform: 'h5',
      uni_platform: 'web',
      type: 'goods',
      description: '收银台',
      client_ip: '127.0.0.1',
      custom: {},
      notify_url: '',
      notify_path: '',
      create_date: Date.now(),
      refund_fee: 0,
      refund_num: 0,
      refund_list: [],
      handler_lock_until: 0,
      handler_attempts: 0,
    } as unknown as PayOrder;
    await deps.orders.insert(order);
    return order;
  }

  function adapter(script: { first: CodepayAnswer; queries?: Array<Partial<QueryOrderResult>>; cancel?: () => Promise<unknown> }) {
    const queries = [...(script.queries ?? [])];
    const calls = { query: 0, cancel: 0 };
    const a = {
      provider: 'wxpay',
      codepay: async () => script.first,
      queryOrder: async (q: { out_trade_no: string }) => {
        calls.query++;
        return { state: 'PAYING', out_trade_no: q.out_trade_no, raw: {}, ...(queries.shift() ?? {}) };
      },
      cancelCodepay: async () => {
        calls.cancel++;
        return (script.cancel ?? (async () => ({ cancelled: true, raw: {} })))();
      },
    } as unknown as ProviderAdapter<any>;
    return { a, calls };
  }

  const run = (order: PayOrder, a: ProviderAdapter<any>, waitMs = 60) =>
    runCodepay(deps, {
      order,
      adapter: a,
      ctx: {} as any,
      input: {
        out_trade_no: order.out_trade_no,
        total_fee: 500,
        subject: 's',
        auth_code: 'x',
        client_ip: '',
        notify_url: '',
        other: {},
        extra: {},
      },
      timing: { waitMs, pollMs: 10 },
    });

  test('a paid answer for another amount is not settled: FAILED AMOUNT_MISMATCH, order unpaid, no handler', async () => {
    const order = await newOrder();
    const { a } = adapter({ first: { state: 'PAID', transaction_id: 't1', total_fee: 1, raw: {} } });
    await expect(run(order, a)).rejects.toMatchObject({
      key: 'CODEPAY_FAILED',
      detail: { codepay_state: 'FAILED', reason: { code: 'AMOUNT_MISMATCH' } },
    });
    expect(await deps.orders.findByOutTradeNo(order.out_trade_no)).toMatchObject({ status: 0 });
    expect(handled).not.toContain(order.out_trade_no);
  });

  test('PAYERROR while polled stops the wait, cancels, answers FAILED and closes the order', async () => {
    const order = await newOrder();
    const { a, calls } = adapter({ first: { state: 'WAITING', raw: {} }, queries: [{}, { state: 'ERROR' }] });
    await expect(run(order, a, 5_000)).rejects.toMatchObject({ detail: { codepay_state: 'FAILED', reason: { code: 'PAYERROR' } } });
    expect(calls.cancel).toBe(1);
    expect(await deps.orders.findByOutTradeNo(order.out_trade_no)).toMatchObject({ status: -1 });
  });

  test('a cancel whose answer proves nothing is asked again, a bounded number of times, then WAITING with the order unpaid', async () => {
    const order = await newOrder();
    const lost = () => Promise.reject(new GatewayFailure('GATEWAY_UNREACHABLE', { verified: false, retryable: true }));
    const { a, calls } = adapter({ first: { state: 'WAITING', raw: {} }, cancel: lost });
    await expect(run(order, a)).rejects.toMatchObject({ key: 'CODEPAY_WAITING', code: 2203 });
    expect(calls.cancel).toBe(CODEPAY_CANCEL_ATTEMPTS);
    expect(await deps.orders.findByOutTradeNo(order.out_trade_no)).toMatchObject({ status: 0 });
  });

  test('a final refusal of the cancel is not retried: WAITING, a verified query decides later', async () => {
    const order = await newOrder();
    const refused = () =>
      Promise.reject(new GatewayFailure('GATEWAY_ERROR', { verified: true, retryable: false, providerCode: 'TRADE_ERROR' }));
    const { a, calls } = adapter({ first: { state: 'WAITING', raw: {} }, cancel: refused });
    await expect(run(order, a)).rejects.toMatchObject({ detail: { codepay_state: 'WAITING' } });
    expect(calls.cancel).toBe(1);
  });

  test('the buyer confirms while polled: settled (handler once), no cancel', async () => {
    const order = await newOrder();
    const { a, calls } = adapter({
      first: { state: 'WAITING', raw: {} },
      queries: [{}, {}, { state: 'PAID', transaction_id: 't9', total_fee: 500 }],
    });
    await expect(run(order, a, 2_000)).resolves.toMatchObject({ codepay_state: 'PAID', transaction_id: 't9', user_order_success: true });
    expect(calls).toEqual({ query: 3, cancel: 0 });
    expect(handled.filter((x) => x === order.out_trade_no)).toHaveLength(1);
  });
});
