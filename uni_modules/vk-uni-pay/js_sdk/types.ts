/**
 * Types of the vk-uni-pay client flow (framework-free).
 *
 * Every platform API the flow touches (`uni`, `WeixinJSBridge`, `plus`, `location`, timers and the
 * cloud caller) is described here as a small interface and injected into {@link VkPayClient}, so the
 * flow runs unchanged in uni-app (Vue 2 or 3), in a plain browser and in unit tests with fakes.
 */

/** Compile-time platform (uni-app `process.env.UNI_PLATFORM` / `#ifdef` value), normalised. */
export type ClientPlatform = 'h5' | 'app' | 'mp-weixin' | 'mp-alipay' | 'mp-harmony' | 'mp-toutiao' | 'other';

export type PayProvider = 'wxpay' | 'alipay' | 'appleiap' | 'vkspay' | 'wxpay-virtual' | 'douyin' | (string & {});

/** What the client knows about where it runs. */
export interface PayEnv {
  platform: ClientPlatform;
  /** desktop browser (navigator.platform Win/Mac/X11/Linux); always false outside H5 */
  isPC: boolean;
  /** the WeChat in-app browser (UA contains MicroMessenger) */
  inWeixin: boolean;
  /** the Alipay in-app browser (UA contains AlipayClient) */
  inAlipay: boolean;
}

// ---------------------------------------------------------------------------------------------
// uni (only what the flow uses)

export interface UniFailResult {
  errMsg?: string;
  errCode?: number | string;
  [key: string]: unknown;
}

export interface UniCallbacks<T = Record<string, unknown>> {
  success?: (res: T) => void;
  fail?: (err: UniFailResult) => void;
  complete?: () => void;
}

export interface ModalOptions {
  title?: string;
  content?: string;
  showCancel?: boolean;
  confirmText?: string;
  cancelText?: string;
}

export interface ModalResult {
  confirm: boolean;
  cancel: boolean;
}

export interface LoginResult {
  code: string;
  authCode?: string;
  errMsg?: string;
}

export interface UniLike {
  requestPayment(options: Record<string, unknown> & UniCallbacks): void;
  requestVirtualPayment?(options: Record<string, unknown> & UniCallbacks): void;
  login(options: { provider?: string } & UniCallbacks<LoginResult>): void;
  showModal(options: ModalOptions & UniCallbacks<ModalResult>): void;
  showLoading?(options: { title: string; mask?: boolean }): void;
  hideLoading?(): void;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: unknown): void;
}

// ---------------------------------------------------------------------------------------------
// other platform objects

/** `WeixinJSBridge` inside the WeChat browser (公众号 JSAPI payment). */
export interface WeixinJSBridgeLike {
  invoke(
    name: 'getBrandWCPayRequest' | 'requestMerchantTransfer',
    params: Record<string, unknown>,
    callback: (res: { err_msg?: string; errMsg?: string }) => void,
  ): void;
}

/** An Apple IAP product (`plus.payment` channel `appleiap`). */
export interface IapProduct {
  productid: string;
  price?: string | number;
  title?: string;
  description?: string;
}

/** A StoreKit transaction as reported by `plus.payment`. */
export interface IapTransaction {
  /** '1' purchased, '2' failed, '3' restored (StoreKit SKPaymentTransactionState + 1 in plus) */
  transactionState?: string | number;
  transactionIdentifier?: string;
  transactionReceipt?: string;
  /** StoreKit 2 JWS, when the runtime provides it */
  signedTransaction?: string;
  payment?: { productid?: string; username?: string; quantity?: number };
  [key: string]: unknown;
}

export interface IapChannelLike {
  requestProduct(ids: string[], success: (products: IapProduct[]) => void, fail: (err: UniFailResult) => void): void;
  finishTransaction(tx: IapTransaction, success: () => void, fail: (err: UniFailResult) => void): void;
  restoreCompletedTransactions(
    options: { manualFinishTransaction: boolean; username?: string },
    success: (txs: IapTransaction[]) => void,
    fail: (err: UniFailResult) => void,
  ): void;
}

/** The subset of `plus` used: opening an external URL. */
export interface PlusLike {
  runtime: { openURL(url: string, fail?: (err: unknown) => void): void };
}

export interface LocationLike {
  readonly href: string;
  assign(url: string): void;
}

export interface TimerLike {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

// ---------------------------------------------------------------------------------------------
// cloud

/**
 * Which server code to call.
 * - `{name, method}`: a cloud object method (`uniCloud.importObject(name)[method](data)`);
 * - `{name, action, actionKey?, dataKey?}`: a router cloud function (vk style `{action, data}`);
 * - a string: a plain cloud function called with `data`.
 */
export type CloudAction =
  { name: string; method: string } | { name: string; action: string; actionKey?: string; dataKey?: string } | string;

/**
 * Calls server code and resolves with its result object. Rejects with an error carrying
 * `errCode`/`errMsg` when the server answered an error (uniCloud response spec).
 */
export type CloudCaller = (action: CloudAction, data: Record<string, unknown>) => Promise<Record<string, unknown>>;

// ---------------------------------------------------------------------------------------------
// server results (contract of vk-pay / the business object)

export interface CreatePaymentResult {
  errCode?: number | string;
  errMsg?: string;
  orderInfo?: unknown;
  out_trade_no: string;
  provider: PayProvider;
  pay_type: string;
  needQRcode?: boolean | 'image';
  qrcodeImage?: string;
  total_fee?: number;
  platform?: string;
  [key: string]: unknown;
}

/** DB status: -1 closed, 0 unpaid, 1 paid, 2 partly refunded, 3 fully refunded. */
export type OrderStatus = -1 | 0 | 1 | 2 | 3;

export interface QueryPaymentResult {
  errCode?: number | string;
  errMsg?: string;
  orderPaid: boolean;
  user_order_success?: boolean;
  status?: OrderStatus;
  out_trade_no?: string;
  transaction_id?: string;
  payOrder?: Record<string, unknown>;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// events

/** UI state of the component: 0 idle, 1 paying, 2 paid (NOT the DB status). */
export type UiStatus = 0 | 1 | 2;

export type FailType = 'create' | 'request' | 'result';

export interface PayFailResult {
  failType: FailType;
  errMsg: string;
  errCode?: number | string;
  out_trade_no?: string;
  status?: OrderStatus;
  /** true when the polling limit was reached without a final answer */
  timeout?: boolean;
  /** true when the order is closed or expired (status -1) */
  expired?: boolean;
}

export interface PayCancelResult {
  /** `requestPayment:fail cancel` style API string (for code, not for people) */
  errMsg: string;
  out_trade_no?: string;
  /** true when the server confirms the order is closed: it can no longer be paid */
  closed?: boolean;
  /** what to tell the payer */
  message?: string;
}

/** A payment in progress, remembered on the device (see `resumePayment`). */
export interface PendingPayment {
  out_trade_no: string;
  provider?: PayProvider;
  pay_type?: string;
  /** the createPayment `data` the payer chose (without openid) */
  data?: Record<string, unknown>;
  codeUrl?: string;
  qrcodeImage?: string;
  /** ms timestamp of the last update */
  time: number;
}

export interface PaySuccessResult extends QueryPaymentResult {
  out_trade_no: string;
  provider?: PayProvider;
  pay_type?: string;
}

export interface PayCallbacks {
  /** return `false` to stop the flow after the order was created */
  create?: (res: CreatePaymentResult) => boolean | void;
  success?: (res: PaySuccessResult) => void;
  fail?: (res: PayFailResult) => void;
  cancel?: (res: PayCancelResult) => void;
}

/** Component-level listeners (the Vue component maps them to `$emit`). */
export interface PayListeners extends PayCallbacks {
  status?: (status: UiStatus) => void;
  codeUrl?: (codeUrl: string) => void;
  qrcodeImage?: (image: string) => void;
  /** a payment in progress was picked up again (reload, return from a cashier): restore the page */
  resume?: (pending: PendingPayment) => void;
}

export interface CreatePaymentOptions extends PayCallbacks {
  /** the business cloud object/function that creates the order and returns createPayment's result */
  action: CloudAction;
  data?: Record<string, unknown>;
  /** show a modal for errors (default true) */
  needAlert?: boolean;
}

export interface QueryPaymentOptions {
  data: { out_trade_no: string };
  title?: string;
  needAlert?: boolean;
  success?: (res: PaySuccessResult) => void;
  fail?: (res: PayFailResult) => void;
}

// ---------------------------------------------------------------------------------------------
// the client

export interface PayOptions {
  queryPaymentAction: CloudAction;
  polling: boolean;
  /** ms between polling ticks (default 1500) */
  pollingTime: number;
  /** polling gives up after this many ticks (default 120) */
  maxTicks: number;
  /** ms before the first query (default 200) */
  firstQueryDelay: number;
  awaitNotify: boolean;
  payOrderInfo: boolean;
  autoGetOpenid: boolean;
  /** WeChat MWEB return page; default: the current page */
  returnUrl?: string;
  /** ticks allowed after returning from a mweb / Alipay cashier before reporting "not paid" */
  returnTicks: number;
  /**
   * ms to wait for the Alipay app to open from a plain mobile browser before offering the
   * cashier link / QR instead (default 2500)
   */
  appOpenTimeout: number;
  /**
   * Called when the payer cancels (`cancelPayment`): close the order through YOUR server code
   * (e.g. a business cloud object that calls vk-uni-pay `closeOrder`). The outcome reported is
   * what the server says afterwards: closed → cancel, paid → success.
   */
  closeOrder?: (outTradeNo: string) => Promise<unknown>;
}

export interface PayDeps {
  uni: UniLike;
  callCloud: CloudCaller;
  env: PayEnv;
  timers?: TimerLike;
  location?: LocationLike;
  /** resolves with the bridge once `WeixinJSBridgeReady` fired (H5 inside WeChat) */
  getWeixinJSBridge?: () => Promise<WeixinJSBridgeLike>;
  plus?: PlusLike;
  /** resolves with the `appleiap` payment channel (App on iOS) */
  getIapChannel?: () => Promise<IapChannelLike>;
  /** whether the document is hidden (in addition to the `pageShow` flag) */
  isHidden?: () => boolean;
  /** rewrite the current URL without reloading (drops confirmShow after a mweb return) */
  replaceUrl?: (url: string) => void;
}
