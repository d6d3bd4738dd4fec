/**
 * createPayment (seed contract): validate → detect the pay type → persist the order (one insert;
 * the unique out_trade_no makes concurrent calls safe) → one provider call → the client's orderInfo.
 */
import { PayError } from '../core/errors';
import { ORDER_STATUS, type PayOrder } from '../core/order';
import { configNodePath, sceneFacts } from '../core/catalog';
import { detectPayType, legacyPlatform, normalizeContext } from '../core/platform';
import { checkTimeExpire, validateCreatePayment } from '../core/validate';
import { loadAdapter } from '../providers/registry';
import type { CreateOrderInput, PrepareCreateLookups } from '../providers/types';
import { configNode, notifyBaseUrl } from '../store/config';
import { providerContext, type PayDeps } from './deps';
import { checkVkConfig } from './vk-config';

export interface CreatePaymentResult {
  orderInfo: Record<string, unknown> | string;
  out_trade_no: string;
  provider: string;
  pay_type: string;
  needQRcode: boolean;
  qrcodeImage?: string;
  total_fee: number;
  platform: string;
}

/** Provider inputs that are not order fields but the adapters need (vk-uni-pay `data.*` extras). */
const EXTRA_KEYS = ['wxpay_virtual', 'return_url', 'auth_code', 'productid', 'product_id'] as const;

export async function createPayment(deps: PayDeps, raw: unknown): Promise<CreatePaymentResult> {
  const opts = validateCreatePayment(raw);
  const { provider, data } = opts;
  const client = normalizeContext(opts.context);
  const config = await deps.configs.load(data.pid);
  checkVkConfig(config, data);
  const decision = detectPayType({
    provider,
    uniPlatform: client.uniPlatform,
    userAgent: client.userAgent,
    isPC: opts.isPC,
    needQRcode: opts.needQRcode,
    alipayAppPayToH5Pay: opts.alipayAppPayToH5Pay || config.alipayAppPayToH5Pay === true,
  });
  const { payType, platformKey } = decision;
  const now = deps.clock.now();
  checkTimeExpire(provider, payType, data.time_expire, now);
  const scene = sceneFacts(payType);
  const openidByOther = !!scene?.openidFromOther && typeof data.other?.[scene.openidFromOther] === 'string';
  if (scene?.needsOpenid && !data.openid && !openidByOther) throw new PayError('OPENID_REQUIRED', { pay_type: payType });

  const node = configNode<Record<string, any>>(config, configNodePath(provider, platformKey));
  const notify_url = notifyBaseUrl(config, client.spaceId ?? deps.spaceId());
  const notify_path = `/paymentNotify/${payType}/${data.out_trade_no}`;
  // what only this provider needs (e.g. the session_key of a virtual payment), before anything is stored
  const adapter = loadAdapter(provider);
  const ctx = providerContext(deps, node, data.pid);
  const extra: Record<string, unknown> = { provider_pay_method: opts.provider_pay_method };
  for (const k of EXTRA_KEYS) if (data[k] !== undefined) extra[k] = data[k];
  const lookups: PrepareCreateLookups = { sessionKey: (appid, openid) => deps.sessions.sessionKey(appid, openid) };
  const prepared = adapter.prepareCreate
    ? await adapter.prepareCreate({ payType, platformKey, out_trade_no: data.out_trade_no, openid: data.openid, extra }, ctx, lookups)
    : {};
  Object.assign(extra, prepared.extra);
  const order: PayOrder = {
    out_trade_no: data.out_trade_no,
    total_fee: data.total_fee,
    status: ORDER_STATUS.UNPAID,
    provider,
    pay_type: payType,
    platform: legacyPlatform(client.uniPlatform),
    uni_platform: client.uniPlatform,
    type: data.type,
    description: data.subject,
    ...(data.body ? { body: data.body } : {}),
    ...(data.openid ? { openid: data.openid } : {}),
    ...(data.user_id ? { user_id: data.user_id } : {}),
    ...(data.nickname ? { nickname: data.nickname } : {}),
    ...(client.deviceId ? { device_id: client.deviceId } : {}),
    ...(client.appId ? { appid: client.appId } : {}),
    ...(data.pid ? { pid: data.pid } : {}),
    ...(data.time_expire ? { time_expire: data.time_expire } : {}),
    ...(node.appId ? { provider_appid: node.appId } : {}),
    ...(node.mchId ? { mch_id: node.mchId } : {}),
    ...prepared.orderFields,
    client_ip: client.clientIP,
    custom: data.custom ?? {},
    notify_url,
    notify_path,
    create_date: now,
    refund_fee: 0,
    refund_num: 0,
    refund_list: [],
    stat_data: client.stat,
    handler_lock_until: 0,
    handler_attempts: 0,
  };
  if ((await deps.orders.insert(order)) === 'duplicate') await reuseUnpaidOrder(deps, order);

  const input: CreateOrderInput = {
    payType,
    platformKey,
    out_trade_no: order.out_trade_no,
    total_fee: order.total_fee,
    subject: order.description,
    body: order.body,
    openid: data.openid,
    notify_url: notify_url + notify_path,
    time_expire: data.time_expire,
    client_ip: client.clientIP,
    needQRcode: !!opts.needQRcode,
    other: data.other ?? {},
    extra,
  };
  const result = await adapter.createOrder(input, ctx);
  const patch = changedFields(result.orderPatch, order);
  if (patch) await deps.orders.updateUnpaid(order.out_trade_no, order.total_fee, patch);
  const codeUrl = result.codeUrl ?? (typeof result.orderInfo === 'object' ? (result.orderInfo.codeUrl as string | undefined) : undefined);
  return {
    orderInfo: result.orderInfo,
    out_trade_no: order.out_trade_no,
    provider,
    pay_type: payType,
    needQRcode: decision.qr,
    ...(opts.needQRcode === 'image' && codeUrl ? { qrcodeImage: await qrcodeDataUrl(codeUrl) } : {}),
    total_fee: order.total_fee,
    platform: order.platform,
  };
}

/** What paying again may change: the scene and the payer, never the amount, merchant or order identity. */
const REPAYABLE_FIELDS = [
  'provider',
  'pay_type',
  'platform',
  'uni_platform',
  'type',
  'description',
  'body',
  'openid',
  'user_id',
  'nickname',
  'device_id',
  'client_ip',
  'appid',
  'custom',
  'notify_url',
  'notify_path',
  'time_expire',
  'provider_appid',
  'mch_id',
  'expand_data',
  'stat_data',
] as const satisfies ReadonlyArray<keyof PayOrder>;

/**
 * Paying again with the same out_trade_no: allowed only for an unpaid order with the same amount
 * (and merchant); the stored pay type follows the new scene. Each refusal has its own code.
 */
async function reuseUnpaidOrder(deps: PayDeps, fresh: PayOrder): Promise<void> {
  const existing = await deps.orders.findByOutTradeNo(fresh.out_trade_no);
  if (!existing) throw new PayError('ORDER_BUSY');
  assertReusable(existing, fresh);
  const scene = Object.fromEntries(REPAYABLE_FIELDS.filter((k) => fresh[k] !== undefined).map((k) => [k, fresh[k]]));
  const updated = await deps.orders.updateUnpaid(fresh.out_trade_no, fresh.total_fee, { ...scene, update_date: fresh.create_date });
  if (!updated) {
    // the order changed state between our read and write (paid or closed meanwhile)
    const now = await deps.orders.findByOutTradeNo(fresh.out_trade_no);
    if (now) assertReusable(now, fresh);
    throw new PayError('ORDER_BUSY');
  }
}

function assertReusable(existing: PayOrder, fresh: PayOrder): void {
  if (existing.status === ORDER_STATUS.PAID) throw new PayError('ORDER_PAID');
  if (existing.status === ORDER_STATUS.PART_REFUNDED || existing.status === ORDER_STATUS.REFUNDED) throw new PayError('ORDER_REFUNDED');
  if (existing.status === ORDER_STATUS.CLOSED) throw new PayError('ORDER_CLOSED');
  if (existing.total_fee !== fresh.total_fee) throw new PayError('ORDER_AMOUNT_CHANGED', { old: existing.total_fee, new: fresh.total_fee });
  if ((existing.pid ?? '') !== (fresh.pid ?? ''))
    throw new PayError('FIELD_INVALID', { field: 'pid', reason: 'an order keeps the merchant it was created with' });
}

/** The part of an adapter's order patch that is not already stored (saves a round trip). */
function changedFields(patch: Record<string, unknown> | undefined, order: PayOrder): Record<string, unknown> | undefined {
  if (!patch) return undefined;
  const stored = order as unknown as Record<string, unknown>;
  const changed = Object.entries(patch).filter(([k, v]) => JSON.stringify(stored[k]) !== JSON.stringify(v));
  return changed.length ? Object.fromEntries(changed) : undefined;
}

/** Base64 PNG of the QR payload; `qrcode` is loaded only when an image is asked for. */
async function qrcodeDataUrl(text: string): Promise<string> {
  const QRCode = require('qrcode') as typeof import('qrcode');
  return QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 1, width: 300 });
}
