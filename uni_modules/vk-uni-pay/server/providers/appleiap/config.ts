/**
 * Config node `appleiap.app-plus` and the normalised purchase every verification path returns.
 */
import { PayError } from '../../core/errors';

export const APPLE_NODE = 'appleiap.app-plus';

export interface AppleIapConfig {
  /** the app's bundle identifier; receipts/transactions of any other app are refused */
  bundleId?: string;
  /** App Store shared secret (only needed for auto-renewable subscriptions) */
  password?: string;
  /** true accepts Sandbox purchases (and only then); must be false/absent in production */
  sandbox?: boolean;
  /** HTTP timeout in ms for verifyReceipt */
  timeout?: number;
  /** seconds a purchase may be old when its receipt is verified (default 86400) */
  receiptExpiresIn?: number;
  /** server-side price list: productId → price in fen for quantity 1 */
  products?: Record<string, { total_fee: number }>;
  /** legacy verifyReceipt endpoints: full URL overrides ... */
  verifyReceiptUrl?: string;
  sandboxVerifyReceiptUrl?: string;
  /** ... or a base (sandbox peer): `${gateway}/verifyReceipt` and `${gateway}/sandbox/verifyReceipt` */
  gateway?: string;
  /** JWS trust anchors: DER Buffers, base64 DER or PEM strings (production: Apple Root CA - G3) */
  appleRootCertificates?: Array<Buffer | string>;
  /** the app's Apple ID (number); required by Apple's verifier in Production */
  appAppleId?: number;
}

export type AppleEnvironment = 'Production' | 'Sandbox';

/** A verified purchase (legacy receipt or signed transaction), normalised. */
export interface ApplePurchase {
  transactionId: string;
  originalTransactionId: string;
  productId: string;
  quantity: number;
  /** epoch ms */
  purchaseDate: number;
  environment: AppleEnvironment;
  bundleId: string;
  /** price from config.products × quantity (fen), when the product is in the price list */
  total_fee?: number;
  /** StoreKit 2 only: the UUID the client set on the purchase (may carry the order binding) */
  appAccountToken?: string;
  /** where the purchase was verified */
  source: 'verifyReceipt' | 'jws';
}

export const DEFAULT_RECEIPT_EXPIRES_IN_S = 86_400;

/** A purchase older than `receiptExpiresIn` (default 24 h) is refused, whichever proof carries it. */
export function checkPurchaseAge(purchaseDate: number, config: AppleIapConfig, now: number): void {
  const maxAgeS = config.receiptExpiresIn ?? DEFAULT_RECEIPT_EXPIRES_IN_S;
  if (now - purchaseDate > maxAgeS * 1000)
    throw new PayError('APPLE_RECEIPT_INVALID', { reason: 'purchase is older than receiptExpiresIn' });
}

export function requireBundleId(config: AppleIapConfig): string {
  if (!config.bundleId) throw new PayError('CONFIG_FIELD_MISSING', { node: APPLE_NODE, field: 'bundleId' });
  return config.bundleId;
}

export function configEnvironment(config: AppleIapConfig): AppleEnvironment {
  return config.sandbox === true ? 'Sandbox' : 'Production';
}

/**
 * The product must be in the caller's list (when given) and in config.products (when configured);
 * at least one of the two lists must exist, otherwise any product of the app would pass.
 * Returns the server-side price × quantity when known.
 */
export function checkProduct(
  productId: string,
  quantity: number,
  config: AppleIapConfig,
  expectedProductIds?: string[],
): number | undefined {
  if (!config.products && !expectedProductIds) throw new PayError('CONFIG_FIELD_MISSING', { node: APPLE_NODE, field: 'products' });
  if (expectedProductIds && !expectedProductIds.includes(productId)) {
    throw new PayError('APPLE_PRODUCT_MISMATCH', { reason: `product ${productId} is not the ordered product` });
  }
  if (config.products) {
    const entry = Object.prototype.hasOwnProperty.call(config.products, productId) ? config.products[productId] : undefined;
    if (!entry) throw new PayError('APPLE_PRODUCT_MISMATCH', { reason: `product ${productId} is not in the configured product list` });
    if (!Number.isSafeInteger(entry.total_fee) || entry.total_fee <= 0)
      throw new PayError('CONFIG_FIELD_MISSING', { node: APPLE_NODE, field: `products.${productId}.total_fee` });
    return entry.total_fee * quantity;
  }
  return undefined;
}
