/**
 * The return trip from a WeChat MWEB (or cashier) redirect: the page comes back with
 * `confirmShow=true&out_trade_no=…`, asks "did you finish paying?", then confirms with the server.
 */
import type { Flow, FlowContext } from './flow';
import { MESSAGES } from './options';
import { confirmOnce } from './polling';
import { getPageParam, withPageParams } from './url';
import type { PayCallbacks } from './types';

/** Returns true when such a return was detected (and handled). */
export function checkReturn(ctx: FlowContext, href: string | undefined, callbacks: PayCallbacks): boolean {
  const url = href ?? ctx.deps.location?.href ?? '';
  if (getPageParam(url, 'confirmShow') !== 'true') return false;
  const otn = getPageParam(url, 'out_trade_no');
  if (!otn) return false;
  ctx.deps.replaceUrl?.(withPageParams(url, { confirmShow: null, out_trade_no: null }));
  const flow = ctx.newFlow(callbacks, false);
  ctx.adopt(flow, otn);
  ctx.deps.uni.showModal({
    title: MESSAGES.confirmTitle,
    content: MESSAGES.confirmContent,
    confirmText: MESSAGES.confirmOk,
    cancelText: MESSAGES.confirmCancel,
    success: (m) => {
      if (m.confirm) {
        ctx.poller.start(flow, otn, ctx.opts.returnTicks, () =>
          ctx.finishFail(flow, { failType: 'result', errMsg: MESSAGES.notReturnedPaid }),
        );
      } else {
        void cancelUnlessPaid(ctx, flow, otn);
      }
    },
    fail: () => void cancelUnlessPaid(ctx, flow, otn),
  });
  return true;
}

/** The user says they did not pay: one query still wins if the money did arrive. */
async function cancelUnlessPaid(ctx: FlowContext, flow: Flow, otn: string): Promise<void> {
  try {
    const r = await confirmOnce(ctx, otn);
    if (r.kind === 'paid') {
      ctx.finishSuccess(flow, r.res);
      return;
    }
  } catch {
    /* fall through to cancel */
  }
  ctx.finishCancel(flow, { errMsg: 'requestPayment:fail cancel' });
}
