/**
 * Issue 11: every edge a payer meets, in Chromium on a desktop and a phone viewport. Screenshots of
 * the phone Alipay flow, the cancel flow and the merchant view go to test-artifacts/browser/.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import {
  LAPTOP,
  PHONE,
  actInCashier,
  balanceFen,
  callShop,
  catalogue,
  choose,
  screenshot,
  suite,
  uid,
  useBrowserStack,
  waitBalance,
  waitQr,
  waitResult,
} from './harness';

const ADMIN_KEY = 'browser-test-admin-key-0123456789';

suite('issue 11: the demo and the component under a payer’s hands (chromium)', () => {
  jest.setTimeout(120_000);
  const h = useBrowserStack();

  beforeAll(() => {
    // the merchant view's admin role is decided by demo-shop from this file
    const dir = path.join(h.stack.configDir, 'demo-shop');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ adminKey: ADMIN_KEY }));
  });

  const isActive = (page: Page, sel: string) => page.$eval(sel, (e) => e.classList.contains('active'));

  async function orderStatus(page: Page, user: string, otn: string): Promise<number> {
    const r = await callShop<{ order: { status: number } }>(page, 'getOrder', { user_id: user, out_trade_no: otn });
    if (!r.ok) throw new Error(r.errMsg);
    return r.value.order.status;
  }

  test('phone, Alipay H5 without the Alipay app: the cashier link is offered, a way out stays, paying reports paid', async () => {
    const user = uid('phali');
    const { context, page } = await h.open(user, { device: PHONE });
    const before = await balanceFen(page);
    const item = await choose(page, 'alipay', 'mweb');
    await page.click('#pay-btn');
    // the alipays:// deep link goes nowhere in a plain browser; the page must not hang on "支付中…"
    await page.waitForSelector('#cashier-open', { timeout: 15_000 });
    await expect(page.isVisible('#qr-close')).resolves.toBe(true);
    await expect(page.textContent('#qrcode-title')).resolves.toContain('没有打开支付宝');
    await screenshot(page, 'phone-alipay-1-fallback.png');
    const href = (await page.getAttribute('#cashier-open', 'href'))!;
    expect(href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    const cashier = await actInCashier(context, href, '#pay-btn');
    await screenshot(cashier, 'phone-alipay-2-cashier-paid.png');
    await cashier.close();
    await waitResult(page, 'paid');
    await waitBalance(page, before + item.balance);
    await screenshot(page, 'phone-alipay-3-result.png');
    await context.close();
  });

  async function cancelAfterQr(provider: string) {
    const user = uid('cancel');
    const { context, page } = await h.open(user);
    const before = await balanceFen(page);
    const item = await choose(page, provider, 'pc');
    await page.click('#pay-btn');
    const cashierUrl = await waitQr(page);
    await screenshot(page, `cancel-${provider}-1-qr.png`);
    await page.click('#qr-close');
    await waitResult(page, 'cancelled');
    const message = (await page.textContent('#result-message'))!;
    expect(message).not.toMatch(/requestPayment|fail|cancel/i);
    await screenshot(page, `cancel-${provider}-2-result.png`);
    const otn = (await page.textContent('#result-order'))!.trim();
    return { user, context, page, before, item, cashierUrl, message, otn };
  }

  test('WeChat Pay: cancel closes the order; the old QR can no longer pay; the result says so in words', async () => {
    const t = await cancelAfterQr('wxpay');
    expect(t.message).toContain('订单已关闭');
    await expect(orderStatus(t.page, t.user, t.otn)).resolves.toBe(-1);
    // the payer scans the old QR anyway
    const cashier = await actInCashier(t.context, t.cashierUrl, null);
    expect(await cashier.$('#pay-btn')).toBeNull();
    await expect(cashier.textContent('body')).resolves.toContain('关闭');
    await screenshot(cashier, 'cancel-wxpay-3-old-qr.png');
    await cashier.close();
    await t.page.click('#back-btn');
    await t.page.waitForSelector('#pay-btn');
    await waitBalance(t.page, t.before);
    await expect(orderStatus(t.page, t.user, t.otn)).resolves.toBe(-1);
    await t.context.close();
  });

  test('Alipay (QR never scanned, the provider cannot close it yet): the result keeps watching and reports a late payment', async () => {
    const t = await cancelAfterQr('alipay');
    expect(t.message).toContain('如果您已经付款');
    await expect(orderStatus(t.page, t.user, t.otn)).resolves.toBe(0);
    // the payer pays the old QR after all: the page tells the truth
    await (await actInCashier(t.context, t.cashierUrl, '#pay-btn')).close();
    await waitResult(t.page, 'paid');
    await waitBalance(t.page, t.before + t.item.balance);
    await screenshot(t.page, 'cancel-alipay-3-late-payment.png');
    await t.context.close();
  });

  test('the result page shows only what the server confirms; a malformed query does not throw', async () => {
    const user = uid('res');
    const context = await h.newContext();
    const page = await context.newPage();
    await page.goto(`${h.base}/#/pages/result/result?status=paid&out_trade_no=BOGUS123&user=${user}`);
    await waitResult(page, 'notfound');
    await expect(page.textContent('#result-title')).resolves.not.toContain('支付成功');
    for (const q of [
      'status=paid&out_trade_no=100%&user=u1',
      'hint=paid&out_trade_no=%E0%A4%A&user=%',
      'status=paid&out_trade_no=<b>x</b>',
    ]) {
      await page.goto(`${h.base}/#/pages/index/index`);
      await page.goto(`${h.base}/#/pages/result/result?${q}`);
      await page.waitForFunction(() =>
        ['invalid', 'notfound'].includes(document.querySelector('#result-status')?.textContent?.trim() || ''),
      );
      await expect(page.textContent('#result-title')).resolves.not.toContain('支付成功');
    }
    await context.close();
  });

  test('controls are locked while a payment runs: the QR heading stays the provider being paid', async () => {
    const { context, page } = await h.open(uid('lock'));
    const items = await catalogue(page);
    await choose(page, 'wxpay', 'pc');
    await page.click('#pay-btn');
    await waitQr(page);
    await page.click('#provider-alipay');
    await page.click(`#item-${items[2].id}`);
    await page.click('#scene-qrcode');
    await expect(isActive(page, '#provider-wxpay')).resolves.toBe(true);
    await expect(isActive(page, `#item-${items[0].id}`)).resolves.toBe(true);
    await expect(isActive(page, '#scene-pc')).resolves.toBe(true);
    await expect(page.textContent('#qrcode-title')).resolves.toContain('微信');
    await expect(page.isVisible('#locked-hint')).resolves.toBe(true);
    await context.close();
  });

  test('reload mid-payment resumes the order (same QR), paying it reports paid; recent orders are listed', async () => {
    const user = uid('reload');
    const { context, page } = await h.open(user);
    const before = await balanceFen(page);
    const item = await choose(page, 'wxpay', 'pc');
    await page.click('#pay-btn');
    const url1 = await waitQr(page);
    await page.reload();
    const url2 = await waitQr(page);
    expect(url2).toBe(url1);
    await expect(page.$$eval('#orders .order-row[data-status="0"]', (rows) => rows.length)).resolves.toBe(1);
    await (await actInCashier(context, url2, '#pay-btn')).close();
    await waitResult(page, 'paid');
    await waitBalance(page, before + item.balance);
    await context.close();
  });

  test('phone: returning from the H5 cashier restores what the payer chose, then confirms', async () => {
    const user = uid('ret');
    const { page, context } = await h.open(user, { device: PHONE });
    const before = await balanceFen(page);
    const item = await choose(page, 'wxpay', 'mweb', 1);
    const expiries = await page.$$eval('[id^="expire-"]', (els) => els.map((e) => e.id));
    const longest = expiries[expiries.length - 1];
    await page.click(`#${longest}`);
    await page.click('#pay-btn');
    await page.waitForSelector('#pay-btn >> text=确认支付', { timeout: 20_000 }); // the cashier, same tab
    await page.click('#pay-btn');
    await page.waitForSelector('.uni-modal__btn_primary', { timeout: 20_000 });
    await expect(isActive(page, '#scene-mweb')).resolves.toBe(true);
    await expect(isActive(page, '#provider-wxpay')).resolves.toBe(true);
    await expect(isActive(page, `#item-${item.id}`)).resolves.toBe(true);
    await expect(isActive(page, `#${longest}`)).resolves.toBe(true);
    await page.click('.uni-modal__btn_primary');
    await waitResult(page, 'paid');
    await waitBalance(page, before + item.balance);
    await context.close();
  });

  test('expiry choices respect each scene’s provider minimum; a refused expiry is worded for a person', async () => {
    const user = uid('exp');
    const { page, context } = await h.open(user, { device: PHONE });
    await choose(page, 'wxpay', 'mweb');
    const mweb = await page.$$eval('[id^="expire-"]', (els) => els.map((e) => Number(e.id.slice('expire-'.length))));
    expect(mweb.filter((s) => s > 0).length).toBeGreaterThan(0);
    expect(mweb.filter((s) => s > 0 && s < 300)).toEqual([]);
    await page.click('#scene-pc');
    const qr = await page.$$eval('[id^="expire-"]', (els) => els.map((e) => Number(e.id.slice('expire-'.length))));
    expect(qr.filter((s) => s > 0 && s <= 60)).toEqual([]);
    // the shortest offered WeChat H5 expiry works
    await page.click('#scene-mweb');
    await page.click(`#expire-${Math.min(...mweb.filter((s) => s > 0))}`);
    await page.click('#pay-btn');
    await page.waitForSelector('#pay-btn >> text=确认支付', { timeout: 20_000 });
    await page.goBack();
    // a client that asks for 60 s anyway gets words, not an internal pay type
    await page.waitForSelector('#balance');
    const r = await callShop(page, 'createRechargeOrder', {
      item_id: 'r1',
      provider: 'wxpay',
      user_id: user,
      isPC: false,
      time_expire_seconds: 60,
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errMsg).toContain('至少 5 分钟');
      expect(r.errMsg).not.toMatch(/wxpay_|pay_type|time_expire/);
    }
    await context.close();
  });

  // ---------------------------------------------------------------- smaller items

  test('1280×800: the QR is scrolled into view', async () => {
    const { context, page } = await h.open(uid('fold'), { device: LAPTOP });
    await choose(page, 'wxpay', 'pc');
    await page.click('#pay-btn');
    await waitQr(page);
    await page.waitForFunction(() => {
      const r = document.querySelector('#qrcode-img')!.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    });
    await context.close();
  });

  test('a phone defaults to the phone scene', async () => {
    const { context, page } = await h.open(uid('phone'), { device: PHONE });
    await expect(isActive(page, '#scene-mweb')).resolves.toBe(true);
    await context.close();
  });

  test('an invalid ?user= disables paying and says so once', async () => {
    const { context, page } = await h.open('bad user!', { waitBalance: false });
    await page.waitForSelector('#user-error');
    await expect(page.getAttribute('#pay-btn', 'disabled')).resolves.toBe('true');
    await page.click('#pay-btn', { force: true });
    await page.waitForTimeout(500);
    await expect(page.$$eval('#user-error, #pay-message, #catalogue-error', (els) => els.length)).resolves.toBe(1);
    await context.close();
  });

  test('an unknown route shows a not-found page with the way back', async () => {
    const context = await h.newContext();
    const page = await context.newPage();
    await page.goto(`${h.base}/#/pages/nope/nope`);
    await page.waitForSelector('#not-found', { timeout: 20_000 });
    await page.click('#home-btn');
    await page.waitForSelector('#pay-btn');
    await context.close();
  });

  test('no favicon 404 on the demo and the cashiers', async () => {
    // headless Chromium never asks for /favicon.ico, a desktop browser does: check what it would get
    const { context, page } = await h.open(uid('ico'));
    await expect(page.$eval('link[rel="icon"]', (l) => l.getAttribute('href'))).resolves.toBe('data:,');
    for (const provider of ['wxpay', 'alipay']) {
      await choose(page, provider, 'pc');
      await page.click('#pay-btn');
      const origin = new URL(await waitQr(page)).origin;
      const icon = await context.request.get(`${origin}/favicon.ico`);
      expect([200, 204]).toContain(icon.status());
      await page.click('#qr-close');
      await waitResult(page, 'cancelled');
      await page.click('#back-btn');
      await page.waitForSelector('#pay-btn');
    }
    await context.close();
  });

  // ---------------------------------------------------------------- merchant view

  test('merchant view: server-checked admin role; orders with status, amount, provider, handler, refunds; refund and close', async () => {
    const user = uid('adm');
    const { context, page } = await h.open(user);
    // one paid order and one pending order of this user
    await choose(page, 'wxpay', 'pc');
    await page.click('#pay-btn');
    await (await actInCashier(context, await waitQr(page), '#pay-btn')).close();
    await waitResult(page, 'paid');
    const paid = (await page.textContent('#result-order'))!.trim();
    await page.goto(`${h.base}/#/pages/index/index?user=${user}`);
    await page.waitForSelector('#pay-btn');
    await page.click('#scene-pc');
    await page.click('#pay-btn');
    await waitQr(page);
    const pending = await page.waitForSelector('#orders .order-row[data-status="0"]').then((e) => e.getAttribute('data-otn'));

    // no key / a wrong key: the server refuses
    await expect(callShop(page, 'adminListOrders', {})).resolves.toMatchObject({ ok: false, errCode: 'DEMO_NOT_ADMIN' });
    const wrong = await context.newPage();
    await wrong.goto(`${h.base}/#/pages/admin/admin?key=wrong-key-wrong-key-wrong-key-xx`);
    await wrong.waitForSelector('#admin-error');
    await expect(wrong.isVisible('#admin-orders')).resolves.toBe(false);
    await wrong.close();

    const admin = await context.newPage();
    await admin.goto(`${h.base}/#/pages/admin/admin?key=${ADMIN_KEY}`);
    await admin.fill('#admin-search input', user);
    await admin.click('#admin-refresh');
    const row = (otn: string) => `.admin-order[data-otn="${otn}"]`;
    await admin.waitForSelector(`${row(paid)}, #admin-error`);
    expect((await admin.$('#admin-error')) && (await admin.textContent('#admin-error'))).toBeNull();
    await expect(admin.textContent(row(paid))).resolves.toMatch(/已支付[\s\S]*¥0\.01[\s\S]*微信支付[\s\S]*业务回调：已完成/);
    await admin.click(`${row(paid)} .refund-btn`);
    await admin.waitForSelector(`${row(paid)}[data-status="3"]`, { timeout: 20_000 });
    await expect(admin.textContent(row(paid))).resolves.toMatch(/已全额退款[\s\S]*已退款 ¥0\.01/);
    await admin.click(`${row(pending!)} .close-btn`);
    await admin.waitForSelector(`${row(pending!)}[data-status="-1"]`, { timeout: 20_000 });
    await screenshot(admin, 'merchant-view.png');
    await context.close();
  });
});
