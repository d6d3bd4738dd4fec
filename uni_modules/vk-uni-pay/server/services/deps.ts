/** Everything a use case needs, built once per warm instance; tests and benchmarks swap pieces. */
import * as path from 'node:path';
import type { Clock, HttpTransport, KeyValueCache, Logger } from '../ports';
import { systemClock } from '../core/time';
import { uniCloudTransport } from '../transport/http';
import { databaseCache } from '../store/cache';
import type { DatabaseSource } from '../store/db';
import { uniCloudDatabase } from '../store/db';
import { OrdersRepo } from '../store/orders';
import { RefundsRepo } from '../store/refunds';
import { SessionsRepo } from '../store/sessions';
import { PurchasesRepo } from '../store/purchases';
import type { ConfigSource } from '../store/config';
import { configCenterSource, configNode, withMerchants } from '../store/config';
import type { ProviderContext } from '../providers/types';
import type { PayOrder } from '../core/order';
import { PayError } from '../core/errors';
import { configNodePath, splitPayType } from '../core/catalog';
import { createLogger } from './log';

/** A `pay-notify/<type>` module: `(obj, originalParam) => true | false` (vk-uni-pay contract). */
export type NotifyHandler = (obj: { data: Record<string, unknown> }, originalParam: { db: unknown; _: unknown }) => unknown;
export type HandlerResolver = (type: string) => NotifyHandler | undefined;

export interface PayDeps {
  db: DatabaseSource;
  orders: OrdersRepo;
  /** the refund ledger (vk-pay-refunds) */
  refunds: RefundsRepo;
  /** WeChat session keys (vk-pay-sessions) */
  sessions: SessionsRepo;
  /** in-app purchase transactions bound to orders (vk-pay-apple-transactions) */
  purchases: PurchasesRepo;
  configs: ConfigSource;
  http: HttpTransport;
  clock: Clock;
  cache: KeyValueCache;
  handlers: HandlerResolver;
  /**
   * Whether this instance carries the `pay-notify` handlers. The vk-pay cloud object does; the
   * common module used from another cloud function does not (on uniCloud those files are deployed
   * with vk-pay only), so there a payment is settled but its handler is left to vk-pay.
   */
  handlersConfigured: boolean;
  log: Logger;
  /** the service space, for notifyUrl[spaceId] when the context does not carry it */
  spaceId: () => string | undefined;
  /**
   * How long a handler run holds its lease before another attempt may take over. Longer than the
   * vk-pay cloud object's timeout (60 s), so a run is over (finished or killed) before its lease
   * ends; raise it with that timeout.
   */
  handlerLeaseMs: number;
  /** pause after a failed handler before the next attempt may run */
  handlerRetryDelayMs: number;
}

const TYPE = /^[A-Za-z0-9_-]{1,64}$/;

/** the handler lease: twice the vk-pay cloud object's 60 s timeout */
export const HANDLER_LEASE_MS = 120_000;

/**
 * Handlers from folders: `<dir>/<type>.js`, the first folder that has the file wins (vk-pay passes
 * `pay-notify/` before vk-uni-pay's `service/pay-notify/`). The type is whitelisted (no path tricks)
 * and the module is required at call time, so a user's handler is found without any registry.
 */
export function handlersFromDir(dirs: string | string[]): HandlerResolver {
  const list = Array.isArray(dirs) ? dirs : [dirs];
  return (type) => {
    if (!TYPE.test(type)) return undefined;
    for (const dir of list) {
      const fn = handlerFile(path.join(dir, `${type}.js`));
      if (fn) return fn;
    }
    return undefined;
  };
}

function handlerFile(file: string): NotifyHandler | undefined {
  let mod: unknown;
  try {
    mod = require(file);
  } catch (e) {
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(file)) return undefined;
    throw e;
  }
  const fn =
    typeof mod === 'function' ? mod : ((mod as { default?: unknown; main?: unknown })?.default ?? (mod as { main?: unknown })?.main);
  return typeof fn === 'function' ? (fn as NotifyHandler) : undefined;
}

/** The running space id, from the request being served (uniCloud.getCloudInfos). */
function runtimeSpaceId(): string | undefined {
  try {
    const infos = typeof uniCloud !== 'undefined' && uniCloud.getCloudInfos ? uniCloud.getCloudInfos() : [];
    return infos[infos.length - 1]?.spaceId;
  } catch {
    return undefined;
  }
}

export function createDeps(overrides: Partial<PayDeps> = {}): PayDeps {
  const db = overrides.db ?? uniCloudDatabase;
  const clock = overrides.clock ?? systemClock;
  return {
    db,
    orders: overrides.orders ?? new OrdersRepo(db),
    refunds: overrides.refunds ?? new RefundsRepo(db),
    sessions: overrides.sessions ?? new SessionsRepo(db),
    purchases: overrides.purchases ?? new PurchasesRepo(db),
    configs: overrides.configs ?? withMerchants(configCenterSource(), db, 60_000, () => clock.now()),
    http: overrides.http ?? uniCloudTransport(),
    clock,
    cache: overrides.cache ?? databaseCache(db, () => clock.now()),
    handlers: overrides.handlers ?? (() => undefined),
    handlersConfigured: overrides.handlersConfigured ?? overrides.handlers !== undefined,
    log: overrides.log ?? createLogger(),
    spaceId: overrides.spaceId ?? runtimeSpaceId,
    handlerLeaseMs: overrides.handlerLeaseMs ?? HANDLER_LEASE_MS,
    handlerRetryDelayMs: overrides.handlerRetryDelayMs ?? 3_000,
  };
}

export function providerContext<C>(deps: PayDeps, config: C, pid?: string): ProviderContext<C> {
  return { config, http: deps.http, clock: deps.clock, cache: deps.cache, pid };
}

/** The order an operation names, or a clear error: out_trade_no missing (1021) or unknown (2001). */
export async function requireOrder(deps: PayDeps, out_trade_no: unknown): Promise<PayOrder> {
  if (typeof out_trade_no !== 'string' || !out_trade_no) throw new PayError('FIELD_INVALID', { field: 'out_trade_no', reason: 'required' });
  const order = await deps.orders.findByOutTradeNo(out_trade_no);
  if (!order) throw new PayError('ORDER_NOT_FOUND', { out_trade_no });
  return order;
}

/** The provider context of an existing order: its merchant (`pid`) and the config node of its pay type. */
export async function orderProviderContext(deps: PayDeps, order: PayOrder): Promise<ProviderContext<Record<string, any>>> {
  const { platformKey } = splitPayType(order.pay_type);
  const config = await deps.configs.load(order.pid);
  return providerContext(deps, configNode<Record<string, any>>(config, configNodePath(order.provider, platformKey)), order.pid);
}
