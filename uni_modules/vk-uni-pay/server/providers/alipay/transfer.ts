/**
 * Alipay single transfer to an Alipay account (docs/transfers.md): alipay.fund.trans.uni.transfer
 * (https://opendocs.alipay.com/open/62987723_alipay.fund.trans.uni.transfer), synchronous, no
 * notification; alipay.fund.trans.common.query
 * (https://opendocs.alipay.com/open/58a29899_alipay.fund.trans.common.query). Amounts are yuan
 * strings, converted only in core/money.ts.
 */
import { PayError } from '../../core/errors';
import { fenToYuan, yuanToFen } from '../../core/money';
import type { ProviderContext } from '../types';
import type { CheckedTransfer, TransferAnswer, TransferHooks } from '../transfer-types';
import type { AlipayNodeConfig } from './config';
import { callAlipay } from './gateway';

type Ctx = ProviderContext<AlipayNodeConfig>;

const PRODUCT = { product_code: 'TRANS_ACCOUNT_NO_PWD', biz_scene: 'DIRECT_TRANSFER' };
const IDENTITY_TYPES = ['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID', 'ALIPAY_OPEN_ID'];
/** the smallest transfer (0.1 yuan) */
export const ALIPAY_TRANSFER_MIN_FEN = 10;
/** uni.transfer status → ledger state (DEALING: in progress; REFUND: returned by the bank) */
const STATUS: Record<string, TransferAnswer['state']> = {
  SUCCESS: 'SUCCESS',
  DEALING: 'PROCESSING',
  WAIT_PAY: 'PROCESSING',
  INIT: 'PROCESSING',
  FAIL: 'FAIL',
  CLOSED: 'FAIL',
  REFUND: 'FAIL',
};

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const field = (name: string, reason: string): never => {
  throw new PayError('FIELD_INVALID', { field: name, reason });
};

function checkTransfer(p: Record<string, unknown>): CheckedTransfer {
  const payee = p.payee_info as Record<string, unknown> | undefined;
  if (!payee || typeof payee !== 'object') return field('payee_info', '{identity, identity_type, name?} is required');
  if (!str(payee.identity) || payee.identity.length > 100) field('payee_info.identity', 'required');
  if (!IDENTITY_TYPES.includes(payee.identity_type as string)) field('payee_info.identity_type', IDENTITY_TYPES.join(' | '));
  if (payee.name !== undefined && !str(payee.name)) field('payee_info.name', 'a string');
  if (payee.identity_type === 'ALIPAY_LOGON_ID' && !str(payee.name))
    throw new PayError('TRANSFER_NAME_REQUIRED', { threshold: 0, provider: 'alipay (ALIPAY_LOGON_ID)', field: 'payee_info.name' });
  for (const k of ['order_title', 'transfer_remark'] as const)
    if (p[k] !== undefined && (typeof p[k] !== 'string' || (p[k] as string).length > 100)) field(k, 'a string of at most 100 characters');
  const info: Record<string, unknown> = { identity: payee.identity, identity_type: payee.identity_type };
  for (const k of ['name', 'cert_type', 'cert_no']) if (payee[k] !== undefined) info[k] = String(payee[k]);
  const request: Record<string, unknown> = {
    trans_amount: fenToYuan(p.transfer_amount as number),
    ...PRODUCT,
    payee_info: info,
    ...(str(p.order_title) ? { order_title: p.order_title } : {}),
    ...(str(p.transfer_remark) ? { remark: p.transfer_remark } : {}),
    ...(p.payer_use_alias === true ? { business_params: JSON.stringify({ payer_show_name_use_alias: 'true' }) } : {}),
  };
  return { request, payee: payee.identity as string };
}

function answer(d: Record<string, any>, out_bill_no: string): TransferAnswer {
  const state = STATUS[d.status];
  if (!state) throw new Error(`unknown transfer status ${d.status}`);
  const fen = d.trans_amount !== undefined ? yuanToFen(d.trans_amount) : undefined;
  return {
    state,
    out_bill_no: str(d.out_biz_no) ? d.out_biz_no : out_bill_no,
    ...(str(d.order_id) ? { transfer_bill_no: d.order_id } : {}),
    ...(fen !== undefined ? { transfer_amount: fen } : {}),
    ...(state === 'FAIL' ? { fail_reason: String(d.fail_reason || d.error_code || d.status) } : {}),
    ...(str(d.trans_date) || str(d.pay_date) ? { update_time: d.trans_date ?? d.pay_date } : {}),
    raw: d,
  };
}

export const alipayTransferHooks: TransferHooks<AlipayNodeConfig> = {
  transferRules: { minFen: ALIPAY_TRANSFER_MIN_FEN },
  checkTransfer,
  transfer: (t, ctx) =>
    callAlipay(ctx, {
      method: 'alipay.fund.trans.uni.transfer',
      biz: { out_biz_no: t.out_bill_no, ...t.request },
      parse: (d) => answer(d, t.out_bill_no),
    }),
  async queryTransfer(q, ctx: Ctx) {
    const d = await callAlipay(ctx, {
      method: 'alipay.fund.trans.common.query',
      biz: { ...PRODUCT, ...(q.out_bill_no ? { out_biz_no: q.out_bill_no } : { order_id: q.transfer_bill_no }) },
      answers: ['ORDER_NOT_EXIST'],
    });
    return d.sub_code === 'ORDER_NOT_EXIST' ? 'NOT_FOUND' : answer(d, q.out_bill_no ?? '');
  },
};
