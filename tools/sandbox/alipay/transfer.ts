/**
 * Alipay sandbox: single transfers to an Alipay account (synchronous, no notification).
 *   alipay.fund.trans.uni.transfer  product_code TRANS_ACCOUNT_NO_PWD, biz_scene DIRECT_TRANSFER,
 *     trans_amount ≥ 0.10 yuan, payee_info {identity, identity_type, name (required for ALIPAY_LOGON_ID)}
 *     → {out_biz_no, order_id, pay_fund_order_id, status: SUCCESS, trans_date}; the same out_biz_no
 *     with the same parameters answers the same transfer, with others a business failure
 *   alipay.fund.trans.common.query  by out_biz_no or order_id → the transfer | ORDER_NOT_EXIST
 * An identity starting with `FAIL_` is refused (sub_code = the rest, e.g. FAIL_PAYEE_NOT_EXIST).
 */
import { randomBytes } from 'node:crypto';
import { beijing, fenToYuanText, yuanToFenStrict } from './crypto';
import { BIZ, MISSING, type Handler } from './gateway';
import type { AlipayState } from './state';

export interface AlipaySandboxTransfer {
  app_id: string;
  out_biz_no: string;
  order_id: string;
  pay_fund_order_id: string;
  fen: number;
  payee: Record<string, unknown>;
  status: 'SUCCESS';
  at: number;
  fingerprint: string;
}

const IDENTITY_TYPES = new Set(['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID', 'ALIPAY_OPEN_ID']);
const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

export function alipayTransfers(state: AlipayState) {
  const transfers = new Map<string, AlipaySandboxTransfer>();
  const k = (app: string, no: string) => `${app}|${no}`;
  const answer = (t: AlipaySandboxTransfer) => ({
    code: '10000',
    msg: 'Success',
    out_biz_no: t.out_biz_no,
    order_id: t.order_id,
    pay_fund_order_id: t.pay_fund_order_id,
    status: t.status,
    trans_date: beijing(t.at),
  });

  const handlers: Record<string, Handler> = {
    'alipay.fund.trans.uni.transfer'(app, biz) {
      if (!biz.out_biz_no) return MISSING('out-biz-no');
      if (biz.product_code !== 'TRANS_ACCOUNT_NO_PWD') return BIZ('INVALID_PARAMETER', 'product_code 应为 TRANS_ACCOUNT_NO_PWD');
      if (biz.biz_scene !== 'DIRECT_TRANSFER') return BIZ('INVALID_PARAMETER', 'biz_scene 应为 DIRECT_TRANSFER');
      const fen = yuanToFenStrict(biz.trans_amount);
      if (fen === undefined || fen < 10) return BIZ('EXCEED_LIMIT_SM_MIN_AMOUNT', '转账金额不能低于0.1元');
      const payee = biz.payee_info;
      if (!payee || typeof payee !== 'object' || !payee.identity || !IDENTITY_TYPES.has(payee.identity_type))
        return BIZ('PAYEE_NOT_EXIST', '收款方信息无效');
      if (payee.identity_type === 'ALIPAY_LOGON_ID' && !payee.name) return BIZ('PAYEE_USER_INFO_ERROR', '登录号转账需传收款方姓名');
      if (String(payee.identity).startsWith('FAIL_')) return BIZ(String(payee.identity).slice(5) || 'PAYEE_NOT_EXIST', '收款方账户异常');
      const fingerprint = JSON.stringify([fen, payee.identity, payee.identity_type, payee.name ?? '', biz.order_title ?? '']);
      const prev = transfers.get(k(app.appId, biz.out_biz_no));
      if (prev) return prev.fingerprint === fingerprint ? answer(prev) : BIZ('REQUEST_PARAM_ILLEGAL', '同一商户订单号参数不一致');
      const t: AlipaySandboxTransfer = {
        app_id: app.appId,
        out_biz_no: biz.out_biz_no,
        order_id: `2026${digits(28)}`,
        pay_fund_order_id: `2026${digits(28)}`,
        fen,
        payee,
        status: 'SUCCESS',
        at: state.now(),
        fingerprint,
      };
      transfers.set(k(app.appId, t.out_biz_no), t);
      state.log(`transfer ${t.out_biz_no} ${fen}`);
      return answer(t);
    },
    'alipay.fund.trans.common.query'(app, biz) {
      if (!biz.out_biz_no && !biz.order_id) return MISSING('out-biz-no');
      const t = biz.order_id
        ? [...transfers.values()].find((x) => x.order_id === biz.order_id && x.app_id === app.appId)
        : transfers.get(k(app.appId, biz.out_biz_no));
      if (!t) return BIZ('ORDER_NOT_EXIST', '转账订单不存在');
      return {
        code: '10000',
        msg: 'Success',
        order_id: t.order_id,
        pay_fund_order_id: t.pay_fund_order_id,
        out_biz_no: t.out_biz_no,
        trans_amount: fenToYuanText(t.fen),
        status: t.status,
        pay_date: beijing(t.at),
      };
    },
  };
  return {
    handlers,
    transfer: (out_biz_no: string) => [...transfers.values()].find((t) => t.out_biz_no === out_biz_no),
    all: () => [...transfers.values()],
  };
}

export type AlipayTransfers = ReturnType<typeof alipayTransfers>;
