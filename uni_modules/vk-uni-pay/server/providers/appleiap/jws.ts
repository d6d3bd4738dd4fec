/**
 * StoreKit 2 signed transactions and App Store Server Notifications V2, verified with Apple's
 * `@apple/app-store-server-library` SignedDataVerifier (loaded lazily). Online checks (OCSP) are off:
 * cloud functions should not depend on Apple's OCSP responder; certificate validity is checked at
 * the payload's signedDate. Trust anchors come from the config (Apple Root CA - G3 in production).
 */
import type * as AppleLib from '@apple/app-store-server-library';
import { PayError } from '../../core/errors';
import type { ProviderContext } from '../types';
import {
  APPLE_NODE,
  AppleIapConfig,
  ApplePurchase,
  AppleEnvironment,
  checkProduct,
  checkPurchaseAge,
  configEnvironment,
  requireBundleId,
} from './config';

function loadLib(): typeof AppleLib {
  return require('@apple/app-store-server-library') as typeof AppleLib;
}

/** DER Buffer, base64 DER or PEM → what node's X509Certificate (used by the library) accepts. */
export function rootCertificateBuffers(roots: AppleIapConfig['appleRootCertificates']): Buffer[] {
  if (!Array.isArray(roots) || roots.length === 0)
    throw new PayError('CONFIG_FIELD_MISSING', { node: APPLE_NODE, field: 'appleRootCertificates' });
  return roots.map((r) => {
    if (Buffer.isBuffer(r)) return r;
    if (typeof r === 'string' && r.includes('-----BEGIN CERTIFICATE-----')) return Buffer.from(r, 'utf8');
    if (typeof r === 'string' && /^[A-Za-z0-9+/=\s]+$/.test(r)) return Buffer.from(r.replace(/\s+/g, ''), 'base64');
    throw new PayError('CONFIG_KEY_INVALID', { node: APPLE_NODE, field: 'appleRootCertificates' });
  });
}

function createVerifier(config: AppleIapConfig): AppleLib.SignedDataVerifier {
  const lib = loadLib();
  const bundleId = requireBundleId(config);
  const roots = rootCertificateBuffers(config.appleRootCertificates);
  const env = configEnvironment(config) === 'Sandbox' ? lib.Environment.SANDBOX : lib.Environment.PRODUCTION;
  if (env === lib.Environment.PRODUCTION && !Number.isSafeInteger(config.appAppleId)) {
    throw new PayError('CONFIG_FIELD_MISSING', { node: APPLE_NODE, field: 'appAppleId' });
  }
  try {
    return new lib.SignedDataVerifier(roots, false, env, bundleId, config.appAppleId);
  } catch {
    throw new PayError('CONFIG_KEY_INVALID', { node: APPLE_NODE, field: 'appleRootCertificates' });
  }
}

/** VerificationStatus number → its name, for a useful (non-secret) reason. */
function statusReason(e: unknown): string {
  const lib = loadLib();
  if (e instanceof lib.VerificationException) {
    const name = (lib.VerificationStatus as unknown as Record<number, string>)[e.status];
    return `signature verification failed (${name ?? e.status})`;
  }
  return 'signature verification failed';
}

type DecodedTransaction = AppleLib.JWSTransactionDecodedPayload;

function normaliseTransaction(t: DecodedTransaction, bundleId: string): Omit<ApplePurchase, 'total_fee'> {
  const reason = (r: string) => new PayError('APPLE_RECEIPT_INVALID', { reason: r });
  if (typeof t.transactionId !== 'string' || !t.transactionId) throw reason('transactionId missing');
  if (typeof t.productId !== 'string' || !t.productId) throw reason('productId missing');
  if (typeof t.purchaseDate !== 'number') throw reason('purchaseDate missing');
  const quantity = t.quantity ?? 1;
  if (!Number.isSafeInteger(quantity) || quantity < 1) throw reason('quantity is invalid');
  return {
    transactionId: t.transactionId,
    originalTransactionId: t.originalTransactionId ?? t.transactionId,
    productId: t.productId,
    quantity,
    purchaseDate: t.purchaseDate,
    environment: t.environment as AppleEnvironment,
    bundleId,
    ...(t.appAccountToken ? { appAccountToken: t.appAccountToken } : {}),
    source: 'jws',
  };
}

export interface VerifySignedTransactionOptions {
  /** products acceptable for this order */
  expectedProductIds?: string[];
}

/**
 * Verifies a StoreKit 2 `jwsRepresentation` / App Store Server API `signedTransactionInfo`:
 * chain to the configured root, ES256 signature, bundleId, environment, product, not revoked.
 */
export async function verifySignedTransaction(
  jws: string,
  ctx: ProviderContext<AppleIapConfig>,
  opts: VerifySignedTransactionOptions = {},
): Promise<ApplePurchase> {
  if (typeof jws !== 'string' || jws.split('.').length !== 3) throw new PayError('APPLE_RECEIPT_INVALID', { reason: 'not a compact JWS' });
  const verifier = createVerifier(ctx.config);
  let decoded: DecodedTransaction;
  try {
    decoded = await verifier.verifyAndDecodeTransaction(jws);
  } catch (e) {
    throw new PayError('APPLE_RECEIPT_INVALID', { reason: statusReason(e) });
  }
  const bundleId = requireBundleId(ctx.config);
  // The library already checks these two; kept explicit so a library change cannot open them.
  if (decoded.bundleId !== bundleId) throw new PayError('APPLE_RECEIPT_INVALID', { reason: 'bundleId does not match this app' });
  if (decoded.environment !== configEnvironment(ctx.config))
    throw new PayError('APPLE_RECEIPT_INVALID', { reason: `environment ${decoded.environment} not accepted` });
  if (decoded.revocationDate !== undefined) throw new PayError('APPLE_RECEIPT_INVALID', { reason: 'transaction was refunded or revoked' });
  const purchase = normaliseTransaction(decoded, bundleId);
  // same age limit as the legacy receipt path: an old, never-redeemed purchase cannot pay a new order
  checkPurchaseAge(purchase.purchaseDate, ctx.config, ctx.clock.now());
  const total_fee = checkProduct(purchase.productId, purchase.quantity, ctx.config, opts.expectedProductIds);
  return { ...purchase, ...(total_fee !== undefined ? { total_fee } : {}) };
}

export interface AppleNotification {
  notificationType: string;
  subtype?: string;
  notificationUUID?: string;
  /** epoch ms */
  signedDate?: number;
  environment?: string;
  bundleId?: string;
  /** the verified signedTransactionInfo inside `data`, when present (no product/revocation filter) */
  transaction?: Omit<ApplePurchase, 'total_fee'> & { revocationDate?: number; revocationReason?: number };
}

/**
 * Verifies and decodes a Notifications V2 `signedPayload` (and the signedTransactionInfo inside).
 * Throws NOTIFY_SIGNATURE_INVALID when anything does not verify.
 */
export async function verifyNotificationV2(signedPayload: string, ctx: ProviderContext<AppleIapConfig>): Promise<AppleNotification> {
  if (typeof signedPayload !== 'string' || signedPayload.split('.').length !== 3) throw new PayError('NOTIFY_MALFORMED');
  const verifier = createVerifier(ctx.config);
  const bundleId = requireBundleId(ctx.config);
  let n: AppleLib.ResponseBodyV2DecodedPayload;
  let t: DecodedTransaction | undefined;
  try {
    n = await verifier.verifyAndDecodeNotification(signedPayload);
    if (n.data?.signedTransactionInfo) t = await verifier.verifyAndDecodeTransaction(n.data.signedTransactionInfo);
  } catch {
    throw new PayError('NOTIFY_SIGNATURE_INVALID');
  }
  if (typeof n.notificationType !== 'string') throw new PayError('NOTIFY_MALFORMED');
  return {
    notificationType: n.notificationType,
    ...(n.subtype ? { subtype: String(n.subtype) } : {}),
    ...(n.notificationUUID ? { notificationUUID: n.notificationUUID } : {}),
    ...(n.signedDate !== undefined ? { signedDate: n.signedDate } : {}),
    environment: String(n.data?.environment ?? n.summary?.environment ?? ''),
    bundleId: n.data?.bundleId ?? n.summary?.bundleId,
    ...(t
      ? {
          transaction: {
            ...normaliseTransaction(t, bundleId),
            ...(t.revocationDate !== undefined ? { revocationDate: t.revocationDate } : {}),
            ...(t.revocationReason !== undefined ? { revocationReason: Number(t.revocationReason) } : {}),
          },
        }
      : {}),
  };
}
