/**
 * The vk-uni-pay client flow: create the order on the server, hand it to the right platform
 * payment API, then confirm the result with the server (polling for QR payments).
 * Framework-free; the Vue component only forwards props, events and lifecycle.
 *
 * The seams live in their own modules: flow.ts (shared state, how a flow ends), polling.ts,
 * openid.ts, channels.ts (per-channel payment), return.ts (MWEB / cashier return), iap.ts.
 */
import { toCallError } from './cloud';
import { route } from './channels';
import { FlowContext } from './flow';
import { MESSAGES } from './options';
import { appleiapPay, appleiapRestore, type IapRestoreReport } from './iap';
import { OpenidSession, needsOpenid } from './openid';
import { confirmOnce } from './polling';
import { checkReturn } from './return';
import type {
  CreatePaymentOptions,
  PayCallbacks,
  PayDeps,
  PayFailResult,
  PayListeners,
  PayOptions,
  PaySuccessResult,
  QueryPaymentOptions,
  UiStatus,
} from './types';

export { DEFAULT_OPTIONS, DEFAULT_QUERY_ACTION, MESSAGES } from './options';
export { isCancelError } from './channels';
export { IAP_CACHE_KEY, type IapRestoreReport } from './iap';

export class VkPayClient {
  private readonly ctx: FlowContext;
  private readonly openid: OpenidSession;

  constructor(deps: PayDeps, options: Partial<PayOptions> = {}, listeners: PayListeners = {}) {
    this.ctx = new FlowContext(deps, options, listeners);
    this.openid = new OpenidSession(this.ctx);
  }

  // ---------------------------------------------------------------- state

  setOptions(options: Partial<PayOptions>): void {
    this.ctx.opts = { ...this.ctx.opts, ...options };
  }

  getOptions(): Readonly<PayOptions> {
    return this.ctx.opts;
  }

  setListeners(listeners: PayListeners): void {
    this.ctx.listeners = listeners;
  }

  /** Bind to the page's onShow/onHide: polling skips its ticks while the page is hidden. */
  setPageShow(show: boolean): void {
    this.ctx.pageShow = show;
  }

  getStatus(): UiStatus {
    return this.ctx.status;
  }

  /** True while a polling loop runs. */
  isPolling(): boolean {
    return this.ctx.poller.isPolling();
  }

  /** Number of ticks the current loop has counted (for diagnostics and tests). */
  pollTicks(): number {
    return this.ctx.poller.ticks();
  }

  /** Stops polling and forgets the current flow without reporting anything. */
  destroy(): void {
    this.ctx.forget();
  }

  stopPolling(): void {
    this.ctx.poller.stop();
  }

  /** Stops the current payment on the user's request (e.g. closing the QR code) and reports a cancel. */
  cancelPayment(errMsg = 'requestPayment:fail cancel'): void {
    const flow = this.ctx.current;
    if (!flow || flow.done) return;
    this.ctx.finishCancel(flow, { errMsg, out_trade_no: flow.outTradeNo });
  }

  // ---------------------------------------------------------------- openid

  /**
   * The payer's openid in a mini program (`uni.login` + `code2Session*` on the server), cached for
   * this client instance. Resolves `undefined` where no login applies (H5, App).
   */
  getOpenid(): Promise<string | undefined> {
    return this.openid.get();
  }

  /** Forget the cached openid (e.g. on logout). */
  clearOpenid(): void {
    this.openid.clear();
  }

  // ---------------------------------------------------------------- createPayment

  async createPayment(options: CreatePaymentOptions): Promise<void> {
    const ctx = this.ctx;
    const { action, data = {}, needAlert = true, create, success, fail, cancel } = options;
    const flow = ctx.newFlow({ create, success, fail, cancel }, needAlert);
    const payload: Record<string, unknown> = { isPC: ctx.deps.env.isPC, ...data };

    if (needsOpenid(ctx, payload)) {
      try {
        const openid = await this.openid.get();
        if (openid) payload.openid = openid;
      } catch (e) {
        ctx.failFromError(flow, 'create', e);
        return;
      }
    }
    if (flow.done) return;

    if (payload.provider === 'appleiap') {
      await appleiapPay(ctx, flow, action, payload);
      return;
    }

    const created = await ctx.createOrder(flow, action, payload);
    if (!created) return;
    route(ctx, flow, created, payload);
  }

  // ---------------------------------------------------------------- queryPayment

  /** Asks the server once whether the order is paid (e.g. a "I have paid" button). */
  async queryPayment(options: QueryPaymentOptions): Promise<PaySuccessResult | PayFailResult> {
    const ctx = this.ctx;
    const otn = options.data?.out_trade_no;
    const needAlert = options.needAlert !== false;
    const uni = ctx.deps.uni;
    let fail: PayFailResult;
    try {
      if (options.title) uni.showLoading?.({ title: options.title, mask: true });
      const r = await confirmOnce(ctx, otn);
      if (r.kind === 'paid') {
        const out: PaySuccessResult = { ...r.res, out_trade_no: r.res.out_trade_no || otn };
        const flow = ctx.current;
        if (flow && !flow.done && flow.outTradeNo === otn) ctx.finishSuccess(flow, out);
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
    if (needAlert) ctx.alert(fail.errMsg);
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
    return checkReturn(this.ctx, href, callbacks);
  }

  // ---------------------------------------------------------------- Apple IAP

  /**
   * Recovers Apple purchases whose verification was lost (app killed, network down): purchased
   * or restored transactions are verified and finished, failed ones are finished.
   */
  appleiapRestore(): Promise<IapRestoreReport> {
    return appleiapRestore(this.ctx);
  }
}
