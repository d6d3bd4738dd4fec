/**
 * WeChat Pay codepay (付款码) on API v3 (docs/codepay.md):
 * - pay: POST /v3/pay/transactions/codepay (https://pay.weixin.qq.com/doc/v3/merchant/4012382150);
 * - reverse: POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse
 *   (https://pay.weixin.qq.com/docs/merchant/apis/code-payment-v3/direct/reverse.html): closes an unpaid
 *   trade, and gives the money back if the buyer paid meanwhile;
 * - query: the adapter's queryOrder (same Transaction shape as JSAPI).
 * API v2 nodes are refused before any call: v2 `/pay/micropay` could charge, but its reverse
 * (`/secapi/pay/reverse`) needs the .p12 mutual-TLS certificate this runtime cannot load, and a
 * codepay that cannot be reversed at the deadline could charge the buyer after the cashier gave up.
 */
import { PayError } from '../../core/errors';
import { parseProviderTime } from '../../core/time';
import { isGatewayFailure } from '../gateway';
import type { ProviderContext } from '../types';
import type { CodepayAnswer, CodepayCancelResult, CodepayInput } from '../hooks';
import { isV2, type WxpayNodeConfig } from './config';
import { WxpayV3Client } from './v3';

type Ctx = ProviderContext<WxpayNodeConfig>;

/** The request fields `data.other` may not replace (the amount, the order, the payer's code, the merchant). */
const PROTECTED = new Set(['appid', 'mchid', 'out_trade_no', 'amount', 'payer', 'description']);

/** v3 codes meaning "the buyer has not confirmed yet / the outcome is not known": query, do not give up */
const PENDING_CODES = new Set(['USERPAYING', 'SYSTEM_ERROR', 'SYSTEMERROR', 'BANK_ERROR', 'BANKERROR']);

function requireV3(config: WxpayNodeConfig): void {
  if (isV2(config))
    throw new PayError('OPERATION_UNSUPPORTED', {
      provider: 'wxpay v2',
      operation:
        'codepay（v2 撤销订单需要 .p12 双向证书，无法在截止时撤销；请配置 version 3 / the v2 reverse needs the .p12 client certificate, so the trade could not be reversed at the deadline; configure version 3)',
    });
}

function paidAnswer(data: Record<string, any>): CodepayAnswer {
  return {
    state: 'PAID',
    transaction_id: data.transaction_id,
    total_fee: data.amount?.total,
    pay_date: parseProviderTime(data.success_time),
    openid: data.payer?.openid,
    raw: data,
  };
}

export async function wxpayCodepay(input: CodepayInput, ctx: Ctx): Promise<CodepayAnswer> {
  const config = ctx.config;
  requireV3(config);
  const other = Object.fromEntries(Object.entries(input.other).filter(([k]) => !PROTECTED.has(k)));
  const store = typeof input.extra.store_id === 'string' && input.extra.store_id ? { store_info: { id: input.extra.store_id } } : {};
  const body: Record<string, unknown> = {
    ...other,
    appid: config.appId,
    mchid: config.mchId,
    description: input.subject,
    out_trade_no: input.out_trade_no,
    payer: { auth_code: input.auth_code },
    amount: { total: input.total_fee, currency: 'CNY' },
    scene_info: { ...((other.scene_info as Record<string, unknown>) ?? {}), device_ip: input.client_ip, ...store },
  };
  try {
    const { status, data } = await new WxpayV3Client(config, ctx).request('POST', '/v3/pay/transactions/codepay', body);
    if (status === 200 && data.trade_state === 'SUCCESS') return paidAnswer(data);
    // 202 (accepted: the buyer confirms with a password) or a trade still USERPAYING
    return { state: 'WAITING', raw: data };
  } catch (e) {
    if (!isGatewayFailure(e)) throw e;
    // no answer, or one that proves nothing: the trade may exist, only a query can tell
    if (!e.verified || e.retryable || PENDING_CODES.has(e.providerCode ?? '')) return { state: 'WAITING', raw: e.detail };
    return { state: 'FAILED', reason: { code: e.providerCode ?? 'FAIL', message: e.providerMessage }, raw: e.detail };
  }
}

export async function wxpayCancelCodepay(q: { out_trade_no: string }, ctx: Ctx): Promise<CodepayCancelResult> {
  const config = ctx.config;
  requireV3(config);
  try {
    const { data } = await new WxpayV3Client(config, ctx).request(
      'POST',
      `/v3/pay/transactions/out-trade-no/${encodeURIComponent(q.out_trade_no)}/reverse`,
      { appid: config.appId, mchid: config.mchId },
    );
    return { cancelled: true, raw: data };
  } catch (e) {
    // no trade under this number: nothing was or can be charged
    if (isGatewayFailure(e) && e.verified && (e.providerCode === 'ORDER_NOT_EXIST' || e.providerCode === 'ORDERNOTEXIST'))
      return { cancelled: true, raw: e.detail };
    throw e;
  }
}
