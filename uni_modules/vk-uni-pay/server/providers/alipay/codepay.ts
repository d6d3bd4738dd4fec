/**
 * Alipay codepay (当面付 条码支付) and its cancel, on the v2 gateway (docs/codepay.md):
 * - alipay.trade.pay with scene bar_code (https://opendocs.alipay.com/apis/api_1/alipay.trade.pay): code 10000 paid,
 *   10003 waiting for the buyer (password), 20000 unknown (query), 40004 refused (sub_code says why);
 * - alipay.trade.cancel (https://opendocs.alipay.com/apis/api_1/alipay.trade.cancel): closes an unpaid trade, refunds a
 *   paid one (`action` close | refund), so the buyer is never charged after the deadline.
 */
import { fenToYuan, yuanToFen } from '../../core/money';
import { parseProviderTime, toDateTimeShanghai } from '../../core/time';
import { isGatewayFailure } from '../gateway';
import type { ProviderContext } from '../types';
import type { CodepayAnswer, CodepayCancelResult, CodepayInput } from '../hooks';
import type { AlipayNodeConfig } from './config';
import { callAlipay, type CommonParams } from './gateway';

type Ctx = ProviderContext<AlipayNodeConfig>;

/** biz_content keys `data.other` may not replace: the amount, the order, the code, the ids binding the trade */
const PROTECTED = new Set(['out_trade_no', 'total_amount', 'auth_code', 'scene', 'subject', 'seller_id', 'buyer_id', 'app_auth_token']);

/** verified refusals that leave the trade to a query: in process (10003) and Alipay's own "unknown" */
const PENDING_CODES = new Set(['10003', 'ACQ.SYSTEM_ERROR', 'ACQ.TRADE_HAS_SUCCESS']);

function common(input: CodepayInput, config: AlipayNodeConfig): CommonParams {
  const token = typeof input.extra.app_auth_token === 'string' ? input.extra.app_auth_token : config.appAuthToken;
  return { notify_url: input.notify_url, ...(token ? { app_auth_token: token } : {}) };
}

export async function alipayCodepay(input: CodepayInput, ctx: Ctx): Promise<CodepayAnswer> {
  const other = Object.fromEntries(Object.entries(input.other).filter(([k]) => !PROTECTED.has(k)));
  const biz: Record<string, unknown> = {
    product_code: 'FACE_TO_FACE_PAYMENT',
    ...other,
    out_trade_no: input.out_trade_no,
    scene: 'bar_code',
    auth_code: input.auth_code,
    subject: input.subject,
    total_amount: fenToYuan(input.total_fee),
  };
  if (input.body) biz.body = input.body;
  if (input.time_expire) biz.time_expire = toDateTimeShanghai(input.time_expire);
  try {
    const d = await callAlipay(ctx, { method: 'alipay.trade.pay', biz, common: common(input, ctx.config) });
    return {
      state: 'PAID',
      transaction_id: d.trade_no,
      total_fee: yuanToFen(d.total_amount),
      pay_date: parseProviderTime(d.gmt_payment),
      openid: d.buyer_user_id || d.buyer_open_id || undefined,
      raw: d,
    };
  } catch (e) {
    if (!isGatewayFailure(e)) throw e;
    if (!e.verified || e.retryable || PENDING_CODES.has(e.providerCode ?? '')) return { state: 'WAITING', raw: e.detail };
    return { state: 'FAILED', reason: { code: e.providerCode ?? 'FAIL', message: e.providerMessage }, raw: e.detail };
  }
}

export async function alipayCancelCodepay(q: { out_trade_no: string }, ctx: Ctx): Promise<CodepayCancelResult> {
  const d = await callAlipay(ctx, {
    method: 'alipay.trade.cancel',
    biz: { out_trade_no: q.out_trade_no },
    answers: ['ACQ.TRADE_NOT_EXIST'],
  });
  // no trade under this number: nothing was or can be charged
  if (d.sub_code === 'ACQ.TRADE_NOT_EXIST') return { cancelled: true, raw: d };
  return { cancelled: true, refunded: d.action === 'refund', raw: d };
}
