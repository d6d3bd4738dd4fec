/**
 * Apple In-App Purchase adapter (pay type `appleiap_app-plus`).
 *
 * The money moves on the device; the server only verifies. The service layer:
 *   createOrder (no HTTP) → client buys with `productid`, `username: out_trade_no` →
 *   `verifyReceipt` (legacy receipt) or `verifySignedTransaction` (StoreKit 2 JWS) →
 *   service compares `purchase.total_fee` / productId with the order, then spends
 *   `transaction_id` once (unique index) and marks the order paid.
 * Refunds happen at Apple; REFUND/REVOKE arrive as Notifications V2 (`verifyNotify`).
 */
import { PayError } from '../../core/errors';
import type { IntegratedResponse } from '../../../../../types/unicloud-server';
import type { CreateOrderInput, NotifyEvent, ProviderAdapter, ProviderContext, RawHttpRequest } from '../types';
import { AppleIapConfig, checkProduct } from './config';
import { diagnoseAppleIap, probeAppleIap } from './doctor';
import { verifyNotificationV2, verifySignedTransaction } from './jws';
import { verifyReceipt } from './receipt';

export * from './config';
export { verifyReceipt, verifyReceiptUrls, APPLE_PRODUCTION_VERIFY_URL, APPLE_SANDBOX_VERIFY_URL } from './receipt';
export type { VerifyReceiptParams } from './receipt';
export { verifySignedTransaction, verifyNotificationV2, rootCertificateBuffers } from './jws';
export type { AppleNotification, VerifySignedTransactionOptions } from './jws';

/** Notification types that take money back from a purchase. */
export const APPLE_REFUND_TYPES = ['REFUND', 'REVOKE'] as const;

function productIdOf(input: CreateOrderInput): string | undefined {
  const v = input.extra.productid ?? input.extra.product_id;
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(v))
    throw new PayError('FIELD_INVALID', { field: 'productid', reason: 'must be an App Store product identifier' });
  return v;
}

function reply(statusCode: number, body = ''): IntegratedResponse {
  return { mpserverlessComposedResponse: true, statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
}

export const appleiapAdapter: ProviderAdapter<AppleIapConfig> = {
  provider: 'appleiap',
  diagnose: diagnoseAppleIap,
  diagnoseOnline: probeAppleIap,

  async createOrder(input, ctx) {
    if (input.time_expire !== undefined) throw new PayError('TIME_EXPIRE_UNSUPPORTED', { provider: 'appleiap' });
    const productid = productIdOf(input);
    if (productid && ctx.config.products) {
      // the price list is the truth: an order whose amount differs from the product's price is refused now
      const price = checkProduct(productid, 1, ctx.config);
      if (price !== input.total_fee)
        throw new PayError('APPLE_PRODUCT_MISMATCH', {
          reason: `product ${productid} costs ${price} fen, the order says ${input.total_fee}`,
        });
    }
    return {
      orderInfo: { out_trade_no: input.out_trade_no, ...(productid ? { productid } : {}) },
      orderPatch: productid ? { expand_data: { productid } } : undefined,
    };
  },

  /** Apple has no order query for this flow: the order stays unpaid until a receipt is verified. */
  async queryOrder(q) {
    return { state: 'NOTPAY', out_trade_no: q.out_trade_no, raw: null };
  },

  async verifyNotify(req: RawHttpRequest, ctx: ProviderContext<AppleIapConfig>): Promise<NotifyEvent> {
    if (req.method.toUpperCase() !== 'POST') throw new PayError('NOTIFY_MALFORMED');
    let signedPayload: unknown;
    try {
      signedPayload = JSON.parse(req.body.toString('utf8'))?.signedPayload;
    } catch {
      throw new PayError('NOTIFY_MALFORMED');
    }
    if (typeof signedPayload !== 'string') throw new PayError('NOTIFY_MALFORMED');
    const n = await verifyNotificationV2(signedPayload, ctx);
    if ((APPLE_REFUND_TYPES as readonly string[]).includes(n.notificationType)) {
      if (!n.transaction) throw new PayError('NOTIFY_MALFORMED');
      return {
        kind: 'refund',
        // Apple knows nothing of our order number: the service finds the order by transactionId.
        out_trade_no: '',
        info: {
          notificationType: n.notificationType,
          subtype: n.subtype,
          notificationUUID: n.notificationUUID,
          transactionId: n.transaction.transactionId,
          originalTransactionId: n.transaction.originalTransactionId,
          productId: n.transaction.productId,
          quantity: n.transaction.quantity,
          environment: n.transaction.environment,
          revocationDate: n.transaction.revocationDate,
          revocationReason: n.transaction.revocationReason,
        },
        transaction_id: n.transaction.transactionId,
        providerRefunded: true,
      };
    }
    return { kind: 'ignore', reason: `apple notification ${n.notificationType}${n.subtype ? `/${n.subtype}` : ''}` };
  },

  /** Apple only looks at the status: 200 acknowledges, anything else is retried later. */
  notifyReply(ok) {
    return ok ? reply(200) : reply(500, 'retry');
  },

  /** the product the client will buy is kept on the order: verifyPurchase accepts only that product */
  async prepareCreate(input) {
    const product_id = input.extra.productid ?? input.extra.product_id;
    return product_id ? { orderFields: { expand_data: { product_id } } } : {};
  },

  verifyPurchase(proof, ctx, opts) {
    return 'signedTransaction' in proof
      ? verifySignedTransaction(proof.signedTransaction, ctx, opts)
      : verifyReceipt({ receipt: proof.receipt, transactionId: proof.transactionId, ...opts }, ctx);
  },
};

export default appleiapAdapter;
export const adapter = appleiapAdapter;
