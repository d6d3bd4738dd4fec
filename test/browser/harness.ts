/**
 * Shared setup of the Chromium suites: the local stack (tools/stack.ts: local uniCloud runtime
 * serving dist/build/h5 + sandbox gateways and cashiers), Debian's chromium via playwright-core,
 * loopback-only network, and the page-level checks every test gets (no page error, no request
 * leaving loopback, no 404).
 *
 * Screenshots go to test-artifacts/browser/ (git-ignored; CI keeps it as a build artefact).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { ensureH5Build, H5_DIR, ROOT } from '../../tools/h5build';
import type { Stack } from '../../tools/stack';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  // CI installs it; a developer machine may not have it
  console.warn(`[test/browser] ${CHROMIUM} not found: browser suite SKIPPED (apt-get install -y chromium)`);
}
export const suite = HAVE_CHROMIUM ? describe : describe.skip;

export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'browser');

export const DESKTOP: BrowserContextOptions = { viewport: { width: 1024, height: 900 } };
export const LAPTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };
export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
};

export interface RechargeItem {
  id: string;
  title: string;
  total_fee: number;
  balance: number;
}

export interface Harness {
  readonly base: string;
  readonly stack: Stack;
  open(
    user: string,
    opts?: { extra?: string; device?: BrowserContextOptions; waitBalance?: boolean },
  ): Promise<{ context: BrowserContext; page: Page }>;
  newContext(device?: BrowserContextOptions): Promise<BrowserContext>;
}

/** Registers the suite's hooks and returns the harness (valid inside tests). */
export function useBrowserStack(): Harness {
  let stack: Stack;
  let base = '';
  let browser: Browser;
  let dataDir = '';
  const pageErrors: string[] = [];
  /** requests that tried to leave loopback (aborted) */
  const offHost: string[] = [];
  const notFound: string[] = [];

  // VK_H5_DIR serves another build as is (e.g. one of an older commit, to see a test fail before its fix)
  const h5Dir = process.env.VK_H5_DIR || H5_DIR;

  beforeAll(async () => {
    if (!process.env.VK_H5_DIR) {
      const build = ensureH5Build();
      if (build.rebuilt) console.log(`[test/browser] H5 build took ${build.ms} ms`);
    }
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
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
    expect(offHost.splice(0)).toEqual([]);
    expect(notFound.splice(0)).toEqual([]);
  });

  async function newContext(device: BrowserContextOptions = DESKTOP): Promise<BrowserContext> {
    const context = await browser.newContext(device);
    // loopback only: anything else is aborted and reported
    await context.route(
      (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && /^https?:$/.test(url.protocol),
      (route) => {
        offHost.push(route.request().url());
        return route.abort();
      },
    );
    context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`)));
    context.on('response', (r) => {
      // a sandbox cashier answers 404 for an unknown QR on purpose; everything else must exist
      if (r.status() === 404 && !r.url().includes('/cashier')) notFound.push(r.url());
    });
    return context;
  }

  return {
    get base() {
      return base;
    },
    get stack() {
      return stack;
    },
    newContext,
    async open(user, opts = {}) {
      const context = await newContext(opts.device);
      const page = await context.newPage();
      await page.goto(`${base}/#/pages/index/index?user=${encodeURIComponent(user)}&poll=500${opts.extra ?? ''}`);
      await page.waitForSelector('#pay-btn', { timeout: 20_000 });
      if (opts.waitBalance !== false) {
        await page.waitForFunction(() => /^\d+\.\d\d$/.test(document.querySelector('#balance')?.textContent?.trim() || ''), null, {
          timeout: 20_000,
        });
      }
      return { context, page };
    },
  };
}

export const uid = (tag: string) => `bw-${tag}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export async function balanceFen(page: Page): Promise<number> {
  const t = (await page.textContent('#balance'))!.trim();
  const [y, f] = t.split('.');
  return Number(y) * 100 + Number(f);
}

export async function waitBalance(page: Page, fen: number): Promise<void> {
  const want = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
  await page.waitForFunction((w) => document.querySelector('#balance')?.textContent?.trim() === w, want, { timeout: 20_000 });
}

/** Calls a demo-shop method through the page's own uniCloud client; resolves `{ ok, value | errCode, errMsg }`. */
export async function callShop<T = Record<string, unknown>>(
  page: Page,
  method: string,
  params: Record<string, unknown> = {},
): Promise<{ ok: true; value: T } | { ok: false; errCode: string; errMsg: string }> {
  return page.evaluate(
    async ([m, p]) => {
      const uc = (
        globalThis as unknown as { uniCloud: { importObject(n: string, o: unknown): Record<string, (x: unknown) => Promise<unknown>> } }
      ).uniCloud;
      try {
        return { ok: true as const, value: (await uc.importObject('demo-shop', { customUI: true })[m](p)) as never };
      } catch (e) {
        const err = e as { errCode?: string; errMsg?: string; message?: string };
        return { ok: false as const, errCode: String(err.errCode), errMsg: String(err.errMsg ?? err.message) };
      }
    },
    [method, params] as const,
  );
}

/** The catalogue through the page's own uniCloud client. */
export async function catalogue(page: Page): Promise<RechargeItem[]> {
  const r = await callShop<{ recharge: RechargeItem[] }>(page, 'getCatalogue');
  if (!r.ok) throw new Error(r.errMsg);
  return r.value.recharge;
}

export async function choose(page: Page, provider: string, scene: string, itemIndex = 0): Promise<RechargeItem> {
  const items = await catalogue(page);
  expect(items.length).toBeGreaterThan(itemIndex);
  const item = items[itemIndex];
  await page.click(`#provider-${provider}`);
  await page.click(`#scene-${scene}`);
  await page.click(`#item-${item.id}`);
  return item;
}

export async function waitResult(page: Page, status: string, timeout = 30_000): Promise<void> {
  try {
    await page.waitForFunction((s) => document.querySelector('#result-status')?.textContent?.trim() === s, status, { timeout });
  } catch (e) {
    // say where the page was instead of a bare timeout
    const seen = await page.evaluate(() => document.body.innerText.replace(/\s+/g, ' ').slice(0, 400)).catch(() => '');
    throw new Error(`result "${status}" not shown within ${timeout} ms at ${page.url()}: ${seen}\n${(e as Error).message}`);
  }
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

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
