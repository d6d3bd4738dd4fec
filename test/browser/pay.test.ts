/**
 * The H5 demo in a real browser (Debian chromium via playwright-core) against the local stack:
 * the main payment flows. The edges a payer meets are in edges.test.ts; the setup in harness.ts.
 */
import { actInCashier, balanceFen, choose, screenshot, suite, uid, useBrowserStack, waitBalance, waitQr, waitResult } from './harness';

suite('vk-uni-pay H5 demo in chromium', () => {
  const h = useBrowserStack();
  const openDemo = (user: string, extra = '') => h.open(user, { extra });

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
    await screenshot(page, 'paid-wxpay-pc.png');
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
    await screenshot(page, 'paid-alipay-pc.png');
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
