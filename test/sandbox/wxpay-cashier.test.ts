/**
 * WeChat Pay sandbox: the cashier page behind code_url / h5_url, used over plain HTTP.
 */
import { Wechatpay } from 'wechatpay-axios-plugin';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { rawRequest, startNotifyReceiver } from '../../tools/sandbox/wxpay/testkit';

let m: WxpaySandboxMerchant;
let sandbox: WxpaySandbox;
let wx: any;
let rx: Awaited<ReturnType<typeof startNotifyReceiver>>;
let clock = 0;

function order(no: string, extra: Record<string, unknown> = {}) {
  return {
    appid: m.appids[0],
    mchid: m.mchid,
    description: '测试<商品> & 服务',
    out_trade_no: no,
    notify_url: `${rx.url}/notify`,
    amount: { total: 1999 },
    ...extra,
  };
}

function forms(html: string): Array<{ action: string; fields: Record<string, string>; button: string }> {
  return [...html.matchAll(/<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/g)].map((f) => ({
    action: f[1],
    fields: Object.fromEntries(
      [...f[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((i) => [
        i[1],
        i[2].replace(/&amp;/g, '&').replace(/&quot;/g, '"'),
      ]),
    ),
    button: /<button id="([^"]+)"/.exec(f[2])?.[1] ?? '',
  }));
}

function submit(action: string, fields: Record<string, string>) {
  return rawRequest(sandbox.url + action, 'POST', new URLSearchParams(fields).toString(), {
    'Content-Type': 'application/x-www-form-urlencoded',
  });
}

beforeAll(async () => {
  m = await createWxpayMerchant({ mchid: '1900000301' });
  sandbox = await startWxpaySandbox({ merchants: [m], quiet: true, retryDelaysMs: [50], now: () => Date.now() + clock });
  rx = await startNotifyReceiver();
  wx = new Wechatpay({
    mchid: m.mchid,
    serial: m.merchant.serialHex,
    privateKey: m.merchant.keyPem,
    certs: { [m.platform.serialHex]: m.platform.certPem },
    baseURL: `${sandbox.url}/`,
  });
});

afterAll(async () => {
  await sandbox.close();
  await rx.close();
});

test('native code_url renders the cashier and its pay form pays the order', async () => {
  const { data } = await wx.v3.pay.transactions.native.post(order('CASHIER_001'));
  const page = await rawRequest(data.code_url, 'GET', undefined, {});
  expect(page.status).toBe(200);
  expect(page.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
  expect(page.body).toContain('<html lang="zh-CN">');
  expect(page.body).toContain(m.mchid);
  expect(page.body).toContain('测试&lt;商品&gt; &amp; 服务'); // escaped
  expect(page.body).toMatch(/id="amount"><small>¥<\/small>19\.99</);
  const f = forms(page.body);
  expect(f.map((x) => x.button)).toEqual(['pay-btn', 'cancel-btn']);

  const paid = await submit(f[0].action, f[0].fields);
  expect(paid.status).toBe(200);
  expect(paid.body).toContain('支付成功');
  expect(paid.body).not.toContain('id="pay-btn"');
  expect(sandbox.order('CASHIER_001')?.trade_state).toBe('SUCCESS');
  await sandbox.waitForDelivery('CASHIER_001', (d) => d.acknowledged);
  expect(rx.received.some((n) => n.url === '/notify')).toBe(true);

  const again = await rawRequest(data.code_url, 'GET', undefined, {});
  expect(again.body).toContain('支付成功');
  expect(again.body).not.toContain('id="pay-btn"');
  const twice = await submit(f[0].action, f[0].fields);
  expect(twice.status).toBe(409);
});

test('h5_url honours &redirect_url= after cancel and after pay', async () => {
  const { data } = await wx.v3.pay.transactions.h5.post({
    ...order('CASHIER_H5_1'),
    scene_info: { payer_client_ip: '127.0.0.1', h5_info: { type: 'Wap' } },
  });
  const back = 'http://127.0.0.1:8080/#/pages/pay/result?order=CASHIER_H5_1&x=1';
  const page = await rawRequest(`${data.h5_url}&redirect_url=${encodeURIComponent(back)}`, 'GET', undefined, {});
  expect(page.status).toBe(200);
  const [pay, cancel] = forms(page.body);
  expect(cancel.fields.redirect_url).toBe(back);

  const c = await submit(cancel.action, cancel.fields);
  expect(c.status).toBe(302);
  expect(c.headers.location).toBe(back);
  expect(sandbox.order('CASHIER_H5_1')).toMatchObject({ trade_state: 'NOTPAY', cancelled: 1 });

  const p = await submit(pay.action, pay.fields);
  expect(p.status).toBe(302);
  expect(p.headers.location).toBe(back);
  expect(sandbox.order('CASHIER_H5_1')?.trade_state).toBe('SUCCESS');
  await sandbox.waitForDelivery('CASHIER_H5_1');
});

test('redirect_url is ignored on the native (non-H5) page; cancel() keeps NOTPAY', async () => {
  const { data } = await wx.v3.pay.transactions.native.post(order('CASHIER_002'));
  const page = await rawRequest(`${data.code_url}?redirect_url=${encodeURIComponent('http://127.0.0.1:1/x')}`, 'GET', undefined, {});
  const [, cancel] = forms(page.body);
  expect(cancel.fields.redirect_url).toBeUndefined();
  const c = await submit(cancel.action, cancel.fields);
  expect(c.status).toBe(200);
  expect(c.body).toContain('已取消支付');
  await sandbox.cancel('CASHIER_002');
  expect(sandbox.order('CASHIER_002')).toMatchObject({ trade_state: 'NOTPAY', cancelled: 2 });
});

test('an expired order shows 订单已过期 and no pay button; unknown cashier id → 404', async () => {
  const expire = new Date(Math.floor(Date.now() / 1000) * 1000 + 30_000)
    .toISOString()
    .replace('Z', '+00:00')
    .replace(/\.\d{3}/, '');
  const { data } = await wx.v3.pay.transactions.native.post(order('CASHIER_EXP', { time_expire: expire }));
  const before = await rawRequest(data.code_url, 'GET', undefined, {});
  expect(before.body).toContain('id="pay-btn"');
  const payForm = forms(before.body)[0];
  clock = 31_000;
  try {
    const page = await rawRequest(data.code_url, 'GET', undefined, {});
    expect(page.body).toContain('订单已过期');
    expect(page.body).not.toContain('id="pay-btn"');
    const late = await submit(payForm.action, payForm.fields);
    expect(late.status).toBe(409);
    expect(late.body).toContain('订单已过期');
    expect(sandbox.order('CASHIER_EXP')?.trade_state).toBe('CLOSED');
  } finally {
    clock = 0;
  }
  const none = await rawRequest(`${sandbox.url}/cashier/doesnotexist`, 'GET', undefined, {});
  expect(none.status).toBe(404);
});
