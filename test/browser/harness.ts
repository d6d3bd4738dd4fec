/**
 * Shared setup of the Chromium suites: the local stack (tools/stack.ts: local uniCloud runtime
 * serving an H5 build + sandbox gateways and cashiers), Debian's chromium via playwright-core,
 * loopback-only network, and the page-level checks every test gets (no page error, no request
 * leaving loopback). The pages under test expose the same element ids.
 *
 * Screenshots go to test-artifacts/browser/ (git-ignored).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureH5Build, H5_DIR, ROOT } from './h5build';
import type { Stack } from '../../tools/stack';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  // CI installs it; a developer machine may not have it
  console.warn(`[test/browser] ${CHROMIUM} not found: browser suite SKIPPED (apt-get install -y chromium)`);
}
export const suite = HAVE_CHROMIUM ? describe : describe.skip;

export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'browser');

export interface Harness {
  readonly base: string;
  open(user: string, opts?: { extra?: string }): Promise<{ context: BrowserContext; page: Page }>;
}

export interface HarnessOptions {
  /** the H5 build to serve (default: the demo's dist/build/h5) */
  h5Dir?: string;
  /** makes sure h5Dir is a current build (default: the demo's) */
  build?: () => { rebuilt: boolean; ms: number };
  /** for beforeAll, when the build may take long */
  buildTimeoutMs?: number;
}

/** Registers the suite's hooks and returns the harness (valid inside tests). */
export function useBrowserStack(opts: HarnessOptions = {}): Harness {
  const h5Dir = opts.h5Dir ?? H5_DIR;
  let stack: Stack;
  let base = '';
  let browser: Browser;
  let dataDir = '';
  const pageErrors: string[] = [];
  /** requests that tried to leave loopback (aborted) */
  const offHost: string[] = [];

  beforeAll(async () => {
    const build = (opts.build ?? ensureH5Build)();
    if (build.rebuilt) console.log(`[test/browser] H5 build of ${path.relative(ROOT, h5Dir)} took ${build.ms} ms`);
    const { startStack } = require(path.join(ROOT, 'tools/stack.ts')) as typeof import('../../tools/stack');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vkpay-browser-'));
    stack = await startStack({ port: 0, dataDir, staticDir: h5Dir, quiet: true });
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
  }, opts.buildTimeoutMs ?? 300_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
    expect(offHost.splice(0)).toEqual([]);
  });

  return {
    get base() {
      return base;
    },
    async open(user, o = {}) {
      const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
      // loopback only: anything else is aborted and reported
      await context.route(
        (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && /^https?:$/.test(url.protocol),
        (route) => {
          offHost.push(route.request().url());
          return route.abort();
        },
      );
      context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`)));
      const page = await context.newPage();
      await page.goto(`${base}/#/pages/index/index?user=${encodeURIComponent(user)}&poll=500${o.extra ?? ''}`);
      await page.waitForSelector('#pay-btn', { timeout: 20_000 });
      await page.waitForFunction(() => /^\d+\.\d\d$/.test(document.querySelector('#balance')?.textContent?.trim() || ''), null, {
        timeout: 20_000,
      });
      return { context, page };
    },
  };
}

export const uid = (tag: string) => `bw-${tag}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export async function balanceFen(page: Page): Promise<number> {
  const [y, f] = (await page.textContent('#balance'))!.trim().split('.');
  return Number(y) * 100 + Number(f);
}

export async function waitBalance(page: Page, fen: number): Promise<void> {
  const want = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
  await page.waitForFunction((w) => document.querySelector('#balance')?.textContent?.trim() === w, want, { timeout: 20_000 });
}

export async function waitResult(page: Page, status: string, timeout = 30_000): Promise<void> {
  await page.waitForFunction((s) => document.querySelector('#result-status')?.textContent?.trim() === s, status, { timeout });
}

/** The QR is rendered (client-side PNG data URL) and the cashier URL is readable. */
export async function waitQr(page: Page): Promise<string> {
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
export async function actInCashier(context: BrowserContext, url: string, button: '#pay-btn' | '#cancel-btn' | null): Promise<Page> {
  const cashier = await context.newPage();
  await cashier.goto(url);
  if (button) {
    await cashier.click(button);
    await cashier.waitForSelector(button, { state: 'detached', timeout: 15_000 });
  }
  return cashier;
}

/**
 * H5 (mweb) round trip after the page's pay button: the cashier opens in the same tab; pay there and
 * answer "did you finish paying?" with yes, or cancel there and answer no.
 */
export async function mwebRoundTrip(page: Page, action: 'pay' | 'cancel'): Promise<void> {
  await page.click('#pay-btn');
  if (action === 'pay') {
    await page.waitForSelector('#pay-btn >> text=确认支付', { timeout: 20_000 }); // the cashier, same tab
    expect(page.url()).toContain('redirect_url=');
    await page.click('#pay-btn');
  } else {
    await page.waitForSelector('#cancel-btn', { timeout: 20_000 });
    await page.click('#cancel-btn');
  }
  // back on the page (a fresh app): "did you finish paying?"
  const answer = action === 'pay' ? '.uni-modal__btn_primary' : '.uni-modal__btn_default';
  await page.waitForSelector(answer, { timeout: 20_000 });
  expect(page.url()).not.toContain('confirmShow=true'); // the return marker is removed
  await page.click(answer);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
