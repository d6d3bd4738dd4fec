/** The payment order (`vk-pay-orders`) and its state machine. */
import type { PayType, PlatformKey, ProviderName } from './catalog';

export const ORDER_STATUS = {
  CLOSED: -1,
  UNPAID: 0,
  PAID: 1,
  PART_REFUNDED: 2,
  REFUNDED: 3,
} as const;
export type OrderStatus = (typeof ORDER_STATUS)[keyof typeof ORDER_STATUS];

/** Statuses in which the money was received (handler may run). */
export const PAID_STATUSES: OrderStatus[] = [ORDER_STATUS.PAID, ORDER_STATUS.PART_REFUNDED, ORDER_STATUS.REFUNDED];

export interface RefundRecord {
  out_refund_no: string;
  refund_fee: number;
  refund_desc?: string;
  refund_date: number;
  state: 'PROCESSING' | 'SUCCESS' | 'FAIL';
  refund_id?: string;
  /** the amount sits in the order's refund_reserved until the refund is final (absent on records of older versions) */
  reserved?: boolean;
}

/**
 * The status after refunds: 1 paid, 2 partly refunded, 3 fully refunded — from CONFIRMED refunds
 * only (`refund_fee`); an amount still in flight (`refund_reserved`) does not change it.
 */
export function refundStatus(refund_fee: number, total_fee: number): OrderStatus {
  return refund_fee >= total_fee ? ORDER_STATUS.REFUNDED : refund_fee > 0 ? ORDER_STATUS.PART_REFUNDED : ORDER_STATUS.PAID;
}

/** A payment that arrived for an order another transaction had already paid (to be refunded). */
export interface DuplicatePayment {
  transaction_id: string;
  pay_type?: string;
  total_fee: number;
  date: number;
}

/**
 * Service-provider (服务商 / ISV) mode: the sub-merchant an order was created for. Stored on the
 * order under these names (vk-uni-pay keeps `app_auth_token` there too), handed back to the adapter
 * for every later call on the order (query, close, refund), and matched with its notifications.
 */
export const PARTNER_FIELDS = ['sp_appid', 'sp_mchid', 'sub_appid', 'sub_mchid', 'app_auth_token'] as const;
export type PartnerIds = Partial<Record<(typeof PARTNER_FIELDS)[number], string>>;
/** the partner ids a verified notification repeats, each matched with the order's (a direct order has none) */
export const NOTIFIED_PARTNER_FIELDS = ['sub_mchid', 'sub_appid'] as const;

/** The partner ids stored on an order (undefined for a direct merchant's order). */
export function partnerIds(order: Partial<PayOrder>): PartnerIds | undefined {
  const out: PartnerIds = {};
  for (const k of PARTNER_FIELDS) if (typeof order[k] === 'string' && order[k]) out[k] = order[k];
  return Object.keys(out).length ? out : undefined;
}

export interface PayOrder extends PartnerIds {
  _id?: string;
  out_trade_no: string;
  /** integer fen */
  total_fee: number;
  status: OrderStatus;
  provider: ProviderName;
  pay_type: PayType;
  /** legacy platform key (h5 / app-plus / mp-weixin ...) */
  platform: PlatformKey | string;
  uni_platform: string;
  type: string;
  description: string;
  body?: string;
  openid?: string;
  user_id?: string;
  nickname?: string;
  device_id?: string;
  client_ip: string;
  /** DCloud appid of the client */
  appid?: string;
  custom: Record<string, unknown>;
  pid?: string;
  notify_url: string;
  notify_path: string;
  time_expire?: number;
  transaction_id?: string;
  create_date: number;
  /** last time the unpaid order was re-used for another payment attempt */
  update_date?: number;
  /** how many times the unpaid order was re-used */
  update_count?: number;
  pay_date?: number;
  notify_date?: number;
  cancel_date?: number;
  /** undefined: handler not finished; true: succeeded; false: failed (retried) */
  user_order_success?: boolean;
  /** 1 async notification, 0 active (query found it paid first) */
  notify_mode?: 0 | 1;
  /** integer fen of CONFIRMED refunds (ledger SUCCESS); the status follows it */
  refund_fee: number;
  /** integer fen reserved by refunds still in flight (PENDING / UNKNOWN / PROCESSING); absent on older rows = 0 */
  refund_reserved?: number;
  /** bumped by every refund_list change (optimistic concurrency) */
  refund_version?: number;
  refund_num: number;
  refund_list: RefundRecord[];
  notify_info?: Record<string, unknown>;
  /** the raw notification body as received (vk-uni-pay field; never returned to clients) */
  original_data?: string;
  stat_data: Record<string, unknown>;
  expand_data?: Record<string, unknown>;
  provider_appid?: string;
  mch_id?: string;
  /** the channel the payer chose in an aggregating cashier (vk-uni-pay field; Douyin: wxpay / alipay / douyin) */
  provider_pay_method?: string;
  /** lease on the handler run (ms timestamp); 0 when free */
  handler_lock_until: number;
  /** token of the run holding the lease */
  handler_lease?: string;
  handler_attempts: number;
  handler_error?: string;
  /** until when a provider query of this unpaid order is claimed (ms; one in flight per order) */
  query_lock_until?: number;
  /** payments beyond the first (e.g. paid with two providers): refund these */
  duplicate_payments?: DuplicatePayment[];
  /** reconciliation timer: when it may next ask the provider about this unpaid order (ms), and how often it has */
  reconcile_next_at?: number;
  reconcile_attempts?: number;
  /** reconciliation timer: when it may next re-run a failed handler (ms) */
  handler_retry_at?: number;
}

/** Order fields a `custom` key may not shadow (custom is flattened into the handler's data). */
export const ORDER_FIELDS: ReadonlySet<string> = new Set([
  '_id',
  'out_trade_no',
  'total_fee',
  'status',
  'provider',
  'pay_type',
  'platform',
  'uni_platform',
  'type',
  'description',
  'subject',
  'body',
  'openid',
  'user_id',
  'nickname',
  'device_id',
  'client_ip',
  'appid',
  'custom',
  'pid',
  'notify_url',
  'notify_path',
  'time_expire',
  'transaction_id',
  'create_date',
  'pay_date',
  'notify_date',
  'cancel_date',
  'update_date',
  'update_count',
  'user_order_success',
  'notify_mode',
  'refund_fee',
  'refund_reserved',
  'refund_version',
  'refund_num',
  'refund_list',
  'notify_info',
  'original_data',
  'stat_data',
  'expand_data',
  'provider_appid',
  'mch_id',
  'provider_pay_method',
  'handler_lock_until',
  'handler_lease',
  'handler_attempts',
  'handler_error',
  'query_lock_until',
  'duplicate_payments',
  ...PARTNER_FIELDS,
  'reconcile_next_at',
  'reconcile_attempts',
  'handler_retry_at',
  'other',
  'out_refund_no',
]);

/** Bookkeeping of the lease and query gate: never shown to a handler or a client. */
const INTERNAL_FIELDS = [
  'handler_lock_until',
  'handler_lease',
  'handler_attempts',
  'handler_error',
  'query_lock_until',
  'reconcile_next_at',
  'reconcile_attempts',
  'handler_retry_at',
];

function without(order: PayOrder, fields: string[]): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...order };
  for (const f of fields) delete rest[f];
  return rest;
}

/** What a `pay-notify/<type>` handler receives as `data`: the order with `custom` flattened in (vk-uni-pay). */
export function handlerData(order: PayOrder): Record<string, unknown> {
  return { ...without(order, INTERNAL_FIELDS), ...(order.custom || {}) };
}

/** The order as a client may see it (no raw notification, no lease bookkeeping). */
export function publicOrder(order: PayOrder): Record<string, unknown> {
  // app_auth_token: the sub-merchant's Alipay authorisation, a server-side credential
  return without(order, [...INTERNAL_FIELDS, 'notify_info', 'original_data', 'app_auth_token']);
}
