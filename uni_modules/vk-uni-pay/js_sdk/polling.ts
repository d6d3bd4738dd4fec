/**
 * Confirming a payment with the server: one query (`confirmOnce`) and the check loop that repeats
 * it until the order is paid, final, or the tick limit is reached.
 */
import type { Flow, FlowContext } from './flow';
import { MESSAGES } from './options';
import type { PayFailResult, QueryPaymentResult } from './types';

export type Confirmation =
  { kind: 'paid'; res: QueryPaymentResult } | { kind: 'final'; fail: PayFailResult } | { kind: 'pending'; res: QueryPaymentResult };

async function query(ctx: FlowContext, outTradeNo: string, awaitNotify: boolean): Promise<QueryPaymentResult> {
  const res = await ctx.deps.callCloud(ctx.opts.queryPaymentAction, {
    out_trade_no: outTradeNo,
    await_notify: awaitNotify,
    pay_order_info: ctx.opts.payOrderInfo,
  });
  return res as unknown as QueryPaymentResult;
}

/**
 * One confirmation step: 'paid' (with the result to report), 'final' (closed, expired or
 * refunded: a failure to report) or 'pending'.
 */
export async function confirmOnce(ctx: FlowContext, outTradeNo: string): Promise<Confirmation> {
  let res = await query(ctx, outTradeNo, false);
  if (res.orderPaid) {
    if (ctx.opts.awaitNotify && res.user_order_success !== true) {
      // wait for the business handler (the server may run it actively)
      try {
        const again = await query(ctx, outTradeNo, true);
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

export class Poller {
  private loop: PollLoop | null = null;

  constructor(private readonly ctx: FlowContext) {}

  isPolling(): boolean {
    return this.loop !== null;
  }

  /** Number of ticks the current loop has counted (for diagnostics and tests). */
  ticks(): number {
    return this.loop ? this.loop.ticks : 0;
  }

  stop(): void {
    const loop = this.loop;
    if (!loop) return;
    if (loop.first !== undefined) this.ctx.timers.clearTimeout(loop.first);
    if (loop.interval !== undefined) this.ctx.timers.clearInterval(loop.interval);
    this.loop = null;
  }

  /** Stops the loop if it belongs to `flow`. */
  stopFor(flow: Flow): void {
    if (this.loop && this.loop.flow === flow) this.stop();
  }

  /**
   * The check loop: first query after `firstQueryDelay`, then one tick every `pollingTime`.
   * A tick is skipped while a query is in flight or the page is hidden; after `maxTicks` ticks
   * `onLimit` runs. A paid or final answer ends the flow.
   */
  start(flow: Flow, outTradeNo: string, maxTicks: number, onLimit: () => void): void {
    this.stop();
    const { timers, opts } = this.ctx;
    const loop: PollLoop = { flow, outTradeNo, ticks: 0, maxTicks, inFlight: false, onLimit };
    this.loop = loop;
    loop.first = timers.setTimeout(() => {
      loop.first = undefined;
      if (this.loop !== loop) return;
      loop.interval = timers.setInterval(() => void this.tick(loop), opts.pollingTime);
      void this.tick(loop);
    }, opts.firstQueryDelay);
  }

  private isVisible(): boolean {
    return this.ctx.pageShow && !(this.ctx.deps.isHidden?.() ?? false);
  }

  private async tick(loop: PollLoop): Promise<void> {
    if (this.loop !== loop || loop.flow.done) return;
    if (loop.ticks >= loop.maxTicks) {
      if (loop.inFlight) return; // let the last query answer first
      this.stop();
      loop.onLimit();
      return;
    }
    loop.ticks++;
    if (loop.inFlight || !this.isVisible()) return;
    loop.inFlight = true;
    try {
      const r = await confirmOnce(this.ctx, loop.outTradeNo);
      if (this.loop !== loop || loop.flow.done) return;
      if (r.kind === 'paid') this.ctx.finishSuccess(loop.flow, r.res);
      else if (r.kind === 'final') this.ctx.finishFail(loop.flow, r.fail);
    } catch {
      // a failed query (network, server busy) does not end the loop; the next tick retries
    } finally {
      loop.inFlight = false;
    }
  }
}

export function pollUntilPaid(ctx: FlowContext, flow: Flow, outTradeNo: string): void {
  ctx.poller.start(flow, outTradeNo, ctx.opts.maxTicks, () =>
    ctx.finishFail(flow, { failType: 'result', errMsg: MESSAGES.timeout, timeout: true }),
  );
}

/** The platform API reported success: confirm it with the server (or trust it, if allowed). */
export function afterRequestSuccess(ctx: FlowContext, flow: Flow, outTradeNo: string): void {
  if (!ctx.opts.awaitNotify && !ctx.opts.payOrderInfo) {
    ctx.finishSuccess(flow, { orderPaid: true, out_trade_no: outTradeNo });
    return;
  }
  pollUntilPaid(ctx, flow, outTradeNo);
}
