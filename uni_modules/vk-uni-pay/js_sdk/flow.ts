/**
 * The state every payment path shares: options, listeners, the UI status and the current flow,
 * and the one way a flow ends (success, fail or cancel, each reported once).
 */
import { toCallError } from './cloud';
import { DEFAULT_OPTIONS, DEFAULT_QUERY_ACTION } from './options';
import { dropPending, getPending, savePending } from './pending';
import { Poller } from './polling';
import type {
  CloudAction,
  CreatePaymentResult,
  PayCallbacks,
  PayCancelResult,
  PayDeps,
  PayFailResult,
  PayListeners,
  PayOptions,
  PaySuccessResult,
  PendingPayment,
  QueryPaymentResult,
  TimerLike,
  UiStatus,
} from './types';

/** One payment attempt, from createPayment (or a return) to its single outcome. */
export interface Flow {
  callbacks: PayCallbacks;
  needAlert: boolean;
  outTradeNo?: string;
  created?: CreatePaymentResult;
  done: boolean;
  shownQr: boolean;
  /** the payer asked to cancel; the server is being asked to close the order */
  cancelling?: boolean;
}

const defaultTimers: TimerLike = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

export class FlowContext {
  readonly deps: PayDeps;
  readonly timers: TimerLike;
  opts: PayOptions;
  listeners: PayListeners;
  status: UiStatus = 0;
  pageShow = true;
  current: Flow | null = null;
  readonly poller: Poller;

  constructor(deps: PayDeps, options: Partial<PayOptions>, listeners: PayListeners) {
    this.deps = deps;
    this.timers = deps.timers || defaultTimers;
    this.opts = { ...DEFAULT_OPTIONS, ...options };
    this.listeners = listeners;
    this.poller = new Poller(this);
  }

  setStatus(status: UiStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.listeners.status?.(status);
  }

  showQr(flow: Flow, codeUrl: string | undefined, image: string | undefined): void {
    flow.shownQr = true;
    if (flow.outTradeNo) savePending(this.deps.uni, { out_trade_no: flow.outTradeNo, codeUrl, qrcodeImage: image });
    if (codeUrl) this.listeners.codeUrl?.(codeUrl);
    if (image) this.listeners.qrcodeImage?.(image);
  }

  private clearQr(flow: Flow): void {
    if (!flow.shownQr) return;
    flow.shownQr = false;
    this.listeners.codeUrl?.('');
    this.listeners.qrcodeImage?.('');
  }

  newFlow(callbacks: PayCallbacks, needAlert: boolean): Flow {
    // a new payment supersedes the previous one (its polling stops, it reports nothing more)
    if (this.current && !this.current.done) {
      this.current.done = true;
      this.clearQr(this.current);
    }
    this.poller.stop();
    const flow: Flow = { callbacks, needAlert, done: false, shownQr: false };
    this.current = flow;
    return flow;
  }

  /** Stops polling and forgets the current flow without reporting anything. */
  forget(): void {
    this.poller.stop();
    if (this.current) this.current.done = true;
    this.current = null;
  }

  private end(flow: Flow): boolean {
    if (flow.done) return false;
    flow.done = true;
    this.poller.stopFor(flow);
    this.clearQr(flow);
    if (flow.outTradeNo) dropPending(this.deps.uni, flow.outTradeNo);
    return true;
  }

  /**
   * Makes `flow` the watcher of an order created earlier (a reload, a return from a cashier):
   * what this device remembers of it is restored and reported through `resume`.
   */
  adopt(flow: Flow, outTradeNo: string): PendingPayment {
    const saved = getPending(this.deps.uni, outTradeNo) ?? { out_trade_no: outTradeNo, time: Date.now() };
    flow.outTradeNo = outTradeNo;
    if (saved.provider) flow.created = { out_trade_no: outTradeNo, provider: saved.provider, pay_type: saved.pay_type || '' };
    this.setStatus(1);
    this.listeners.resume?.(saved);
    return saved;
  }

  finishSuccess(flow: Flow, res: QueryPaymentResult): void {
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

  finishFail(flow: Flow, res: PayFailResult): void {
    if (!this.end(flow)) return;
    const out: PayFailResult = { ...res, out_trade_no: res.out_trade_no ?? flow.outTradeNo };
    this.setStatus(0);
    if (flow.needAlert) this.alert(out.errMsg);
    this.listeners.fail?.(out);
    flow.callbacks.fail?.(out);
  }

  finishCancel(flow: Flow, res: PayCancelResult): void {
    if (!this.end(flow)) return;
    const out: PayCancelResult = { ...res, out_trade_no: res.out_trade_no ?? flow.outTradeNo };
    this.setStatus(0);
    this.listeners.cancel?.(out);
    flow.callbacks.cancel?.(out);
  }

  alert(content: string): void {
    try {
      this.deps.uni.showModal({ title: '提示', content, showCancel: false });
    } catch {
      /* alerts are best effort */
    }
  }

  failFromError(flow: Flow, failType: PayFailResult['failType'], e: unknown): void {
    const err = toCallError(e);
    this.finishFail(flow, { failType, errMsg: err.errMsg, errCode: err.errCode });
  }

  /** A method of the vk-pay cloud object (named by `queryPaymentAction`). */
  vkPayMethod(method: string): CloudAction {
    const a = this.opts.queryPaymentAction;
    return { name: typeof a === 'string' ? a : a.name || DEFAULT_QUERY_ACTION.name, method };
  }

  /** Calls the business action that creates the order; null when the flow ended instead. */
  async createOrder(flow: Flow, action: CloudAction, payload: Record<string, unknown>): Promise<CreatePaymentResult | null> {
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
    if (created.out_trade_no) {
      const { openid: _openid, ...data } = payload;
      savePending(this.deps.uni, { out_trade_no: created.out_trade_no, provider: created.provider, pay_type: created.pay_type, data });
    }
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
}
