let appleLibLoaded = false;
jest.mock('@apple/app-store-server-library', () => {
  appleLibLoaded = true;
  return jest.requireActual('@apple/app-store-server-library');
});

import {
  appleiapAdapter,
  verifyReceipt,
  verifyReceiptUrls,
  verifySignedTransaction,
  rootCertificateBuffers,
  checkProduct,
  AppleIapConfig,
} from '../../uni_modules/vk-uni-pay/server/providers/appleiap';
import type { ProviderContext } from '../../uni_modules/vk-uni-pay/server/providers/types';
import type { HttpRequest } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { issueCertificate } from '../../tools/sandbox/pki';

function fakeApple(answers: Record<string, unknown>[], config: Partial<AppleIapConfig> = {}) {
  const calls: HttpRequest[] = [];
  const ctx: ProviderContext<AppleIapConfig> = {
    config: { bundleId: 'com.example.app', products: { p1: { total_fee: 100 } }, ...config },
    http: {
      async request(req) {
        calls.push(req);
        const a = answers.shift();
        if (!a) throw new Error('unexpected call');
        return { status: 200, headers: {}, body: Buffer.from(JSON.stringify(a)) };
      },
    },
    clock: { now: () => 1_700_000_000_000 },
    cache: memoryCache(),
  };
  return { ctx, calls };
}

const okReceipt = (env: string, over: Record<string, unknown> = {}) => ({
  status: 0,
  environment: env,
  receipt: {
    bundle_id: 'com.example.app',
    in_app: [
      {
        quantity: '1',
        product_id: 'p1',
        transaction_id: '1000001',
        original_transaction_id: '1000001',
        purchase_date_ms: '1699999990000',
        ...over,
      },
    ],
  },
});

test('the Apple library is loaded only when a JWS is verified', async () => {
  expect(typeof appleiapAdapter.createOrder).toBe('function');
  expect(appleLibLoaded).toBe(false);
  await expect(
    verifySignedTransaction('a.b.c', { ...fakeApple([]).ctx, config: { bundleId: 'x', sandbox: true, appleRootCertificates: [] } }),
  ).rejects.toMatchObject({ key: 'CONFIG_FIELD_MISSING' });
  expect(appleLibLoaded).toBe(true);
});

test('verifyReceipt endpoints: Apple defaults, gateway base, explicit overrides', () => {
  expect(verifyReceiptUrls({})).toEqual({
    production: 'https://buy.itunes.apple.com/verifyReceipt',
    sandbox: 'https://sandbox.itunes.apple.com/verifyReceipt',
  });
  expect(verifyReceiptUrls({ gateway: 'http://127.0.0.1:9/' })).toEqual({
    production: 'http://127.0.0.1:9/verifyReceipt',
    sandbox: 'http://127.0.0.1:9/sandbox/verifyReceipt',
  });
  expect(verifyReceiptUrls({ gateway: 'http://g', verifyReceiptUrl: 'http://p', sandboxVerifyReceiptUrl: 'http://s' })).toEqual({
    production: 'http://p',
    sandbox: 'http://s',
  });
});

test('request body: receipt-data, password only when configured; production first', async () => {
  const { ctx, calls } = fakeApple([okReceipt('Production')], { password: 'pw' });
  await expect(verifyReceipt({ receipt: 'QUJD', transactionId: '1000001' }, ctx)).resolves.toMatchObject({
    total_fee: 100,
    environment: 'Production',
    purchaseDate: 1699999990000,
  });
  expect(calls).toHaveLength(1);
  expect(calls[0].url).toBe('https://buy.itunes.apple.com/verifyReceipt');
  expect(JSON.parse(String(calls[0].body))).toEqual({ 'receipt-data': 'QUJD', 'exclude-old-transactions': true, password: 'pw' });
  const b = fakeApple([okReceipt('Production')]);
  await verifyReceipt({ receipt: 'QUJD', transactionId: '1000001' }, b.ctx);
  expect(JSON.parse(String(b.calls[0].body)).password).toBeUndefined();
});

test('21007 with production config: one call, refused; with sandbox config: second call to sandbox', async () => {
  const prod = fakeApple([{ status: 21007 }]);
  await expect(verifyReceipt({ receipt: 'QUJD', transactionId: '1000001' }, prod.ctx)).rejects.toMatchObject({
    key: 'APPLE_RECEIPT_INVALID',
  });
  expect(prod.calls).toHaveLength(1);
  const sbx = fakeApple([{ status: 21007 }, okReceipt('Sandbox')], { sandbox: true });
  await expect(verifyReceipt({ receipt: 'QUJD', transactionId: '1000001' }, sbx.ctx)).resolves.toMatchObject({ environment: 'Sandbox' });
  expect(sbx.calls.map((c) => c.url)).toEqual([
    'https://buy.itunes.apple.com/verifyReceipt',
    'https://sandbox.itunes.apple.com/verifyReceipt',
  ]);
});

test('a body whose environment disagrees with the endpoint, retryable statuses, bad input', async () => {
  await expect(verifyReceipt({ receipt: 'QUJD', transactionId: '1000001' }, fakeApple([okReceipt('Sandbox')]).ctx)).rejects.toMatchObject({
    key: 'APPLE_RECEIPT_INVALID',
  });
  await expect(
    verifyReceipt({ receipt: 'QUJD', transactionId: '1000001' }, fakeApple([{ status: 21199, 'is-retryable': true }]).ctx),
  ).rejects.toMatchObject({ key: 'GATEWAY_ERROR' });
  await expect(verifyReceipt({ receipt: 'not base64!', transactionId: '1000001' }, fakeApple([]).ctx)).rejects.toMatchObject({
    key: 'APPLE_RECEIPT_INVALID',
  });
  await expect(
    verifyReceipt({ receipt: 'QUJD', transactionId: '1000001' }, fakeApple([], { bundleId: undefined }).ctx),
  ).rejects.toMatchObject({ key: 'CONFIG_FIELD_MISSING' });
  await expect(
    verifyReceipt({ receipt: 'QUJD', transactionId: '1000001' }, fakeApple([okReceipt('Production', { quantity: '0' })]).ctx),
  ).rejects.toMatchObject({ key: 'APPLE_RECEIPT_INVALID' });
});

test('checkProduct: price × quantity, unknown product, prototype keys are not products', () => {
  expect(checkProduct('p1', 3, { products: { p1: { total_fee: 100 } } })).toBe(300);
  expect(() => checkProduct('p2', 1, { products: { p1: { total_fee: 100 } } })).toThrow(
    expect.objectContaining({ key: 'APPLE_PRODUCT_MISMATCH' }),
  );
  expect(() => checkProduct('constructor', 1, { products: { p1: { total_fee: 100 } } })).toThrow(
    expect.objectContaining({ key: 'APPLE_PRODUCT_MISMATCH' }),
  );
  expect(checkProduct('p9', 1, {}, ['p9'])).toBeUndefined();
});

test('root certificates accepted as PEM, base64 DER and DER Buffer', async () => {
  const root = await issueCertificate({ subject: 'CN=T', keyType: 'ec', isCa: true });
  const der = root.cert.raw;
  const bufs = rootCertificateBuffers([root.certPem, der.toString('base64'), der]);
  expect(bufs[1].equals(der)).toBe(true);
  expect(bufs[2]).toBe(der);
  expect(bufs[0].toString()).toContain('BEGIN CERTIFICATE');
  expect(() => rootCertificateBuffers(['%%%'])).toThrow(expect.objectContaining({ key: 'CONFIG_KEY_INVALID' }));
});
