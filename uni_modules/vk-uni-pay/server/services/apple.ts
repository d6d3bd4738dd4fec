/**
 * Apple in-app purchase. The client buys in the App Store (application username = out_trade_no)
 * and hands the proof to the server: a legacy receipt or a StoreKit 2 signed transaction. The
 * purchase is verified (bundle id, product, price, environment, age), its transaction is bound to
 * ONE order through a unique index, and the order is settled through the same gate as any payment.
 */
import { PayError } from '../core/errors';
import { ORDER_STATUS, type PayOrder } from '../core/order';
import { loadProviderModule } from '../providers/registry';
import { configNode } from '../store/config';
import { isDuplicateKeyError } from '../store/db';
import { providerContext, requireOrder, type PayDeps } from './deps';
import { settlePaid } from './settle';

export const APPLE_TRANSACTIONS_COLLECTION = 'vk-pay-apple-transactions';

interface ApplePurchase {
  transactionId: string;
  originalTransactionId: string;
  productId: string;
  quantity: number;
  purchaseDate: number;
  environment: string;
  total_fee?: number;
}

interface AppleModule {
  verifyReceipt(p: { receipt: string; transactionId: string; expectedProductIds?: string[] }, ctx: unknown): Promise<ApplePurchase>;
  verifySignedTransaction(jws: string, ctx: unknown, opts?: { expectedProductIds?: string[] }): Promise<ApplePurchase>;
}

export interface ApplePurchaseParams {
  out_trade_no?: unknown;
  /** legacy receipt (base64) + the transaction in it */
  transaction_receipt?: unknown;
  transaction_identifier?: unknown;
  /** StoreKit 2 JWS transaction */
  signedTransaction?: unknown;
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

export async function verifyApplePurchase(deps: PayDeps, params: ApplePurchaseParams) {
  const order = await requireOrder(deps, params.out_trade_no);
  const { out_trade_no } = order;
  if (order.provider !== 'appleiap')
    throw new PayError('FIELD_INVALID', { field: 'out_trade_no', reason: 'not an Apple in-app purchase order' });
  if (order.status === ORDER_STATUS.CLOSED) throw new PayError('ORDER_CLOSED');

  const ctx = providerContext(deps, configNode(await deps.configs.load(order.pid), ['appleiap', 'app-plus']), order.pid);
  const apple = loadProviderModule<AppleModule>('appleiap');
  const productId = order.expand_data?.product_id as string | undefined;
  const expectedProductIds = productId ? [productId] : undefined;
  const jws = str(params.signedTransaction);
  let purchase: ApplePurchase;
  if (jws) {
    purchase = await apple.verifySignedTransaction(jws, ctx, { expectedProductIds });
  } else {
    const receipt = str(params.transaction_receipt);
    const transactionId = str(params.transaction_identifier);
    if (!receipt || !transactionId)
      throw new PayError('FIELD_INVALID', {
        field: 'transaction_receipt',
        reason: 'receipt and transaction_identifier, or signedTransaction',
      });
    purchase = await apple.verifyReceipt({ receipt, transactionId, expectedProductIds }, ctx);
  }
  if (purchase.total_fee !== undefined && purchase.total_fee !== order.total_fee) {
    throw new PayError('APPLE_PRODUCT_MISMATCH', {
      reason: `the purchase is worth ${purchase.total_fee} fen, the order ${order.total_fee}`,
    });
  }
  await bindTransaction(deps, order, purchase);
  const outcome = await settlePaid(deps, order, {
    transaction_id: purchase.transactionId,
    pay_date: purchase.purchaseDate,
    notify_mode: 1,
    notify_info: {
      productId: purchase.productId,
      quantity: purchase.quantity,
      environment: purchase.environment,
      originalTransactionId: purchase.originalTransactionId,
    },
  });
  return {
    code: 0 as const,
    msg: 'ok',
    orderPaid: true,
    user_order_success: outcome === 'done',
    out_trade_no,
    transaction_id: purchase.transactionId,
  };
}

/** One transaction pays one order: the unique index decides, even for concurrent calls. */
async function bindTransaction(deps: PayDeps, order: PayOrder, purchase: ApplePurchase): Promise<void> {
  const coll = deps.db().collection(APPLE_TRANSACTIONS_COLLECTION);
  try {
    await coll.add({
      transaction_id: purchase.transactionId,
      original_transaction_id: purchase.originalTransactionId,
      out_trade_no: order.out_trade_no,
      product_id: purchase.productId,
      environment: purchase.environment,
      create_date: deps.clock.now(),
    });
  } catch (e) {
    if (!isDuplicateKeyError(e)) throw e;
    const { data } = await coll.where({ transaction_id: purchase.transactionId }).limit(1).get();
    // the same order presenting its own transaction again is a harmless retry
    if ((data[0] as { out_trade_no?: string } | undefined)?.out_trade_no !== order.out_trade_no)
      throw new PayError('APPLE_TRANSACTION_USED');
  }
}

/** The order an Apple transaction paid (for App Store Server Notifications). */
export async function orderOfAppleTransaction(deps: PayDeps, transactionId: string | undefined): Promise<PayOrder | undefined> {
  if (!transactionId) return undefined;
  const { data } = await deps.db().collection(APPLE_TRANSACTIONS_COLLECTION).where({ transaction_id: transactionId }).limit(1).get();
  const no = (data[0] as { out_trade_no?: string } | undefined)?.out_trade_no;
  return no ? deps.orders.findByOutTradeNo(no) : undefined;
}
