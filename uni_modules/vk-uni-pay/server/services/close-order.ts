/**
 * closeOrder: an unpaid order can no longer be paid (the buyer gave up, or the business cancelled
 * it). The provider is asked first; the order becomes closed (-1) only once the provider's trade is
 * closed, and a trade the provider reports paid is settled instead of closed. When the close call
 * fails in any way (refused, lost, unsigned), a verified query decides: paid → settled, closed →
 * closed here too; otherwise the failure is reported and the order stays as it was.
 */
import { PayError } from '../core/errors';
import { isGatewayFailure } from '../core/gateway-failure';
import { ORDER_STATUS, PAID_STATUSES } from '../core/order';
import { loadAdapter } from '../providers/registry';
import { orderProviderContext, requireOrder, type PayDeps } from './deps';
import { reconcile } from './query-payment';

export async function closeOrder(deps: PayDeps, params: { out_trade_no?: unknown }): Promise<{ out_trade_no: string; status: number }> {
  let order = await requireOrder(deps, params.out_trade_no);
  const { out_trade_no } = order;
  const adapter = loadAdapter(order.provider);
  if (typeof adapter.closeOrder !== 'function')
    throw new PayError('OPERATION_UNSUPPORTED', { provider: order.provider, operation: 'closeOrder' });
  // the payer may have paid a moment ago: that wins over closing
  if (order.status === ORDER_STATUS.UNPAID) order = await reconcile(deps, order);
  if (PAID_STATUSES.includes(order.status)) throw new PayError('ORDER_PAID');
  if (order.status !== ORDER_STATUS.CLOSED) {
    let closed: boolean;
    try {
      ({ closed } = await adapter.closeOrder({ out_trade_no }, await orderProviderContext(deps, order)));
    } catch (e) {
      if (!isGatewayFailure(e)) throw e;
      // a refusal (paid in between?) or an answer that proves nothing: a verified query decides
      const now = await reconcile(deps, order).catch(() => order);
      if (PAID_STATUSES.includes(now.status)) throw new PayError('ORDER_PAID');
      if (now.status === ORDER_STATUS.CLOSED) return { out_trade_no, status: ORDER_STATUS.CLOSED };
      throw e;
    }
    if (!closed) throw new PayError('ORDER_CLOSE_LATER');
    await deps.orders.markClosed(out_trade_no, deps.clock.now());
    deps.log.info('order.closed', { out_trade_no });
  }
  return { out_trade_no, status: ORDER_STATUS.CLOSED };
}
