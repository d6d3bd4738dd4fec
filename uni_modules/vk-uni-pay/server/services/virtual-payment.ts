/**
 * WeChat virtual payment operations beyond createPayment. notifyProvideGoods asks WeChat to push
 * the delivery notification again (after the first push failed for good); the push then settles the
 * order through the usual gate, so calling it twice never delivers twice.
 */
import { PayError } from '../core/errors';
import { loadProviderModule } from '../providers/registry';
import { orderProviderContext, type PayDeps } from './deps';

export async function notifyProvideGoods(deps: PayDeps, params: { out_trade_no?: unknown }): Promise<{ code: 0; msg: string; out_trade_no: string }> {
  const out_trade_no = params.out_trade_no;
  if (typeof out_trade_no !== 'string' || !out_trade_no) throw new PayError('FIELD_INVALID', { field: 'out_trade_no', reason: 'required' });
  const order = await deps.orders.findByOutTradeNo(out_trade_no);
  if (!order) throw new PayError('ORDER_NOT_FOUND', { out_trade_no });
  if (order.provider !== 'wxpay-virtual') throw new PayError('OPERATION_UNSUPPORTED', { provider: order.provider, operation: 'notifyProvideGoods' });
  const virtual = loadProviderModule<{ notifyProvideGoods(q: { out_trade_no: string }, ctx: unknown): Promise<void> }>('wxpay-virtual');
  await virtual.notifyProvideGoods({ out_trade_no }, await orderProviderContext(deps, order));
  return { code: 0, msg: 'ok', out_trade_no };
}
