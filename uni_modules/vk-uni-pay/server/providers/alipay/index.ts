/**
 * Alipay adapter (pay types `alipay_mp-alipay`, `alipay_app-plus`, `alipay_h5`) on our own
 * node:crypto signer and verifier (crypto/). See gateway.ts for the transport and response verification,
 * notify.ts for notifications.
 */
import { PayError } from '../../core/errors';
import { fenToYuan, yuanToFen } from '../../core/money';
import { parseProviderTime, toDateTimeShanghai } from '../../core/time';
import type { IntegratedResponse } from '../../../../../types/unicloud-server';
import type {
  CreateOrderInput,
  CreateOrderResult,
  ProviderAdapter,
  ProviderContext,
  QueryOrderResult,
  RefundInput,
  RefundResult,
  TradeState,
} from '../types';
import { getAlipayRuntime, type AlipayNodeConfig } from './config';
import { callAlipay, signedParamString, type CommonParams } from './gateway';
import { verifyAndParseNotify } from './notify';
import { diagnoseAlipay } from './doctor';
import { alipayLogin } from './oauth';

export type { AlipayNodeConfig } from './config';
export { alipayOauthToken, type AlipayOauthIds } from './oauth';

type Ctx = ProviderContext<AlipayNodeConfig>;

/**
 * Keys of `data.other` that can never reach biz_content: the amount, the order number, the
 * callback, the ids that bind the trade to an app / seller / buyer. Compared after removing `_`
 * and case, so `totalAmount` or `OUT_TRADE_NO` are caught as well. (The buyer is set only through
 * `openid` or `op_app_id` + `op_buyer_open_id`, see buyerFields.)
 */
const PROTECTED = new Set(
  [
    'out_trade_no',
    'total_amount',
    'notify_url',
    'app_id',
    'seller_id',
    'buyer_id',
    'buyer_open_id',
    'trade_no',
    'biz_content',
    'method',
    'sign',
    'sign_type',
    'app_auth_token',
  ].map(norm),
);

function norm(k: string): string {
  return k.replace(/[_-]/g, '').toLowerCase();
}

function mergeOther(other: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!other || typeof other !== 'object') return out;
  for (const [k, v] of Object.entries(other)) {
    if (PROTECTED.has(norm(k)) || v === undefined) continue;
    if (k === 'op_app_id' || k === 'op_buyer_open_id') continue; // handled by buyerFields
    out[k] = v;
  }
  return out;
}

const ALIPAY_USER_ID = /^2088\d{12}$/;

/**
 * mp-alipay buyer: `other.op_app_id` / `other.op_buyer_open_id` (openid of the buyer under the
 * mini-program op_app_id; defaults to data.openid) → those two and no buyer_id. Otherwise the
 * openid: a 2088… user id goes as `buyer_id`, anything else is an Alipay openid → `buyer_open_id`.
 */
function buyerFields(input: CreateOrderInput): Record<string, string> {
  const other = input.other || {};
  const opAppId = typeof other.op_app_id === 'string' ? other.op_app_id : undefined;
  const opOpenId = typeof other.op_buyer_open_id === 'string' ? other.op_buyer_open_id : undefined;
  if (opAppId || opOpenId) {
    const open = opOpenId || input.openid;
    if (!open) throw new PayError('OPENID_REQUIRED', { pay_type: input.payType });
    const r: Record<string, string> = { op_buyer_open_id: open };
    if (opAppId) r.op_app_id = opAppId;
    return r;
  }
  if (!input.openid) throw new PayError('OPENID_REQUIRED', { pay_type: input.payType });
  return ALIPAY_USER_ID.test(input.openid) ? { buyer_id: input.openid } : { buyer_open_id: input.openid };
}

function commonParams(input: CreateOrderInput, config: AlipayNodeConfig): CommonParams {
  const token = typeof input.extra?.app_auth_token === 'string' ? input.extra.app_auth_token : config.appAuthToken;
  return { notify_url: input.notify_url, ...(token ? { app_auth_token: token } : {}) };
}

function requiredString(v: unknown): string {
  if (typeof v !== 'string' || !v) throw new Error('field missing in a verified answer');
  return v;
}

function tradeBiz(input: CreateOrderInput, defaultProductCode: string, config: AlipayNodeConfig): Record<string, unknown> {
  const biz: Record<string, unknown> = {
    // overridable defaults first
    product_code: config.productCode || defaultProductCode,
    ...mergeOther(input.other),
    // then what `other` can never change
    out_trade_no: input.out_trade_no,
    total_amount: fenToYuan(input.total_fee),
    subject: input.subject,
  };
  if (input.body) biz.body = input.body;
  if (input.time_expire) biz.time_expire = toDateTimeShanghai(input.time_expire);
  return biz;
}

async function createOrder(input: CreateOrderInput, ctx: Ctx): Promise<CreateOrderResult> {
  const rt = getAlipayRuntime(ctx.config);
  const common = commonParams(input, ctx.config);
  const orderPatch = { provider_appid: rt.appId };
  const scene = input.needQRcode ? 'h5' : input.platformKey;

  if (scene === 'h5') {
    // 当面付 precreate: PC and mobile web, App with alipayAppPayToH5Pay, any forced QR
    const biz = tradeBiz(input, 'FACE_TO_FACE_PAYMENT', ctx.config);
    const qr = await callAlipay(ctx, { method: 'alipay.trade.precreate', biz, common, parse: (d) => requiredString(d.qr_code) });
    return { orderInfo: { codeUrl: qr }, codeUrl: qr, orderPatch };
  }

  if (scene === 'mp-alipay') {
    const biz = { ...tradeBiz(input, 'JSAPI_PAY', ctx.config), ...buyerFields(input) };
    const tradeNo = await callAlipay(ctx, { method: 'alipay.trade.create', biz, common, parse: (d) => requiredString(d.trade_no) });
    // vk-uni-pay hands this trade_no string to uni.requestPayment({orderInfo}) (my.tradePay's tradeNO)
    return { orderInfo: tradeNo, orderPatch };
  }

  if (scene === 'app-plus') {
    const biz = tradeBiz(input, 'QUICK_MSECURITY_PAY', ctx.config);
    const orderStr = signedParamString(rt, 'alipay.trade.app.pay', biz, common, ctx.clock.now());
    // no HTTP: the signed order string goes to the Alipay App SDK through uni.requestPayment({provider:'alipay', orderInfo})
    return { orderInfo: orderStr, orderPatch };
  }

  throw new PayError('PLATFORM_UNSUPPORTED', { platform: input.platformKey, provider: 'alipay' });
}

function mapTradeStatus(d: Record<string, any>): TradeState {
  switch (d.trade_status) {
    case 'WAIT_BUYER_PAY':
      return 'NOTPAY';
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return 'PAID';
    case 'TRADE_CLOSED':
      // closed after having been paid = fully refunded; closed unpaid = timed out / closed
      return d.send_pay_date ? 'REFUND' : 'CLOSED';
    default:
      return 'ERROR';
  }
}

function tradeKey(q: { out_trade_no: string; transaction_id?: string }): Record<string, string> {
  return q.out_trade_no ? { out_trade_no: q.out_trade_no } : { trade_no: q.transaction_id! };
}

async function queryOrder(q: { out_trade_no: string; transaction_id?: string }, ctx: Ctx): Promise<QueryOrderResult> {
  // precreate orders that were never scanned are also "not exist" at Alipay
  const d = await callAlipay(ctx, { method: 'alipay.trade.query', biz: tradeKey(q), answers: ['ACQ.TRADE_NOT_EXIST'] });
  if (d.sub_code === 'ACQ.TRADE_NOT_EXIST') return { state: 'NOT_FOUND', out_trade_no: q.out_trade_no, raw: d };
  return {
    state: mapTradeStatus(d),
    out_trade_no: d.out_trade_no || q.out_trade_no,
    transaction_id: d.trade_no || undefined,
    total_fee: yuanToFen(d.total_amount),
    pay_date: parseProviderTime(d.send_pay_date),
    openid: d.buyer_user_id || d.buyer_open_id || undefined,
    raw: d,
  };
}

async function closeOrder(q: { out_trade_no: string }, ctx: Ctx): Promise<{ closed: boolean; raw: unknown }> {
  const d = await callAlipay(ctx, {
    method: 'alipay.trade.close',
    biz: { out_trade_no: q.out_trade_no },
    answers: ['ACQ.TRADE_HAS_CLOSE', 'ACQ.TRADE_NOT_EXIST'],
  });
  // never scanned precreate trade: Alipay cannot close it, its QR stays valid until time_expire
  return { closed: d.sub_code !== 'ACQ.TRADE_NOT_EXIST', raw: d };
}

async function refund(input: RefundInput, ctx: Ctx): Promise<RefundResult> {
  const biz: Record<string, unknown> = {
    out_trade_no: input.out_trade_no,
    refund_amount: fenToYuan(input.refund_fee),
    out_request_no: input.out_refund_no,
  };
  if (input.refund_desc) biz.refund_reason = input.refund_desc;
  const d = await callAlipay(ctx, { method: 'alipay.trade.refund', biz });
  // fund_change N: no money moved by *this* call (e.g. a repeat); the final state comes from queryRefund
  return { state: d.fund_change === 'Y' ? 'SUCCESS' : 'PROCESSING', refund_fee: input.refund_fee, raw: d };
}

async function queryRefund(q: { out_trade_no: string; out_refund_no: string }, ctx: Ctx): Promise<RefundResult> {
  return callAlipay(ctx, {
    method: 'alipay.trade.fastpay.refund.query',
    biz: { out_trade_no: q.out_trade_no, out_request_no: q.out_refund_no },
    parse: (d): RefundResult => {
      // Alipay: no refund_status = the refund request was not received or failed (refunds are synchronous)
      if (d.refund_status !== 'REFUND_SUCCESS') return { state: 'FAIL', refund_fee: 0, raw: d };
      const fee = yuanToFen(d.refund_amount);
      if (fee === undefined) throw new Error('refund_amount is not an amount');
      return { state: 'SUCCESS', refund_fee: fee, raw: d };
    },
  });
}

function notifyReply(ok: boolean): IntegratedResponse {
  return {
    mpserverlessComposedResponse: true,
    statusCode: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: ok ? 'success' : 'fail',
  };
}

export const alipayAdapter: ProviderAdapter<AlipayNodeConfig> = {
  provider: 'alipay',
  diagnose: diagnoseAlipay,
  createOrder,
  queryOrder,
  closeOrder,
  refund,
  queryRefund,
  async verifyNotify(req, ctx) {
    return verifyAndParseNotify(req, getAlipayRuntime(ctx.config));
  },
  notifyReply,
  login: (code, _platformKey, ctx) => alipayLogin(code, ctx),
};

export const adapter = alipayAdapter;
