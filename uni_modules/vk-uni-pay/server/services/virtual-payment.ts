/**
 * WeChat virtual payment operations beyond createPayment. notifyProvideGoods asks WeChat to push
 * the delivery notification again (after the first push failed for good); the push then settles the
 * order through the usual gate, so calling it twice never delivers twice.
 */
import { PayError } from '../core/errors';
import { loadProviderModule } from '../providers/registry';
import { orderProviderContext, requireOrder, type PayDeps } from './deps';

export async function notifyProvideGoods(
  deps: PayDeps,
  params: { out_trade_no?: unknown },
): Promise<{ code: 0; msg: string; out_trade_no: string }> {
  const order = await requireOrder(deps, params.out_trade_no);
  const { out_trade_no } = order;
  if (order.provider !== 'wxpay-virtual')
    throw new PayError('OPERATION_UNSUPPORTED', { provider: order.provider, operation: 'notifyProvideGoods' });
  const virtual = loadProviderModule<{ notifyProvideGoods(q: { out_trade_no: string }, ctx: unknown): Promise<void> }>('wxpay-virtual');
  await virtual.notifyProvideGoods({ out_trade_no }, await orderProviderContext(deps, order));
  return { code: 0, msg: 'ok', out_trade_no };
}
