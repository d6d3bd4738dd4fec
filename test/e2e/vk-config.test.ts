/**
 * A vk-uni-pay `config.js` as users have it (vk-uni-pay docs §3.3), end to end: a wxpay node without
 * `version` is v3 (as vk ≥ 1.16.1), an Alipay key-mode node keeps the template's blank certificate
 * files and still pays, `userWhitelist` is enforced, and a v2 node's refund names `pfx` and the fix.
 */
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { startTestStack, tradeNo, CLIENT, type TestStack } from '../helpers/project';

let s: TestStack;
const NOTIFY_KEY = 'n'.repeat(64);

beforeAll(async () => {
  s = await startTestStack();
  // rewrite the generated config into vk's shape before the plugin first reads it
  const dir = path.join(s.configDir, 'uni-pay');
  const blank = (name: string) => {
    writeFileSync(path.join(dir, name), '');
    return path.join(dir, name);
  };
  const cfg = JSON.parse(JSON.stringify(s.config));
  delete cfg.wxpay.h5.version;
  cfg.wxpay['app-plus'] = { ...cfg.wxpay['app-plus'], version: 2, pfx: blank('apiclient_cert.p12') };
  const certs = {
    appCertPath: blank('appCertPublicKey.crt'),
    alipayPublicCertPath: blank('alipayCertPublicKey_RSA2.crt'),
    alipayRootCertPath: blank('alipayRootCert.crt'),
  };
  for (const node of Object.keys(cfg.alipay)) cfg.alipay[node] = { ...cfg.alipay[node], ...certs };
  cfg.notifyKey = NOTIFY_KEY;
  cfg.userWhitelist = ['u-ok'];
  writeFileSync(path.join(dir, 'config.js'), `module.exports = ${JSON.stringify(cfg, null, 2)};\n`);
}, 60_000);
afterAll(() => s?.close());

test('vk-uni-pay docs §3.3: a wxpay node without version pays through API v3 (vk ≥ 1.16.1 default)', async () => {
  const no = tradeNo('NV');
  const r = await s.createPayment({
    provider: 'wxpay',
    isPC: true,
    data: { out_trade_no: no, total_fee: 100, subject: '测试', type: 'counted', user_id: 'u-ok' },
  });
  expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_h5' });
  expect(r.orderInfo.codeUrl).toBeTruthy();
  await s.wxpay.pay(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true, 15_000);
  expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
});

test("vk-uni-pay docs §3.3: an Alipay key-mode node with the template's blank certificate files still pays", async () => {
  const no = tradeNo('AB');
  const r = await s.createPayment({
    provider: 'alipay',
    isPC: true,
    data: { out_trade_no: no, total_fee: 100, subject: '测试', type: 'counted', user_id: 'u-ok' },
  });
  expect(r).toMatchObject({ errCode: 0, pay_type: 'alipay_h5' });
  await s.alipay.pay(no);
  await s.alipay.waitForDelivery(no, undefined, 15_000);
  expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
});

test('vk-uni-pay docs §3.3: with userWhitelist only listed users pay (1030 for others, nothing stored)', async () => {
  for (const user_id of ['u-other', undefined]) {
    const no = tradeNo('WL');
    const r = await s.createPaymentRaw({
      provider: 'wxpay',
      isPC: true,
      data: { out_trade_no: no, total_fee: 100, subject: '测试', type: 'counted', user_id },
    });
    expect(r).toMatchObject({ code: 1030, msg: expect.stringContaining('userWhitelist') });
    expect(await s.order(no)).toBeNull();
    expect(s.wxpay.order(no)).toBeUndefined();
  }
});

test('vk-uni-pay docs §1.3: a v2 refund is refused naming pfx and the fix (version 3)', async () => {
  const no = tradeNo('V2');
  const r = await s.createPayment(
    { provider: 'wxpay', data: { out_trade_no: no, total_fee: 100, subject: '测试', type: 'counted', user_id: 'u-ok' } },
    CLIENT.app,
  );
  expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_app-plus' });
  await s.wxpay.pay(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true, 15_000);
  const refund = (await s.call('test-shop', 'refund', [{ out_trade_no: no }])).result;
  expect(refund).toMatchObject({ code: 3005 });
  expect(refund.msg_en).toMatch(/pfx.*version 3/);
  expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0 });
});
