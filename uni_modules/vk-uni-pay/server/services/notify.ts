/**
 * paymentNotify: a provider's asynchronous notification, routed as
 * `/paymentNotify/<pay_type>/<out_trade_no>`. Nothing is written before the notification is
 * verified over its raw bytes and matches the stored order (ids, amount). The reply tells the
 * provider to retry whenever the handler has not succeeded yet.
 */
import { PayError, isPayError } from '../core/errors';
import { NOTIFIED_PARTNER_FIELDS, ORDER_STATUS, partnerIds, type PayOrder } from '../core/order';
import { PLATFORM_KEYS, PROVIDERS, PUSH_ROUTES, configNodePath } from '../core/catalog';
import { loadAdapter } from '../providers/registry';
import type { NotifyEvent, PayType, PlatformKey, ProviderAdapter, ProviderContext, ProviderName, RawHttpRequest } from '../providers/types';
import { configNode } from '../store/config';
import type { IntegratedResponse } from '../../../../types/unicloud-server';
import { providerContext, type PayDeps } from './deps';
import { settlePaid } from './settle';
import { orderOfTransaction } from './apple';
import { settleRefundNotice } from './refund';

const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;

export interface NotifyRoute {
  provider: ProviderName;
  platformKey: PlatformKey;
  payType: PayType;
  out_trade_no: string;
}

const NOTIFY_PATH = /^\/?(?:paymentNotify|vk-pay-notify)\/([a-z-]+)_([a-z0-9-]+)\/([^/?#]+)\/?$/;

/** The provider a notify path names, even when the rest of it is malformed (it gets that provider's failure reply). */
function routeProvider(path: string): ProviderName | undefined {
  const provider = NOTIFY_PATH.exec(path)?.[1] as ProviderName | undefined;
  return provider && PROVIDERS.includes(provider) ? provider : undefined;
}

/**
 * Parses `/paymentNotify/<pay_type>/<out_trade_no>` (path relative to the cloud object's root), or
 * vk-uni-pay's `/vk-pay-notify/<pay_type>/<out_trade_no>` (orders created before a migration).
 */
export function parseNotifyRoute(path: string): NotifyRoute | undefined {
  const m = NOTIFY_PATH.exec(path);
  if (!m) return undefined;
  const provider = m[1] as ProviderName;
  const platformKey = m[2] as PlatformKey;
  let out_trade_no: string;
  try {
    out_trade_no = decodeURIComponent(m[3]);
  } catch {
    return undefined; // a malformed % escape
  }
  if (!PROVIDERS.includes(provider) || !PLATFORM_KEYS.includes(platformKey) || !OUT_TRADE_NO.test(out_trade_no)) return undefined;
  return { provider, platformKey, payType: `${provider}_${platformKey}` as PayType, out_trade_no };
}

export async function paymentNotify(deps: PayDeps, req: RawHttpRequest): Promise<IntegratedResponse> {
  const route = parseNotifyRoute(req.path);
  if (!route) {
    deps.log.warn('notify.refused', { reason: 'route', path: req.path.slice(0, 120) });
    const provider = routeProvider(req.path);
    if (provider) return loadAdapter(provider).notifyReply(false, 'FAIL');
    return { mpserverlessComposedResponse: true, statusCode: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' };
  }
  const adapter = answeringTo(loadAdapter(route.provider), req);
  return answering(deps, adapter, { out_trade_no: route.out_trade_no, pay_type: route.payType }, async (refuse) => {
    const order = await deps.orders.findByOutTradeNo(route.out_trade_no);
    if (!order) return refuse('unknown out_trade_no');
    if (order.provider !== route.provider) return refuse('provider differs from the order');
    const config = await deps.configs.load(order.pid);
    const node = configNode<Record<string, any>>(config, configNodePath(route.provider, route.platformKey));
    const ctx = providerContext(deps, node, order.pid, partnerIds(order));
    const event = await adapter.verifyNotify(req, ctx);
    return handleEvent(deps, adapter, ctx, route.payType, order, event, req.body.toString('utf8'));
  });
}

/** The adapter with its replies bound to the request being answered (the reply format may depend on its protocol). */
function answeringTo(adapter: ProviderAdapter, req: RawHttpRequest): ProviderAdapter {
  return { ...adapter, notifyReply: (ok, message) => adapter.notifyReply(ok, message, req) };
}

/**
 * Runs one notification: a refusal (any PayError: forged, stale, mismatched) or a crash answers
 * "retry" to the provider and is logged without secrets; nothing was written before the refusal.
 */
async function answering(
  deps: PayDeps,
  adapter: ProviderAdapter,
  fields: Record<string, unknown>,
  run: (refuse: (reason: string) => IntegratedResponse) => Promise<IntegratedResponse>,
): Promise<IntegratedResponse> {
  const refuse = (reason: string, code?: number) => {
    deps.log.warn('notify.refused', { ...fields, reason, code });
    return adapter.notifyReply(false, 'FAIL');
  };
  try {
    return await run(refuse);
  } catch (e) {
    if (isPayError(e)) return refuse(e.key, e.code);
    deps.log.error('notify.error', { ...fields, error: e instanceof Error ? e.message : String(e) });
    return adapter.notifyReply(false, 'FAIL');
  }
}

async function handleEvent(
  deps: PayDeps,
  adapter: ProviderAdapter,
  ctx: ProviderContext<Record<string, any>>,
  payType: PayType,
  order: PayOrder,
  event: NotifyEvent,
  /** the raw notification, kept on the settled order as vk-uni-pay does (manual recovery) */
  original_data?: string,
): Promise<IntegratedResponse> {
  switch (event.kind) {
    case 'challenge':
      return event.reply;
    case 'ignore':
      deps.log.info('notify.ignored', { out_trade_no: order.out_trade_no, reason: event.reason });
      return adapter.notifyReply(true);
    case 'refund': {
      // the ledger and the refund-notify hook (a notification without a final state prompts a query);
      // a notice that names only the refund (Huawei) is matched to the order by the ledger entry
      if (event.out_trade_no && event.out_trade_no !== order.out_trade_no) throw new PayError('NOTIFY_MISMATCH', { field: 'out_trade_no' });
      const mismatch = idMismatch(event.info, ctx.config);
      if (mismatch) throw new PayError('NOTIFY_MISMATCH', { field: mismatch });
      return adapter.notifyReply((await settleRefundNotice(deps, order, event)) === 'done');
    }
    case 'hint': {
      // unsigned notification (VksPay): only the provider's answer to our own query is trusted
      if (event.out_trade_no !== order.out_trade_no) throw new PayError('NOTIFY_MISMATCH', { field: 'out_trade_no' });
      const q = await adapter.queryOrder({ out_trade_no: order.out_trade_no, openid: order.openid }, ctx);
      if (q.state !== 'PAID') {
        deps.log.warn('notify.hint_unconfirmed', { out_trade_no: order.out_trade_no, state: q.state });
        return adapter.notifyReply(true);
      }
      if (q.total_fee !== order.total_fee) throw new PayError('NOTIFY_MISMATCH', { field: 'total_fee' });
      const outcome = await settlePaid(deps, order, {
        transaction_id: q.transaction_id ?? '',
        pay_date: q.pay_date,
        openid: q.openid,
        notify_mode: 1,
        pay_type: payType,
        provider_pay_method: q.provider_pay_method,
      });
      return adapter.notifyReply(outcome === 'done');
    }
    case 'payment': {
      const mismatch = paymentMismatch(event, order, ctx.config);
      if (mismatch) throw new PayError('NOTIFY_MISMATCH', { field: mismatch });
      if (!event.paid) return adapter.notifyReply(true);
      if (order.status === ORDER_STATUS.CLOSED) deps.log.error('order.paid_after_close', { out_trade_no: order.out_trade_no });
      const outcome = await settlePaid(deps, order, {
        transaction_id: event.transaction_id,
        pay_date: event.pay_date,
        openid: event.openid,
        notify_info: event.info,
        notify_mode: 1,
        pay_type: payType,
        original_data,
        provider_pay_method: event.provider_pay_method,
      });
      return adapter.notifyReply(outcome === 'done');
    }
  }
}

/** The id a verified refund notification carries that differs from the merchant config (`info.appid` / `info.mchid`). */
function idMismatch(info: Record<string, unknown>, node: Record<string, any>): string | undefined {
  if (info.mchid !== undefined && node.mchId && info.mchid !== node.mchId) return 'mchid';
  if (info.appid !== undefined && node.appId && info.appid !== node.appId) return 'appid';
  return undefined;
}

/** The first field in which a verified payment disagrees with the order or the merchant config. */
export function paymentMismatch(
  event: Extract<NotifyEvent, { kind: 'payment' }>,
  order: PayOrder,
  node: Record<string, any>,
): string | undefined {
  if (event.out_trade_no !== order.out_trade_no) return 'out_trade_no';
  if (event.total_fee !== order.total_fee) return 'total_fee';
  if (event.appid !== undefined && node.appId && event.appid !== node.appId) return 'appid';
  if (event.mchid !== undefined && node.mchId && event.mchid !== node.mchId) return 'mchid';
  // service-provider mode: the notification must be for the sub-merchant of the order (and a direct one for a direct order)
  const sub = NOTIFIED_PARTNER_FIELDS.find((k) => (event.partner?.[k] ?? '') !== (order[k] ?? ''));
  if (sub) return sub;
  if (!event.transaction_id) return 'transaction_id';
  return undefined;
}

/**
 * Notifications sent to one fixed URL per app, with no order in the path: the WeChat mini-program
 * message push (virtual payment; also its echostr handshake) and App Store Server Notifications V2.
 * The order is found from the verified content.
 */
export async function pushNotify(deps: PayDeps, provider: ProviderName, req: RawHttpRequest): Promise<IntegratedResponse> {
  const route = PUSH_ROUTES.find((r) => r.provider === provider);
  if (!route) throw new PayError('OPERATION_UNSUPPORTED', { provider, operation: 'pushNotify' });
  const { platformKey } = route;
  const adapter = answeringTo(loadAdapter(provider), req);
  return answering(deps, adapter, { provider }, async (refuse) => {
    const ctx = providerContext(deps, configNode<Record<string, any>>(await deps.configs.load(), configNodePath(provider, platformKey)));
    const event = await adapter.verifyNotify(req, ctx);
    if (event.kind === 'challenge') return event.reply;
    if (event.kind === 'ignore') {
      deps.log.info('notify.ignored', { provider, reason: event.reason });
      return adapter.notifyReply(true);
    }
    if (event.kind === 'refund') {
      const order = event.out_trade_no
        ? await deps.orders.findByOutTradeNo(event.out_trade_no)
        : await orderOfTransaction(deps, event.transaction_id);
      if (!order || order.provider !== provider) {
        deps.log.warn('notify.refund_unknown_order', { provider });
        return adapter.notifyReply(true);
      }
      return adapter.notifyReply((await settleRefundNotice(deps, order, event)) === 'done');
    }
    const order = await deps.orders.findByOutTradeNo(event.out_trade_no);
    if (!order || order.provider !== provider) return refuse('unknown out_trade_no');
    return handleEvent(deps, adapter, ctx, `${provider}_${platformKey}` as PayType, order, event);
  });
}
