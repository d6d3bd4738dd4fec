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
import { confirmOnce, pollUntilPaid } from './polling';
import { listPending } from './pending';
import { checkReturn } from './return';
import type {
  CreatePaymentOptions,
  PayCallbacks,
  PayDeps,
  PayFailResult,
  PayListeners,
  PayOptions,
  PaySuccessResult,
  PendingPayment,
  QueryPaymentOptions,
  UiStatus,
} from './types';

export { DEFAULT_OPTIONS, DEFAULT_QUERY_ACTION, MESSAGES } from './options';
export { isCancelError } from './channels';
export { IAP_CACHE_KEY, type IapRestoreReport } from './iap';
export { PENDING_KEY } from './pending';

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

  /**
   * The payer cancels the current payment (e.g. closes the QR code). With the `closeOrder` option
   * the order is closed through the business server first, and the outcome is what the server then
   * says: closed → cancel (`closed: true`), paid after all → success. Without it (or when the close
   * did not take) the cancel reports `closed: false`: the order may still be paid.
   */
  async cancelPayment(errMsg = 'requestPayment:fail cancel'): Promise<void> {
    const ctx = this.ctx;
    const flow = ctx.current;
    if (!flow || flow.done || flow.cancelling) return;
    const otn = flow.outTradeNo;
    let closed = false;
    if (otn && ctx.opts.closeOrder) {
      flow.cancelling = true;
      // the answer after the close decides; a poll seeing the closed order must not report it as expired
      ctx.poller.stopFor(flow);
      try {
        await ctx.opts.closeOrder(otn);
      } catch {
        /* the query below tells what happened */
      }
      try {
        const r = await confirmOnce(ctx, otn);
        if (r.kind === 'paid') return ctx.finishSuccess(flow, r.res);
        closed = r.kind === 'final' && r.fail.status === -1;
      } catch {
        /* unknown: report an open cancel */
      }
    }
    ctx.finishCancel(flow, { errMsg, out_trade_no: otn, closed, message: closed ? MESSAGES.cancelledClosed : MESSAGES.cancelledOpen });
  }

  /** Payments this device started and has not seen end (a cancel, success or failure forgets one). */
  pendingPayments(): PendingPayment[] {
    return listPending(this.ctx.deps.uni);
  }

  /**
   * Picks up a payment created earlier (e.g. the page was reloaded; the business server knows the
   * payer's pending orders): shows the QR again if this device showed one, reports `resume` with
   * what the payer chose, and polls until the order is paid or final.
   */
  resumePayment(options: { out_trade_no: string } & PayCallbacks): void {
    const ctx = this.ctx;
    const { out_trade_no: otn, success, fail, cancel } = options;
    const flow = ctx.newFlow({ success, fail, cancel }, false);
    const saved = ctx.adopt(flow, otn);
    if (saved.codeUrl || saved.qrcodeImage) ctx.showQr(flow, saved.codeUrl, saved.qrcodeImage);
    pollUntilPaid(ctx, flow, otn);
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
