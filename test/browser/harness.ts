/**
 * Shared by the browser suites: headless Debian chromium (playwright-core) against the local stack
 * (tools/stack.ts: local uniCloud runtime serving an H5 build + sandbox gateways and cashiers), and
 * the page steps every payment flow uses. The pages under test expose the same element ids.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startStack, type Stack } from '../../tools/stack';
import { ROOT } from './h5build';

export const CHROMIUM = '/usr/bin/chromium';
export const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
/** screenshots of the paid state (git-ignored) */
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** `describe`, or `describe.skip` with a warning where chromium is not installed (CI installs it). */
export function browserDescribe(): jest.Describe {
  if (HAVE_CHROMIUM) return describe;
  console.warn(`[test/browser] ${CHROMIUM} not found: browser suite SKIPPED (apt-get install -y chromium)`);
  return describe.skip;
}

const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];

/** One stack + one browser for a suite; collects page errors and requests that tried to leave loopback. */
export class BrowserStack {
  base = '';
  readonly pageErrors: string[] = [];
  readonly offHost: string[] = [];
  private stack?: Stack;
  private browser?: Browser;
  private dataDir?: string;

  async start(staticDir: string): Promise<void> {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vkpay-browser-'));
    this.stack = await startStack({ port: 0, dataDir: this.dataDir, staticDir, quiet: true });
    this.base = this.stack.url.replace(/\/+$/, '');
    this.browser = await chromium.launch({
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
  }

  async close(): Promise<void> {
    await this.browser?.close();
    await this.stack?.close();
    if (this.dataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A fresh browser context on `hashPath` (e.g. `/#/pages/index/index?user=u`); off-loopback requests are aborted. */
  async open(hashPath: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.browser!.newContext({ viewport: { width: 1024, height: 900 } });
    await context.route(
      (url) => !LOOPBACK.includes(url.hostname) && /^https?:$/.test(url.protocol),
      (route) => {
        this.offHost.push(route.request().url());
        return route.abort();
      },
    );
    const page = await context.newPage();
    page.on('pageerror', (e) => this.pageErrors.push(`${e.name}: ${e.message}`));
    await page.goto(this.base + hashPath);
    return { context, page };
  }

  /** For afterEach: no page error and no off-loopback request since the last call. */
  expectClean(): void {
    expect(this.pageErrors.splice(0)).toEqual([]);
    expect(this.offHost.splice(0)).toEqual([]);
  }
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

/** The QR is rendered (client-side PNG data URL); returns the cashier URL shown next to it. */
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

/** "Scans" the QR code: opens the sandbox cashier in a second page and presses a button (or none). */
export async function actInCashier(context: BrowserContext, url: string, button: '#pay-btn' | '#cancel-btn' | null): Promise<Page> {
  const cashier = await context.newPage();
  await cashier.goto(url);
  if (button) {
    await cashier.click(button);
    await cashier.waitForSelector(button, { state: 'detached', timeout: 15_000 });
  }
  return cashier;
}

export function saveScreenshot(page: Page, name: string): Promise<Buffer> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}
