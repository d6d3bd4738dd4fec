/**
 * Apple sandbox peer: plays `buy.itunes.apple.com/verifyReceipt` (at `/verifyReceipt`) and
 * `sandbox.itunes.apple.com/verifyReceipt` (at `/sandbox/verifyReceipt`) with Apple's JSON shapes
 * and status codes, and signs StoreKit 2 transactions / Notifications V2 as ES256 JWS with an
 * x5c chain under a test root (leaf and intermediate carry Apple's marker OIDs).
 */
import { randomUUID, sign as cryptoSign } from 'node:crypto';
import { issueCertificate, Issued } from '../pki';
import { startLoopbackServer, PeerRequest, PeerResponse } from '../loopback';

export type AppleEnv = 'Production' | 'Sandbox';

export interface IssueReceiptOptions {
  transactionId: string;
  productId: string;
  quantity?: number;
  /** epoch ms, default now */
  purchaseDate?: number;
  originalTransactionId?: string;
  environment: AppleEnv;
  /** default: the sandbox's bundleId */
  bundleId?: string;
}

export interface AppleSandboxOptions {
  port?: number;
  bundleId: string;
  /** when set, a request carrying another `password` is answered with 21004 */
  sharedSecret?: string;
}

export interface ApplePki {
  root: Issued;
  intermediate: Issued;
  leaf: Issued;
}

export interface AppleSandbox {
  url: string;
  verifyReceiptUrl: string;
  sandboxVerifyReceiptUrl: string;
  close(): Promise<void>;
  issueReceipt(opts: IssueReceiptOptions): string;
  /** marks a transaction refunded (cancellation_date in later verifyReceipt answers) */
  cancelTransaction(transactionId: string): void;
  pki: ApplePki;
  signTransaction(payload: Record<string, unknown>): string;
  signNotification(payload: Record<string, unknown>): string;
  /** signs any payload with the chain (or another one: wrong-root tests) */
  signJws(payload: Record<string, unknown>, chain?: ApplePki): string;
  /** verifyReceipt requests seen: endpoint and body */
  requests: Array<{ endpoint: 'production' | 'sandbox'; body: Record<string, unknown> }>;
}

export const APPLE_LEAF_OID = '1.2.840.113635.100.6.11.1';
export const APPLE_INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';

/** A root → intermediate → leaf EC P-256 chain shaped like Apple's (marker OIDs included). */
export async function createApplePki(name = 'Apple Sandbox'): Promise<ApplePki> {
  const root = await issueCertificate({ subject: `CN=${name} Root CA, O=Sandbox, C=US`, keyType: 'ec', isCa: true });
  const intermediate = await issueCertificate({
    subject: `CN=${name} WWDR CA, O=Sandbox, C=US`,
    issuer: root,
    keyType: 'ec',
    isCa: true,
    markerOids: [APPLE_INTERMEDIATE_OID],
  });
  const leaf = await issueCertificate({
    subject: `CN=${name} Signing, O=Sandbox, C=US`,
    issuer: intermediate,
    keyType: 'ec',
    markerOids: [APPLE_LEAF_OID],
  });
  return { root, intermediate, leaf };
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

export function signAppleJws(payload: Record<string, unknown>, chain: ApplePki): string {
  const header = { alg: 'ES256', x5c: [chain.leaf, chain.intermediate, chain.root].map((c) => c.cert.raw.toString('base64')) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = cryptoSign('sha256', Buffer.from(input), { key: chain.leaf.keyPem, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

interface StoredReceipt extends Required<Omit<IssueReceiptOptions, 'originalTransactionId'>> {
  originalTransactionId: string;
}

/** `2018-03-16 16:19:19 Etc/GMT` */
function gmt(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' Etc/GMT');
}

/** Same instant in America/Los_Angeles, roughly as Apple prints it (fixed -08:00, no DST: sandbox only). */
function pst(ms: number): string {
  return new Date(ms - 8 * 3600_000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' America/Los_Angeles');
}

export async function startAppleSandbox(opts: AppleSandboxOptions): Promise<AppleSandbox> {
  const pki = await createApplePki();
  const receipts = new Map<string, StoredReceipt>();
  const cancelled = new Map<string, number>();
  const requests: AppleSandbox['requests'] = [];

  const answer = (o: Record<string, unknown>): PeerResponse => ({ status: 200, body: JSON.stringify(o) });

  function handle(req: PeerRequest): PeerResponse {
    const endpoint = req.path === '/verifyReceipt' ? 'production' : req.path === '/sandbox/verifyReceipt' ? 'sandbox' : undefined;
    if (!endpoint) return { status: 404, body: '{}' };
    const env: AppleEnv = endpoint === 'production' ? 'Production' : 'Sandbox';
    if (req.method !== 'POST') return answer({ status: 21000 });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      return answer({ status: 21000 });
    }
    requests.push({ endpoint, body });
    const data = body['receipt-data'];
    if (typeof data !== 'string' || !data) return answer({ status: 21002, environment: env });
    let rid: unknown;
    try {
      rid = JSON.parse(Buffer.from(data, 'base64').toString('utf8')).rid;
    } catch {
      return answer({ status: 21002, environment: env });
    }
    const r = typeof rid === 'string' ? receipts.get(rid) : undefined;
    if (!r) return answer({ status: 21002, environment: env });
    if (r.environment === 'Sandbox' && env === 'Production') return answer({ status: 21007, environment: 'Production' });
    if (r.environment === 'Production' && env === 'Sandbox') return answer({ status: 21008, environment: 'Sandbox' });
    if (opts.sharedSecret !== undefined && body.password !== undefined && body.password !== opts.sharedSecret) {
      return answer({ status: 21004, environment: env });
    }
    const now = Date.now();
    const cancel = cancelled.get(r.transactionId);
    const inApp = {
      quantity: String(r.quantity),
      product_id: r.productId,
      transaction_id: r.transactionId,
      original_transaction_id: r.originalTransactionId,
      purchase_date: gmt(r.purchaseDate),
      purchase_date_ms: String(r.purchaseDate),
      purchase_date_pst: pst(r.purchaseDate),
      original_purchase_date: gmt(r.purchaseDate),
      original_purchase_date_ms: String(r.purchaseDate),
      original_purchase_date_pst: pst(r.purchaseDate),
      is_trial_period: 'false',
      in_app_ownership_type: 'PURCHASED',
      ...(cancel !== undefined ? { cancellation_date: gmt(cancel), cancellation_date_ms: String(cancel), cancellation_reason: '0' } : {}),
    };
    return answer({
      status: 0,
      environment: env,
      receipt: {
        receipt_type: env === 'Production' ? 'Production' : 'ProductionSandbox',
        adam_id: env === 'Production' ? 1234567890 : 0,
        app_item_id: env === 'Production' ? 1234567890 : 0,
        bundle_id: r.bundleId,
        application_version: '1',
        download_id: 0,
        version_external_identifier: 0,
        receipt_creation_date: gmt(r.purchaseDate),
        receipt_creation_date_ms: String(r.purchaseDate),
        receipt_creation_date_pst: pst(r.purchaseDate),
        request_date: gmt(now),
        request_date_ms: String(now),
        request_date_pst: pst(now),
        original_purchase_date: gmt(r.purchaseDate),
        original_purchase_date_ms: String(r.purchaseDate),
        original_purchase_date_pst: pst(r.purchaseDate),
        original_application_version: '1.0',
        in_app: [inApp],
      },
    });
  }

  const server = await startLoopbackServer(handle, opts.port ?? 0);
  return {
    url: server.url,
    verifyReceiptUrl: `${server.url}/verifyReceipt`,
    sandboxVerifyReceiptUrl: `${server.url}/sandbox/verifyReceipt`,
    close: server.close,
    pki,
    requests,
    issueReceipt(o) {
      const rid = randomUUID();
      receipts.set(rid, {
        transactionId: o.transactionId,
        originalTransactionId: o.originalTransactionId ?? o.transactionId,
        productId: o.productId,
        quantity: o.quantity ?? 1,
        purchaseDate: o.purchaseDate ?? Date.now(),
        environment: o.environment,
        bundleId: o.bundleId ?? opts.bundleId,
      });
      // opaque to the plugin; the peer recognises its own receipts by rid
      return Buffer.from(JSON.stringify({ rid, signature: randomUUID() })).toString('base64');
    },
    cancelTransaction(transactionId) {
      cancelled.set(transactionId, Date.now());
    },
    signJws: (payload, chain = pki) => signAppleJws(payload, chain),
    signTransaction(payload) {
      const now = Date.now();
      return signAppleJws(
        {
          bundleId: opts.bundleId,
          environment: 'Sandbox',
          quantity: 1,
          type: 'Consumable',
          inAppOwnershipType: 'PURCHASED',
          transactionReason: 'PURCHASE',
          purchaseDate: now,
          originalPurchaseDate: now,
          signedDate: now,
          storefront: 'CHN',
          storefrontId: '143465',
          currency: 'CNY',
          ...payload,
        },
        pki,
      );
    },
    signNotification(payload) {
      return signAppleJws({ notificationUUID: randomUUID(), version: '2.0', signedDate: Date.now(), ...payload }, pki);
    },
  };
}
