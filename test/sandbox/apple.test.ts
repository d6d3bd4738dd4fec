import { startAppleSandbox, createApplePki, AppleSandbox, signAppleJws } from '../../tools/sandbox/apple';
import { nodeTransport } from '../../tools/sandbox/loopback';
import {
  appleiapAdapter,
  verifyReceipt,
  verifySignedTransaction,
  AppleIapConfig,
} from '../../uni_modules/vk-uni-pay/server/providers/appleiap';
import type { ProviderContext, RawHttpRequest, CreateOrderInput } from '../../uni_modules/vk-uni-pay/server/providers/types';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { PayError } from '../../uni_modules/vk-uni-pay/server/core/errors';

const BUNDLE = 'com.example.vkpay';
const SECRET = 'shared-secret-123';
let apple: AppleSandbox;

beforeAll(async () => {
  apple = await startAppleSandbox({ bundleId: BUNDLE, sharedSecret: SECRET });
});
afterAll(() => apple.close());

function ctx(over: Partial<AppleIapConfig> = {}, now = Date.now()): ProviderContext<AppleIapConfig> {
  return {
    config: {
      bundleId: BUNDLE,
      gateway: apple.url,
      password: SECRET,
      sandbox: false,
      products: { 'coins.60': { total_fee: 600 }, 'coins.300': { total_fee: 3000 } },
      appleRootCertificates: [apple.pki.root.certPem],
      appAppleId: 1234567890,
      ...over,
    },
    http: nodeTransport(),
    clock: { now: () => now },
    cache: memoryCache(),
  };
}

async function rejection(p: Promise<unknown>): Promise<PayError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PayError);
    return e as PayError;
  }
  throw new Error('expected a rejection');
}

let seq = 0;
const txId = () => `20000${Date.now()}${seq++}`;

describe('legacy verifyReceipt against the Apple peer', () => {
  test('production receipt verifies on production only, with price from the config', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.60', quantity: 2, environment: 'Production' });
    const before = apple.requests.length;
    const p = await verifyReceipt({ receipt, transactionId: id }, ctx());
    expect(p).toMatchObject({
      transactionId: id,
      originalTransactionId: id,
      productId: 'coins.60',
      quantity: 2,
      environment: 'Production',
      bundleId: BUNDLE,
      total_fee: 1200,
      source: 'verifyReceipt',
    });
    const sent = apple.requests.slice(before);
    expect(sent.map((r) => r.endpoint)).toEqual(['production']);
    expect(sent[0].body).toMatchObject({ 'receipt-data': receipt, password: SECRET });
  });

  test('sandbox receipt: 21007 → retried on sandbox when the config says sandbox', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.300', environment: 'Sandbox' });
    const before = apple.requests.length;
    const p = await verifyReceipt({ receipt, transactionId: id }, ctx({ sandbox: true }));
    expect(p.environment).toBe('Sandbox');
    expect(p.total_fee).toBe(3000);
    expect(apple.requests.slice(before).map((r) => r.endpoint)).toEqual(['production', 'sandbox']);
  });

  test('sandbox receipt is refused with a production config (no sandbox retry)', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.60', environment: 'Sandbox' });
    const before = apple.requests.length;
    const e = await rejection(verifyReceipt({ receipt, transactionId: id }, ctx()));
    expect(e.key).toBe('APPLE_RECEIPT_INVALID');
    expect(e.msgEn).toContain('sandbox receipt in production');
    expect(apple.requests.slice(before).map((r) => r.endpoint)).toEqual(['production']);
  });

  test('other failures are not retried on the other environment (21002 malformed)', async () => {
    const before = apple.requests.length;
    const e = await rejection(
      verifyReceipt({ receipt: Buffer.from('garbage').toString('base64'), transactionId: '1' }, ctx({ sandbox: true })),
    );
    expect(e.key).toBe('APPLE_RECEIPT_INVALID');
    expect(e.msgEn).toContain('21002');
    expect(apple.requests.slice(before).map((r) => r.endpoint)).toEqual(['production']);
  });

  test('the sandbox peer answers 21008 for a production receipt', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.60', environment: 'Production' });
    const e = await rejection(verifyReceipt({ receipt, transactionId: id }, ctx({ verifyReceiptUrl: apple.sandboxVerifyReceiptUrl })));
    expect(e.msgEn).toContain('21008');
  });

  test('wrong shared secret → 21004', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.60', environment: 'Production' });
    const e = await rejection(verifyReceipt({ receipt, transactionId: id }, ctx({ password: 'nope' })));
    expect(e.key).toBe('APPLE_RECEIPT_INVALID');
    expect(e.msgEn).toContain('21004');
  });

  test('receipt of another app (bundle id) is refused', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.60', environment: 'Production', bundleId: 'com.evil.app' });
    const e = await rejection(verifyReceipt({ receipt, transactionId: id }, ctx()));
    expect(e.key).toBe('APPLE_RECEIPT_INVALID');
    expect(e.msgEn).toContain('bundle_id');
  });

  test('product not in the price list, or not the ordered product, is refused', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.9999', environment: 'Production' });
    expect((await rejection(verifyReceipt({ receipt, transactionId: id }, ctx()))).key).toBe('APPLE_PRODUCT_MISMATCH');
    const id2 = txId();
    const receipt2 = apple.issueReceipt({ transactionId: id2, productId: 'coins.60', environment: 'Production' });
    expect((await rejection(verifyReceipt({ receipt: receipt2, transactionId: id2, expectedProductIds: ['coins.300'] }, ctx()))).key).toBe(
      'APPLE_PRODUCT_MISMATCH',
    );
  });

  test('no price list and no expected products → configuration error, not acceptance', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.60', environment: 'Production' });
    expect((await rejection(verifyReceipt({ receipt, transactionId: id }, ctx({ products: undefined })))).key).toBe('CONFIG_FIELD_MISSING');
  });

  test('purchase older than receiptExpiresIn is refused; the window is configurable', async () => {
    const id = txId();
    const now = Date.now();
    const receipt = apple.issueReceipt({
      transactionId: id,
      productId: 'coins.60',
      environment: 'Production',
      purchaseDate: now - 2 * 86_400_000,
    });
    const e = await rejection(verifyReceipt({ receipt, transactionId: id }, ctx({}, now)));
    expect(e.msgEn).toContain('older than receiptExpiresIn');
    const ok = await verifyReceipt({ receipt, transactionId: id }, ctx({ receiptExpiresIn: 3 * 86_400 }, now));
    expect(ok.purchaseDate).toBe(now - 2 * 86_400_000);
  });

  test('transaction id not in the receipt, and refunded transactions, are refused', async () => {
    const id = txId();
    const receipt = apple.issueReceipt({ transactionId: id, productId: 'coins.60', environment: 'Production' });
    expect((await rejection(verifyReceipt({ receipt, transactionId: id + '1' }, ctx()))).msgEn).toContain('not found in the receipt');
    apple.cancelTransaction(id);
    expect((await rejection(verifyReceipt({ receipt, transactionId: id }, ctx()))).msgEn).toContain('refunded');
  });
});

describe('StoreKit 2 JWS with the test root', () => {
  const sandboxCfg = { sandbox: true };

  test('valid signed transaction verifies', async () => {
    const id = txId();
    const jws = apple.signTransaction({ transactionId: id, originalTransactionId: id, productId: 'coins.300', quantity: 1 });
    const p = await verifySignedTransaction(jws, ctx(sandboxCfg));
    expect(p).toMatchObject({
      transactionId: id,
      productId: 'coins.300',
      environment: 'Sandbox',
      bundleId: BUNDLE,
      total_fee: 3000,
      source: 'jws',
    });
  });

  test('tampered payload is refused', async () => {
    const jws = apple.signTransaction({ transactionId: txId(), productId: 'coins.60' });
    const [h, p, s] = jws.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    payload.productId = 'coins.300';
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    const e = await rejection(verifySignedTransaction(forged, ctx(sandboxCfg)));
    expect(e.key).toBe('APPLE_RECEIPT_INVALID');
    expect(e.msgEn).toContain('signature verification failed');
  });

  test('a chain under another root is refused', async () => {
    const other = await createApplePki('Mallory');
    const jws = signAppleJws(
      {
        transactionId: txId(),
        productId: 'coins.60',
        bundleId: BUNDLE,
        environment: 'Sandbox',
        purchaseDate: Date.now(),
        signedDate: Date.now(),
        quantity: 1,
      },
      other,
    );
    expect((await rejection(verifySignedTransaction(jws, ctx(sandboxCfg)))).key).toBe('APPLE_RECEIPT_INVALID');
    // and the same JWS verifies when that root is trusted (the test can tell the two apart)
    await expect(verifySignedTransaction(jws, ctx({ ...sandboxCfg, appleRootCertificates: [other.root.cert.raw] }))).resolves.toMatchObject(
      { productId: 'coins.60' },
    );
  });

  test('wrong bundle id, wrong environment, revoked, unknown product are refused', async () => {
    const c = ctx(sandboxCfg);
    expect(
      (
        await rejection(
          verifySignedTransaction(apple.signTransaction({ transactionId: txId(), productId: 'coins.60', bundleId: 'com.evil' }), c),
        )
      ).msgEn,
    ).toContain('INVALID_APP_IDENTIFIER');
    expect(
      (
        await rejection(
          verifySignedTransaction(apple.signTransaction({ transactionId: txId(), productId: 'coins.60', environment: 'Production' }), c),
        )
      ).msgEn,
    ).toContain('INVALID_ENVIRONMENT');
    expect(
      (
        await rejection(
          verifySignedTransaction(apple.signTransaction({ transactionId: txId(), productId: 'coins.60', revocationDate: Date.now() }), c),
        )
      ).msgEn,
    ).toContain('revoked');
    expect((await rejection(verifySignedTransaction(apple.signTransaction({ transactionId: txId(), productId: 'gems.1' }), c))).key).toBe(
      'APPLE_PRODUCT_MISMATCH',
    );
  });

  test('production environment needs appAppleId and accepts Production transactions only', async () => {
    const jws = apple.signTransaction({ transactionId: txId(), productId: 'coins.60', environment: 'Production' });
    await expect(verifySignedTransaction(jws, ctx())).resolves.toMatchObject({ environment: 'Production' });
    expect((await rejection(verifySignedTransaction(jws, ctx({ appAppleId: undefined })))).key).toBe('CONFIG_FIELD_MISSING');
  });
});

describe('appleiapAdapter', () => {
  const req = (body: unknown): RawHttpRequest => ({
    method: 'POST',
    path: '/notify',
    headers: { 'content-type': 'application/json' },
    query: {},
    body: Buffer.from(JSON.stringify(body)),
  });

  test('REFUND notification → refund event carrying the transaction ids', async () => {
    const id = txId();
    const signedTransactionInfo = apple.signTransaction({
      transactionId: id,
      originalTransactionId: id,
      productId: 'coins.60',
      revocationDate: Date.now(),
      revocationReason: 0,
    });
    const signedPayload = apple.signNotification({
      notificationType: 'REFUND',
      data: { bundleId: BUNDLE, environment: 'Sandbox', signedTransactionInfo },
    });
    const ev = await appleiapAdapter.verifyNotify(req({ signedPayload }), ctx({ sandbox: true }));
    expect(ev.kind).toBe('refund');
    if (ev.kind !== 'refund') return;
    expect(ev.info).toMatchObject({ notificationType: 'REFUND', transactionId: id, originalTransactionId: id, productId: 'coins.60' });
    expect(appleiapAdapter.notifyReply(true).statusCode).toBe(200);
    expect(appleiapAdapter.notifyReply(false).statusCode).not.toBe(200);
  });

  test('other notification types are ignored; forged ones rejected', async () => {
    const signedPayload = apple.signNotification({ notificationType: 'TEST', data: { bundleId: BUNDLE, environment: 'Sandbox' } });
    await expect(appleiapAdapter.verifyNotify(req({ signedPayload }), ctx({ sandbox: true }))).resolves.toMatchObject({ kind: 'ignore' });
    const other = await createApplePki('Mallory');
    const forged = signAppleJws(
      { notificationType: 'REFUND', signedDate: Date.now(), data: { bundleId: BUNDLE, environment: 'Sandbox' } },
      other,
    );
    expect((await rejection(appleiapAdapter.verifyNotify(req({ signedPayload: forged }), ctx({ sandbox: true })))).key).toBe(
      'NOTIFY_SIGNATURE_INVALID',
    );
    expect((await rejection(appleiapAdapter.verifyNotify(req({ nope: 1 }), ctx({ sandbox: true })))).key).toBe('NOTIFY_MALFORMED');
  });

  test('createOrder makes no HTTP call, refuses time_expire and a price that differs from the product', async () => {
    const c = ctx();
    c.http = { request: () => Promise.reject(new Error('no HTTP expected')) };
    const input: CreateOrderInput = {
      payType: 'appleiap_app-plus',
      platformKey: 'app-plus',
      out_trade_no: 'ORDER12345',
      total_fee: 600,
      subject: 's',
      notify_url: 'x',
      client_ip: '1.1.1.1',
      needQRcode: false,
      other: {},
      extra: { productid: 'coins.60' },
    };
    await expect(appleiapAdapter.createOrder(input, c)).resolves.toMatchObject({
      orderInfo: { out_trade_no: 'ORDER12345', productid: 'coins.60' },
    });
    expect((await rejection(appleiapAdapter.createOrder({ ...input, total_fee: 1 }, c))).key).toBe('APPLE_PRODUCT_MISMATCH');
    expect((await rejection(appleiapAdapter.createOrder({ ...input, time_expire: Date.now() + 600_000 }, c))).key).toBe(
      'TIME_EXPIRE_UNSUPPORTED',
    );
    await expect(appleiapAdapter.queryOrder({ out_trade_no: 'ORDER12345' }, c)).resolves.toMatchObject({ state: 'NOTPAY' });
  });
});
