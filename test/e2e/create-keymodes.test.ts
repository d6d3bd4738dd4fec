/**
 * Key and certificate modes end to end. WeChat Pay v3: platform certificates (fetched from
 * /v3/certificates once and cached), the WeChat Pay public key, and the migration between the two.
 * Alipay: certificate mode (公钥证书). A counting proxy in front of the WeChat sandbox tells how
 * often the plugin downloads certificates.
 */
import http from 'node:http';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { startTestStack, tradeNo, WEB_PC, type TestStack, CLIENT } from '../helpers/project';
import { certSn, rootCertSn } from '../../tools/sandbox/alipay';
import type { WxSignMode } from '../../tools/sandbox/wxpay';
import type { ClientInfo } from '../../types/unicloud-server';

const MP = CLIENT.mp;
const APP = CLIENT.app;
const OPENID = 'oTestOpenid0000000000000005';

/** A loopback proxy to the WeChat sandbox that logs `METHOD path` of every request. */
async function countingProxy(target: string) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      const up = http.request(target + req.url, { method: req.method, headers: req.headers, agent: false }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    certificateDownloads: () => seen.filter((x) => x === 'GET /v3/certificates').length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Points every wxpay node at `gateway`. Done before the first payment: the plugin reads config.js lazily. */
function rewriteWxGateway(s: TestStack, gateway: string) {
  const config = JSON.parse(JSON.stringify(s.config));
  for (const node of Object.values(config.wxpay) as Array<Record<string, unknown>>) node.gateway = gateway;
  writeFileSync(path.join(s.configDir, 'uni-pay', 'config.js'), `module.exports = ${JSON.stringify(config, null, 2)};\n`);
}

describe.each([
  ['platform-cert' as WxSignMode, 1],
  ['public-key' as WxSignMode, 0],
  ['migrating' as WxSignMode, 1],
])('WeChat Pay v3 in %s mode', (mode, expectedDownloads) => {
  let s: TestStack;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  beforeAll(async () => {
    s = await startTestStack({ wxSignMode: mode, alipayCertMode: mode === 'platform-cert' });
    proxy = await countingProxy(s.wxpay.url);
    rewriteWxGateway(s, proxy.url);
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await s?.close();
  });

  test('several payments in several scenes are signed, verified, paid and notified; certificates are downloaded at most once', async () => {
    const nos: string[] = [];
    for (const [ci, extra] of [
      [MP, { openid: OPENID }],
      [APP, {}],
      [WEB_PC, {}],
      [MP, { openid: OPENID }],
    ] as Array<[ClientInfo, Record<string, unknown>]>) {
      const no = tradeNo('K');
      const r = await s.createPayment(
        {
          provider: 'wxpay',
          isPC: ci === WEB_PC,
          data: { out_trade_no: no, total_fee: 100, subject: '测试订单', type: 'counted', ...extra },
        },
        ci,
      );
      expect(r).toMatchObject({ errCode: 0, out_trade_no: no });
      nos.push(no);
    }
    // every prepay went through the proxy
    expect(proxy.seen.filter((x) => x.startsWith('POST /v3/pay/transactions/')).length).toBe(4);
    for (const no of nos) {
      await s.wxpay.pay(no);
      await s.wxpay.waitForDelivery(no, (x) => x.acknowledged, 15_000);
      expect(await s.handlerCalls(no)).toHaveLength(1);
    }
    // the query path verifies answers too
    const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: nos[0] }]);
    expect(q).toMatchObject({ errCode: 0, orderPaid: true });
    expect(proxy.certificateDownloads()).toBe(expectedDownloads);
    const serials = new Set(s.wxpay.deliveries.filter((x) => nos.includes(x.out_trade_no) && x.acknowledged).map((x) => x.serial));
    if (mode === 'platform-cert') expect([...serials]).toEqual([s.wxMerchant.platform.serialHex]);
    if (mode === 'public-key') expect([...serials]).toEqual([s.wxMerchant.publicKeyId]);
    if (mode === 'migrating') expect([...serials].sort()).toEqual([s.wxMerchant.platform.serialHex, s.wxMerchant.publicKeyId].sort());
  }, 60_000);

  test('a notification signed by a key of the wrong kind or an unknown serial is refused', async () => {
    const no = tradeNo('K');
    expect(
      (
        await s.createPayment(
          { provider: 'wxpay', isPC: true, data: { out_trade_no: no, total_fee: 100, subject: '测试订单', type: 'counted' } },
          WEB_PC,
        )
      ).errCode,
    ).toBe(0);
    const tx = {
      appid: s.config.wxpay.h5.appId,
      mchid: s.wxMerchant.mchid,
      out_trade_no: no,
      transaction_id: '4200000000202611270000000001',
      trade_type: 'NATIVE',
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      bank_type: 'OTHERS',
      success_time: '2026-11-27T19:00:00+08:00',
      payer: { openid: OPENID },
      amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
    };
    const { body } = s.wxpay.buildPaymentNotification(s.wxMerchant.mchid, tx);
    // platform-cert merchants know no public key; public-key merchants accept no certificate serial
    const wrongSerial =
      mode === 'platform-cert'
        ? s.wxMerchant.publicKeyId
        : mode === 'public-key'
          ? s.wxMerchant.platform.serialHex
          : 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
    const headers = { ...s.wxpay.signNotification(s.wxMerchant.mchid, body, { serial: wrongSerial }), 'content-type': 'application/json' };
    const r = await s.notify('wxpay_h5', no, body, headers);
    expect(r.status).toBe(500);
    expect(await s.order(no)).toMatchObject({ status: 0 });
    expect(await s.handlerCalls(no)).toHaveLength(0);
    // and the real one goes through
    await s.wxpay.pay(no);
    await s.wxpay.waitForDelivery(no, (x) => x.acknowledged, 15_000);
    expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
  }, 30_000);

  if (mode === 'platform-cert') {
    test('Alipay certificate mode: requests carry the app and root certificate SNs; the payment settles', async () => {
      expect(s.alipayApp.certMode).toBe(true);
      const no = tradeNo('C');
      const r = await s.createPayment(
        { provider: 'alipay', isPC: true, data: { out_trade_no: no, total_fee: 250, subject: '证书模式', type: 'counted' } },
        WEB_PC,
      );
      expect(r).toMatchObject({ errCode: 0, pay_type: 'alipay_h5' });
      const call = s.alipay.requests.find((x) => x.biz.out_trade_no === no)!;
      expect(call.params.app_cert_sn).toBe(certSn(s.alipayApp.appCert!.certPem));
      expect(call.params.alipay_root_cert_sn).toBe(rootCertSn(s.alipayApp.rootBundlePem!));
      expect(call.params.alipay_root_cert_sn).not.toContain('_'); // the EC root of the bundle is skipped
      expect(call.biz.total_amount).toBe('2.50');
      // the response carried alipay_cert_sn and was verified with the Alipay public certificate
      expect(call.response).toContain('"alipay_cert_sn"');
      await s.alipay.pay(no);
      await s.alipay.waitForDelivery(no);
      expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
      expect(await s.handlerCalls(no)).toHaveLength(1);
      // a notification signed with another key is refused
      const forged = s.alipay.buildNotification(s.alipayApp.appId, {
        out_trade_no: no,
        trade_no: 'x',
        trade_status: 'TRADE_SUCCESS',
        total_amount: '2.50',
        app_id: s.alipayApp.appId,
      });
      const n2 = tradeNo('C');
      expect(
        (
          await s.createPayment(
            { provider: 'alipay', isPC: true, data: { out_trade_no: n2, total_fee: 250, subject: '证书模式', type: 'counted' } },
            WEB_PC,
          )
        ).errCode,
      ).toBe(0);
      const r2 = await s.notify('alipay_h5', n2, forged.replace(`out_trade_no=${no}`, `out_trade_no=${n2}`), {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(r2.body).not.toBe('success');
      expect(await s.order(n2)).toMatchObject({ status: 0 });
    });
  }
});
