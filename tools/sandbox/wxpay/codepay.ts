/**
 * WeChat Pay sandbox, codepay (付款码) on API v3: `POST /v3/pay/transactions/codepay` and
 * `POST /v3/pay/transactions/out-trade-no/{no}/reverse`, behind the v3 signature check of v3.ts.
 * The buyer's behaviour is chosen by the payment code's last four digits (test convention):
 *   …1111 → the buyer must type a password: 202 USERPAYING, the trade waits (pay it with sandbox.pay);
 *   …2222 → balance too low: 403 NOT_ENOUGH, the trade is PAYERROR;
 *   anything else → paid at once (200 Transaction).
 * Reverse closes the trade (REVOKED); a trade paid meanwhile is refunded in full, as WeChat does.
 */
import { err, get, invalid, missing, transactionJson, type V3Ctx, type V3Result, type V3Route } from './v3';
import { isObj, OUT_TRADE_NO_RE, stable, type WxpayState } from './state';

/** WeChat payment codes: 18 digits starting 10–15 */
const AUTH_CODE_RE = /^1[0-5]\d{16}$/;

export function codepayRoutes(state: WxpayState): V3Route[] {
  function mchidError(ctx: V3Ctx): V3Result | undefined {
    const mchid = get(ctx.body, 'mchid');
    if (mchid === undefined || mchid === '') return missing('mchid');
    if (mchid !== ctx.rt.m.mchid) return err(400, 'PARAM_ERROR', '请求体中的mchid与请求头Authorization中的商户号不一致');
    return undefined;
  }

  function codepay(ctx: V3Ctx): V3Result {
    const b = ctx.body;
    if (!isObj(b)) return err(400, 'PARAM_ERROR', '请求体不是有效的JSON对象');
    for (const p of ['appid', 'mchid', 'description', 'out_trade_no', 'payer.auth_code', 'amount.total', 'scene_info']) {
      const v = get(b, p);
      if (v === undefined || v === null || v === '') return missing(p);
    }
    const e = mchidError(ctx);
    if (e) return e;
    const no = b.out_trade_no as string;
    if (typeof no !== 'string' || !OUT_TRADE_NO_RE.test(no)) return invalid('out_trade_no', no, '应为6-32位数字、大小写字母或_-|*');
    const total = get(b, 'amount.total');
    if (typeof total !== 'number' || !Number.isSafeInteger(total) || total <= 0)
      return invalid('amount.total', total, '应为正整数（单位：分）');
    const code = get(b, 'payer.auth_code');
    if (typeof code !== 'string' || !AUTH_CODE_RE.test(code)) return err(400, 'PARAM_ERROR', '付款码无效，请重新扫码');
    if (!ctx.rt.m.appids.includes(b.appid as string)) return err(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');

    const placed = state.placeOrder(
      {
        protocol: 'v3',
        mchid: ctx.rt.m.mchid,
        appid: b.appid as string,
        out_trade_no: no,
        trade_type: 'MICROPAY',
        description: String(b.description),
        notify_url: '',
        total,
        currency: 'CNY',
        request: b,
      },
      `v3|MICROPAY|${stable(b)}`,
    );
    if ('conflict' in placed) {
      if (placed.conflict === 'ORDERPAID') return { status: 200, body: transactionJson(state.findOrder(no, ctx.rt.m.mchid)!) };
      if (placed.conflict === 'ORDER_CLOSED') return err(400, 'ORDER_CLOSED', '该订单已关闭');
      return err(400, 'INVALID_REQUEST', '201 商户订单号重复');
    }
    const o = placed.order;
    if (placed.existing)
      return o.trade_state === 'SUCCESS' ? { status: 200, body: transactionJson(o) } : err(202, 'USERPAYING', '需要用户输入支付密码');
    if (code.endsWith('2222')) {
      o.trade_state = 'PAYERROR';
      return err(403, 'NOT_ENOUGH', '用户余额不足');
    }
    if (code.endsWith('1111')) {
      o.trade_state = 'USERPAYING';
      return err(202, 'USERPAYING', '需要用户输入支付密码');
    }
    state.payOrder(o);
    return { status: 200, body: transactionJson(o) };
  }

  function reverse(ctx: V3Ctx, no: string): V3Result {
    if (!isObj(ctx.body)) return err(400, 'PARAM_ERROR', '请求体不是有效的JSON对象');
    const e = mchidError(ctx);
    if (e) return e;
    const o = state.findOrder(no, ctx.rt.m.mchid);
    if (!o) return err(404, 'ORDER_NOT_EXIST', '订单不存在');
    if (o.trade_type !== 'MICROPAY') return err(400, 'INVALID_REQUEST', '仅付款码订单可撤销');
    // a paid trade is reversed by giving the money back
    if (o.trade_state === 'SUCCESS') o.refunded = o.total;
    o.trade_state = 'REVOKED';
    state.log('reverse', o.mchid, no);
    return { status: 200, body: { appid: o.appid, mchid: o.mchid, out_trade_no: no } };
  }

  return [
    { method: 'POST', re: /^\/v3\/pay\/transactions\/codepay$/, run: (c) => codepay(c) },
    { method: 'POST', re: /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/reverse$/, run: (c, m) => reverse(c, m[1]) },
  ];
}
