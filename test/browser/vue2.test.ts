/**
 * <vk-uni-pay> in a Vue 2 uni-app H5 build (test/vue2-h5, its own toolchain) in chromium, against
 * the same local stack as the Vue 3 demo: the flows of pay.test.ts, through a Vue 2 page.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT, type H5Build } from '../../tools/h5build';
import {
  actInCashier,
  balanceFen,
  mwebRoundTrip,
  screenshot,
  suite,
  uid,
  useBrowserStack,
  waitBalance,
  waitQr,
  waitResult,
} from './harness';

const PROJECT = 'test/vue2-h5';
/** What the Vue 2 build reads (not src/uni_modules: the build's own copy of the plugin). */
const VUE2_BUILD: H5Build = {
  cwd: path.join(ROOT, PROJECT),
  outDir: path.join(ROOT, PROJECT, 'dist/build/h5'),
  sources: [
    ...['App.vue', 'main.js', 'manifest.json', 'pages.json', 'pages'].map((f) => `${PROJECT}/src/${f}`),
    ...['public', 'scripts', 'babel.config.js', 'postcss.config.js', 'vue.config.js', 'tsconfig.json', 'package-lock.json'].map(
      (f) => `${PROJECT}/${f}`,
    ),
    'uni_modules/vk-uni-pay/components',
    'uni_modules/vk-uni-pay/js_sdk',
    'uni_modules/vk-uni-pay/package.json',
  ],
  timeoutMs: 600_000,
};

suite('vk-uni-pay in a Vue 2 uni-app H5 build (chromium)', () => {
  const h = useBrowserStack({ build: VUE2_BUILD, setupTimeoutMs: 660_000 });
  const openPage = (user: string, extra = '') => h.open(user, { extra });

  /** Picks provider, scene and the first catalogue item; returns the balance that item credits. */
  async function choose(page: Page, provider: string, scene: string): Promise<number> {
    await page.click(`#provider-${provider}`);
    await page.click(`#scene-${scene}`);
    const item = page.locator('.item').first();
    await item.click();
    const credit = Number(await item.getAttribute('data-credit'));
    expect(credit).toBeGreaterThan(0);
    return credit;
  }

  async function payByQr(provider: 'wxpay' | 'alipay', tag: string): Promise<Page> {
    const { context, page } = await openPage(uid(tag));
    const before = await balanceFen(page);
    const credit = await choose(page, provider, 'pc');
    await page.click('#pay-btn');
    await (await actInCashier(context, await waitQr(page), '#pay-btn')).close();
    await waitResult(page, 'paid');
    await waitBalance(page, before + credit);
    return page;
  }

  test('it is Vue 2: the page runs on Vue 2.x, uni-h5 styles apply, the component reports init (to a non-`onInit` handler)', async () => {
    const { context, page } = await openPage(uid('v'));
    await expect(page.textContent('#vue-version')).resolves.toMatch(/^2\.\d+\.\d+$/);
    await expect(page.textContent('#init-platform')).resolves.toBe('h5 pc');
    // uni-h5's stylesheet is linked (index.html template): its elements are styled, the modal is hidden
    await expect(page.evaluate(() => getComputedStyle(document.querySelector('uni-view')!).display)).resolves.toBe('block');
    await context.close();
  });

  test('WeChat Pay PC QR: scan, pay in the cashier, polling reports paid, balance credited (screenshot)', async () => {
    const page = await payByQr('wxpay', 'wx');
    await screenshot(page, 'vue2-paid.png');
    await page.context().close();
  });

  test('Alipay PC QR (当面付): scan, pay, paid and credited', async () => {
    const page = await payByQr('alipay', 'ali');
    await screenshot(page, 'vue2-paid-alipay.png');
    await page.context().close();
  });

  test('WeChat MWEB: redirect to the cashier, pay, come back, confirm, paid', async () => {
    const { context, page } = await openPage(uid('mweb'));
    const before = await balanceFen(page);
    const credit = await choose(page, 'wxpay', 'mweb');
    await mwebRoundTrip(page, 'pay');
    await waitResult(page, 'paid');
    await waitBalance(page, before + credit);
    await context.close();
  });

  test('WeChat MWEB cancel: cancel in the cashier, say "not finished", cancelled, no credit', async () => {
    const { context, page } = await openPage(uid('cancel'));
    const before = await balanceFen(page);
    await choose(page, 'wxpay', 'mweb');
    await mwebRoundTrip(page, 'cancel');
    await waitResult(page, 'cancelled');
    await waitBalance(page, before);
    await context.close();
  });

  test('PC QR closed by the user: cancelled, the QR is gone', async () => {
    const { context, page } = await openPage(uid('close'));
    await choose(page, 'wxpay', 'pc');
    await page.click('#pay-btn');
    await waitQr(page);
    await page.click('#qr-close');
    await waitResult(page, 'cancelled');
    await page.waitForSelector('#qrcode-panel', { state: 'detached', timeout: 5_000 });
    await context.close();
  });

  test('expired order: the QR order passes its time_expire unpaid and is reported expired', async () => {
    const { context, page } = await openPage(uid('exp'), '&expire=10');
    const before = await balanceFen(page);
    await choose(page, 'alipay', 'pc');
    await page.click('#pay-btn');
    // scanned (the trade now exists at the gateway) but never paid; 10 s leave time to show the QR on a loaded machine
    await (await actInCashier(context, await waitQr(page), null)).close();
    await waitResult(page, 'expired', 45_000);
    await expect(page.textContent('#result-message')).resolves.toContain('过期');
    await waitBalance(page, before);
    await context.close();
  }, 90_000);
});
