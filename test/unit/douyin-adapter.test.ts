/**
 * The Douyin adapter against a scripted transport: what it sends (signed with the salt, fields and
 * units), how it reads Douyin's unsigned answers (refusals, retryable codes, malformed answers), and
 * how it verifies notifications. The sandbox and e2e tests cover the same paths against the peer.
 */
import { createHash } from 'node:crypto';
import { adapter, type DouyinConfig } from '../../uni_modules/vk-uni-pay/server/providers/douyin';
import { douyinCallbackSign } from '../../uni_modules/vk-uni-pay/server/providers/douyin/sign';
import type { CreateOrderInput, ProviderContext, RawHttpRequest } from '../../uni_modules/vk-uni-pay/server/providers/types';
import type { HttpRequest, HttpResponse } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';

const NOW = Date.UTC(2026, 11, 1, 4, 0, 0);
const CONFIG: DouyinConfig = { appId: 'tt1234567890abcdef', salt: 'SALT-1', token: 'TOKEN-1', mchId: 'M7001', gateway: 'http://dy.test' };

function scripted(answer: (req: HttpRequest) => Partial<HttpResponse> & { json?: unknown }) {
  const sent: HttpRequest[] = [];
  const ctx: ProviderContext<DouyinConfig> = {
    config: CONFIG,
    clock: { now: () => NOW },
    cache: memoryCache(),
    http: {
      async request(req) {
        sent.push(req);
        const a = answer(req);
        return { status: a.status ?? 200, headers: a.headers ?? {}, body: a.body ?? Buffer.from(JSON.stringify(a.json)) };
      },
    },
  };
  return { ctx, sent, body: (i = 0) => JSON.parse(String(sent[i].body)) };
}

/** the sign recomputed here from the documented rule (not with the adapter's code) */
function expectedSign(params: Record<string, unknown>, salt: string): string {
  const values = Object.entries(params)
    .filter(([k]) => !['app_id', 'thirdparty_id', 'sign', 'other_settle_params'].includes(k))
    .map(([, v]) => String(v).trim())
    .filter((v) => v !== '' && v !== 'null');
  return createHash('md5')
    .update([...values, salt].sort().join('&'))
    .digest('hex');
}

const input = (over: Partial<CreateOrderInput> = {}): CreateOrderInput =>
  ({
    payType: 'douyin_mp-toutiao',
    platformKey: 'mp-toutiao',
    out_trade_no: 'D20261201000001',
    total_fee: 990,
    subject: '会员月卡',
    notify_url: 'https://fc.example/http/vk-pay/paymentNotify/douyin_mp-toutiao/D20261201000001',
    client_ip: '127.0.0.1',
    needQRcode: false,
    other: {},
    extra: {},
    ...over,
  }) as CreateOrderInput;

const CREATED = { err_no: 0, err_tips: '', data: { order_id: 'N71', order_token: 'TOKEN-X' } };

describe('create_order', () => {
  test('a signed JSON POST to /api/apps/ecpay/v1/create_order with fen, valid_time and notify_url', async () => {
    const t = scripted(() => ({ json: CREATED }));
    const r = await adapter.createOrder(
      input({ time_expire: NOW + 10 * 60_000, other: { disable_msg: 1, msg_page: 'pages/order' } }),
      t.ctx,
    );
    expect(r.orderInfo).toEqual({ order_id: 'N71', order_token: 'TOKEN-X' });
    expect(t.sent[0]).toMatchObject({ method: 'POST', url: 'http://dy.test/api/apps/ecpay/v1/create_order' });
    const b = t.body();
    expect(b).toMatchObject({
      app_id: CONFIG.appId,
      out_order_no: 'D20261201000001',
      total_amount: 990,
      subject: '会员月卡',
      body: '会员月卡',
      valid_time: 600,
      notify_url: input().notify_url,
      disable_msg: 1,
      msg_page: 'pages/order',
    });
    expect(b.sign).toBe(expectedSign(b, 'SALT-1'));
  });

  test('production and sandbox hosts; our fields win over data.other', async () => {
    const t = scripted(() => ({ json: CREATED }));
    const prod = { ...t.ctx, config: { ...CONFIG, gateway: undefined } };
    await adapter.createOrder(input({ other: { total_amount: 1, out_order_no: 'X' } }), prod);
    expect(t.sent[0].url).toBe('https://developer.toutiao.com/api/apps/ecpay/v1/create_order');
    expect(t.body(0)).toMatchObject({ total_amount: 990, out_order_no: 'D20261201000001', valid_time: 1800 });
    await adapter.createOrder(input(), { ...prod, config: { ...prod.config, sandbox: true } });
    expect(t.sent[1].url).toBe('https://open-sandbox.douyin.com/api/apps/ecpay/v1/create_order');
  });

  test('long texts are cut to 42 characters / 128 bytes; objects in data.other and time_expire out of range are refused', async () => {
    const t = scripted(() => ({ json: CREATED }));
    await adapter.createOrder(input({ subject: '长'.repeat(60) }), t.ctx);
    expect(t.body().subject).toBe('长'.repeat(42));
    await expect(adapter.createOrder(input({ other: { expand_order_info: { a: 1 } } }), t.ctx)).rejects.toMatchObject({ code: 1021 });
    await expect(adapter.createOrder(input({ time_expire: NOW + 60_000 }), t.ctx)).rejects.toMatchObject({ code: 1012 });
    await expect(adapter.createOrder(input({ time_expire: NOW + 3 * 86_400_000 }), t.ctx)).rejects.toMatchObject({ code: 1012 });
    expect(t.sent).toHaveLength(1);
  });

  test('missing salt or appId: a coded config error before anything is sent', async () => {
    const t = scripted(() => ({ json: CREATED }));
    await expect(adapter.createOrder(input(), { ...t.ctx, config: { ...CONFIG, salt: '' } })).rejects.toMatchObject({
      key: 'CONFIG_FIELD_MISSING',
    });
    await expect(adapter.createOrder(input(), { ...t.ctx, config: { ...CONFIG, appId: undefined } })).rejects.toMatchObject({
      key: 'CONFIG_FIELD_MISSING',
    });
    expect(t.sent).toHaveLength(0);
  });

  test.each([
    [
      { json: { err_no: 2008, err_tips: '签名校验异常' } },
      { key: 'GATEWAY_ERROR', providerCode: '2008', verified: true, retryable: false },
    ],
    [{ json: { err_no: 1000, err_tips: '内部异常' } }, { key: 'GATEWAY_ERROR', providerCode: '1000', verified: true, retryable: true }],
    [{ json: { err_no: 1001, err_tips: '业务繁忙' } }, { key: 'GATEWAY_ERROR', providerCode: '1001', retryable: true }],
    [
      { status: 502, body: Buffer.from('<html>bad gateway</html>') },
      { verified: false, retryable: true },
    ],
    [{ body: Buffer.from('not json') }, { verified: false, retryable: true }],
    [{ json: { data: { order_id: 'N1', order_token: 'T' } } }, { verified: false, retryable: true }],
    [{ json: { err_no: 0, data: { order_id: 'N1' } } }, { key: 'GATEWAY_RESPONSE_INVALID' }],
  ])('answer %j → %j', async (answer, failure) => {
    const t = scripted(() => answer);
    await expect(adapter.createOrder(input(), t.ctx)).rejects.toMatchObject(failure);
  });
});

describe('query_order, refunds, balance', () => {
  const paid = (over: Record<string, unknown> = {}) => ({
    err_no: 0,
    err_tips: 'success',
    out_order_no: 'D1',
    order_id: 'N9',
    payment_info: { total_fee: 990, order_status: 'SUCCESS', pay_time: '2026-12-01 12:00:05', way: 2, channel_no: 'C1', ...over },
  });

  test('SUCCESS → PAID with amount, Douyin order id, Beijing pay_time and the pay method', async () => {
    const t = scripted(() => ({ json: paid() }));
    const q = await adapter.queryOrder({ out_trade_no: 'D1' }, t.ctx);
    expect(q).toMatchObject({ state: 'PAID', total_fee: 990, transaction_id: 'N9', pay_date: Date.UTC(2026, 11, 1, 4, 0, 5) });
    expect(q).toMatchObject({ provider_pay_method: 'alipay' });
    const b = t.body();
    expect(b).toEqual({ app_id: CONFIG.appId, out_order_no: 'D1', sign: expectedSign({ out_order_no: 'D1' }, 'SALT-1') });
  });

  test.each([
    ['PROCESSING', 'PAYING'],
    ['TIMEOUT', 'CLOSED'],
    ['FAIL', 'NOTPAY'],
  ])('%s → %s', async (status, state) => {
    const t = scripted(() => ({ json: paid({ order_status: status }) }));
    expect((await adapter.queryOrder({ out_trade_no: 'D1' }, t.ctx)).state).toBe(state);
  });

  test('err_no 2000 → NOT_FOUND; an answer about another order or an unknown status is invalid', async () => {
    expect(
      (await adapter.queryOrder({ out_trade_no: 'D1' }, scripted(() => ({ json: { err_no: 2000, err_tips: '支付记录不存在' } })).ctx))
        .state,
    ).toBe('NOT_FOUND');
    await expect(adapter.queryOrder({ out_trade_no: 'D2' }, scripted(() => ({ json: paid() })).ctx)).rejects.toMatchObject({
      key: 'GATEWAY_RESPONSE_INVALID',
    });
    await expect(
      adapter.queryOrder({ out_trade_no: 'D1' }, scripted(() => ({ json: paid({ order_status: 'X' }) })).ctx),
    ).rejects.toMatchObject({
      key: 'GATEWAY_RESPONSE_INVALID',
    });
  });

  test('create_refund is only "accepted": PROCESSING, with the order number echoed in cp_extra', async () => {
    const t = scripted(() => ({ json: { err_no: 0, err_tips: '', refund_no: 'R77' } }));
    const r = await adapter.refund!(
      { out_trade_no: 'D1', out_refund_no: 'D1-1', total_fee: 990, refund_fee: 100, notify_url: 'https://n' },
      t.ctx,
    );
    expect(r).toMatchObject({ state: 'PROCESSING', refund_id: 'R77', refund_fee: 100 });
    const b = t.body();
    expect(b).toMatchObject({
      out_order_no: 'D1',
      out_refund_no: 'D1-1',
      refund_amount: 100,
      reason: '退款',
      cp_extra: 'D1',
      notify_url: 'https://n',
    });
    expect(b.sign).toBe(expectedSign(b, 'SALT-1'));
  });

  test.each([
    ['SUCCESS', 'SUCCESS'],
    ['PROCESSING', 'PROCESSING'],
    ['FAIL', 'FAIL'],
  ])('query_refund %s → %s', async (status, state) => {
    const t = scripted(() => ({ json: { err_no: 0, refundInfo: { refund_no: 'R77', refund_amount: 100, refund_status: status } } }));
    expect(await adapter.queryRefund!({ out_trade_no: 'D1', out_refund_no: 'D1-1' }, t.ctx)).toMatchObject({ state, refund_fee: 100 });
    expect(t.body()).toMatchObject({ out_refund_no: 'D1-1' });
  });

  test('query_refund err_no 2000 (no such refund) → FAIL with nothing refunded; other refusals stay errors', async () => {
    const none = scripted(() => ({ json: { err_no: 2000, err_tips: '退款记录不存在' } }));
    expect(await adapter.queryRefund!({ out_trade_no: 'D1', out_refund_no: 'D1-9' }, none.ctx)).toMatchObject({
      state: 'FAIL',
      refund_fee: 0,
    });
    const busy = scripted(() => ({ json: { err_no: 1001, err_tips: '业务繁忙' } }));
    await expect(adapter.queryRefund!({ out_trade_no: 'D1', out_refund_no: 'D1-9' }, busy.ctx)).rejects.toMatchObject({ retryable: true });
  });

  test('balance: integer fen under vk-uni-pay names; merchant_uid and channel_type are signed', async () => {
    const t = scripted(() => ({
      json: { err_no: 0, account_info: { online_balance: 1001, withdrawable_balacne: 20, freeze_balance: 0 } },
    }));
    const ctx = { ...t.ctx, config: { ...CONFIG, balanceChannelType: 'wx' } };
    expect(await adapter.queryBalance!(ctx)).toEqual({ onlineAmount: 1001, withdrawableAmount: 20, availableAmount: 20, freezeAmount: 0 });
    const b = t.body();
    expect(t.sent[0].url).toBe('http://dy.test/api/apps/ecpay/saas/query_merchant_balance');
    expect(b).toMatchObject({
      merchant_uid: 'M7001',
      channel_type: 'wx',
      sign: expectedSign({ merchant_uid: 'M7001', channel_type: 'wx' }, 'SALT-1'),
    });
    await expect(adapter.queryBalance!({ ...ctx, config: { ...CONFIG, balanceChannelType: 'wx;drop' } })).rejects.toMatchObject({
      code: 1021,
    });
    await expect(adapter.queryBalance!({ ...ctx, config: { ...CONFIG, mchId: '' } })).rejects.toMatchObject({
      key: 'CONFIG_FIELD_MISSING',
    });
    expect(t.sent).toHaveLength(1);
  });
});

describe('notifications', () => {
  const ctx = scripted(() => ({ json: {} })).ctx;
  const request = (fields: Record<string, unknown>): RawHttpRequest => ({
    method: 'POST',
    path: '/paymentNotify/douyin_mp-toutiao/D1',
    headers: { 'content-type': 'application/json' },
    query: {},
    body: Buffer.from(JSON.stringify(fields)),
  });
  const signed = (type: string, msg: Record<string, unknown>, token = 'TOKEN-1', timestamp = String(Math.floor(NOW / 1000))) => {
    const f: Record<string, unknown> = { timestamp, nonce: '4321', msg: JSON.stringify(msg), type };
    f.msg_signature = douyinCallbackSign(f, token);
    return f;
  };
  const PAY_MSG = {
    appid: CONFIG.appId,
    cp_orderno: 'D1',
    total_amount: 990,
    status: 'SUCCESS',
    order_id: 'N9',
    payment_order_no: 'P1',
    way: '10',
  };

  test('a signed payment → payment event with amount, ids and the pay method', async () => {
    const ev = await adapter.verifyNotify(request(signed('payment', PAY_MSG)), ctx);
    expect(ev).toMatchObject({
      kind: 'payment',
      out_trade_no: 'D1',
      total_fee: 990,
      paid: true,
      transaction_id: 'N9',
      appid: CONFIG.appId,
    });
    expect(ev).toMatchObject({ provider_pay_method: 'douyin', info: { payment_order_no: 'P1', provider_pay_method: 'douyin' } });
  });

  test('a signed refund → refund event naming the order from cp_extra', async () => {
    const msg = { appid: CONFIG.appId, cp_refundno: 'D1-1', cp_extra: 'D1', status: 'SUCCESS', refund_amount: 100, refund_no: 'R77' };
    expect(await adapter.verifyNotify(request(signed('refund', msg)), ctx)).toMatchObject({
      kind: 'refund',
      out_trade_no: 'D1',
      out_refund_no: 'D1-1',
      refund_fee: 100,
      state: 'SUCCESS',
      refund_id: 'R77',
    });
  });

  test('other types are verified, then ignored', async () => {
    expect(await adapter.verifyNotify(request(signed('settle', { appid: CONFIG.appId })), ctx)).toMatchObject({ kind: 'ignore' });
  });

  test.each([
    ['wrong token', () => signed('payment', PAY_MSG, 'other'), 4001],
    ['tampered msg', () => ({ ...signed('payment', PAY_MSG), msg: JSON.stringify({ ...PAY_MSG, total_amount: 1 }) }), 4001],
    ['no signature', () => ({ ...signed('payment', PAY_MSG), msg_signature: undefined }), 4006],
    ['another app', () => signed('payment', { ...PAY_MSG, appid: 'tt-other' }), 4007],
    ['stale (49 h)', () => signed('payment', PAY_MSG, 'TOKEN-1', String(Math.floor(NOW / 1000) - 49 * 3600)), 4021],
    ['from the future (10 min)', () => signed('payment', PAY_MSG, 'TOKEN-1', String(Math.floor(NOW / 1000) + 600)), 4021],
    ['msg not JSON', () => signed('payment', 'x' as never), 4006],
  ])('%s → refused', async (_name, build, code) => {
    const e = await adapter.verifyNotify(request(build()), ctx).catch((x) => x);
    expect(e).toMatchObject({ name: 'PayError' });
    if (code) expect(e.code).toBe(code);
  });

  test('replies: exactly {"err_no":0,"err_tips":"success"} to acknowledge, err_no 1 to ask for a retry', () => {
    expect(adapter.notifyReply(true)).toMatchObject({ statusCode: 200, body: '{"err_no":0,"err_tips":"success"}' });
    expect(JSON.parse(adapter.notifyReply(false, 'FAIL').body as string)).toEqual({ err_no: 1, err_tips: 'FAIL' });
  });
});

describe('catalog wiring', () => {
  test('mp-toutiao detects douyin_mp-toutiao; other platforms are refused; the notify route parses', async () => {
    const { detectPayType } = await import('../../uni_modules/vk-uni-pay/server/core/platform');
    const { parseNotifyRoute } = await import('../../uni_modules/vk-uni-pay/server/services/notify');
    expect(detectPayType({ provider: 'douyin', uniPlatform: 'mp-toutiao', userAgent: '' })).toEqual({
      payType: 'douyin_mp-toutiao',
      platformKey: 'mp-toutiao',
      qr: false,
    });
    expect(() => detectPayType({ provider: 'douyin', uniPlatform: 'mp-weixin', userAgent: '' })).toThrow(
      expect.objectContaining({ code: 1007 }),
    );
    expect(parseNotifyRoute('/paymentNotify/douyin_mp-toutiao/D20261201000001')).toMatchObject({
      provider: 'douyin',
      platformKey: 'mp-toutiao',
    });
    expect(parseNotifyRoute('/vk-pay-notify/douyin_mp-toutiao/D20261201000001')).toMatchObject({ provider: 'douyin' });
  });

  test('doctor reads the douyin.mp-toutiao node: missing salt/token are errors, no unknown-node warning', async () => {
    const { runDoctor } = await import('../../uni_modules/vk-uni-pay/server/services/doctor');
    const env = { clock: { now: () => NOW } };
    const good = await runDoctor(
      { notifyUrl: { s1: 'https://fc.example/http/vk-pay' }, douyin: { 'mp-toutiao': { ...CONFIG, gateway: undefined } } },
      env,
      {
        spaceIds: ['s1'],
      },
    );
    expect(good.findings.filter((f) => f.severity !== 'info' && f.node.startsWith('douyin'))).toEqual([]);
    const bad = await runDoctor(
      { notifyUrl: { s1: 'https://fc.example/http/vk-pay' }, douyin: { 'mp-toutiao': { appId: 'tt1', salt: '', token: '' } } },
      env,
      {
        spaceIds: ['s1'],
      },
    );
    const checks = bad.findings.filter((f) => f.node === 'douyin.mp-toutiao').map((f) => `${f.severity} ${f.check}`);
    expect(checks).toEqual(expect.arrayContaining(['error salt', 'error token', 'info mchId']));
    expect(bad.findings.some((f) => f.check === 'unknown-node')).toBe(false);
  });
});
