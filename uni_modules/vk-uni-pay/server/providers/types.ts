/**
 * The one interface every provider adapter implements (the "plugins" of this project).
 * Adapters are pure protocol code: they receive everything they need (merchant config node,
 * HTTP transport, clock, cache) in a ProviderContext and never touch uniCloud globals.
 */
import type { Clock, HttpTransport, KeyValueCache } from '../ports';
import type { Capability, PayType, PlatformKey, ProviderName } from '../core/catalog';
import type { IntegratedResponse } from '../../../../types/unicloud-server';
import type { DoctorInput, Finding } from '../core/doctor';

// the names live in the core catalog; re-exported so adapters keep one import
export type { PayType, PlatformKey, ProviderName };

/** Raw HTTP request as the notify route receives it (body exactly as sent, never re-serialised). */
export interface RawHttpRequest {
  method: string;
  path: string;
  /** lower-case header names */
  headers: Record<string, string>;
  query: Record<string, string>;
  body: Buffer;
}

export interface ProviderContext<C = Record<string, any>> {
  /** the merchant config node for this pay type (e.g. config.wxpay['mp-weixin']) */
  config: C;
  http: HttpTransport;
  clock: Clock;
  /** persistent cache shared by instances (platform certificates, access tokens) */
  cache: KeyValueCache;
  /** merchant id (`pid`) when the config came from vk-pay-config, for cache keys */
  pid?: string;
}

export interface CreateOrderInput {
  payType: PayType;
  platformKey: PlatformKey;
  out_trade_no: string;
  /** integer fen */
  total_fee: number;
  subject: string;
  body?: string;
  openid?: string;
  notify_url: string;
  /** 13-digit ms timestamp, already validated against the provider minimum */
  time_expire?: number;
  client_ip: string;
  /** QR mode was forced by the caller (needQRcode) */
  needQRcode: boolean;
  /** provider extras from `data.other`, already stripped of protected keys */
  other: Record<string, unknown>;
  /** provider specific input (wxpay_virtual, return_url, auth_code, provider_pay_method ...) */
  extra: Record<string, unknown>;
}

export interface CreateOrderResult {
  /**
   * what the client needs to start paying (shape per pay type, vk-uni-pay compatible): an object,
   * or a string where vk-uni-pay hands one to uni.requestPayment (Alipay mini program trade_no,
   * Alipay App order string)
   */
  orderInfo: Record<string, unknown> | string;
  /** the QR payload when the scene is QR based (also placed in orderInfo.codeUrl) */
  codeUrl?: string;
  /** fields to persist on the order (e.g. provider_appid, mch_id, expand_data) */
  orderPatch?: Record<string, unknown>;
}

export type TradeState = 'PAID' | 'NOTPAY' | 'CLOSED' | 'REFUND' | 'PAYING' | 'ERROR' | 'NOT_FOUND';

export interface QueryOrderResult {
  state: TradeState;
  out_trade_no: string;
  transaction_id?: string;
  /** integer fen as the provider reports it */
  total_fee?: number;
  /** ms timestamp of payment, when known */
  pay_date?: number;
  openid?: string;
  raw: unknown;
}

export interface RefundInput {
  out_trade_no: string;
  transaction_id?: string;
  out_refund_no: string;
  total_fee: number;
  refund_fee: number;
  refund_desc?: string;
  notify_url?: string;
}

export interface RefundResult {
  /** SUCCESS: money returned; PROCESSING: accepted, final state later */
  state: 'SUCCESS' | 'PROCESSING' | 'FAIL';
  refund_id?: string;
  refund_fee: number;
  raw: unknown;
}

/** A verified, normalised notification. Only produced after the signature checked out. */
export type NotifyEvent =
  | {
      kind: 'payment';
      out_trade_no: string;
      transaction_id: string;
      /** integer fen actually paid for the order (the order amount, not the payer's discount share) */
      total_fee: number;
      /** the provider says the trade is paid */
      paid: boolean;
      /** app / merchant ids carried by the notification, compared with the config by the service */
      appid?: string;
      mchid?: string;
      openid?: string;
      pay_date?: number;
      /** normalised provider fields kept on the order as notify_info */
      info: Record<string, unknown>;
    }
  | {
      kind: 'refund';
      /** '' when the provider does not know our order number: then `transaction_id` finds the order */
      out_trade_no: string;
      out_refund_no?: string;
      refund_fee?: number;
      /** the provider's transaction, for providers whose purchases are bound to orders (Apple) */
      transaction_id?: string;
      /** the provider took the remaining money back on its own (Apple REFUND/REVOKE): record it as refunded */
      providerRefunded?: boolean;
      info: Record<string, unknown>;
    }
  /** verified but irrelevant (e.g. Alipay partial-refund notice on the pay URL) */
  | { kind: 'ignore'; reason: string }
  /** a protocol handshake that must be answered as-is (e.g. message-push echostr) */
  | { kind: 'challenge'; reply: IntegratedResponse }
  /** provider notification that is only a hint (VksPay): the service must query to confirm */
  | { kind: 'hint'; out_trade_no: string };

/** createPayment asks the adapter, before the order is stored, what only this provider knows about it. */
export interface PrepareCreateInput {
  payType: PayType;
  platformKey: PlatformKey;
  out_trade_no: string;
  openid?: string;
  /** provider specific input (CreateOrderInput.extra) */
  extra: Record<string, unknown>;
}

export interface PrepareCreateResult {
  /** fields stored with the new order (e.g. the App Store product id in expand_data) */
  orderFields?: Record<string, unknown>;
  /** more provider input for createOrder (e.g. the session_key a WeChat virtual payment is signed with) */
  extra?: Record<string, unknown>;
}

/** Server-side records a hook may read (the service owns the store). */
export interface PrepareCreateLookups {
  /** the WeChat session_key stored at login for this mini program and user */
  sessionKey(appid: string, openid: string): Promise<string | undefined>;
}

/** What a login code resolves to. `session_key` stays on the server (the service stores it, never returns it). */
export interface LoginIds {
  openid: string;
  unionid?: string;
  /** Alipay's 2088… buyer id */
  user_id?: string;
  session_key?: string;
}

/** A purchase proof handed over by the client: a legacy receipt with its transaction, or a signed transaction (JWS). */
export type PurchaseProof = { signedTransaction: string } | { receipt: string; transactionId: string };

export interface VerifiedPurchase {
  transactionId: string;
  originalTransactionId: string;
  productId: string;
  quantity: number;
  purchaseDate: number;
  environment: string;
  /** integer fen the purchase is worth, when the config's price list knows the product */
  total_fee?: number;
}

/**
 * The adapter member behind each catalog capability: a provider lists a capability in its catalog
 * row exactly when its adapter has this member (test/unit/catalog.test.ts).
 */
export const CAPABILITY_MEMBER = {
  close: 'closeOrder',
  refund: 'refund',
  queryRefund: 'queryRefund',
  login: 'login',
  verifyPurchase: 'verifyPurchase',
  provideGoods: 'provideGoods',
  transfer: 'transfer',
  codepay: 'codepay',
} as const satisfies Record<Capability, string>;

export interface ProviderAdapter<C = Record<string, any>> {
  readonly provider: ProviderName;
  createOrder(input: CreateOrderInput, ctx: ProviderContext<C>): Promise<CreateOrderResult>;
  /** `openid`: the payer, for providers whose order query is per user (WeChat virtual payment) */
  queryOrder(q: { out_trade_no: string; transaction_id?: string; openid?: string }, ctx: ProviderContext<C>): Promise<QueryOrderResult>;
  closeOrder?(q: { out_trade_no: string }, ctx: ProviderContext<C>): Promise<{ closed: boolean; raw: unknown }>;
  refund?(input: RefundInput, ctx: ProviderContext<C>): Promise<RefundResult>;
  queryRefund?(q: { out_trade_no: string; out_refund_no: string }, ctx: ProviderContext<C>): Promise<RefundResult>;
  /**
   * Verify a notification over the raw bytes and parse it. Throws PayError (NOTIFY_* codes)
   * when anything does not check out; never returns an unverified event.
   */
  verifyNotify(req: RawHttpRequest, ctx: ProviderContext<C>): Promise<NotifyEvent>;
  /**
   * The reply the provider expects: ok=true acknowledges, ok=false asks for a retry. `req`: the
   * notification being answered, for providers whose reply format depends on its protocol.
   */
  notifyReply(ok: boolean, message?: string, req?: RawHttpRequest): IntegratedResponse;
  /** `doctor`: static checks of a config node (no network), findings in zh-Hans and en */
  diagnose?(input: DoctorInput): Finding[];
  /** `doctor --online`: one signed read-only call; absent: the service asks queryOrder about an unused order number */
  diagnoseOnline?(name: string, ctx: ProviderContext<C>): Promise<Finding[]>;

  // ---- optional hooks, where a provider needs something special (services never test a provider's name)
  /** createPayment: order fields and createOrder input only this provider needs, before the order is stored */
  prepareCreate?(input: PrepareCreateInput, ctx: ProviderContext<C>, lookups: PrepareCreateLookups): Promise<PrepareCreateResult>;
  /** capability `login`: a login code from the client (scene `platformKey`) → the payer's ids */
  login?(code: string, platformKey: PlatformKey, ctx: ProviderContext<C>): Promise<LoginIds>;
  /** capability `verifyPurchase`: checks a purchase proof (signature, bundle, product, age) */
  verifyPurchase?(proof: PurchaseProof, ctx: ProviderContext<C>, opts: { expectedProductIds?: string[] }): Promise<VerifiedPurchase>;
  /** capability `provideGoods`: asks the provider to push its delivery notification again */
  provideGoods?(q: { out_trade_no: string }, ctx: ProviderContext<C>): Promise<void>;
}
