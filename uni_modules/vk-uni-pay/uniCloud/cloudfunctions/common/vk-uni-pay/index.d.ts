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

  export type Provider = 'wxpay' | 'alipay' | 'appleiap' | 'vkspay' | 'wxpay-virtual' | 'huawei' | 'douyin';

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
    /** Huawei Pay: business type sent as `bizType` (e.g. '100001' virtual goods, '100002' physical goods) */
    biz_type?: string;
    /**
     * WeChat Pay service-provider (服务商) mode (API v3 and v2): the sub-merchant (特约商户) the order is for;
     * default: the node's `subMchId`. The node's `appId` / `mchId` are the service provider's.
     */
    sub_mchid?: string;
    /** the sub-merchant's app; required when `openid` belongs to it (sent as payer.sub_openid); default: the node's `subAppId` */
    sub_appid?: string;
    /** Alipay service-provider (third-party app) mode: the merchant's authorisation token; default: the node's `appAuthToken` */
    app_auth_token?: string;
    /**
     * 付款码 / codepay: the buyer's payment code scanned at the counter (WeChat: 18 digits 10–15…,
     * Alipay: 16–24 digits 25–30…); selects the `<provider>.codepay` config node (docs/codepay.md)
     */
    auth_code?: string;
    /** codepay: the store id (WeChat `scene_info.store_info.id`) */
    store_id?: string;
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
    /** codepay only, on success; CANCELLED (2201), FAILED (2202) and WAITING (2203) come as error results with `codepay_state` */
    codepay_state?: 'PAID';
    orderPaid?: boolean;
    transaction_id?: string;
    user_order_success?: boolean;
  }

  /** A codepay outcome other than PAID, as an error result (codes 2201–2203). */
  export interface CodepayErrorResult extends ErrorResult {
    codepay_state: 'CANCELLED' | 'FAILED' | 'WAITING';
    out_trade_no: string;
    /** FAILED: the provider's refusal */
    reason?: { code: string; message?: string };
    /** CANCELLED: the provider had taken the money and gave it back */
    refunded?: boolean;
  }

  /** queryAccountBalance: yuan (numbers), vk-uni-pay ≥ 1.13 field names */
  export interface AccountBalanceResult {
    code: 0;
    msg: string;
    availableAmount: number;
    freezeAmount: number;
    totalAmount?: number;
    onlineAmount?: number;
    withdrawableAmount?: number;
  }

  /** getWxpayVirtualManager(): the coin APIs (server code only; the session_key is read from the server-side store) */
  export interface WxpayVirtualManager {
    queryUserBalance(options: { openid: string; userIp: string }): Result<{
      code: 0;
      msg: string;
      balance: number;
      presentBalance: number;
      sumSave: number;
      sumPresent: number;
      sumBalance: number;
      sumCost: number;
      firstSaveFlag: boolean;
    }>;
    currencyPay(options: {
      openid: string;
      userIp: string;
      amount: number;
      outTradeNo: string;
      /** JSON text of `[{productid, unit_price, quantity}]` */
      payitem: string;
      remark?: string;
      deviceType?: 1 | 2;
      sessionKey?: string;
    }): Result<{ code: 0; msg: string; outTradeNo: string; balance: number; usedPresentAmount?: number; duplicate?: true }>;
    cancelCurrencyPay(options: {
      openid: string;
      userIp: string;
      amount: number;
      outTradeNo: string;
      outRefundNo: string;
      deviceType?: 1 | 2;
      sessionKey?: string;
    }): Result<{ code: 0; msg: string; outTradeNo: string; outRefundNo: string; duplicate?: true }>;
    presentCurrency(options: {
      openid: string;
      amount: number;
      outTradeNo: string;
      deviceType?: 1 | 2;
    }): Result<{ code: 0; msg: string; outTradeNo: string; balance?: number; presentBalance?: number; duplicate?: true }>;
    /** the stored session_key (server code only; never return it to a client) */
    getSessionKey(openid: string): Promise<string | undefined>;
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
    /** fen of CONFIRMED refunds; `status` 2 / 3 follow it */
    refund_fee?: number;
    /** fen reserved by refunds still in flight (PENDING / UNKNOWN / PROCESSING) */
    refund_reserved?: number;
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
    /** service-provider mode: the sub-merchant the order belongs to (query, close and refund use these) */
    sp_appid?: string;
    sp_mchid?: string;
    sub_appid?: string;
    sub_mchid?: string;
    /** Alipay third-party app mode (server side only; never in a client's answer) */
    app_auth_token?: string;
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

  /** What a `vk-pay/refund-notify/<type>.js` hook receives as `obj.refund` (once per final refund state). */
  export interface RefundHookRefund {
    out_refund_no: string;
    out_trade_no: string;
    /** integer fen */
    refund_fee: number;
    refund_desc?: string;
    state: 'SUCCESS' | 'FAIL';
    refund_id?: string;
    /** why it failed (provider code / message), for FAIL */
    fail_code?: string;
    fail_msg?: string;
    /** where the final state came from: the refund call's answer, a notification, a verified query, or the provider's own refund (Apple REFUND/REVOKE, a console refund) */
    source: 'answer' | 'notify' | 'query' | 'provider';
    create_date: number;
    update_date: number;
  }

  /** `vk-pay/refund-notify/<type>.js`: `module.exports = async (obj, originalParam) => true` — return false or throw to be retried. */
  export type RefundHook = (
    obj: { data: PayOrder & Record<string, unknown>; refund: RefundHookRefund },
    originalParam: { db: unknown; _: unknown },
  ) => unknown;

  export interface QueryRefundOptions {
    out_trade_no: string;
    /** default: the order's latest refund */
    out_refund_no?: string;
  }

  export interface QueryRefundResult extends RefundResult {
    /** refund_fee: confirmed refunds; refund_reserved: refunds in flight; status follows refund_fee */
    order: { total_fee: number; refund_fee: number; refund_reserved: number; status: OrderStatus };
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

  export type TransferState =
    | 'PENDING'
    | 'UNKNOWN'
    | 'ACCEPTED'
    | 'PROCESSING'
    | 'WAIT_USER_CONFIRM'
    | 'TRANSFERING'
    | 'SUCCESS'
    | 'FAIL'
    | 'CANCELING'
    | 'CANCELLED';

  export interface TransferTarget {
    provider: 'wxpay' | 'alipay';
    /** config node under the provider; default `transfer` */
    platform?: string;
    /** merchant in vk-pay-config */
    pid?: string;
  }

  export interface TransferOptions extends TransferTarget {
    /** 1-32 letters or digits, unique per merchant; retry with the same number and parameters */
    out_bill_no: string;
    /** fen, at least 10 */
    transfer_amount: number;
    /** WeChat: required, at most 32 characters (shown to the payee); Alipay: remark */
    transfer_remark?: string;
    /** WeChat: the payee */
    openid?: string;
    /** WeChat: default the node's appId */
    appid?: string;
    /** WeChat: required from 200000 fen (2000 yuan); encrypted (RSA-OAEP) before sending, never stored */
    user_name?: string;
    /** WeChat: default '1000' */
    transfer_scene_id?: string;
    transfer_scene_report_infos?: Array<{ info_type: string; info_content: string }>;
    user_recv_perception?: string;
    /** Alipay: the payee (name required for ALIPAY_LOGON_ID) */
    payee_info?: {
      identity: string;
      identity_type: 'ALIPAY_USER_ID' | 'ALIPAY_LOGON_ID' | 'ALIPAY_OPEN_ID';
      name?: string;
      cert_type?: string;
      cert_no?: string;
    };
    /** Alipay: title on the payee's bill */
    order_title?: string;
    /** Alipay: show the payer's alias */
    payer_use_alias?: boolean;
  }

  export interface TransferResult {
    code: 0;
    msg: string;
    out_bill_no: string;
    provider: string;
    state: TransferState;
    transfer_amount: number;
    transfer_bill_no?: string;
    fail_reason?: string;
    /** WAIT_USER_CONFIRM: pass to the component's confirmTransfer / uni.requestMerchantTransfer */
    options?: { mchId: string; appId: string; package: string; openId?: string };
    result: Record<string, unknown>;
  }

  /** one difference between a provider's statement and our records (amounts in fen) */
  export interface StatementDiscrepancy {
    /** missing_here: the provider has it, we do not; missing_there: we have it, the provider does not; amount_mismatch */
    kind: 'missing_here' | 'missing_there' | 'amount_mismatch';
    entry: 'payment' | 'refund';
    out_trade_no: string;
    out_refund_no?: string;
    transaction_id?: string;
    provider_amount?: number;
    our_amount?: number;
    our_status?: string;
    /** ours lies within 5 minutes of midnight: the provider may have booked it on the neighbouring day */
    near_cutoff?: boolean;
  }

  /** one statement checked: a provider account (WeChat mchId, Alipay appId) and a day */
  export interface StatementRun {
    provider: 'wxpay' | 'alipay';
    account: string;
    bill_date: string;
    status: 'ok' | 'mismatch' | 'error';
    counts?: {
      provider_payments: number;
      provider_payment_fee: number;
      provider_refunds: number;
      provider_refund_fee: number;
      our_payments: number;
      our_payment_fee: number;
      our_refunds: number;
      our_refund_fee: number;
      matched: number;
    };
    discrepancies: StatementDiscrepancy[];
    discrepancies_dropped?: number;
    summary?: Record<string, string>;
    extra?: Record<string, Record<string, string>>;
    error?: { code: number; msg: string; providerCode?: string };
  }

  export interface CheckStatementsResult {
    code: 0;
    msg: string;
    bill_date: string;
    runs: StatementRun[];
    /** every run's discrepancies as CSV (UTF-8 with BOM, opens in Excel) */
    csv: string;
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
    /**
     * Server code only: pays money out (WeChat merchant transfer in user-confirm mode, Alipay
     * transfer), recorded in vk-pay-transfers before the provider is asked; the same out_bill_no
     * never pays twice (docs/transfers.md). `FAIL` answers error 2106 with the same fields.
     */
    transfer(options: TransferOptions): Result<TransferResult>;
    /** the provider's word on a transfer; settles the ledger (and runs pay-notify/transfer.js where deployed) */
    queryTransfer(options: TransferTarget & ({ out_bill_no: string } | { transfer_bill_no: string })): Result<TransferResult>;
    /** WeChat: cancels before the payee confirms (CANCELING / CANCELLED); 2105 once confirmed */
    cancelTransfer(options: TransferTarget & { out_bill_no: string }): Result<TransferResult>;
    /** vk's URL化 transfer notify entry: `event.path` `/transferNotify/<provider>/<out_bill_no>[/<pid>]` */
    transferNotify(options: {
      event: { path: string; httpMethod?: string; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean };
      context?: unknown;
      callback?: PayNotifyHandler;
    }): Promise<{ mpserverlessComposedResponse: true; statusCode: number; headers: Record<string, string>; body: string }>;
    /** checks a transfer notification you received yourself (signature over the raw body, decryption); writes nothing */
    verifyTransferNotify(
      options: TransferTarget & { headers: Record<string, string>; body: string },
    ): Result<{ code: 0; msg: string; data: Record<string, unknown> }>;
    /**
     * Server code only: downloads the day's statements (对账单; default yesterday, Beijing time) of
     * every configured WeChat Pay / Alipay account, compares them with the orders and the refund
     * ledger, keeps the result in vk-pay-statements and returns it with a CSV.
     */
    checkStatements(options?: { bill_date?: string; provider?: 'wxpay' | 'alipay'; pid?: string }): Result<CheckStatementsResult>;
    /** server code only: the merchant account balance in yuan (`platform`: the config node, e.g. `h5`) */
    queryAccountBalance(options: { provider: Provider; platform: string; pid?: string }): Result<AccountBalanceResult>;
    /** server code only: WeChat virtual-payment coin APIs */
    getWxpayVirtualManager(options?: { pid?: string }): WxpayVirtualManager;
    /** server code only: one coin operation (what getWxpayVirtualManager's methods call) */
    virtualCoins(options: {
      op: keyof Omit<WxpayVirtualManager, 'getSessionKey'>;
      params: Record<string, unknown>;
      pid?: string;
    }): Result<Record<string, unknown>>;
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
