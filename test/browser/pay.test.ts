/**
 * The H5 demo in a real browser (Debian chromium via playwright-core) against the local stack
 * (tools/start.ts: local uniCloud runtime serving dist/build/h5 + sandbox gateways and cashiers).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureH5Build, H5_DIR, ROOT } from './h5build';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  // CI installs it; a developer machine may not have it
  console.warn(`[test/browser] ${CHROMIUM} not found: browser suite SKIPPED (apt-get install -y chromium)`);
}
const suite = HAVE_CHROMIUM ? describe : describe.skip;

interface Stack {
  url: string;
  close(): Promise<void>;
}
type StartStack = (opts: { port?: number; dataDir?: string; staticDir?: string; quiet?: boolean }) => Promise<Stack>;

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

suite('vk-uni-pay H5 demo in chromium', () => {
  let stack: Stack;
  let base: string;
  let browser: Browser;
  let dataDir: string;
  const pageErrors: string[] = [];
  /** requests that tried to leave loopback (aborted) */
  const offHost: string[] = [];

  beforeAll(async () => {
    const build = ensureH5Build();
    if (build.rebuilt) console.log(`[test/browser] H5 build took ${build.ms} ms`);
    // startStack() is exported by tools/stack.ts (tools/start.ts is its `npm start` CLI)
    const candidates = [process.env.VK_PAY_STACK_MODULE, path.join(ROOT, 'tools/stack.ts'), path.join(ROOT, 'tools/start.ts')].filter(
      (f): f is string => !!f && fs.existsSync(f),
    );
    if (!candidates.length) throw new Error('tools/stack.ts (startStack) is missing: the browser suite needs the local stack');

    const { startStack } = require(candidates[0]) as { startStack?: StartStack };
    if (typeof startStack !== 'function') throw new Error(`${candidates[0]} does not export startStack()`);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vkpay-browser-'));
    stack = await startStack({ port: 0, dataDir, staticDir: H5_DIR, quiet: true });
    base = stack.url.replace(/\/+$/, '');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(() => {
    const errors = pageErrors.splice(0);
    const outside = offHost.splice(0);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
  });

  // ------------------------------------------------------------------ helpers

  const uid = (tag: string) => `bw-${tag}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

  async function openDemo(user: string, extra = ''): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    // loopback only: anything else is aborted and reported
    await context.route(
      (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && /^https?:$/.test(url.protocol),
      (route) => {
        offHost.push(route.request().url());
        return route.abort();
      },
    );
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
    await page.goto(`${base}/#/pages/index/index?user=${encodeURIComponent(user)}&poll=500${extra}`);
    await page.waitForSelector('#pay-btn', { timeout: 20_000 });
    await page.waitForFunction(() => /^\d+\.\d\d$/.test(document.querySelector('#balance')?.textContent?.trim() || ''), null, {
      timeout: 20_000,
    });
    return { context, page };
  }

  async function balanceFen(page: Page): Promise<number> {
    const t = (await page.textContent('#balance'))!.trim();
    const [y, f] = t.split('.');
    return Number(y) * 100 + Number(f);
  }

  async function waitBalance(page: Page, fen: number): Promise<void> {
    const want = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
    await page.waitForFunction((w) => document.querySelector('#balance')?.textContent?.trim() === w, want, { timeout: 20_000 });
  }

  interface RechargeItem {
    id: string;
    title: string;
    total_fee: number;
    balance: number;
  }

  /** The catalogue through the page's own uniCloud client. */
  async function catalogue(page: Page): Promise<RechargeItem[]> {
    return page.evaluate(async () => {
      const uc = (
        globalThis as unknown as {
          uniCloud: { importObject(n: string, o: unknown): { getCatalogue(): Promise<{ recharge: RechargeItem[] }> } };
        }
      ).uniCloud;
      return (await uc.importObject('demo-shop', { customUI: true }).getCatalogue()).recharge;
    });
  }

  async function choose(page: Page, provider: string, scene: string): Promise<RechargeItem> {
    const items = await catalogue(page);
    expect(items.length).toBeGreaterThan(0);
    const item = items[0];
    await page.click(`#provider-${provider}`);
    await page.click(`#scene-${scene}`);
    await page.click(`#item-${item.id}`);
    return item;
  }

  async function waitResult(page: Page, status: string, timeout = 30_000): Promise<void> {
    await page.waitForFunction((s) => document.querySelector('#result-status')?.textContent?.trim() === s, status, { timeout });
  }

  /** The QR is rendered (client-side PNG data URL) and the cashier URL is readable. */
  async function waitQr(page: Page): Promise<string> {
    await page.waitForSelector('#qrcode-panel', { timeout: 20_000 });
    await page.waitForFunction(
      () => (document.querySelector('#qrcode-img img') as HTMLImageElement | null)?.src.startsWith('data:image/png;base64,'),
      null,
      { timeout: 20_000 },
    );
    const url = (await page.textContent('#cashier-link'))!.trim();
    expect(url).toMatch(/^https?:\/\//);
    return url;
  }

  /** "Scans" the QR code: opens the sandbox cashier in a second page and presses a button. */
  async function actInCashier(context: BrowserContext, url: string, button: '#pay-btn' | '#cancel-btn' | null): Promise<Page> {
    const cashier = await context.newPage();
    await cashier.goto(url);
    if (button) {
      await cashier.click(button);
      await cashier.waitForSelector(button, { state: 'detached', timeout: 15_000 });
    }
    return cashier;
  }

  // ------------------------------------------------------------------ flows

  test('WeChat Pay PC QR: scan, pay in the cashier, polling reports paid, balance credited', async () => {
    const { context, page } = await openDemo(uid('wx'));
    const before = await balanceFen(page);
    const item = await choose(page, 'wxpay', 'pc');
    await page.click('#pay-btn');
    const cashierUrl = await waitQr(page);
    const cashier = await actInCashier(context, cashierUrl, '#pay-btn');
    await cashier.close();
    await page.bringToFront();
    await waitResult(page, 'paid');
    await waitBalance(page, before + item.balance);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'paid.png'), fullPage: true });
    await context.close();
  });

  test('Alipay PC QR (当面付): scan, pay, paid and credited', async () => {
    const { context, page } = await openDemo(uid('ali'));
    const before = await balanceFen(page);
    const item = await choose(page, 'alipay', 'pc');
    await page.click('#pay-btn');
    const cashierUrl = await waitQr(page);
    const cashier = await actInCashier(context, cashierUrl, '#pay-btn');
    await expect(cashier.textContent('#state')).resolves.toContain('成功');
    await cashier.close();
    await page.bringToFront();
    await waitResult(page, 'paid');
    await waitBalance(page, before + item.balance);
    await page.screenshot({ path: path.join(ARTIFACTS, 'paid-alipay.png'), fullPage: true });
    await context.close();
  });

  test("QR image from the server (needQRcode 'image'): shown as is, paid", async () => {
    const { context, page } = await openDemo(uid('img'));
    const before = await balanceFen(page);
    const item = await choose(page, 'wxpay', 'image');
    const created = page.waitForResponse(
      (r) => r.url().endsWith('/unicloud/client') && (r.request().postData() || '').includes('createRechargeOrder'),
    );
    await page.click('#pay-btn');
    const body = (await (await created).json()) as { data: { qrcodeImage?: string; needQRcode?: unknown } };
    expect(body.data.needQRcode).toBeTruthy(); // the result reports QR mode as a boolean
    expect(body.data.qrcodeImage).toBeTruthy();
    const cashierUrl = await waitQr(page);
    const src = await page.getAttribute('#qrcode-img img', 'src');
    expect(src!.endsWith(body.data.qrcodeImage!.replace(/^data:image\/png;base64,/, ''))).toBe(true);
    await (await actInCashier(context, cashierUrl, '#pay-btn')).close();
    await waitResult(page, 'paid');
    await waitBalance(page, before + item.balance);
    await context.close();
  });

  test('WeChat MWEB: redirect to the cashier, pay, come back, confirm, paid', async () => {
    const { context, page } = await openDemo(uid('mweb'));
    const before = await balanceFen(page);
    const item = await choose(page, 'wxpay', 'mweb');
    await page.click('#pay-btn');
    await page.waitForSelector('#pay-btn >> text=确认支付', { timeout: 20_000 }); // the cashier, same tab
    expect(page.url()).toContain('redirect_url=');
    await page.click('#pay-btn');
    // back on the demo page: "did you finish paying?"
    await page.waitForSelector('.uni-modal__btn_primary', { timeout: 20_000 });
    expect(page.url()).not.toContain('confirmShow=true'); // the return marker is removed
    await page.click('.uni-modal__btn_primary');
    await waitResult(page, 'paid');
    await waitBalance(page, before + item.balance);
    await context.close();
  });

  test('WeChat MWEB cancel: cancel in the cashier, say "not finished", cancelled, no credit', async () => {
    const { context, page } = await openDemo(uid('cancel'));
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

  test('PC QR closed by the user: cancelled, polling stops', async () => {
    const { context, page } = await openDemo(uid('close'));
    await choose(page, 'wxpay', 'pc');
    await page.click('#pay-btn');
    await waitQr(page);
    await page.click('#qr-close');
    await waitResult(page, 'cancelled');
    await context.close();
  });

  test('expired order: the QR order passes its time_expire unpaid and is reported expired', async () => {
    const { context, page } = await openDemo(uid('exp'), '&expire=3');
    const before = await balanceFen(page);
    await choose(page, 'alipay', 'pc');
    await page.click('#pay-btn');
    const cashierUrl = await waitQr(page);
    // scanned (the trade now exists at the gateway) but never paid
    const cashier = await actInCashier(context, cashierUrl, null);
    await cashier.close();
    await waitResult(page, 'expired', 45_000);
    await expect(page.textContent('#result-message')).resolves.toContain('过期');
    await waitBalance(page, before);
    await context.close();
  }, 90_000);
});
