/**
 * The demo's withdrawal in Chromium: demo-shop calls transfer (WeChat merchant transfer, user-confirm
 * mode), the page offers the sandbox's confirm page in place of WeChat's, the payee confirms, and the
 * page shows the withdrawal paid once the server has it (MCHTRANSFER notification / queryTransfer).
 */
import { screenshot, suite, uid, useBrowserStack } from './harness';

suite('withdrawal in the H5 demo', () => {
  const h = useBrowserStack();

  test('withdraw 1.00: waiting for the payee, confirmed in the sandbox, then paid', async () => {
    const context = await h.newContext();
    const page = await context.newPage();
    await page.goto(`${h.base}/#/pages/withdraw/withdraw?user=${uid('wd')}`);
    await page.click('#withdraw-btn');
    await page.waitForSelector('#withdraw-state[data-state="WAIT_USER_CONFIRM"]', { timeout: 20_000 });
    const href = await page.getAttribute('#confirm-link', 'href');
    expect(href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/transfer-confirm\?package=/);
    const confirm = await context.newPage();
    await confirm.goto(href!);
    await confirm.click('#confirm-btn');
    await confirm.waitForSelector('#notice', { timeout: 10_000 });
    await confirm.close();
    await page.bringToFront();
    await page.waitForSelector('#withdraw-state[data-state="SUCCESS"]', { timeout: 20_000 });
    await screenshot(page, 'withdraw-success.png');
    const bill = h.stack.wxpay.transfers.bills().at(-1)!;
    expect(bill).toMatchObject({ state: 'SUCCESS', transfer_amount: 100 });
    await context.close();
  });
});
