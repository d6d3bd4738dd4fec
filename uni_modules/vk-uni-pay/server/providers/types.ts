/**
 * The one interface every provider adapter implements (the "plugins" of this project).
 * Adapters are pure protocol code: they receive everything they need (merchant config node,
 * HTTP transport, clock, cache) in a ProviderContext and never touch uniCloud globals.
 */
import type { HttpTransport } from '../transport/http';
import type { Clock } from '../core/time';
import type { KeyValueCache } from '../store/cache';
import type { IntegratedResponse } from '../../../../types/unicloud-server';
import type { DoctorInput, Finding } from '../core/doctor';
import type { AccountBalance, CodepayAnswer, CodepayCancelResult, CodepayInput } from './hooks';

export type ProviderName = 'wxpay' | 'alipay' | 'appleiap' | 'vkspay' | 'wxpay-virtual';

/** vk-uni-pay platform keys; also the config node names (`config[provider][platformKey]`). */
export type PlatformKey = 'mp-weixin' | 'mp-alipay' | 'app-plus' | 'h5' | 'h5-weixin' | 'mweb';

/** `<provider>_<platformKey>`, e.g. `wxpay_mp-weixin`, `alipay_h5`. */
export type PayType = `${ProviderName}_${PlatformKey}`;

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
  | { kind: 'refund'; out_trade_no: string; out_refund_no?: string; refund_fee?: number; info: Record<string, unknown> }
  /** verified but irrelevant (e.g. Alipay partial-refund notice on the pay URL) */
  | { kind: 'ignore'; reason: string }
  /** a protocol handshake that must be answered as-is (e.g. message-push echostr) */
  | { kind: 'challenge'; reply: IntegratedResponse }
  /** provider notification that is only a hint (VksPay): the service must query to confirm */
  | { kind: 'hint'; out_trade_no: string };

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

  // ---- counter and balances (hooks.ts): optional, services never test a provider's name
  /** capability `codepay`: charge the buyer's payment code (付款码) */
  codepay?(input: CodepayInput, ctx: ProviderContext<C>): Promise<CodepayAnswer>;
  /** capability `codepay`: cancel / reverse the codepay trade at the deadline so the buyer is not charged later */
  cancelCodepay?(q: { out_trade_no: string }, ctx: ProviderContext<C>): Promise<CodepayCancelResult>;
  /** capability `balance`: the merchant account balance (integer fen, vk-uni-pay field names) */
  queryBalance?(ctx: ProviderContext<C>): Promise<AccountBalance>;
}
