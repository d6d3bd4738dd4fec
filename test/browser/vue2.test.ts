/**
 * <vk-uni-pay> in a Vue 2 uni-app H5 build (test/vue2-h5, its own toolchain) in chromium, against
 * the same local stack as the Vue 3 demo: the flows of pay.test.ts, through a Vue 2 page.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ensureH5Build, ROOT, type H5Build } from './h5build';
import { actInCashier, balanceFen, browserDescribe, BrowserStack, saveScreenshot, uid, waitBalance, waitQr, waitResult } from './harness';

const PROJECT = 'test/vue2-h5';
export const VUE2_BUILD: H5Build = {
  cwd: path.join(ROOT, PROJECT),
  outDir: path.join(ROOT, PROJECT, 'dist/build/h5'),
  sources: [
    ...['src', 'public', 'scripts', 'babel.config.js', 'postcss.config.js', 'vue.config.js', 'tsconfig.json', 'package-lock.json'].map(
      (f) => `${PROJECT}/${f}`,
    ),
    'uni_modules/vk-uni-pay/components',
    'uni_modules/vk-uni-pay/js_sdk',
    'uni_modules/vk-uni-pay/package.json',
  ],
};

browserDescribe()('vk-uni-pay in a Vue 2 uni-app H5 build (chromium)', () => {
  const bs = new BrowserStack();

  beforeAll(async () => {
    if (!fs.existsSync(path.join(VUE2_BUILD.cwd, 'node_modules/@dcloudio/vue-cli-plugin-uni'))) {
      throw new Error(`${PROJECT} has no node_modules: run \`npm ci --prefix ${PROJECT}\` (its own toolchain) first`);
    }
    const build = ensureH5Build(VUE2_BUILD, 600_000);
    if (build.rebuilt) console.log(`[test/browser] Vue 2 H5 build took ${build.ms} ms`);
    await bs.start(VUE2_BUILD.outDir);
  }, 660_000);

  afterAll(() => bs.close());
  afterEach(() => bs.expectClean());

  async function openPage(user: string, extra = ''): Promise<{ context: BrowserContext; page: Page }> {
    const opened = await bs.open(`/#/pages/index/index?user=${encodeURIComponent(user)}&poll=500${extra}`);
    const { page } = opened;
    await page.waitForSelector('#pay-btn', { timeout: 20_000 });
    await page.waitForFunction(() => /^\d+\.\d\d$/.test(document.querySelector('#balance')?.textContent?.trim() || ''), null, {
      timeout: 20_000,
    });
    return opened;
  }

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
    await saveScreenshot(page, 'vue2-paid.png');
    await page.context().close();
  });

  test('Alipay PC QR (当面付): scan, pay, paid and credited', async () => {
    const page = await payByQr('alipay', 'ali');
    await saveScreenshot(page, 'vue2-paid-alipay.png');
    await page.context().close();
  });

  test('WeChat MWEB: redirect to the cashier, pay, come back, confirm, paid', async () => {
    const { context, page } = await openPage(uid('mweb'));
    const before = await balanceFen(page);
    const credit = await choose(page, 'wxpay', 'mweb');
    await page.click('#pay-btn');
    await page.waitForSelector('#pay-btn >> text=确认支付', { timeout: 20_000 }); // the cashier, same tab
    expect(page.url()).toContain('redirect_url=');
    await page.click('#pay-btn');
    // back on the page (a fresh Vue 2 app): "did you finish paying?"
    await page.waitForSelector('.uni-modal__btn_primary', { timeout: 20_000 });
    expect(page.url()).not.toContain('confirmShow=true'); // the return marker is removed
    await page.click('.uni-modal__btn_primary');
    await waitResult(page, 'paid');
    await waitBalance(page, before + credit);
    await context.close();
  });

  test('WeChat MWEB cancel: cancel in the cashier, say "not finished", cancelled, no credit', async () => {
    const { context, page } = await openPage(uid('cancel'));
    const before = await balanceFen(page);
    await choose(page, 'wxpay', 'mweb');
    await page.click('#pay-btn');
    await page.waitForSelector('#cancel-btn', { timeout: 20_000 });
    await page.click('#cancel-btn');
    await page.waitForSelector('.uni-modal__btn_default', { timeout: 20_000 });
    await page.click('.uni-modal__btn_default');
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
    const { context, page } = await openPage(uid('exp'), '&expire=3');
    const before = await balanceFen(page);
    await choose(page, 'alipay', 'pc');
    await page.click('#pay-btn');
    // scanned (the trade now exists at the gateway) but never paid
    await (await actInCashier(context, await waitQr(page), null)).close();
    await waitResult(page, 'expired', 45_000);
    await expect(page.textContent('#result-message')).resolves.toContain('过期');
    await waitBalance(page, before);
    await context.close();
  }, 90_000);
});
