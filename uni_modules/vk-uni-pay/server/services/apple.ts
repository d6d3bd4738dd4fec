/**
 * Apple in-app purchase. The client buys in the App Store (application username = out_trade_no)
 * and hands the proof to the server: a legacy receipt or a StoreKit 2 signed transaction. The
 * purchase is verified (bundle id, product, price, environment, age), its transaction is bound to
 * ONE order through a unique index, and the order is settled through the same gate as any payment.
 */
import { PayError } from '../core/errors';
import { supports } from '../core/catalog';
import { ORDER_STATUS, type PayOrder } from '../core/order';
import { adapterWith } from '../providers/registry';
import type { PurchaseProof, VerifiedPurchase } from '../providers/types';
import { PURCHASES_COLLECTION } from '../store/purchases';
import { orderProviderContext, requireOrder, type PayDeps } from './deps';
import { settlePaid } from './settle';

export const APPLE_TRANSACTIONS_COLLECTION = PURCHASES_COLLECTION;

export interface ApplePurchaseParams {
  out_trade_no?: unknown;
  /** legacy receipt (base64) + the transaction in it */
  transaction_receipt?: unknown;
  transaction_identifier?: unknown;
  /** StoreKit 2 JWS transaction */
  signedTransaction?: unknown;
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

export interface PurchaseResult {
  orderPaid: true;
  user_order_success: boolean;
  out_trade_no: string;
  transaction_id: string;
}

/** The proof the client handed over: a StoreKit 2 signed transaction, or a legacy receipt with its transaction. */
function purchaseProof(params: ApplePurchaseParams): PurchaseProof {
  const jws = str(params.signedTransaction);
  if (jws) return { signedTransaction: jws };
  const receipt = str(params.transaction_receipt);
  const transactionId = str(params.transaction_identifier);
  if (!receipt || !transactionId)
    throw new PayError('FIELD_INVALID', {
      field: 'transaction_receipt',
      reason: 'receipt and transaction_identifier, or signedTransaction',
    });
  return { receipt, transactionId };
}

export async function verifyApplePurchase(deps: PayDeps, params: ApplePurchaseParams): Promise<PurchaseResult> {
  const order = await requireOrder(deps, params.out_trade_no);
  const { out_trade_no } = order;
  if (!supports(order.provider, 'verifyPurchase'))
    throw new PayError('FIELD_INVALID', { field: 'out_trade_no', reason: 'not an Apple in-app purchase order' });
  if (order.status === ORDER_STATUS.CLOSED) throw new PayError('ORDER_CLOSED');

  const ctx = await orderProviderContext(deps, order);
  const adapter = adapterWith(order.provider, 'verifyPurchase');
  const productId = order.expand_data?.product_id as string | undefined;
  const purchase = await adapter.verifyPurchase(purchaseProof(params), ctx, { expectedProductIds: productId ? [productId] : undefined });
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
  return { orderPaid: true, user_order_success: outcome === 'done', out_trade_no, transaction_id: purchase.transactionId };
}

/** One transaction pays one order: the unique index decides, even for concurrent calls. */
async function bindTransaction(deps: PayDeps, order: PayOrder, purchase: VerifiedPurchase): Promise<void> {
  const bound = await deps.purchases.bind({
    transaction_id: purchase.transactionId,
    original_transaction_id: purchase.originalTransactionId,
    out_trade_no: order.out_trade_no,
    product_id: purchase.productId,
    environment: purchase.environment,
    create_date: deps.clock.now(),
  });
  if (bound === 'taken') throw new PayError('APPLE_TRANSACTION_USED');
}

/** The order a bound purchase transaction paid (App Store Server Notifications carry no order number). */
export async function orderOfTransaction(deps: PayDeps, transactionId: string | undefined): Promise<PayOrder | undefined> {
  if (!transactionId) return undefined;
  const no = await deps.purchases.orderOf(transactionId);
  return no ? deps.orders.findByOutTradeNo(no) : undefined;
}
