/**
 * notifyProvideGoods (WeChat virtual payment): asks the provider to push the delivery notification
 * again (after the first push failed for good); the push then settles the order through the usual
 * gate, so calling it twice never delivers twice. Any provider with the `provideGoods` capability.
 */
import { adapterWith } from '../providers/registry';
import { orderProviderContext, requireOrder, type PayDeps } from './deps';

export async function notifyProvideGoods(deps: PayDeps, params: { out_trade_no?: unknown }): Promise<{ out_trade_no: string }> {
  const order = await requireOrder(deps, params.out_trade_no);
  const { out_trade_no } = order;
  const adapter = adapterWith(order.provider, 'provideGoods', 'notifyProvideGoods');
  await adapter.provideGoods({ out_trade_no }, await orderProviderContext(deps, order));
  return { out_trade_no };
}
