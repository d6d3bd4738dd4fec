/**
 * Codepay (付款码) end to end: the built plugin behind the runtime's HTTP server, the WeChat Pay and
 * Alipay sandboxes behind fault proxies (the codepay nodes only). A short poll schedule
 * (codepayWaitMs 1500, codepayPollMs 100) keeps the deadline paths fast.
 */
import { FAULTS, FORWARDED_FAULTS, startFaultProxy, type FaultProxy } from '../../tools/sandbox/fault-proxy';
import { CLIENT, expectUntouched, startTestStack, tradeNo, until, type TestStack } from '../helpers/project';

// a 1 s gateway timeout: the hang fault costs that much
const TIMING = { codepayWaitMs: 1500, codepayPollMs: 100, timeout: 1000 };
const WX_PAID = '134567890123450000';
const WX_PASSWORD = '134567890123451111';
const WX_POOR = '134567890123452222';
const ALI_PAID = '281234567890120000';
const ALI_PASSWORD = '281234567890121111';

let s: TestStack;
let wxProxy: FaultProxy;
let aliProxy: FaultProxy;
beforeAll(async () => {
  wxProxy = await startFaultProxy(() => s.wxpay.url);
  aliProxy = await startFaultProxy(() => s.alipay.url);
  s = await startTestStack({
    codepayNodes: {
      wxpay: { ...TIMING, gateway: wxProxy.url },
      alipay: { ...TIMING, gateway: `${aliProxy.url}/gateway.do` },
    },
  });
}, 60_000);
afterAll(async () => {
  await s?.close();
  await Promise.all([wxProxy?.close(), aliProxy?.close()]);
});
afterEach(() => {
  wxProxy.clear();
  aliProxy.clear();
});

function codepay(provider: string, auth_code: string, over: Record<string, unknown> = {}, client = CLIENT.web) {
  const no = tradeNo('CP');
  const data = {
    out_trade_no: no,
    total_fee: 1234,
    subject: '收银台',
    type: 'counted',
    auth_code,
    store_id: 'S001',
    custom: { note: 'cp' },
    ...over,
  };
  return { no, run: () => s.createPayment({ provider, data }, client) };
}

async function expectPaidOnce(no: string) {
  // the cashier (or anyone) asking again never runs the handler a second time
  expect(await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }])).toMatchObject({ orderPaid: true });
  expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true, total_fee: 1234 });
  expect(await s.handlerCalls(no)).toHaveLength(1);
}

test('WeChat: a code paid at once → PAID, the order paid through the notification gate, handler once', async () => {
  const { no, run } = codepay('wxpay', WX_PAID);
  const r = await run();
  expect(r).toMatchObject({
    errCode: 0,
    codepay_state: 'PAID',
    orderPaid: true,
    pay_type: 'wxpay_codepay',
    out_trade_no: no,
    user_order_success: true,
  });
  expect(r.transaction_id).toBe(s.wxpay.order(no)!.transaction_id);
  expect(s.wxpay.order(no)!.request).toMatchObject({ payer: { auth_code: WX_PAID }, scene_info: { store_info: { id: 'S001' } } });
  await expectPaidOnce(no);
});

test('regression: an auth_code with alipay from an App is a bar-code trade, never an App-pay order', async () => {
  const { no, run } = codepay('alipay', ALI_PAID, {}, CLIENT.app);
  const r = await run();
  expect(r).toMatchObject({ errCode: 0, codepay_state: 'PAID', pay_type: 'alipay_codepay' });
  expect(typeof r.orderInfo).not.toBe('string'); // an App order string would be a string
  const methods = s.alipay.requests.filter((q) => q.biz.out_trade_no === no).map((q) => q.method);
  expect(methods[0]).toBe('alipay.trade.pay');
  expect(s.alipay.requests.find((q) => q.biz.out_trade_no === no)!.biz).toMatchObject({ scene: 'bar_code', auth_code: ALI_PAID });
  // Alipay also notifies the paid trade: verified, and still one handler run
  await s.alipay.waitForDelivery(no);
  await expectPaidOnce(no);
});

test.each([
  ['wxpay', '2812345678901200000'],
  ['wxpay', '16456789012345000'],
  ['alipay', WX_PAID],
  ['alipay', '28123'],
  ['wxpay', 134567890123450000],
])('a %s code of the wrong shape (%s) is 1041 before anything: no order, no gateway call', async (provider, code) => {
  const before = { wx: wxProxy.injected.length, ali: s.alipay.requests.length };
  const { no, run } = codepay(provider, code as string);
  const r = await run();
  expect(r).toMatchObject({ errCode: 1041 });
  expect(await s.order(no)).toBeNull();
  expect(s.wxpay.order(no)).toBeUndefined();
  expect(s.alipay.requests.length).toBe(before.ali);
});

test('a provider without codepay refuses an auth_code (3005) and stores nothing', async () => {
  const { no, run } = codepay('vkspay', WX_PAID);
  expect(await run()).toMatchObject({ errCode: 3005 });
  expect(await s.order(no)).toBeNull();
});

test('WeChat: the buyer types the password while polled → PAID once', async () => {
  const { no, run } = codepay('wxpay', WX_PASSWORD);
  const confirm = new Promise((r) => setTimeout(r, 400)).then(() => s.wxpay.pay(no));
  const r = await run();
  await confirm;
  expect(r).toMatchObject({ errCode: 0, codepay_state: 'PAID' });
  await expectPaidOnce(no);
});

test('WeChat: no confirmation by the deadline → reversed (CANCELLED 2201); the buyer can no longer pay it; no handler', async () => {
  const { no, run } = codepay('wxpay', WX_PASSWORD);
  const t0 = Date.now();
  const r = await run();
  expect(Date.now() - t0).toBeGreaterThanOrEqual(TIMING.codepayWaitMs);
  expect(r).toMatchObject({ errCode: 2201, codepay_state: 'CANCELLED', out_trade_no: no });
  expect(s.wxpay.order(no)).toMatchObject({ trade_state: 'REVOKED' });
  expect(await s.order(no)).toMatchObject({ status: -1 });
  await expect(s.wxpay.pay(no)).rejects.toThrow(/ORDER_CLOSED/);
  expect(await s.handlerCalls(no)).toHaveLength(0);
});

test('WeChat: the reverse answer is lost → WAITING (2203), the order stays unpaid; the late success then settles once', async () => {
  const { no, run } = codepay('wxpay', WX_PASSWORD);
  wxProxy.inject('reset', (req) => req.path.endsWith('/reverse'), 10);
  const r = await run();
  expect(r).toMatchObject({ errCode: 2203, codepay_state: 'WAITING' });
  expect(wxProxy.injected.filter((f) => f.path.endsWith('/reverse')).length).toBeGreaterThanOrEqual(1);
  await expectUntouched(s, no);
  // the buyer's password arrives late: the payment is not lost, and it settles once
  await s.wxpay.pay(no);
  wxProxy.clear();
  await until(async () => (await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }])).orderPaid === true);
  await expectPaidOnce(no);
});

test('WeChat: the first answer is lost after the gateway charged → settled by query (PAID once)', async () => {
  const { no, run } = codepay('wxpay', WX_PAID);
  wxProxy.inject('forwarded-then-lost', (req) => req.path.endsWith('/codepay'), 1);
  const r = await run();
  expect(r).toMatchObject({ errCode: 0, codepay_state: 'PAID' });
  expect(wxProxy.injected).toContainEqual({ fault: 'forwarded-then-lost', path: '/v3/pay/transactions/codepay' });
  await expectPaidOnce(no);
});

test('WeChat: a mis-signed paid answer is not trusted; the verified query settles it', async () => {
  const { no, run } = codepay('wxpay', WX_PAID);
  wxProxy.inject('mis-signed', (req) => req.path.endsWith('/codepay'), 1);
  expect(await run()).toMatchObject({ errCode: 0, codepay_state: 'PAID' });
  await expectPaidOnce(no);
});

test('WeChat: refused (balance too low) → FAILED 2202 with the provider reason; nothing paid', async () => {
  const { no, run } = codepay('wxpay', WX_POOR);
  expect(await run()).toMatchObject({ errCode: 2202, codepay_state: 'FAILED', reason: { code: 'NOT_ENOUGH' } });
  await expectUntouched(s, no);
});

test('Alipay: waiting (10003) past the deadline → trade.cancel closes it (CANCELLED); a later pay is impossible', async () => {
  const { no, run } = codepay('alipay', ALI_PASSWORD);
  const r = await run();
  expect(r).toMatchObject({ errCode: 2201, codepay_state: 'CANCELLED' });
  expect(s.alipay.requests.filter((q) => q.biz.out_trade_no === no).map((q) => q.method)).toContain('alipay.trade.cancel');
  expect(s.alipay.order(no)).toMatchObject({ trade_status: 'TRADE_CLOSED', refunded_fen: 0 });
  await expect(s.alipay.pay(no)).rejects.toThrow();
  expect(await s.order(no)).toMatchObject({ status: -1 });
});

test('Alipay: the buyer confirms on the phone while polled → PAID once (the notification changes nothing)', async () => {
  const { no, run } = codepay('alipay', ALI_PASSWORD);
  const confirm = new Promise((r) => setTimeout(r, 300)).then(() => s.alipay.pay(no));
  const r = await run();
  await confirm;
  expect(r).toMatchObject({ errCode: 0, codepay_state: 'PAID' });
  await s.alipay.waitForDelivery(no);
  await expectPaidOnce(no);
});

test('a codepay asked again with the same out_trade_no after the cancel is refused (use a new number)', async () => {
  const { no, run } = codepay('alipay', ALI_PASSWORD);
  await run();
  const again = await s.createPayment({
    provider: 'alipay',
    data: { out_trade_no: no, total_fee: 1234, subject: '收银台', type: 'counted', auth_code: ALI_PAID },
  });
  expect(again).toMatchObject({ errCode: 2006 });
});

test.each(FAULTS.map((f) => [f]))(
  'fault on the WeChat charge request (%s): a coded outcome, charged ⇔ PAID once, otherwise reversed',
  async (fault) => {
    const { no, run } = codepay('wxpay', WX_PAID);
    wxProxy.inject(fault, (req) => req.path.endsWith('/codepay'), 1);
    const t0 = Date.now();
    const r = await run();
    expect(Date.now() - t0).toBeLessThan(8_000);
    if (FORWARDED_FAULTS.includes(fault)) {
      // the gateway charged: only a verified query can say so, and it settles once
      expect(r).toMatchObject({ errCode: 0, codepay_state: 'PAID' });
      await expectPaidOnce(no);
    } else {
      // nothing reached the gateway: nothing charged, nothing to reverse, the order closed
      expect(r).toMatchObject({ errCode: 2201, codepay_state: 'CANCELLED' });
      expect(s.wxpay.order(no)).toBeUndefined();
      expect(await s.order(no)).toMatchObject({ status: -1 });
      expect(await s.handlerCalls(no)).toHaveLength(0);
    }
  },
);

test('hostile: a forged or tampered Alipay notification on the codepay route is refused and writes nothing', async () => {
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
  const { no, run } = codepay('alipay', ALI_PASSWORD);
  const pending = run();
  await new Promise((r) => setTimeout(r, 200));
  const fields = {
    notify_time: '2026-12-01 12:00:00',
    notify_type: 'trade_status_sync',
    notify_id: 'n1',
    app_id: s.alipayApp.appId,
    charset: 'utf-8',
    version: '1.0',
    trade_no: s.alipay.order(no)!.trade_no,
    out_trade_no: no,
    trade_status: 'TRADE_SUCCESS',
    total_amount: '12.34',
    receipt_amount: '12.34',
    gmt_payment: '2026-12-01 12:00:00',
  };
  const genuine = s.alipay.buildNotification(s.alipayApp.appId, fields);
  const tampered = genuine.replace('total_amount=12.34', 'total_amount=0.01');
  const forged = genuine.replace(/sign=[^&]+/, 'sign=' + encodeURIComponent(Buffer.alloc(256, 7).toString('base64')));
  for (const body of [tampered, forged]) expect((await s.notify('alipay_codepay', no, body, FORM)).body).not.toBe('success');
  expect(await s.order(no)).toMatchObject({ status: 0 });
  expect(await s.handlerCalls(no)).toHaveLength(0);
  // the trade was never paid: the deadline cancels it
  expect(await pending).toMatchObject({ codepay_state: 'CANCELLED' });
});
