/**
 * Legacy `verifyReceipt` (protocols.md §4.1). Unlike uni-pay (uni-pay-source.md §6 H3) this:
 * - calls production first and retries on sandbox ONLY for status 21007, and only when the config
 *   says sandbox; a sandbox receipt against a production config is refused;
 * - checks bundle_id, the product against the server-side list, quantity, cancellation and age;
 * - returns the normalised purchase; the spent-once `transaction_id` gate is the service's.
 */
import { PayError } from '../../core/errors';
import type { HttpResponse } from '../../ports';
import type { ProviderContext } from '../types';
import {
  AppleIapConfig,
  ApplePurchase,
  AppleEnvironment,
  checkProduct,
  checkPurchaseAge,
  configEnvironment,
  requireBundleId,
} from './config';

export const APPLE_PRODUCTION_VERIFY_URL = 'https://buy.itunes.apple.com/verifyReceipt';
export const APPLE_SANDBOX_VERIFY_URL = 'https://sandbox.itunes.apple.com/verifyReceipt';

export interface VerifyReceiptParams {
  /** base64 app receipt (`transactionReceipt` from the client) */
  receipt: string;
  /** the transaction the client claims to have paid (`transactionIdentifier`) */
  transactionId: string;
  /** products acceptable for this order (usually the one product of the order) */
  expectedProductIds?: string[];
}

interface InAppEntry {
  quantity?: string | number;
  product_id?: string;
  transaction_id?: string;
  original_transaction_id?: string;
  purchase_date_ms?: string | number;
  cancellation_date_ms?: string | number;
  cancellation_date?: string;
}

interface VerifyReceiptResponse {
  status?: number;
  environment?: string;
  'is-retryable'?: boolean;
  receipt?: { bundle_id?: string; in_app?: InAppEntry[] };
}

export function verifyReceiptUrls(config: AppleIapConfig): { production: string; sandbox: string } {
  const base = config.gateway?.replace(/\/+$/, '');
  return {
    production: config.verifyReceiptUrl ?? (base ? `${base}/verifyReceipt` : APPLE_PRODUCTION_VERIFY_URL),
    sandbox: config.sandboxVerifyReceiptUrl ?? (base ? `${base}/sandbox/verifyReceipt` : APPLE_SANDBOX_VERIFY_URL),
  };
}

const invalid = (reason: string) => new PayError('APPLE_RECEIPT_INVALID', { reason });

async function postReceipt(url: string, body: string, ctx: ProviderContext<AppleIapConfig>): Promise<VerifyReceiptResponse> {
  let res: HttpResponse;
  try {
    res = await ctx.http.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
      timeoutMs: ctx.config.timeout,
    });
  } catch {
    throw new PayError('GATEWAY_UNREACHABLE');
  }
  if (res.status !== 200) throw new PayError('GATEWAY_ERROR', { providerCode: `HTTP ${res.status}`, providerMsg: '' });
  try {
    const parsed = JSON.parse(res.body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.status !== 'number') throw new Error('shape');
    return parsed as VerifyReceiptResponse;
  } catch {
    throw new PayError('GATEWAY_RESPONSE_INVALID');
  }
}

/** Apple says: 21005, 21009 and 21100-21199 are temporary (or the response says is-retryable). */
function isRetryable(r: VerifyReceiptResponse): boolean {
  const s = r.status ?? -1;
  return r['is-retryable'] === true || s === 21005 || s === 21009 || (s >= 21100 && s <= 21199);
}

function toMs(v: string | number | undefined): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export async function verifyReceipt(params: VerifyReceiptParams, ctx: ProviderContext<AppleIapConfig>): Promise<ApplePurchase> {
  const config = ctx.config;
  const bundleId = requireBundleId(config);
  if (typeof params?.receipt !== 'string' || !/^[A-Za-z0-9+/=\r\n]+$/.test(params.receipt)) throw invalid('receipt must be base64 text');
  if (typeof params.transactionId !== 'string' || !/^[0-9A-Za-z._-]{1,64}$/.test(params.transactionId))
    throw invalid('transactionId is invalid');

  const urls = verifyReceiptUrls(config);
  const payload: Record<string, unknown> = { 'receipt-data': params.receipt, 'exclude-old-transactions': true };
  if (config.password) payload.password = config.password;
  const body = JSON.stringify(payload);

  let res = await postReceipt(urls.production, body, ctx);
  let environment: AppleEnvironment = 'Production';
  if (res.status === 21007) {
    // A sandbox receipt. Never credit test purchases against a production config.
    if (configEnvironment(config) !== 'Sandbox') throw invalid('sandbox receipt in production');
    res = await postReceipt(urls.sandbox, body, ctx);
    environment = 'Sandbox';
  }
  if (res.status !== 0) {
    if (isRetryable(res))
      throw new PayError('GATEWAY_ERROR', { providerCode: res.status, providerMsg: 'App Store temporarily unavailable' });
    const reasons: Record<number, string> = {
      21000: 'request not understood',
      21002: 'malformed receipt data',
      21003: 'receipt not authenticated',
      21004: 'shared secret (password) mismatch',
      21008: 'production receipt sent to sandbox',
      21010: 'account not found',
    };
    throw invalid(`status ${res.status}${reasons[res.status!] ? ` (${reasons[res.status!]})` : ''}`);
  }
  // The endpoint that answered decides, but the body must agree with it.
  if (res.environment !== undefined && res.environment !== environment)
    throw invalid(`environment ${res.environment} does not match the endpoint`);

  const receipt = res.receipt;
  if (!receipt || typeof receipt !== 'object') throw invalid('response has no receipt');
  if (receipt.bundle_id !== bundleId) throw invalid('bundle_id does not match this app');
  const entry = (Array.isArray(receipt.in_app) ? receipt.in_app : []).find((e) => e && e.transaction_id === params.transactionId);
  if (!entry) throw invalid('transaction not found in the receipt');
  if (entry.cancellation_date_ms !== undefined || entry.cancellation_date !== undefined) throw invalid('transaction was refunded');

  const productId = entry.product_id;
  if (typeof productId !== 'string' || !productId) throw invalid('transaction has no product_id');
  const quantity = Number(entry.quantity ?? 1);
  if (!Number.isSafeInteger(quantity) || quantity < 1) throw invalid('quantity is invalid');
  const purchaseDate = toMs(entry.purchase_date_ms);
  if (purchaseDate === undefined) throw invalid('purchase date missing');

  checkPurchaseAge(purchaseDate, config, ctx.clock.now());

  const total_fee = checkProduct(productId, quantity, config, params.expectedProductIds);
  return {
    transactionId: params.transactionId,
    originalTransactionId: String(entry.original_transaction_id ?? params.transactionId),
    productId,
    quantity,
    purchaseDate,
    environment,
    bundleId,
    ...(total_fee !== undefined ? { total_fee } : {}),
    source: 'verifyReceipt',
  };
}
