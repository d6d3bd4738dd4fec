/**
 * The Alipay sandbox in service-provider (ISV) mode, driven by the official alipay-sdk: calls for a
 * merchant carry its app_auth_token; unknown tokens are refused; a trade is seen only with the token
 * that created it; its notification names the merchant (auth_app_id, seller_id).
 */
import http from 'node:http';
import { AlipaySdk } from 'alipay-sdk';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox, type AlipaySandboxApp } from '../../tools/sandbox/alipay';
import { alipayNodeConfig } from '../../tools/sandbox/alipay/testkit';

const TOKEN = '202612BBsandboxMerchantToken0001';
const OTHER_TOKEN = '202612BBsandboxMerchantToken0002';

let isv: AlipaySandboxApp;
let sb: AlipaySandbox;
let sdk: AlipaySdk;
let server: http.Server;
let notifyUrl: string;
const received: string[] = [];

beforeAll(async () => {
  isv = await createAlipayApp({ appId: '2021000000000901' });
  isv.authorizations = {
    [TOKEN]: { auth_app_id: '2021000000000777', seller_id: '2088000000000777' },
    [OTHER_TOKEN]: { auth_app_id: '2021000000000778', seller_id: '2088000000000778' },
  };
  sb = await startAlipaySandbox({ apps: [isv], retryDelaysMs: [30, 30], quiet: true });
  sdk = new AlipaySdk({ ...(alipayNodeConfig(isv, sb) as any), keyType: 'PKCS8' });
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'));
      res.end('success');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  notifyUrl = `http://127.0.0.1:${(server.address() as any).port}/n`;
});
afterAll(async () => {
  await sb.close();
  await new Promise<void>((r) => server.close(() => r()));
});

const create = (out_trade_no: string, appAuthToken?: string) =>
  sdk.exec(
    'alipay.trade.create',
    {
      ...(appAuthToken ? { appAuthToken } : {}),
      notify_url: notifyUrl,
      bizContent: { out_trade_no, total_amount: '2.00', subject: 's', buyer_id: '2088000000000009' },
    },
    { validateSign: true },
  );

test('an unknown app_auth_token is refused (20001 aop.invalid-app-auth-token)', async () => {
  const r = await create('ISVBAD0001', 'not-a-granted-token');
  expect(r).toMatchObject({ code: '20001', subCode: 'aop.invalid-app-auth-token' });
});

test('the trade belongs to the token that created it; the notification names that merchant', async () => {
  expect((await create('ISVOK00001', TOKEN)).code).toBe('10000');
  expect(sb.requests[sb.requests.length - 1].params.app_auth_token).toBe(TOKEN);
  const query = (appAuthToken?: string) =>
    sdk.exec('alipay.trade.query', { ...(appAuthToken ? { appAuthToken } : {}), bizContent: { out_trade_no: 'ISVOK00001' } });
  expect((await query()).subCode).toBe('ACQ.TRADE_NOT_EXIST');
  expect((await query(OTHER_TOKEN)).subCode).toBe('ACQ.TRADE_NOT_EXIST');
  expect(await query(TOKEN)).toMatchObject({ code: '10000', tradeStatus: 'WAIT_BUYER_PAY' });
  // the same out_trade_no for another merchant is not this trade
  expect((await create('ISVOK00001', OTHER_TOKEN)).subCode).toBe('ACQ.CONTEXT_INCONSISTENT');

  await sb.pay('ISVOK00001');
  await sb.waitForDelivery('ISVOK00001');
  const form = new URLSearchParams(received[received.length - 1]);
  expect(form.get('app_id')).toBe(isv.appId);
  expect(form.get('auth_app_id')).toBe('2021000000000777');
  expect(form.get('seller_id')).toBe('2088000000000777');
});
