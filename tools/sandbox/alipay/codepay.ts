/**
 * Alipay sandbox methods for the counter: alipay.trade.pay (scene bar_code), alipay.trade.cancel and
 * alipay.data.bill.balance.query, answered and signed by gateway.ts like every other method.
 * The buyer's behaviour is chosen by the payment code's last four digits (test convention):
 *   …1111 → the buyer must confirm on the phone: code 10003, trade WAIT_BUYER_PAY (pay it with sandbox.pay);
 *   …2222 → balance too low: 40004 ACQ.BUYER_BALANCE_NOT_ENOUGH, no trade;
 *   anything else → paid at once (10000).
 * Cancel closes an unpaid trade (action close) and refunds a paid one (action refund), as Alipay does.
 */
import { beijing, fenToYuanText } from './crypto';
import { BIZ, INVALID_PARAM, type GatewayKit, type Handler } from './gateway';
import type { AlipayState } from './state';

/** Alipay payment codes: 16–24 digits starting 25–30 */
const AUTH_CODE_RE = /^(2[5-9]|30)\d{14,22}$/;

export function codepayMethods(state: AlipayState, kit: GatewayKit): Record<string, Handler> {
  return {
    'alipay.trade.pay'(app, biz, params) {
      if (biz.scene !== 'bar_code' && biz.scene !== 'wave_code') return INVALID_PARAM('scene 无效');
      const code = String(biz.auth_code ?? '');
      if (!AUTH_CODE_RE.test(code))
        return BIZ('ACQ.PAYMENT_AUTH_CODE_INVALID', '支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款');
      if (code.endsWith('2222')) return BIZ('ACQ.BUYER_BALANCE_NOT_ENOUGH', '买家余额不足');
      const o = kit.newTrade(app, biz, params, 'pay');
      if (kit.isFailure(o)) return o;
      const head = {
        out_trade_no: o.out_trade_no,
        trade_no: o.trade_no,
        total_amount: o.total_amount,
        buyer_logon_id: 'sbx***@alipay.test',
      };
      if (code.endsWith('1111')) return { code: '10003', msg: ' order success pay inprocess', ...head };
      state.markPaid(o);
      return {
        code: '10000',
        msg: 'Success',
        ...head,
        receipt_amount: o.total_amount,
        buyer_pay_amount: o.total_amount,
        gmt_payment: beijing(o.gmt_payment!),
        buyer_user_id: o.buyer_id,
        fund_bill_list: [{ fund_channel: 'ALIPAYACCOUNT', amount: o.total_amount }],
      };
    },
    'alipay.trade.cancel'(app, biz, params) {
      const o = kit.lookup(app, biz, params, false);
      if (kit.isFailure(o)) return o;
      const paid = o.trade_status === 'TRADE_SUCCESS';
      if (paid) {
        o.refunds.push({ out_request_no: o.out_trade_no, fen: o.total_fen - o.refunded_fen, at: state.now() });
        o.refunded_fen = o.total_fen;
      }
      if (o.trade_status !== 'TRADE_CLOSED') {
        o.trade_status = 'TRADE_CLOSED';
        o.gmt_close = state.now();
      }
      state.log(`cancel ${o.out_trade_no} ${paid ? 'refund' : 'close'}`);
      return {
        code: '10000',
        msg: 'Success',
        out_trade_no: o.out_trade_no,
        trade_no: o.trade_no,
        retry_flag: 'N',
        action: paid ? 'refund' : 'close',
      };
    },
    'alipay.data.bill.balance.query'(app) {
      // the sandbox account holds what its trades took in, less refunds
      let fen = 0;
      for (const o of state.orders.values()) if (o.app_id === app.appId && o.gmt_payment !== undefined) fen += o.total_fen - o.refunded_fen;
      return {
        code: '10000',
        msg: 'Success',
        total_amount: fenToYuanText(fen),
        available_amount: fenToYuanText(fen),
        freeze_amount: '0.00',
      };
    },
  };
}
