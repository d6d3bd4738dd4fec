/**
 * The fault matrix harness: the real services on the local database, every provider's gateway
 * behind its own fault proxy (tools/sandbox/fault-proxy.ts). A provider contributes ROWS: for each
 * money operation, how to prepare an order, run the operation, retry until it converges, and what
 * the provider says afterwards. `runCell` then checks, for every fault: a coded outcome within a
 * bounded time, nothing corrupted, and a retry that converges (ledger = order = provider).
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT, WX_APPIDS } from '../../tools/stack';
import { startFaultProxy, type Fault, type FaultProxy } from '../../tools/sandbox/fault-proxy';
import type { PeerRequest } from '../../tools/sandbox/loopback';
import { nodeTransport } from '../../tools/sandbox/loopback';
import { createDeps, type PayDeps } from '../../uni_modules/vk-uni-pay/server/services/deps';
import { createLogger } from '../../uni_modules/vk-uni-pay/server/services/log';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { RefundsRepo } from '../../uni_modules/vk-uni-pay/server/store/refunds';
import { isPayError } from '../../uni_modules/vk-uni-pay/server/core/errors';
import type { PayOrder } from '../../uni_modules/vk-uni-pay/server/core/order';
import type { WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { REFUND_SETTLE_GRACE_MS } from '../../uni_modules/vk-uni-pay/server/services/refund';

export type Operation = 'create' | 'query' | 'refund' | 'close';

/**
 * Gateway timeout of the nodes while a fault is armed (the hang fault costs this much per call);
 * preparing and retrying use a generous one, so a loaded CI machine does not fail them.
 */
export const MATRIX_TIMEOUT_MS = 1_000;
export const timing = { gatewayTimeoutMs: 5_000 };
/** Every outcome must be coded within this. */
export const OUTCOME_BOUND_MS = 5_000;

export interface Env {
  deps: PayDeps;
  /** moves the services' clock forward (refund grace periods); reset after each cell */
  advance(ms: number): void;
  resetClock(): void;
  order(no: string): Promise<PayOrder | undefined>;
  refunds: RefundsRepo;
}

export interface Cell {
  /** the request(s) the fault hits */
  match(req: PeerRequest): boolean;
  /** an order ready for the operation; returns out_trade_no */
  prepare(env: Env): Promise<string>;
  run(env: Env, no: string): Promise<unknown>;
  /** the retry a caller makes once the gateway is healthy again */
  retry(env: Env, no: string): Promise<unknown>;
  /** throws unless ledger, order and provider agree after the retry */
  converged(env: Env, no: string): Promise<void>;
  /** throws if the state is corrupt right after the faulty call (before any retry) */
  sound?(env: Env, no: string): Promise<void>;
}

export interface ProviderRows {
  /** row label in the matrix (e.g. `wxpay v3`) */
  label: string;
  /** the provider's gateway that the proxy stands in front of */
  target: string;
  cells: Partial<Record<Operation, Cell>>;
  /** faults that do not apply (e.g. signature faults on a TLS-only protocol are pass-through) */
  passThrough?: readonly Fault[];
}

export interface CellResult {
  provider: string;
  operation: Operation;
  fault: Fault;
  /** `ok` or the error code of the faulty call */
  outcome: string;
  ms: number;
  /** the state the refund ledger reports for refunds */
  state?: string;
  converged: boolean;
}

export async function startEnv(): Promise<
  Env & { close(): Promise<void>; setConfig(c: Record<string, any> | (() => Record<string, any>)): void }
> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vkpay-faults-'));
  const db = createDatabase({
    file: path.join(dir, 'db.sqlite'),
    indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')],
  });
  let offset = 0;
  let config: () => Record<string, any> = () => ({});
  const deps = createDeps({
    db: () => db,
    configs: { load: async () => config() } as unknown as PayDeps['configs'],
    http: nodeTransport(),
    clock: { now: () => Date.now() + offset },
    cache: memoryCache(),
    log: createLogger(() => {}),
    // every order's pay-notify handler succeeds
    handlers: () => () => true,
    spaceId: () => 'local-space',
  });
  return {
    deps,
    advance: (ms) => (offset += ms),
    resetClock: () => (offset = 0),
    order: (no) => deps.orders.findByOutTradeNo(no),
    refunds: new RefundsRepo(deps.db),
    setConfig: (c) => (config = typeof c === 'function' ? (c as () => Record<string, any>) : () => c),
    async close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function proxyFor(target: string): Promise<FaultProxy> {
  return startFaultProxy(target);
}

/** Runs one cell of the matrix and returns what happened; throws on a broken invariant. */
export async function runCell(env: Env, proxy: FaultProxy, rows: ProviderRows, operation: Operation, fault: Fault): Promise<CellResult> {
  const cell = rows.cells[operation]!;
  const no = await cell.prepare(env);
  proxy.inject(fault, cell.match);
  timing.gatewayTimeoutMs = MATRIX_TIMEOUT_MS;
  const t0 = Date.now();
  let outcome = 'ok';
  let state: string | undefined;
  try {
    const r = (await cell.run(env, no)) as { state?: string } | undefined;
    state = r?.state;
  } catch (e) {
    if (!isPayError(e) || typeof e.code !== 'number')
      throw new Error(`uncoded outcome for ${rows.label} ${operation} ${fault}: ${String(e)}`);
    outcome = String(e.code);
    state = (e.detail?.state as string | undefined) ?? undefined;
  }
  const ms = Date.now() - t0;
  proxy.clear();
  timing.gatewayTimeoutMs = 5_000;
  if (ms > OUTCOME_BOUND_MS) throw new Error(`${rows.label} ${operation} ${fault}: outcome after ${ms} ms`);
  try {
    await cell.sound?.(env, no);
    await cell.retry(env, no);
    await cell.converged(env, no);
  } finally {
    env.resetClock();
  }
  return { provider: rows.label, operation, fault, outcome, ms, ...(state ? { state } : {}), converged: true };
}

/**
 * Σ of the refunds the ledger holds as reserved or done, and what the order says: `order` = its
 * confirmed refund_fee + refund_reserved (in flight), `confirmed` = refund_fee alone.
 */
export async function refundBook(
  env: Env,
  no: string,
): Promise<{ ledger: number; succeeded: number; order: number; confirmed: number; total: number }> {
  const order = (await env.order(no))!;
  const docs = await env.deps.db().collection('vk-pay-refunds').where({ out_trade_no: no }).get();
  const list = docs.data as Array<{ state: string; refund_fee: number }>;
  const ledger = list.filter((d) => d.state !== 'FAIL').reduce((a, d) => a + d.refund_fee, 0);
  const succeeded = list.filter((d) => d.state === 'SUCCESS').reduce((a, d) => a + d.refund_fee, 0);
  return { ledger, succeeded, order: order.refund_fee + (order.refund_reserved ?? 0), confirmed: order.refund_fee, total: order.total_fee };
}

/** The refund invariants right after a faulty call: nothing over-refunded, reservations match the ledger. */
export async function refundSound(env: Env, no: string, providerRefunded: number): Promise<void> {
  const b = await refundBook(env, no);
  if (b.order > b.total || b.ledger > b.total) throw new Error(`over-reserved: ${JSON.stringify(b)}`);
  if (b.order !== b.ledger) throw new Error(`order ${b.order} ≠ ledger ${b.ledger}`);
  if (b.confirmed !== b.succeeded) throw new Error(`order refund_fee ${b.confirmed} ≠ ledger SUCCESS ${b.succeeded}`);
  if (providerRefunded > b.order) throw new Error(`provider refunded ${providerRefunded} but only ${b.order} reserved`);
}

/** Settles the refund by retrying with its number (and past the grace period when the provider never saw it). */
export async function settleRefund(env: Env, no: string, refundNo: string, refund: (n: string) => Promise<unknown>): Promise<void> {
  await refund(refundNo).catch(() => undefined);
  const doc = await env.refunds.find(refundNo);
  if (doc && (doc.state === 'UNKNOWN' || doc.state === 'PENDING')) {
    env.advance(REFUND_SETTLE_GRACE_MS + 1_000);
    await refund(refundNo).catch(() => undefined);
  }
}

/** A WeChat Pay node (public-key mode) of a sandbox merchant. */
export function wxpayNode(m: WxpaySandboxMerchant, version: 2 | 3, gateway: string) {
  return {
    appId: WX_APPIDS.oa,
    mchId: m.mchid,
    version,
    v3Key: m.apiV3Key,
    key: m.apiV2Key,
    appCertContent: m.merchant.certPem,
    appPrivateKeyContent: m.merchant.keyPem,
    wxpayPublicKeyContent: m.publicKey.publicKeyPem,
    wxpayPublicKeyId: m.publicKeyId,
    gateway,
  };
}
