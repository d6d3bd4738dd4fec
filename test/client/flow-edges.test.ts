/** The edges a payer meets (issue 11): Alipay without the app, cancel that closes, resume after reload or return. */
import { MESSAGES, PENDING_KEY, VkPayClient } from '../../uni_modules/vk-uni-pay/js_sdk/client';
import type { PayOptions } from '../../uni_modules/vk-uni-pay/js_sdk/types';
import { CLOSED, FakeCloud, FakeLocation, FakeUni, PAID, PC_NAV, PHONE_NAV, UNPAID, created, env, makeDeps, recorder } from './fakes';

const SHOP = { name: 'demo-shop', method: 'createRechargeOrder' };
const CODE_URL = 'http://127.0.0.1:9/sandbox/alipay/cashier?qr=abc';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function setup(nav: { platform?: string; userAgent?: string }, createResult: Record<string, unknown>, options: Partial<PayOptions> = {}) {
  const uni = new FakeUni();
  const location = new FakeLocation('http://127.0.0.1:9/#/pages/index/index?user=u1');
  const answers: Record<string, unknown>[] = [];
  const closes: string[] = [];
  const cloud = new FakeCloud()
    .on('demo-shop.createRechargeOrder', () => createResult)
    .on('vk-pay.queryPayment', () => (answers.length ? answers.shift()! : UNPAID));
  const rec = recorder();
  const client = new VkPayClient(makeDeps({ uni, cloud, env: env('h5', nav), location }), { polling: true, ...options }, rec.listeners);
  const queries = () => cloud.callsTo('vk-pay.queryPayment').length;
  return { uni, cloud, rec, client, location, answers, closes, queries };
}

describe('Alipay in a plain mobile browser (no Alipay app)', () => {
  test('tries the app, then offers the cashier link after appOpenTimeout, keeps polling', async () => {
    const t = setup(PHONE_NAV, created('alipay_h5', { codeUrl: CODE_URL }), { appOpenTimeout: 2000, pollingTime: 500 });
    await t.client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    expect(t.location.assigned[0]).toMatch(/^alipays:\/\//);
    await jest.advanceTimersByTimeAsync(1999);
    expect(t.rec.codeUrls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(t.rec.codeUrls).toEqual([CODE_URL]);
    expect(t.client.isPolling()).toBe(true);
    t.answers.push(PAID);
    await jest.advanceTimersByTimeAsync(500);
    expect(t.rec.events).toEqual(['create', 'success']);
    expect(t.rec.codeUrls).toEqual([CODE_URL, '']);
  });

  test('paid before the timeout: no link is offered afterwards', async () => {
    const t = setup(PHONE_NAV, created('alipay_h5', { codeUrl: CODE_URL }), { appOpenTimeout: 2000 });
    t.answers.push(PAID);
    await t.client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    await jest.advanceTimersByTimeAsync(5000);
    expect(t.rec.events).toEqual(['create', 'success']);
    expect(t.rec.codeUrls).toEqual([]);
  });
});

describe('cancel with the closeOrder hook', () => {
  function withHook(after: Record<string, unknown>) {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    t.client.setOptions({
      closeOrder: async (otn) => {
        t.closes.push(otn);
        t.answers.push(after);
      },
    });
    return t;
  }

  test('the order is closed on the server → one cancel, closed: true, a message for people', async () => {
    const t = withHook(CLOSED);
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await t.client.cancelPayment();
    expect(t.closes).toEqual(['T1']);
    expect(t.rec.events).toEqual(['create', 'cancel']);
    expect(t.rec.cancels[0]).toMatchObject({ out_trade_no: 'T1', closed: true, message: MESSAGES.cancelledClosed });
    expect(t.rec.cancels[0].message).not.toMatch(/requestPayment|fail/);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(t.rec.events).toEqual(['create', 'cancel']);
  });

  test('polling that sees the order closed during the cancel does not report it as expired', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    t.client.setOptions({
      closeOrder: async () => {
        t.answers.push(CLOSED, CLOSED, CLOSED, CLOSED);
        await jest.advanceTimersByTimeAsync(5000);
      },
    });
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await t.client.cancelPayment();
    expect(t.rec.events).toEqual(['create', 'cancel']);
    expect(t.rec.cancels[0].closed).toBe(true);
  });

  test('paid before the close took effect → success, not cancel', async () => {
    const t = withHook(PAID);
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await t.client.cancelPayment();
    expect(t.rec.events).toEqual(['create', 'success']);
  });

  test('the close did not take (order still open) → cancel with closed: false', async () => {
    const t = withHook(UNPAID);
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await t.client.cancelPayment();
    expect(t.rec.cancels[0]).toMatchObject({ closed: false, message: MESSAGES.cancelledOpen });
  });

  test('without the hook the cancel says the order may still be paid', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await t.client.cancelPayment();
    expect(t.rec.cancels[0]).toMatchObject({ closed: false, message: MESSAGES.cancelledOpen });
  });

  test('a second cancel while the first is closing reports nothing more', async () => {
    const t = withHook(CLOSED);
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await Promise.all([t.client.cancelPayment(), t.client.cancelPayment()]);
    expect(t.closes).toEqual(['T1']);
    expect(t.rec.events).toEqual(['create', 'cancel']);
  });
});

describe('resume after a reload or a return', () => {
  test('resumePayment shows the QR this device showed, restores the choices and polls to paid', async () => {
    const first = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    await first.client.createPayment({ action: SHOP, data: { provider: 'wxpay', item_id: 'r100', openid: 'secret-ish' } });
    // "reload": a new client on the same storage
    const rec = recorder();
    const cloud = new FakeCloud().on('vk-pay.queryPayment', () => PAID);
    const again = new VkPayClient(makeDeps({ uni: first.uni, cloud, env: env('h5', PC_NAV) }), { polling: true }, rec.listeners);
    const resumed: unknown[] = [];
    again.setListeners({ ...rec.listeners, resume: (p) => resumed.push(p) });
    again.resumePayment({ out_trade_no: 'T1' });
    expect(again.getStatus()).toBe(1);
    expect(resumed).toEqual([expect.objectContaining({ out_trade_no: 'T1', provider: 'wxpay', codeUrl: CODE_URL })]);
    expect((resumed[0] as { data: Record<string, unknown> }).data).toEqual({ isPC: true, provider: 'wxpay', item_id: 'r100' });
    expect(rec.codeUrls).toEqual([CODE_URL]);
    await jest.advanceTimersByTimeAsync(200);
    expect(rec.events).toEqual(['success']);
    expect(rec.successes[0].provider).toBe('wxpay');
    // a finished payment is forgotten
    expect(first.uni.getStorageSync(PENDING_KEY)).toEqual([]);
  });

  test('pendingPayments lists what this device started until it ends; a cancelled payment is not resumed', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(t.client.pendingPayments().map((p) => p.out_trade_no)).toEqual(['T1']);
    await t.client.cancelPayment();
    expect(t.client.pendingPayments()).toEqual([]);
  });

  test('an order this device never saw is still watched (no QR)', async () => {
    const t = setup(PC_NAV, {});
    t.client.resumePayment({ out_trade_no: 'OTHER' });
    expect(t.rec.codeUrls).toEqual([]);
    t.answers.push({ ...PAID, out_trade_no: 'OTHER' });
    await jest.advanceTimersByTimeAsync(200);
    expect(t.rec.events).toEqual(['success']);
  });

  test('the return from a cashier reports what the payer chose before asking', async () => {
    const t = setup(PHONE_NAV, created('wxpay_mweb', { mwebUrl: 'http://127.0.0.1:9/mweb?p=1' }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay', item_id: 'r600', scene: 'mweb' } });
    const resumed: { data?: Record<string, unknown> }[] = [];
    t.client.setListeners({ ...t.rec.listeners, resume: (p) => resumed.push(p) });
    t.answers.push(PAID);
    t.client.checkReturn('http://h/#/pages/index/index?confirmShow=true&out_trade_no=T1');
    expect(resumed[0].data).toMatchObject({ provider: 'wxpay', item_id: 'r600', scene: 'mweb' });
    await jest.advanceTimersByTimeAsync(200);
    expect(t.rec.successes[0]).toMatchObject({ out_trade_no: 'T1', provider: 'wxpay', pay_type: 'wxpay_mweb' });
  });
});
