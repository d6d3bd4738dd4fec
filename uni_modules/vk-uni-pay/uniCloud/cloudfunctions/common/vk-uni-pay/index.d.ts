/**
 * Types of the common module `vk-uni-pay` (`const vkPay = require('vk-uni-pay')`).
 * 公共模块 vk-uni-pay 的类型声明：HBuilderX 与 TypeScript 据此补全。
 *
 * Every call resolves (never rejects) with `{ code, msg, msg_en, ... }`: `code === 0` is success,
 * any other code is an error listed in `ErrorCode` (see docs/errors.md). Amounts are integer fen.
 */
import type * as Errors from './dist/errors';

declare namespace vkPay {
  /** every error code (docs/errors.md) */
  export type ErrorCode = Errors.ErrorCode;
  export type ErrorKey = Errors.ErrorKey;

  export type Provider = 'wxpay' | 'alipay' | 'appleiap' | 'vkspay' | 'wxpay-virtual';

  /** `<provider>_<config node>`, e.g. `wxpay_mp-weixin`, `alipay_h5`. */
  export type PayType = `${Provider}_${string}`;

  /** DB status of an order: -1 closed, 0 unpaid, 1 paid, 2 partly refunded, 3 fully refunded. */
  export type OrderStatus = -1 | 0 | 1 | 2 | 3;

  /** A failed call: `code` from the error table, messages in zh-Hans and en. */
  export interface ErrorResult {
    code: ErrorCode;
    msg: string;
    msg_en: string;
    [extra: string]: unknown;
  }

  /** uniCloud client context: a cloud object's `this.getClientInfo()`, a cloud function's `context`, VK's `originalParam.context`. */
  export type PayContext =
    | Record<string, unknown>
    | {
        APPID?: string;
        PLATFORM?: string;
        CLIENTIP?: string;
        CLIENTUA?: string;
        SPACEINFO?: { spaceId: string };
      };

  export interface CreatePaymentData {
    /** required, 6-32 letters, digits or _-|*; reuse it to pay an unpaid order again */
    out_trade_no: string;
    /** required, positive integer fen — take it from your own database, never from the client */
    total_fee: number;
    /** required order title */
    subject: string;
    body?: string;
    /** required: selects the handler `pay-notify/<type>.js` */
    type: string;
    /** WeChat mini-program / official account, Alipay mini-program */
    openid?: string;
    /** stored on the order and flattened into the handler's `data` (keys must not collide with order fields) */
    custom?: Record<string, unknown>;
    /** passed to the provider as-is (never the amount, the order number or the receiving account) */
    other?: Record<string, unknown>;
    /** multi-merchant: `_id` in `vk-pay-config` */
    pid?: string;
    user_id?: string;
    nickname?: string;
    /** 13-digit ms timestamp */
    time_expire?: number;
    /** VksPay: synchronous return page */
    return_url?: string;
    /** WeChat virtual payment */
    wxpay_virtual?: {
      mode: 'short_series_coin' | 'short_series_goods';
      buy_quantity: number;
      product_id?: string;
      goods_price?: number;
    };
    /** Apple IAP: the product id whose server-side price is `total_fee` */
    productid?: string;
    [extra: string]: unknown;
  }

  export interface CreatePaymentOptions {
    context: PayContext;
    provider: Provider;
    /** PC QR-code payment (the component sends it) */
    isPC?: boolean;
    /** `true`: QR mode, `orderInfo.codeUrl`; `'image'`: also `qrcodeImage` (base64 PNG) */
    needQRcode?: boolean | 'image';
    alipayAppPayToH5Pay?: boolean;
    provider_pay_method?: 'wxpay' | 'alipay' | 'auto';
    data: CreatePaymentData;
  }

  export interface CreatePaymentResult {
    code: 0;
    msg: string;
    /** what the client passes to uni.requestPayment / WeixinJSBridge / a QR code (`codeUrl`, `mwebUrl`) */
    orderInfo: Record<string, unknown> | string;
    out_trade_no: string;
    provider: Provider;
    pay_type: PayType;
    needQRcode: boolean;
    qrcodeImage?: string;
    total_fee: number;
    platform: string;
  }

  export interface QueryPaymentOptions {
    out_trade_no?: string;
    transaction_id?: string;
    /** wait for the handler (and run it if the notification was lost) */
    await_notify?: boolean;
    /** seconds, 1-40, default 20 */
    await_max_time?: number;
    /** include the order row as `payOrder` */
    pay_order_info?: boolean;
  }

  export interface QueryPaymentResult {
    /** 0 paid, -1 not paid (`msg` says why) */
    code: 0 | -1;
    msg: string;
    msg_en: string;
    /** the money really was paid */
    orderPaid: boolean;
    /** the handler's result (reliable with `await_notify: true`) */
    user_order_success?: boolean;
    status: OrderStatus;
    out_trade_no: string;
    transaction_id?: string;
    payOrder?: PayOrder;
  }

  /** A `vk-pay-orders` row (the fields you are likely to read). */
  export interface PayOrder {
    _id?: string;
    out_trade_no: string;
    transaction_id?: string;
    status: OrderStatus;
    type: string;
    provider?: Provider;
    pay_type: PayType | string;
    total_fee: number;
    refund_fee?: number;
    refund_num?: number;
    user_id?: string;
    openid?: string;
    description?: string;
    custom?: Record<string, unknown>;
    user_order_success?: boolean;
    /** 0 settled by a query (active callback), 1 by the provider's notification */
    notify_mode?: 0 | 1;
    create_date?: number;
    pay_date?: number;
    notify_date?: number;
    [field: string]: unknown;
  }

  export interface RefundOptions {
    out_trade_no: string;
    /** default `<out_trade_no>-<n>`; retry a failed call with the same number */
    out_refund_no?: string;
    /** integer fen; default: everything not yet refunded */
    refund_fee?: number;
    refund_desc?: string;
  }

  export type RefundState = 'SUCCESS' | 'PROCESSING' | 'PENDING' | 'UNKNOWN' | 'FAIL';

  export interface RefundResult {
    code: 0;
    msg: string;
    out_trade_no: string;
    out_refund_no: string;
    refund_fee: number;
    state: RefundState;
    refund_id?: string;
    /** vk-uni-pay names of the same facts */
    outTradeNo: string;
    outRefundNo: string;
    refundFee: number;
    refundId?: string;
    transactionId?: string;
    /** what the payer got back in cash (fen) */
    cashRefundFee?: number;
  }

  export interface QueryRefundOptions {
    out_trade_no: string;
    /** default: the order's latest refund */
    out_refund_no?: string;
  }

  export interface QueryRefundResult extends RefundResult {
    order: { total_fee: number; refund_fee: number; status: OrderStatus };
    /** vk-uni-pay: the refund as the provider reported it */
    queryResult: Record<string, unknown>;
    /** vk-uni-pay: a subset of the order */
    orderInfo: Record<string, unknown>;
  }

  export interface CloseOrderResult {
    code: 0;
    msg: string;
    out_trade_no: string;
    status: -1;
  }

  export interface LoginOptions {
    /** the code from uni.login / the official-account OAuth redirect */
    code: string;
    pid?: string;
  }

  export interface LoginResult {
    code: 0;
    msg: string;
    openid: string;
    unionid?: string;
    /** Alipay */
    user_id?: string;
  }

  export interface AppleVerifyOptions {
    out_trade_no: string;
    /** legacy receipt (base64) and the transaction id inside it */
    transaction_receipt?: string;
    transaction_identifier?: string;
    /** StoreKit 2 signed transaction (JWS) */
    signedTransaction?: string;
  }

  export interface AppleVerifyResult {
    code: 0;
    msg: string;
    orderPaid: true;
    user_order_success: boolean;
    out_trade_no: string;
    transaction_id: string;
  }

  export type Result<T> = Promise<T | ErrorResult>;

  /** A handler `pay-notify/<type>.js`: return true when done; false or throw → retried. */
  export type PayNotifyHandler = (
    obj: { data: PayOrder & Record<string, unknown> },
    originalParam?: Record<string, unknown>,
  ) => boolean | Promise<boolean>;

  /** The error every failed call carries (`isPayError(e)`); `code` is in the error table. */
  export interface PayError extends Error {
    readonly key: ErrorKey;
    readonly code: ErrorCode;
    readonly msgZh: string;
    readonly msgEn: string;
    readonly detail?: Record<string, unknown>;
    localized(locale: string | undefined): string;
  }

  /** one finding of `doctor` (never contains key material) */
  export interface DoctorFinding {
    severity: 'error' | 'warn' | 'info';
    /** config node, e.g. `wxpay.mp-weixin`, `notifyUrl`, `host` */
    node: string;
    /** stable id of the check, e.g. `v3Key`, `appCert.match` */
    check: string;
    zh: string;
    en: string;
    fixZh?: string;
    fixEn?: string;
  }

  export interface DoctorResult {
    code: 0;
    msg: string;
    ok: boolean;
    errors: number;
    warnings: number;
    findings: DoctorFinding[];
  }

  export interface VkUniPay {
    createPayment(options: CreatePaymentOptions): Result<CreatePaymentResult>;
    queryPayment(options: QueryPaymentOptions): Result<QueryPaymentResult>;
    /** server code only */
    closeOrder(options: { out_trade_no: string }): Result<CloseOrderResult>;
    /** server code only; the amount is reserved on the order before the provider is asked */
    refund(options: RefundOptions): Result<RefundResult>;
    queryRefund(options: QueryRefundOptions): Result<QueryRefundResult>;
    code2SessionWeixinMP(options: LoginOptions): Result<LoginResult>;
    code2SessionWeixinH5(options: LoginOptions): Result<LoginResult>;
    code2SessionAlipay(options: LoginOptions): Result<LoginResult>;
    /** Apple IAP: verify a receipt or StoreKit 2 signed transaction, then settle the order */
    verifyApplePurchase(options: AppleVerifyOptions): Result<AppleVerifyResult>;
    /** WeChat virtual payment, server code only: have WeChat push the delivery notification again */
    notifyProvideGoods(options: { out_trade_no: string }): Result<{ code: 0; msg: string; out_trade_no: string }>;
    /** vk-uni-pay's namespaces for the two methods above */
    appleiap: { verifyReceipt(options: AppleVerifyOptions): Result<AppleVerifyResult> };
    wxpayVirtual: { notifyProvideGoods(options: { out_trade_no: string }): Result<{ code: 0; msg: string; out_trade_no: string }> };
    /**
     * vk-uni-pay's notify entry for a URL化 cloud function: `event` is the request
     * (`/vk-pay-notify/<pay_type>/<out_trade_no>`); `orderPaySuccess(obj, originalParam)` handles every type.
     */
    paymentNotify(options: {
      event: { path: string; httpMethod?: string; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean };
      context?: unknown;
      orderPaySuccess?: PayNotifyHandler;
    }): Promise<{ mpserverlessComposedResponse: true; statusCode: number; headers: Record<string, string>; body: string }>;
    /** AES-256-CBC keyed by sha256(config.notifyKey); `data` = base64(iv ‖ ciphertext of the JSON) */
    crypto: {
      aes: {
        encrypt(options: { data: unknown }): Result<{ code: 0; msg: string; data: string }>;
        decrypt(options: { data: string }): Result<{ code: 0; msg: string; data: unknown }>;
      };
    };
    /** needs uni-id-common in the calling function; `user_id` undefined when the token is invalid */
    checkTokenReturnUserId(options: { uniIdToken?: string; context?: unknown }): Result<{ code: 0; msg: string; user_id?: string }>;
    getUserNickname(user_id: string): Promise<string | undefined>;
    /** not provided: platform certificates are fetched and cached automatically (error 5010) */
    wxpay: { fetchCertificates(): Promise<ErrorResult> };
    /** not provided: no raw provider client (error 5010) */
    initUniPayInstance(options?: { pay_type?: string }): Promise<ErrorResult>;
    /**
     * Server code only: checks the merchant config (every node; `online` adds one signed read-only
     * gateway call per node) and reports what is wrong and how to fix it, in zh-Hans and en.
     */
    doctor(options?: { pid?: string; online?: boolean }): Result<DoctorResult>;
    /** vk-uni-pay APIs not implemented in this version: each answers error 5010 */
    transfer(options?: Record<string, unknown>): Promise<ErrorResult>;
    cancelTransfer(options?: Record<string, unknown>): Promise<ErrorResult>;
    queryTransfer(options?: Record<string, unknown>): Promise<ErrorResult>;
    transferNotify(options?: Record<string, unknown>): Promise<ErrorResult>;
    verifyTransferNotify(options?: Record<string, unknown>): Promise<ErrorResult>;
    queryAccountBalance(options?: Record<string, unknown>): Promise<ErrorResult>;
    getWxpayVirtualManager(): Promise<ErrorResult>;
    /** another instance (own handler folder, tests) */
    createVkPay(options?: {
      handlersDir?: string | string[];
    }): Pick<VkUniPay, 'queryPayment' | 'closeOrder' | 'code2SessionWeixinMP' | 'code2SessionWeixinH5' | 'code2SessionAlipay'>;
    PayError: new (key: ErrorKey, vars?: Record<string, unknown>, detail?: Record<string, unknown>) => PayError;
    ERRORS: typeof Errors.ERRORS;
    isPayError(e: unknown): e is PayError;
  }
}

declare const vkPay: vkPay.VkUniPay;
export = vkPay;
