/**
 * Apple in-app purchase end to end, through the runtime's HTTP server against the Apple sandbox
 * peer (verifyReceipt + an x5c JWS chain under a test root): create → buy → the client hands the
 * proof (legacy receipt or StoreKit 2 signed transaction) to `vk-pay` → paid, handler once.
 * Every hostile proof is refused and writes nothing (no hostile proof may mark an order paid).
 */
import { randomUUID } from 'node:crypto';
import { startTestStack, tradeNo, type TestStack } from '../helpers/project';
import { APPLE_BUNDLE_ID } from '../../tools/stack';
import { createApplePki, signAppleJws } from '../../tools/sandbox/apple';
import type { ClientInfo } from '../../types/unicloud-server';

const IOS: ClientInfo = { uniPlatform: 'app', osName: 'ios', appId: '__UNI__TEST', locale: 'zh-Hans' } as ClientInfo;
const PAY_TYPE = 'appleiap_app-plus';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

let txSeq = 0;
const newTxId = () => `2000000${Date.now().toString().slice(-8)}${String(txSeq++).padStart(3, '0')}`;

async function newOrder(productid = 'coins_600', total_fee = 600, type = 'counted'): Promise<string> {
  const no = tradeNo('A');
  const r = await s.createPayment(
    { provider: 'appleiap', data: { out_trade_no: no, total_fee, subject: '600 金币', type, productid, custom: { note: 'apple' } } },
    IOS,
  );
  expect(r).toMatchObject({ errCode: 0, pay_type: PAY_TYPE, out_trade_no: no, total_fee });
  expect(r.orderInfo).toMatchObject({ out_trade_no: no, productid });
  return no;
}

const verifyReceipt = (out_trade_no: string, transaction_receipt: string, transaction_identifier: string) =>
  s.call('vk-pay', 'verifyAppleReceipt', [{ out_trade_no, transaction_receipt, transaction_identifier }], IOS);
const verifyTransaction = (out_trade_no: string, signedTransaction: string) =>
  s.call('vk-pay', 'verifyAppleTransaction', [{ out_trade_no, signedTransaction }], IOS);

function txPayload(transactionId: string, over: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    transactionId,
    originalTransactionId: transactionId,
    bundleId: APPLE_BUNDLE_ID,
    productId: 'coins_600',
    purchaseDate: now,
    originalPurchaseDate: now,
    quantity: 1,
    type: 'Consumable',
    environment: 'Production',
    signedDate: now,
    price: 6000,
    currency: 'CNY',
    ...over,
  };
}

/** rows of vk-pay-apple-transactions bound to this order */
async function boundTransactions(no: string): Promise<number> {
  return (await s.findDocs('vk-pay-apple-transactions', { out_trade_no: no })).length;
}

async function expectUntouched(no: string) {
  const order = await s.order(no);
  expect(order).toMatchObject({ status: 0 });
  expect(order!.transaction_id).toBeUndefined();
  expect(order!.user_order_success).toBeUndefined();
  expect(await boundTransactions(no)).toBe(0);
  expect(await s.handlerCalls(no)).toHaveLength(0);
  expect((await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }], IOS)).orderPaid).toBe(false);
}

async function expectPaidOnce(no: string, transactionId: string) {
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }], IOS);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, status: 1, user_order_success: true });
  expect(await s.order(no)).toMatchObject({ status: 1, transaction_id: transactionId, user_order_success: true, handler_attempts: 1 });
  const calls = await s.handlerCalls(no);
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({ total_fee: 600, custom_note: 'apple' });
  const bound = await s.findDocs('vk-pay-apple-transactions', { transaction_id: transactionId });
  expect(bound).toHaveLength(1);
  expect(bound[0]).toMatchObject({ out_trade_no: no, product_id: 'coins_600', environment: 'Production' });
}

describe('create', () => {
  test('time_expire is refused (1013) and no order is stored', async () => {
    const no = tradeNo('A');
    const r = await s.createPayment(
      {
        provider: 'appleiap',
        data: {
          out_trade_no: no,
          total_fee: 600,
          subject: 's',
          type: 'counted',
          productid: 'coins_600',
          time_expire: Date.now() + 3600_000,
        },
      },
      IOS,
    );
    expect(r.errCode).toBe(1013);
    expect(await s.order(no)).toBeNull();
  });

  test('an amount that is not the product price is refused (1016)', async () => {
    const no = tradeNo('A');
    const r = await s.createPayment(
      { provider: 'appleiap', data: { out_trade_no: no, total_fee: 1, subject: 's', type: 'counted', productid: 'coins_600' } },
      IOS,
    );
    expect(r.errCode).toBe(1016);
  });
});

describe('legacy receipt (verifyReceipt)', () => {
  test('a production receipt pays the order; handler once; re-verifying is idempotent', async () => {
    const no = await newOrder();
    expect((await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }], IOS)).orderPaid).toBe(false);
    const tx = newTxId();
    const receipt = s.apple.issueReceipt({ transactionId: tx, productId: 'coins_600', environment: 'Production' });
    const r = await verifyReceipt(no, receipt, tx);
    expect(r).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true, out_trade_no: no, transaction_id: tx });
    expect(JSON.stringify(r)).not.toContain('apple-shared-secret');
    await expectPaidOnce(no, tx);
    // the shared secret went to Apple, the production endpoint only
    const seen = s.apple.requests.filter((q) => q.body['receipt-data'] === receipt);
    expect(seen.map((q) => q.endpoint)).toEqual(['production']);
    expect(seen[0].body.password).toBe('apple-shared-secret');

    // the same order presenting its own transaction again (client retry): ok, still one run
    const again = await verifyReceipt(no, receipt, tx);
    expect(again).toMatchObject({ errCode: 0, orderPaid: true });
    await expectPaidOnce(no, tx);
  });

  const hostile: Array<[string, (tx: string) => { receipt: string; tx?: string }, number?]> = [
    [
      'a receipt the peer never issued',
      () => ({ receipt: Buffer.from(JSON.stringify({ rid: randomUUID(), signature: 'x' })).toString('base64') }),
    ],
    ['malformed base64', () => ({ receipt: '%%%not-base64%%%' })],
    ['base64 that is not a receipt', () => ({ receipt: Buffer.from('hello').toString('base64') })],
    [
      'another app (bundle id)',
      (tx) => ({
        receipt: s.apple.issueReceipt({ transactionId: tx, productId: 'coins_600', environment: 'Production', bundleId: 'com.evil.app' }),
      }),
    ],
    [
      'the wrong product (vip_month on a coins_600 order)',
      (tx) => ({ receipt: s.apple.issueReceipt({ transactionId: tx, productId: 'vip_month', environment: 'Production' }) }),
      1016,
    ],
    [
      'a product not in the price list',
      (tx) => ({ receipt: s.apple.issueReceipt({ transactionId: tx, productId: 'coins_1', environment: 'Production' }) }),
      1016,
    ],
    [
      'two of the product (quantity 2)',
      (tx) => ({ receipt: s.apple.issueReceipt({ transactionId: tx, productId: 'coins_600', quantity: 2, environment: 'Production' }) }),
      1016,
    ],
    [
      'a purchase older than receiptExpiresIn (24 h)',
      (tx) => ({
        receipt: s.apple.issueReceipt({
          transactionId: tx,
          productId: 'coins_600',
          environment: 'Production',
          purchaseDate: Date.now() - 86_400_000 - 60_000,
        }),
      }),
    ],
    [
      'a Sandbox receipt against the production config',
      (tx) => ({ receipt: s.apple.issueReceipt({ transactionId: tx, productId: 'coins_600', environment: 'Sandbox' }) }),
    ],
    [
      'a transaction id that is not in the receipt',
      () => ({ receipt: s.apple.issueReceipt({ transactionId: newTxId(), productId: 'coins_600', environment: 'Production' }) }),
    ],
    [
      'a refunded transaction',
      (tx) => {
        const receipt = s.apple.issueReceipt({ transactionId: tx, productId: 'coins_600', environment: 'Production' });
        s.apple.cancelTransaction(tx);
        return { receipt };
      },
    ],
  ];
  test.each(hostile)('refused: %s', async (_name, make, code = 1014) => {
    const no = await newOrder();
    const tx = newTxId();
    const m = make(tx);
    const r = await verifyReceipt(no, m.receipt, m.tx ?? tx);
    expect(r.errCode).toBe(code);
    expect(r.orderPaid).toBeUndefined();
    await expectUntouched(no);
    expect(await s.findDocs('vk-pay-apple-transactions', { transaction_id: m.tx ?? tx })).toHaveLength(0);
  });

  test('a Sandbox receipt is refused after the peer answered 21007, without calling the sandbox endpoint', async () => {
    const no = await newOrder();
    const tx = newTxId();
    const receipt = s.apple.issueReceipt({ transactionId: tx, productId: 'coins_600', environment: 'Sandbox' });
    const r = await verifyReceipt(no, receipt, tx);
    expect(r.errCode).toBe(1014);
    expect(r.errMsg).toContain('sandbox');
    expect(s.apple.requests.filter((q) => q.body['receipt-data'] === receipt).map((q) => q.endpoint)).toEqual(['production']);
    await expectUntouched(no);
  });

  test('a transaction that paid one order is refused on a second order (1015)', async () => {
    const first = await newOrder();
    const second = await newOrder();
    const tx = newTxId();
    const receipt = s.apple.issueReceipt({ transactionId: tx, productId: 'coins_600', environment: 'Production' });
    expect((await verifyReceipt(first, receipt, tx)).errCode).toBe(0);
    const r = await verifyReceipt(second, receipt, tx);
    expect(r.errCode).toBe(1015);
    await expectUntouched(second);
    await expectPaidOnce(first, tx);
  });
});

describe('StoreKit 2 signed transaction', () => {
  test('a production transaction pays the order; handler once; the same order again is idempotent', async () => {
    const no = await newOrder();
    const tx = newTxId();
    const jws = s.apple.signTransaction(txPayload(tx));
    const r = await verifyTransaction(no, jws);
    expect(r).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true, transaction_id: tx });
    await expectPaidOnce(no, tx);
    expect((await verifyTransaction(no, jws)).errCode).toBe(0);
    await expectPaidOnce(no, tx);
  });

  const tamper = (jws: string, patch: Record<string, unknown>) => {
    const [h, p, sig] = jws.split('.');
    const payload = { ...JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), ...patch };
    return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
  };

  const hostile: Array<[string, (tx: string) => Promise<string> | string, number?]> = [
    ['signed by another PKI (not under the configured root)', async (tx) => signAppleJws(txPayload(tx), await createApplePki('Evil'))],
    [
      'a payload changed after signing (product price)',
      (tx) => tamper(s.apple.signTransaction(txPayload(tx, { productId: 'vip_month' })), { productId: 'coins_600' }),
    ],
    [
      'a payload changed after signing (transaction id)',
      (tx) => tamper(s.apple.signTransaction(txPayload(newTxId())), { transactionId: tx, originalTransactionId: tx }),
    ],
    ['not a JWS', () => 'abc.def'],
    ['another app (bundle id)', (tx) => s.apple.signTransaction(txPayload(tx, { bundleId: 'com.evil.app' }))],
    [
      'the wrong product (vip_month on a coins_600 order)',
      (tx) => s.apple.signTransaction(txPayload(tx, { productId: 'vip_month' })),
      1016,
    ],
    ['quantity 2', (tx) => s.apple.signTransaction(txPayload(tx, { quantity: 2 })), 1016],
    ['a Sandbox transaction against the production config', (tx) => s.apple.signTransaction(txPayload(tx, { environment: 'Sandbox' }))],
    [
      'a revoked (refunded) transaction',
      (tx) => s.apple.signTransaction(txPayload(tx, { revocationDate: Date.now(), revocationReason: 0 })),
    ],
    [
      'a purchase older than receiptExpiresIn (24 h)',
      (tx) =>
        s.apple.signTransaction(
          txPayload(tx, { purchaseDate: Date.now() - 86_400_000 - 60_000, originalPurchaseDate: Date.now() - 86_400_000 - 60_000 }),
        ),
    ],
  ];
  test.each(hostile)('refused: %s', async (_name, make, code = 1014) => {
    const no = await newOrder();
    const tx = newTxId();
    const r = await verifyTransaction(no, await make(tx));
    expect(r.errCode).toBe(code);
    await expectUntouched(no);
  });

  test('the wrong product is refused by the product check itself, not only by its price', async () => {
    const no = await newOrder();
    const tx = newTxId();
    const r = await verifyTransaction(no, s.apple.signTransaction(txPayload(tx, { productId: 'vip_month' })));
    expect(r.errCode).toBe(1016);
    expect(r.errMsg).toContain('vip_month is not the ordered product');
    const receipt = s.apple.issueReceipt({ transactionId: tx, productId: 'vip_month', environment: 'Production' });
    const rr = await verifyReceipt(no, receipt, tx);
    expect(rr.errMsg).toContain('vip_month is not the ordered product');
    await expectUntouched(no);
  });

  test('2 concurrent verifications of one transaction for two orders: exactly one order is paid', async () => {
    const a = await newOrder();
    const b = await newOrder();
    const tx = newTxId();
    const jws = s.apple.signTransaction(txPayload(tx));
    const [ra, rb] = await Promise.all([verifyTransaction(a, jws), verifyTransaction(b, jws)]);
    expect([ra.errCode, rb.errCode].sort()).toEqual([0, 1015]);
    const [winner, loser] = ra.errCode === 0 ? [a, b] : [b, a];
    await expectPaidOnce(winner, tx);
    await expectUntouched(loser);
  });

  test('the legacy receipt of a transaction spent through StoreKit 2 is refused on another order', async () => {
    const a = await newOrder();
    const b = await newOrder();
    const tx = newTxId();
    expect((await verifyTransaction(a, s.apple.signTransaction(txPayload(tx)))).errCode).toBe(0);
    const receipt = s.apple.issueReceipt({ transactionId: tx, productId: 'coins_600', environment: 'Production' });
    expect((await verifyReceipt(b, receipt, tx)).errCode).toBe(1015);
    await expectUntouched(b);
  });

  test('an order of another provider cannot be paid with an Apple transaction', async () => {
    const no = tradeNo('W');
    const c = await s.createPayment({
      provider: 'wxpay',
      isPC: true,
      data: { out_trade_no: no, total_fee: 600, subject: 's', type: 'counted' },
    });
    expect(c.errCode).toBe(0);
    const r = await verifyTransaction(no, s.apple.signTransaction(txPayload(newTxId())));
    expect(r.errCode).not.toBe(0);
    expect(await s.order(no)).toMatchObject({ status: 0 });
    expect(await s.handlerCalls(no)).toHaveLength(0);
  });
});

describe('App Store Server Notifications V2', () => {
  const postNotify = async (body: string) => {
    const res = await fetch(`${s.url}/http/vk-pay/appleNotify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, body: await res.text() };
  };

  async function paidOrder(): Promise<{ no: string; tx: string; payload: Record<string, unknown> }> {
    const no = await newOrder();
    const tx = newTxId();
    const payload = txPayload(tx);
    expect((await verifyTransaction(no, s.apple.signTransaction(payload))).errCode).toBe(0);
    return { no, tx, payload };
  }

  const refundPayload = (payload: Record<string, unknown>) => ({
    notificationType: 'REFUND',
    notificationUUID: randomUUID(),
    data: {
      appAppleId: 1234567890,
      bundleId: APPLE_BUNDLE_ID,
      environment: 'Production',
      signedTransactionInfo: s.apple.signTransaction({ ...payload, revocationDate: Date.now(), revocationReason: 0 }),
    },
  });

  test('REFUND of a paid order: 200, status 3 with a refund_list entry; a resend changes nothing', async () => {
    const { no, payload } = await paidOrder();
    const body = JSON.stringify({ signedPayload: s.apple.signNotification(refundPayload(payload)) });
    const r = await postNotify(body);
    expect(r.status).toBe(200);
    const order = await s.order(no);
    expect(order).toMatchObject({ status: 3, refund_fee: 600, refund_num: 1 });
    expect(order!.refund_list).toHaveLength(1);
    expect(order!.refund_list[0]).toMatchObject({ refund_fee: 600, refund_desc: 'REFUND' });
    expect((await postNotify(body)).status).toBe(200);
    const again = await s.order(no);
    expect(again).toMatchObject({ status: 3, refund_fee: 600, refund_num: 1 });
    expect(await s.handlerCalls(no)).toHaveLength(1);
    // in the refund ledger under the transaction, and the refund-notify hook ran once
    const out_refund_no = `apple-${payload.transactionId}`;
    expect(await s.findDocs('vk-pay-refunds', { out_trade_no: no })).toEqual([
      expect.objectContaining({ out_refund_no, refund_fee: 600, state: 'SUCCESS', source: 'provider', hook_done: true }),
    ]);
    // a later REVOKE of the same transaction is the same refund: nothing changes, nothing runs again
    const revoke = JSON.stringify({ signedPayload: s.apple.signNotification({ ...refundPayload(payload), notificationType: 'REVOKE' }) });
    expect((await postNotify(revoke)).status).toBe(200);
    expect(await s.order(no)).toMatchObject({ status: 3, refund_fee: 600, refund_reserved: 0, refund_num: 1 });
    expect(await s.findDocs('test-refund-hook-calls', { out_refund_no })).toEqual([
      expect.objectContaining({ state: 'SUCCESS', refund_fee: 600, source: 'provider', refund_desc: 'REFUND', order_status: 3 }),
    ]);
  });

  test('a forged notification (another PKI) is refused and writes nothing', async () => {
    const { no, payload } = await paidOrder();
    const evil = await createApplePki('Evil');
    const n = refundPayload(payload);
    const forged = signAppleJws(
      {
        version: '2.0',
        signedDate: Date.now(),
        ...n,
        data: { ...n.data, signedTransactionInfo: signAppleJws({ ...payload, revocationDate: Date.now() }, evil) },
      },
      evil,
    );
    const r = await postNotify(JSON.stringify({ signedPayload: forged }));
    expect(r.status).not.toBe(200);
    expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0, refund_num: 0, refund_list: [] });
  });

  test('a genuine notification wrapping a forged transaction is refused and writes nothing', async () => {
    const { no, payload } = await paidOrder();
    const evil = await createApplePki('Evil');
    const n = refundPayload(payload);
    const forged = s.apple.signNotification({
      ...n,
      data: { ...n.data, signedTransactionInfo: signAppleJws({ ...payload, revocationDate: Date.now() }, evil) },
    });
    const r = await postNotify(JSON.stringify({ signedPayload: forged }));
    expect(r.status).not.toBe(200);
    expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0, refund_list: [] });
  });

  test('a tampered notification payload and a malformed body are refused', async () => {
    const { no, payload } = await paidOrder();
    const jws = s.apple.signNotification({ ...refundPayload(payload), notificationType: 'TEST' });
    const [h, p, sig] = jws.split('.');
    const changed = { ...JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), notificationType: 'REFUND' };
    const tampered = `${h}.${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${sig}`;
    expect((await postNotify(JSON.stringify({ signedPayload: tampered }))).status).not.toBe(200);
    expect((await postNotify('{not json')).status).not.toBe(200);
    expect((await postNotify(JSON.stringify({ signedPayload: 'a.b' }))).status).not.toBe(200);
    expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0, refund_list: [] });
  });

  test('a refund notification of another app (bundle id) is refused', async () => {
    const { no, payload } = await paidOrder();
    const n = refundPayload(payload);
    const r = await postNotify(
      JSON.stringify({ signedPayload: s.apple.signNotification({ ...n, data: { ...n.data, bundleId: 'com.evil.app' } }) }),
    );
    expect(r.status).not.toBe(200);
    expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0, refund_list: [] });
  });

  // regression: non-refund notifications (TEST, DID_RENEW, ...) must be acknowledged, or Apple redelivers them
  test('a non-refund notification (TEST) is acknowledged and changes nothing', async () => {
    const { no } = await paidOrder();
    const r = await postNotify(
      JSON.stringify({
        signedPayload: s.apple.signNotification({
          notificationType: 'TEST',
          data: { appAppleId: 1234567890, bundleId: APPLE_BUNDLE_ID, environment: 'Production' },
        }),
      }),
    );
    expect(r.status).toBe(200);
    expect(await s.order(no)).toMatchObject({ status: 1, refund_fee: 0 });
  });
});
