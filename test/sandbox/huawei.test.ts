/**
 * The Huawei Pay adapter against the loopback sandbox, without the runtime: every request signed
 * (RSA-PSS and SM2 merchant keys), every answer and notification verified with the sandbox's SM2
 * key (signed by sm-crypto here: an independent implementation), and answers that are not Huawei's refused as unverified.
 */
import http from 'node:http';
import { createHuaweiMerchant, startHuaweiSandbox, type HuaweiMerchant, type HuaweiSandbox } from '../../tools/sandbox/huawei';
import { nodeTransport } from '../../tools/sandbox/loopback';
import { huaweiAdapter, type HuaweiConfig } from '../../uni_modules/vk-uni-pay/server/providers/huawei';
import type { ProviderContext, RawHttpRequest } from '../../uni_modules/vk-uni-pay/server/providers/types';
import { isGatewayFailure } from '../../uni_modules/vk-uni-pay/server/core/gateway-failure';
import { isPayError } from '../../uni_modules/vk-uni-pay/server/core/errors';

const APP_ID = '5765880207854262001';
let sb: HuaweiSandbox;
let rsaMerchant: HuaweiMerchant;
let sm2Merchant: HuaweiMerchant;
/** the notify_url the sandbox posts to: replies "Success." and keeps what it got */
let received: Array<{ path: string; body: Buffer }>;
let notifyServer: http.Server;
let notifyUrl: string;

beforeAll(async () => {
  [rsaMerchant, sm2Merchant] = await Promise.all([
    createHuaweiMerchant({ mchId: '101540000001', appIds: [APP_ID] }),
    createHuaweiMerchant({ mchId: '101540000002', appIds: [APP_ID], keyKind: 'sm2' }),
  ]);
  sb = await startHuaweiSandbox({
    merchants: [rsaMerchant, sm2Merchant],
    notifyRetryDelaysMs: [10, 20],
    refundDelayMs: 10,
    independentSigner: true,
  });
  received = [];
  notifyServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"resultCode":"000000","resultDesc":"Success."}');
    });
  });
  await new Promise<void>((r) => notifyServer.listen(0, '127.0.0.1', r));
  notifyUrl = `http://127.0.0.1:${(notifyServer.address() as any).port}/http/vk-pay/paymentNotify/huawei_app-plus`;
}, 60_000);
afterAll(async () => {
  await sb?.close();
  await new Promise<void>((r) => notifyServer?.close(() => r()));
});

function ctx(m: HuaweiMerchant, over: Partial<HuaweiConfig> = {}, gateway = sb.url): ProviderContext<HuaweiConfig> {
  return {
    config: {
      appId: APP_ID,
      mchId: m.mchId,
      mchAuthId: m.authId,
      mchPrivateKey: m.privateKeyPem,
      platformPublicKey: sb.platformPublicKeyHex,
      clientType: 'app-harmony',
      gateway,
      ...over,
    },
    http: nodeTransport(),
    clock: { now: () => Date.now() },
    cache: { get: async () => undefined, set: async () => undefined } as any,
  };
}

let seq = 0;
const tradeNo = () => `HW${Date.now()}${++seq}`;

async function create(m: HuaweiMerchant, no: string, total_fee = 100, platformKey: 'app-plus' | 'mp-harmony' = 'app-plus') {
  return huaweiAdapter.createOrder(
    {
      payType: `huawei_${platformKey}` as any,
      platformKey: platformKey as any,
      out_trade_no: no,
      total_fee,
      subject: '会员月卡',
      notify_url: `${notifyUrl}/${no}`,
      client_ip: '127.0.0.1',
      needQRcode: false,
      other: {},
      extra: { biz_type: '100002' },
    },
    ctx(m),
  );
}

const asRequest = (body: Buffer | string): RawHttpRequest => ({
  method: 'POST',
  path: '/paymentNotify/huawei_app-plus/x',
  headers: { 'content-type': 'application/json' },
  query: {},
  body: Buffer.from(body),
});

async function waitFor<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each([
  ['RSA', () => rsaMerchant],
  ['SM2', () => sm2Merchant],
])('%s merchant key', (_kind, merchant) => {
  test('pre-order → orderStr → Payment Kit pays → signed notification verifies → query says paid', async () => {
    const m = merchant();
    const no = tradeNo();
    const r = await create(m, no, 1999);
    expect(typeof r.orderInfo).toBe('string');
    const orderStr = JSON.parse(r.orderInfo as string);
    expect(orderStr).toMatchObject({ app_id: APP_ID, merc_no: m.mchId, auth_id: m.authId });
    expect((await huaweiAdapter.queryOrder({ out_trade_no: no }, ctx(m))).state).toBe('PAYING');

    expect(await sb.requestPayment(r.orderInfo as string)).toEqual({ resultCode: '0' });
    const got = await waitFor(() => received.find((x) => x.path.endsWith(`/${no}`)));
    const event = await huaweiAdapter.verifyNotify(asRequest(got.body), ctx(m));
    expect(event).toMatchObject({ kind: 'payment', out_trade_no: no, total_fee: 1999, paid: true, appid: APP_ID, mchid: m.mchId });
    const q = await huaweiAdapter.queryOrder({ out_trade_no: no }, ctx(m));
    expect(q).toMatchObject({ state: 'PAID', out_trade_no: no, total_fee: 1999, transaction_id: (event as any).transaction_id });
    expect(q.pay_date).toBeGreaterThan(Date.now() - 60_000);
  });

  test('refund is processing, then a signed refund notification and the refund query say SUCCESS', async () => {
    const m = merchant();
    const no = tradeNo();
    const r = await create(m, no, 500);
    await sb.requestPayment(r.orderInfo as string);
    const refund = await huaweiAdapter.refund!(
      {
        out_trade_no: no,
        out_refund_no: `${no}R1`,
        total_fee: 500,
        refund_fee: 200,
        refund_desc: '退款',
        notify_url: `${notifyUrl}/${no}`,
      },
      ctx(m),
    );
    expect(refund).toMatchObject({ state: 'PROCESSING', refund_fee: 200 });
    expect(refund.refund_id).toBeTruthy();
    const notice = await waitFor(() => received.find((x) => x.path.endsWith(`/${no}`) && x.body.includes('mercRefundNo')));
    expect(await huaweiAdapter.verifyNotify(asRequest(notice.body), ctx(m))).toMatchObject({
      kind: 'refund',
      out_refund_no: `${no}R1`,
      refund_fee: 200,
    });
    expect(await huaweiAdapter.queryRefund!({ out_trade_no: no, out_refund_no: `${no}R1` }, ctx(m))).toMatchObject({
      state: 'SUCCESS',
      refund_fee: 200,
      refund_id: refund.refund_id,
    });
  });
});

test('the atomic service (mp-harmony) pre-orders through /create/fa', async () => {
  const no = tradeNo();
  await create(rsaMerchant, no, 100, 'mp-harmony');
  expect(sb.orders.get(`${rsaMerchant.mchId}|${no}`)!.scene).toBe('fa');
});

test('an order the gateway does not know is NOT_FOUND (a verified answer), not an error', async () => {
  expect((await huaweiAdapter.queryOrder({ out_trade_no: tradeNo() }, ctx(rsaMerchant))).state).toBe('NOT_FOUND');
});

test('a refund Huawei never received is a verified FAIL (its number may be sent again), not an error', async () => {
  const no = tradeNo();
  expect(await huaweiAdapter.queryRefund!({ out_trade_no: no, out_refund_no: `${no}R9` }, ctx(rsaMerchant))).toMatchObject({
    state: 'FAIL',
    refund_fee: 0,
  });
});

test('a wrong merchant key is refused by the gateway with a verified refusal', async () => {
  const other = await createHuaweiMerchant({ mchId: rsaMerchant.mchId, appIds: [APP_ID] });
  const e = await create({ ...rsaMerchant, privateKeyPem: other.privateKeyPem }, tradeNo()).catch((x) => x);
  expect(isGatewayFailure(e) && e.verified && !e.retryable && e.providerCode === 'AUTH_FAILED').toBe(true);
});

test('the Payment Kit refuses an orderStr whose fields were changed after signing', async () => {
  const no = tradeNo();
  const r = await create(rsaMerchant, no);
  const s = JSON.parse(r.orderInfo as string);
  expect((await sb.requestPayment(JSON.stringify({ ...s, noncestr: 'x' + s.noncestr.slice(1) }))).resultCode).not.toBe('0');
  expect(sb.orders.get(`${rsaMerchant.mchId}|${no}`)!.status).toBe('TRX_APPLY');
});

describe('answers that are not Huawei’s prove nothing', () => {
  /** forwards to the sandbox and rewrites its JSON answers */
  async function proxy(rewrite: (a: Record<string, any>) => Record<string, any>) {
    const server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const r = await fetch(sb.url + req.url, {
        method: req.method,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(rewrite(await r.json())));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as any).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  test.each([
    ['a tampered paid status', (a: any) => ({ ...a, orderStatus: 'TRX_SUCCESS' })],
    ['an unsigned answer', ({ sign: _s, ...a }: any) => a],
    ['an answer signed by another key', (a: any) => ({ ...a, sign: JSON.parse(sb.signed({ x: 1 })).sign })],
  ])('%s: GATEWAY_RESPONSE_UNVERIFIED, retryable', async (_name, rewrite) => {
    const no = tradeNo();
    await create(rsaMerchant, no);
    const p = await proxy(rewrite);
    try {
      const e = await huaweiAdapter.queryOrder({ out_trade_no: no }, ctx(rsaMerchant, {}, p.url)).catch((x) => x);
      expect(isGatewayFailure(e) && e.key === 'GATEWAY_RESPONSE_UNVERIFIED' && !e.verified && e.retryable).toBe(true);
    } finally {
      await p.close();
    }
  });
});

describe('notifications', () => {
  test('forged (unsigned, other key), tampered and malformed notifications are refused', async () => {
    const no = tradeNo();
    await create(rsaMerchant, no, 300);
    const genuine = sb.paymentNotification(no);
    await expect(huaweiAdapter.verifyNotify(asRequest(genuine), ctx(rsaMerchant))).resolves.toMatchObject({
      kind: 'payment',
      total_fee: 300,
    });
    const refused = async (body: string, key: string) => {
      const e = await huaweiAdapter.verifyNotify(asRequest(body), ctx(rsaMerchant)).catch((x) => x);
      expect(isPayError(e) ? e.key : e).toBe(key);
    };
    await refused(sb.paymentNotification(no, { sign: null }), 'NOTIFY_SIGNATURE_INVALID');
    await refused(genuine.replace('"totalAmount":300', '"totalAmount":1'), 'NOTIFY_SIGNATURE_INVALID');
    await refused(genuine.replace('"orderStatus":"TRX_SUCCESS"', '"orderStatus":"TRX_SUCCESS","x":"1"'), 'NOTIFY_SIGNATURE_INVALID');
    await refused(JSON.stringify({ ...JSON.parse(genuine), sign: JSON.parse(sb.signed({ other: 1 })).sign }), 'NOTIFY_SIGNATURE_INVALID');
    await refused(sb.paymentNotification(no, { signType: 'RSA' }), 'NOTIFY_SIGNATURE_INVALID');
    await refused('not json', 'NOTIFY_MALFORMED');
    await refused(sb.signed({ hello: 'world', dataType: 'plain' }), 'NOTIFY_MALFORMED');
    await refused(sb.paymentNotification(no, { dataType: 'encrypt' }), 'NOTIFY_MALFORMED');
    await refused(sb.paymentNotification(no, { mercNo: '999999999999' }), 'NOTIFY_MISMATCH');
    await refused(sb.paymentNotification(no, { totalAmount: 1.5 }), 'NOTIFY_MALFORMED');
  });

  test('the reply Huawei waits for, and a failure reply it retries on', () => {
    const ok = huaweiAdapter.notifyReply(true);
    expect(ok).toMatchObject({ statusCode: 200, body: '{"resultCode":"000000","resultDesc":"Success."}' });
    expect(ok.headers!['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(huaweiAdapter.notifyReply(false, 'FAIL').body as string).resultCode).not.toBe('000000');
  });

  test('a platform key that cannot be read is a config error (106), not a verification failure', async () => {
    const no = tradeNo();
    await create(rsaMerchant, no);
    const e = await huaweiAdapter
      .verifyNotify(asRequest(sb.paymentNotification(no)), ctx(rsaMerchant, { platformPublicKey: '04abc' }))
      .catch((x) => x);
    expect(isPayError(e) && e.code).toBe(106);
  });
});
