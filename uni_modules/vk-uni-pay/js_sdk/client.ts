/**
 * The vk-uni-pay client flow: create the order on the server, hand it to the right platform
 * payment API, then confirm the result with the server (polling for QR payments).
 * Framework-free; the Vue component only forwards props, events and lifecycle.
 */
import { toCallError } from './cloud';
import { alipayAppLink, appendQuery, getPageParam, withPageParams } from './url';
import type {
  CloudAction,
  CreatePaymentOptions,
  CreatePaymentResult,
  IapChannelLike,
  IapProduct,
  IapTransaction,
  PayCallbacks,
  PayCancelResult,
  PayDeps,
  PayFailResult,
  PayListeners,
  PayOptions,
  PaySuccessResult,
  QueryPaymentOptions,
  QueryPaymentResult,
  TimerLike,
  UiStatus,
  UniFailResult,
} from './types';

export const DEFAULT_QUERY_ACTION = { name: 'vk-pay', method: 'queryPayment' } as const;

export const DEFAULT_OPTIONS: PayOptions = {
  queryPaymentAction: DEFAULT_QUERY_ACTION,
  polling: false,
  pollingTime: 1500,
  maxTicks: 120,
  firstQueryDelay: 200,
  awaitNotify: false,
  payOrderInfo: true,
  autoGetOpenid: true,
  returnTicks: 5,
};

/** Storage key of Apple transactions that were paid but not yet verified and finished. */
export const IAP_CACHE_KEY = 'vk-uni-pay-appleiap-order';

export const MESSAGES = {
  expired: '订单已关闭或已过期 (order closed or expired)',
  refunded: '订单已退款 (order refunded)',
  timeout: '未查询到支付结果，请稍后在订单中查看 (no payment result yet)',
  notPaid: '订单未支付 (order not paid)',
  notReturnedPaid: '未查询到支付成功，如已付款请稍后刷新 (payment not confirmed)',
  confirmTitle: '支付确认',
  confirmContent: '请确认支付是否已完成',
  confirmOk: '已完成',
  confirmCancel: '未完成',
  noBridge: '请在微信内打开 (WeixinJSBridge not available)',
  noVirtual: '当前环境不支持虚拟支付 (requestVirtualPayment not available)',
  noIap: '当前环境不支持 Apple 内购 (appleiap not available)',
  noProduct: '未找到内购商品 (product not found)',
  noLocation: 'location not available',
  unsupported: '当前环境不支持该支付方式 (unsupported pay type)',
} as const;

interface Flow {
  callbacks: PayCallbacks;
  needAlert: boolean;
  outTradeNo?: string;
  created?: CreatePaymentResult;
  done: boolean;
  shownQr: boolean;
}

interface PollLoop {
  flow: Flow;
  outTradeNo: string;
  ticks: number;
  maxTicks: number;
  inFlight: boolean;
  first?: unknown;
  interval?: unknown;
  onLimit: () => void;
}

interface IapCacheEntry {
  out_trade_no: string;
  productid?: string;
  time: number;
}

export interface IapRestoreReport {
  /** out_trade_no of orders verified and finished */
  restored: string[];
  /** transaction ids of failed transactions that were finished */
  finishedFailed: string[];
  /** transactions that could not be verified (kept for the next restore) */
  errors: { transactionIdentifier?: string; out_trade_no?: string; errMsg: string }[];
}

const defaultTimers: TimerLike = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

/** A user cancel, as every uni payment API reports it: `errMsg` containing "cancel". */
export function isCancelError(err: UniFailResult | undefined | null): boolean {
  return /cancel/i.test(String(err?.errMsg ?? ''));
}

export class VkPayClient {
  private readonly deps: PayDeps;
  private readonly timers: TimerLike;
  private opts: PayOptions;
  private listeners: PayListeners;
  private status: UiStatus = 0;
  private pageShow = true;
  private flow: Flow | null = null;
  private loop: PollLoop | null = null;
  /** per instance: one user session's openid, never shared through module state */
  private openid: string | undefined;
  private openidPromise: Promise<string | undefined> | undefined;

  constructor(deps: PayDeps, options: Partial<PayOptions> = {}, listeners: PayListeners = {}) {
    this.deps = deps;
    this.timers = deps.timers || defaultTimers;
    this.opts = { ...DEFAULT_OPTIONS, ...options };
    this.listeners = listeners;
  }

  // ---------------------------------------------------------------- state

  setOptions(options: Partial<PayOptions>): void {
    this.opts = { ...this.opts, ...options };
  }

  getOptions(): Readonly<PayOptions> {
    return this.opts;
  }

  setListeners(listeners: PayListeners): void {
    this.listeners = listeners;
  }

  /** Bind to the page's onShow/onHide: polling skips its ticks while the page is hidden. */
  setPageShow(show: boolean): void {
    this.pageShow = show;
  }

  getStatus(): UiStatus {
    return this.status;
  }

  /** True while a polling loop runs. */
  isPolling(): boolean {
    return this.loop !== null;
  }

  /** Stops polling and forgets the current flow without reporting anything. */
  destroy(): void {
    this.stopPolling();
    if (this.flow) this.flow.done = true;
    this.flow = null;
  }

  stopPolling(): void {
    const loop = this.loop;
    if (!loop) return;
    if (loop.first !== undefined) this.timers.clearTimeout(loop.first);
    if (loop.interval !== undefined) this.timers.clearInterval(loop.interval);
    this.loop = null;
  }

  /** Stops the current payment on the user's request (e.g. closing the QR code) and reports a cancel. */
  cancelPayment(errMsg = 'requestPayment:fail cancel'): void {
    const flow = this.flow;
    if (!flow || flow.done) return;
    this.finishCancel(flow, { errMsg, out_trade_no: flow.outTradeNo });
  }

  private setStatus(status: UiStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.listeners.status?.(status);
  }

  private showQr(flow: Flow, codeUrl: string | undefined, image: string | undefined): void {
    flow.shownQr = true;
    if (codeUrl) this.listeners.codeUrl?.(codeUrl);
    if (image) this.listeners.qrcodeImage?.(image);
  }

  private clearQr(flow: Flow): void {
    if (!flow.shownQr) return;
    flow.shownQr = false;
    this.listeners.codeUrl?.('');
    this.listeners.qrcodeImage?.('');
  }

  private newFlow(callbacks: PayCallbacks, needAlert: boolean): Flow {
    // a new payment supersedes the previous one (its polling stops, it reports nothing more)
    if (this.flow && !this.flow.done) {
      this.flow.done = true;
      this.clearQr(this.flow);
    }
    this.stopPolling();
    const flow: Flow = { callbacks, needAlert, done: false, shownQr: false };
    this.flow = flow;
    return flow;
  }

  private end(flow: Flow): boolean {
    if (flow.done) return false;
    flow.done = true;
    if (this.loop && this.loop.flow === flow) this.stopPolling();
    this.clearQr(flow);
    return true;
  }

  private finishSuccess(flow: Flow, res: QueryPaymentResult): void {
    if (!this.end(flow)) return;
    const out: PaySuccessResult = {
      ...res,
      out_trade_no: str(res.out_trade_no) || flow.outTradeNo || '',
      provider: flow.created?.provider,
      pay_type: flow.created?.pay_type,
    };
    this.setStatus(2);
    this.listeners.success?.(out);
    flow.callbacks.success?.(out);
  }

  private finishFail(flow: Flow, res: PayFailResult): void {
    if (!this.end(flow)) return;
    const out: PayFailResult = { ...res, out_trade_no: res.out_trade_no ?? flow.outTradeNo };
    this.setStatus(0);
    if (flow.needAlert) this.alert(out.errMsg);
    this.listeners.fail?.(out);
    flow.callbacks.fail?.(out);
  }

  private finishCancel(flow: Flow, res: PayCancelResult): void {
    if (!this.end(flow)) return;
    const out: PayCancelResult = { ...res, out_trade_no: res.out_trade_no ?? flow.outTradeNo };
    this.setStatus(0);
    this.listeners.cancel?.(out);
    flow.callbacks.cancel?.(out);
  }

  private alert(content: string): void {
    try {
      this.deps.uni.showModal({ title: '提示', content, showCancel: false });
    } catch {
      /* alerts are best effort */
    }
  }

  private failFromError(flow: Flow, failType: PayFailResult['failType'], e: unknown): void {
    const err = toCallError(e);
    this.finishFail(flow, { failType, errMsg: err.errMsg, errCode: err.errCode });
  }

  // ---------------------------------------------------------------- cloud

  private vkPayObjectName(): string {
    const a = this.opts.queryPaymentAction;
    if (typeof a === 'string') return a;
    return a.name || DEFAULT_QUERY_ACTION.name;
  }

  private vkPayMethod(method: string): CloudAction {
    return { name: this.vkPayObjectName(), method };
  }

  private async query(outTradeNo: string, awaitNotify: boolean): Promise<QueryPaymentResult> {
    const res = await this.deps.callCloud(this.opts.queryPaymentAction, {
      out_trade_no: outTradeNo,
      await_notify: awaitNotify,
      pay_order_info: this.opts.payOrderInfo,
    });
    return res as unknown as QueryPaymentResult;
  }

  /**
   * One confirmation step: 'paid' (with the result to report), 'final' (closed, expired or
   * refunded: a failure to report) or 'pending'.
   */
  private async confirmOnce(
    outTradeNo: string,
  ): Promise<
    { kind: 'paid'; res: QueryPaymentResult } | { kind: 'final'; fail: PayFailResult } | { kind: 'pending'; res: QueryPaymentResult }
  > {
    let res = await this.query(outTradeNo, false);
    if (res.orderPaid) {
      if (this.opts.awaitNotify && res.user_order_success !== true) {
        // wait for the business handler (the server may run it actively)
        try {
          const again = await this.query(outTradeNo, true);
          if (again.orderPaid) res = again;
        } catch {
          /* paid is paid; report what we have */
        }
      }
      return { kind: 'paid', res };
    }
    if (res.status === -1) return { kind: 'final', fail: { failType: 'result', errMsg: MESSAGES.expired, status: -1, expired: true } };
    if (res.status === 2 || res.status === 3)
      return { kind: 'final', fail: { failType: 'result', errMsg: MESSAGES.refunded, status: res.status } };
    return { kind: 'pending', res };
  }

  // ---------------------------------------------------------------- polling

  private isVisible(): boolean {
    return this.pageShow && !(this.deps.isHidden?.() ?? false);
  }

  /**
   * The check loop: first query after `firstQueryDelay`, then one tick every `pollingTime`.
   * A tick is skipped while a query is in flight or the page is hidden; after `maxTicks` ticks
   * `onLimit` runs. A paid or final answer ends the flow.
   */
  private startCheck(flow: Flow, outTradeNo: string, maxTicks: number, onLimit: () => void): void {
    this.stopPolling();
    const loop: PollLoop = { flow, outTradeNo, ticks: 0, maxTicks, inFlight: false, onLimit };
    this.loop = loop;
    loop.first = this.timers.setTimeout(() => {
      loop.first = undefined;
      if (this.loop !== loop) return;
      loop.interval = this.timers.setInterval(() => void this.tick(loop), this.opts.pollingTime);
      void this.tick(loop);
    }, this.opts.firstQueryDelay);
  }

  private async tick(loop: PollLoop): Promise<void> {
    if (this.loop !== loop || loop.flow.done) return;
    if (loop.ticks >= loop.maxTicks) {
      if (loop.inFlight) return; // let the last query answer first
      this.stopPolling();
      loop.onLimit();
      return;
    }
    loop.ticks++;
    if (loop.inFlight || !this.isVisible()) return;
    loop.inFlight = true;
    try {
      const r = await this.confirmOnce(loop.outTradeNo);
      if (this.loop !== loop || loop.flow.done) return;
      if (r.kind === 'paid') this.finishSuccess(loop.flow, r.res);
      else if (r.kind === 'final') this.finishFail(loop.flow, r.fail);
    } catch {
      // a failed query (network, server busy) does not end the loop; the next tick retries
    } finally {
      loop.inFlight = false;
    }
  }

  /** Number of ticks the current loop has counted (for diagnostics and tests). */
  pollTicks(): number {
    return this.loop ? this.loop.ticks : 0;
  }

  private pollUntilPaid(flow: Flow, outTradeNo: string): void {
    this.startCheck(flow, outTradeNo, this.opts.maxTicks, () =>
      this.finishFail(flow, { failType: 'result', errMsg: MESSAGES.timeout, timeout: true }),
    );
  }

  /** The platform API reported success: confirm it with the server (or trust it, if allowed). */
  private afterRequestSuccess(flow: Flow, outTradeNo: string): void {
    if (!this.opts.awaitNotify && !this.opts.payOrderInfo) {
      this.finishSuccess(flow, { orderPaid: true, out_trade_no: outTradeNo });
      return;
    }
    this.pollUntilPaid(flow, outTradeNo);
  }

  // ---------------------------------------------------------------- openid

  /**
   * The payer's openid in a mini program (`uni.login` + `code2Session*` on the server), cached for
   * this client instance. Resolves `undefined` where no login applies (H5, App).
   */
  getOpenid(): Promise<string | undefined> {
    if (this.openid) return Promise.resolve(this.openid);
    const platform = this.deps.env.platform;
    let provider: string;
    let method: string;
    if (platform === 'mp-weixin') {
      provider = 'weixin';
      method = 'code2SessionWeixinMP';
    } else if (platform === 'mp-alipay') {
      provider = 'alipay';
      method = 'code2SessionAlipay';
    } else {
      return Promise.resolve(undefined);
    }
    if (!this.openidPromise) {
      this.openidPromise = (async () => {
        const login = await new Promise<{ code?: string; authCode?: string }>((resolve, reject) =>
          this.deps.uni.login({ provider, success: resolve, fail: reject }),
        );
        const code = login.code || login.authCode;
        if (!code) throw toCallError({ errCode: 'LOGIN_FAILED', errMsg: 'uni.login returned no code' });
        const res = await this.deps.callCloud(this.vkPayMethod(method), { code });
        const openid = str(res.openid);
        if (!openid) throw toCallError({ errCode: 'NO_OPENID', errMsg: `${method} returned no openid` });
        this.openid = openid;
        return openid;
      })().catch((e: unknown) => {
        this.openidPromise = undefined; // a failed login may be retried
        throw toCallError(e);
      });
    }
    return this.openidPromise;
  }

  /** Forget the cached openid (e.g. on logout). */
  clearOpenid(): void {
    this.openid = undefined;
    this.openidPromise = undefined;
  }

  // ---------------------------------------------------------------- createPayment

  async createPayment(options: CreatePaymentOptions): Promise<void> {
    const { action, data = {}, needAlert = true, create, success, fail, cancel } = options;
    const flow = this.newFlow({ create, success, fail, cancel }, needAlert);
    const env = this.deps.env;
    const payload: Record<string, unknown> = { isPC: env.isPC, ...data };

    if (
      this.opts.autoGetOpenid &&
      payload.openid === undefined &&
      (env.platform === 'mp-weixin' || env.platform === 'mp-alipay') &&
      payload.provider !== 'vkspay'
    ) {
      try {
        const openid = await this.getOpenid();
        if (openid) payload.openid = openid;
      } catch (e) {
        this.failFromError(flow, 'create', e);
        return;
      }
    }
    if (flow.done) return;

    if (payload.provider === 'appleiap') {
      await this.appleiapPay(flow, action, payload);
      return;
    }

    const created = await this.createOrder(flow, action, payload);
    if (!created) return;
    this.route(flow, created, payload);
  }

  private async createOrder(flow: Flow, action: CloudAction, payload: Record<string, unknown>): Promise<CreatePaymentResult | null> {
    const uni = this.deps.uni;
    let created: CreatePaymentResult;
    try {
      uni.showLoading?.({ title: '请稍候', mask: true });
      created = (await this.deps.callCloud(action, payload)) as unknown as CreatePaymentResult;
    } catch (e) {
      uni.hideLoading?.();
      this.failFromError(flow, 'create', e);
      return null;
    }
    uni.hideLoading?.();
    if (flow.done) return null;
    flow.created = created;
    flow.outTradeNo = created.out_trade_no;
    this.listeners.create?.(created);
    if (flow.callbacks.create?.(created) === false) {
      // the page stopped the flow (e.g. to show its own UI)
      flow.done = true;
      return null;
    }
    if (!created.out_trade_no) {
      this.finishFail(flow, { failType: 'create', errMsg: 'createPayment returned no out_trade_no' });
      return null;
    }
    this.setStatus(1);
    return created;
  }

  private route(flow: Flow, res: CreatePaymentResult, payload: Record<string, unknown>): void {
    const env = this.deps.env;
    const payType = res.pay_type || '';
    if (res.provider === 'vkspay') {
      this.vkspayPay(flow, res);
    } else if (
      res.needQRcode ||
      env.platform === 'h5' ||
      payType.endsWith('_h5') ||
      (env.platform === 'app' && res.provider === 'alipay' && payload.alipayAppPayToH5Pay === true)
    ) {
      void this.h5Pay(flow, res);
    } else if (res.provider === 'wxpay-virtual' || payType.startsWith('wxpay-virtual_')) {
      this.virtualPay(flow, res);
    } else if (env.platform === 'app' || env.platform === 'mp-weixin' || env.platform === 'mp-alipay') {
      this.requestPayment(flow, res);
    } else {
      this.finishFail(flow, { failType: 'request', errMsg: MESSAGES.unsupported });
    }
  }

  private orderUrls(res: CreatePaymentResult): { codeUrl?: string; mwebUrl?: string } {
    const info = res.orderInfo;
    if (typeof info === 'string') return /^https?:\/\//i.test(info) ? { codeUrl: info } : {};
    if (!isRecord(info)) return {};
    return {
      codeUrl: str(info.codeUrl) || str(info.code_url) || str(info.qr_code),
      mwebUrl: str(info.mwebUrl) || str(info.mweb_url) || str(info.h5_url),
    };
  }

  /** VksPay: the QR code / link popup, confirmed by polling. */
  private vkspayPay(flow: Flow, res: CreatePaymentResult): void {
    const { codeUrl, mwebUrl } = this.orderUrls(res);
    this.showQr(flow, codeUrl || mwebUrl, res.qrcodeImage);
    if (this.opts.polling) this.pollUntilPaid(flow, res.out_trade_no);
  }

  /** Web payments: QR code, Alipay cashier, WeChat MWEB redirect or 公众号 JSAPI. */
  private async h5Pay(flow: Flow, res: CreatePaymentResult): Promise<void> {
    const env = this.deps.env;
    const { codeUrl, mwebUrl } = this.orderUrls(res);
    const image = str(res.qrcodeImage);
    const otn = res.out_trade_no;

    if (codeUrl || image) {
      const showQr = !!res.needQRcode || env.isPC || res.provider === 'wxpay' || !codeUrl;
      if (showQr) {
        this.showQr(flow, codeUrl, image);
      } else if (codeUrl) {
        // Alipay 当面付 on a phone: open the cashier instead of showing a QR code to oneself
        if (env.platform === 'app' && this.deps.plus) this.deps.plus.runtime.openURL(codeUrl);
        else if (env.inWeixin || env.inAlipay) this.navigate(flow, codeUrl);
        else this.navigate(flow, alipayAppLink(codeUrl));
      }
      if (this.opts.polling && !flow.done) this.pollUntilPaid(flow, otn);
      return;
    }

    if (mwebUrl) {
      const loc = this.deps.location;
      if (!loc) {
        this.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noLocation });
        return;
      }
      const back = withPageParams(this.opts.returnUrl || loc.href, { confirmShow: 'true', out_trade_no: otn });
      this.navigate(flow, appendQuery(mwebUrl, 'redirect_url', back));
      return;
    }

    // 公众号 JSAPI inside the WeChat browser
    if (!this.deps.getWeixinJSBridge || !isRecord(res.orderInfo)) {
      this.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noBridge });
      return;
    }
    let bridge;
    try {
      bridge = await this.deps.getWeixinJSBridge();
    } catch (e) {
      this.failFromError(flow, 'request', e);
      return;
    }
    if (flow.done) return;
    bridge.invoke('getBrandWCPayRequest', res.orderInfo, (r) => {
      const msg = String(r?.err_msg ?? r?.errMsg ?? '');
      if (/:ok$/i.test(msg)) this.afterRequestSuccess(flow, otn);
      else if (/cancel/i.test(msg)) this.finishCancel(flow, { errMsg: msg });
      else this.finishFail(flow, { failType: 'request', errMsg: msg || 'get_brand_wcpay_request:fail' });
    });
  }

  private navigate(flow: Flow, url: string): void {
    const loc = this.deps.location;
    if (!loc) {
      this.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noLocation });
      return;
    }
    loc.assign(url);
  }

  /** Mini program / App: `uni.requestPayment`. */
  private requestPayment(flow: Flow, res: CreatePaymentResult): void {
    const env = this.deps.env;
    const otn = res.out_trade_no;
    const info = res.orderInfo;
    let params: Record<string, unknown>;
    if (res.provider === 'wxpay' && env.platform === 'mp-weixin') {
      params = { provider: 'wxpay', ...(isRecord(info) ? info : {}) };
    } else if (res.provider === 'alipay' && env.platform === 'mp-alipay') {
      const tradeNo = isRecord(info) ? str(info.trade_no) || str(info.tradeNO) || str(info.tradeNo) : str(info);
      params = { provider: 'alipay', orderInfo: tradeNo };
    } else {
      params = { provider: res.provider, orderInfo: info };
    }
    this.deps.uni.requestPayment({
      ...params,
      success: (r) => {
        const code = isRecord(r) ? String(r.resultCode ?? '') : '';
        // Alipay reports its result code; 8000 (processing) and 6004 (unknown) need a query
        if (!code || code === '9000' || code === '8000' || code === '6004') this.afterRequestSuccess(flow, otn);
        else if (code === '6001') this.finishCancel(flow, { errMsg: 'requestPayment:fail cancel' });
        else this.finishFail(flow, { failType: 'request', errMsg: `requestPayment:fail ${code}`, errCode: code });
      },
      fail: (err) => this.onRequestFail(flow, err),
    });
  }

  private onRequestFail(flow: Flow, err: UniFailResult): void {
    if (isCancelError(err) || String(err?.resultCode ?? '') === '6001') {
      this.finishCancel(flow, { errMsg: String(err?.errMsg || 'requestPayment:fail cancel') });
    } else {
      this.finishFail(flow, { failType: 'request', errMsg: String(err?.errMsg || 'requestPayment:fail'), errCode: err?.errCode });
    }
  }

  /** WeChat mini program virtual payment: `uni.requestVirtualPayment`. */
  private virtualPay(flow: Flow, res: CreatePaymentResult): void {
    const uni = this.deps.uni;
    if (typeof uni.requestVirtualPayment !== 'function') {
      this.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noVirtual });
      return;
    }
    const info = isRecord(res.orderInfo) ? res.orderInfo : {};
    uni.requestVirtualPayment({
      signData: info.signData,
      mode: info.mode,
      paySig: info.paySig,
      signature: info.signature,
      success: () => this.afterRequestSuccess(flow, res.out_trade_no),
      fail: (err) => this.onRequestFail(flow, err),
    });
  }

  // ---------------------------------------------------------------- queryPayment

  /** Asks the server once whether the order is paid (e.g. a "I have paid" button). */
  async queryPayment(options: QueryPaymentOptions): Promise<PaySuccessResult | PayFailResult> {
    const otn = options.data?.out_trade_no;
    const needAlert = options.needAlert !== false;
    const uni = this.deps.uni;
    let fail: PayFailResult;
    try {
      if (options.title) uni.showLoading?.({ title: options.title, mask: true });
      const r = await this.confirmOnce(otn);
      if (r.kind === 'paid') {
        const out: PaySuccessResult = { ...r.res, out_trade_no: r.res.out_trade_no || otn };
        if (this.flow && !this.flow.done && this.flow.outTradeNo === otn) this.finishSuccess(this.flow, out);
        options.success?.(out);
        return out;
      }
      fail =
        r.kind === 'final'
          ? { ...r.fail, out_trade_no: otn }
          : { failType: 'result', errMsg: MESSAGES.notPaid, out_trade_no: otn, status: r.res.status };
    } catch (e) {
      const err = toCallError(e);
      fail = { failType: 'result', errMsg: err.errMsg, errCode: err.errCode, out_trade_no: otn };
    } finally {
      if (options.title) uni.hideLoading?.();
    }
    if (needAlert) this.alert(fail.errMsg);
    options.fail?.(fail);
    return fail;
  }

  // ---------------------------------------------------------------- mweb return

  /**
   * After a WeChat MWEB (or cashier) redirect the page comes back with
   * `confirmShow=true&out_trade_no=…`: ask "did you finish paying?", then confirm with the server.
   * Returns true when such a return was detected.
   */
  checkReturn(href?: string, callbacks: PayCallbacks = {}): boolean {
    const url = href ?? this.deps.location?.href ?? '';
    if (getPageParam(url, 'confirmShow') !== 'true') return false;
    const otn = getPageParam(url, 'out_trade_no');
    if (!otn) return false;
    this.deps.replaceUrl?.(withPageParams(url, { confirmShow: null, out_trade_no: null }));
    const flow = this.newFlow(callbacks, false);
    flow.outTradeNo = otn;
    this.setStatus(1);
    this.deps.uni.showModal({
      title: MESSAGES.confirmTitle,
      content: MESSAGES.confirmContent,
      confirmText: MESSAGES.confirmOk,
      cancelText: MESSAGES.confirmCancel,
      success: (m) => {
        if (m.confirm) {
          this.startCheck(flow, otn, this.opts.returnTicks, () =>
            this.finishFail(flow, { failType: 'result', errMsg: MESSAGES.notReturnedPaid }),
          );
        } else {
          void this.cancelUnlessPaid(flow, otn);
        }
      },
      fail: () => void this.cancelUnlessPaid(flow, otn),
    });
    return true;
  }

  /** The user says they did not pay: one query still wins if the money did arrive. */
  private async cancelUnlessPaid(flow: Flow, otn: string): Promise<void> {
    try {
      const r = await this.confirmOnce(otn);
      if (r.kind === 'paid') {
        this.finishSuccess(flow, r.res);
        return;
      }
    } catch {
      /* fall through to cancel */
    }
    this.finishCancel(flow, { errMsg: 'requestPayment:fail cancel' });
  }

  // ---------------------------------------------------------------- Apple IAP

  private async iapChannel(): Promise<IapChannelLike> {
    if (!this.deps.getIapChannel) throw toCallError({ errCode: 'NO_IAP', errMsg: MESSAGES.noIap });
    return this.deps.getIapChannel();
  }

  private readIapCache(): Record<string, IapCacheEntry> {
    const v = this.deps.uni.getStorageSync(IAP_CACHE_KEY);
    return isRecord(v) ? (v as Record<string, IapCacheEntry>) : {};
  }

  private writeIapCache(cache: Record<string, IapCacheEntry>): void {
    this.deps.uni.setStorageSync(IAP_CACHE_KEY, cache);
  }

  /** Verifies one Apple transaction on the server, then finishes it and drops it from the cache. */
  private async verifyAndFinish(channel: IapChannelLike, tx: IapTransaction, outTradeNo: string): Promise<Record<string, unknown>> {
    const res = tx.signedTransaction
      ? await this.deps.callCloud(this.vkPayMethod('verifyAppleTransaction'), {
          out_trade_no: outTradeNo,
          signedTransaction: tx.signedTransaction,
        })
      : await this.deps.callCloud(this.vkPayMethod('verifyAppleReceipt'), {
          out_trade_no: outTradeNo,
          transaction_receipt: tx.transactionReceipt,
          transaction_identifier: tx.transactionIdentifier,
        });
    await new Promise<void>((resolve, reject) => channel.finishTransaction(tx, resolve, reject));
    if (tx.transactionIdentifier) {
      const cache = this.readIapCache();
      delete cache[tx.transactionIdentifier];
      this.writeIapCache(cache);
    }
    return res;
  }

  private async appleiapPay(flow: Flow, action: CloudAction, payload: Record<string, unknown>): Promise<void> {
    const productid = str(payload.productid);
    if (!productid) {
      this.finishFail(flow, { failType: 'create', errMsg: 'productid is required for appleiap' });
      return;
    }
    let channel: IapChannelLike;
    let product: IapProduct | undefined;
    try {
      channel = await this.iapChannel();
      const products = await new Promise<IapProduct[]>((resolve, reject) => channel.requestProduct([productid], resolve, reject));
      product = products.find((p) => p.productid === productid);
    } catch (e) {
      this.failFromError(flow, 'request', e);
      return;
    }
    if (!product) {
      this.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noProduct });
      return;
    }
    // the server prices the product itself; the title is informational
    const created = await this.createOrder(flow, action, { ...payload, subject: payload.subject ?? product.title ?? product.description });
    if (!created) return;
    const otn = created.out_trade_no;
    this.deps.uni.requestPayment({
      provider: 'appleiap',
      orderInfo: { productid, username: otn, quantity: 1, manualFinishTransaction: true },
      success: (r) => {
        const tx = r as unknown as IapTransaction;
        if (tx.transactionIdentifier) {
          const cache = this.readIapCache();
          cache[tx.transactionIdentifier] = { out_trade_no: otn, productid, time: Date.now() };
          this.writeIapCache(cache);
        }
        this.verifyAndFinish(channel, tx, otn).then(
          () => !flow.done && this.afterRequestSuccess(flow, otn),
          (e: unknown) => this.failFromError(flow, 'result', e),
        );
      },
      fail: (err) => {
        if (String(err?.errCode) === '2' || isCancelError(err))
          this.finishCancel(flow, { errMsg: String(err?.errMsg || 'requestPayment:fail cancel') });
        else this.finishFail(flow, { failType: 'request', errMsg: String(err?.errMsg || 'requestPayment:fail'), errCode: err?.errCode });
      },
    });
  }

  /**
   * Recovers Apple purchases whose verification was lost (app killed, network down): purchased
   * or restored transactions are verified and finished, failed ones are finished.
   */
  async appleiapRestore(): Promise<IapRestoreReport> {
    const report: IapRestoreReport = { restored: [], finishedFailed: [], errors: [] };
    const channel = await this.iapChannel();
    const txs = await new Promise<IapTransaction[]>((resolve, reject) =>
      channel.restoreCompletedTransactions({ manualFinishTransaction: true }, resolve, reject),
    );
    const cache = this.readIapCache();
    for (const tx of txs || []) {
      const state = String(tx.transactionState ?? '');
      const id = tx.transactionIdentifier;
      if (state === '2') {
        try {
          await new Promise<void>((resolve, reject) => channel.finishTransaction(tx, resolve, reject));
          report.finishedFailed.push(id || '');
        } catch (e) {
          report.errors.push({ transactionIdentifier: id, errMsg: toCallError(e).errMsg });
        }
        continue;
      }
      if (state !== '1' && state !== '3') continue;
      const otn = str(tx.payment?.username) || (id ? cache[id]?.out_trade_no : undefined);
      if (!otn) {
        report.errors.push({ transactionIdentifier: id, errMsg: 'no out_trade_no for this transaction' });
        continue;
      }
      try {
        await this.verifyAndFinish(channel, tx, otn);
        report.restored.push(otn);
      } catch (e) {
        report.errors.push({ transactionIdentifier: id, out_trade_no: otn, errMsg: toCallError(e).errMsg });
      }
    }
    return report;
  }
}
