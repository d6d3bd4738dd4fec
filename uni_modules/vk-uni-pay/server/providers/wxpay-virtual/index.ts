/**
 * WeChat mini-program virtual payment adapter (pay type `wxpay-virtual_mp-weixin`).
 *
 * createOrder builds the `wx.requestVirtualPayment` arguments (signData serialised once, paySig,
 * user signature with the session_key the service loaded from its server-side store). Payment
 * results come as message pushes (`xpay_goods_deliver_notify` / `xpay_coin_pay_notify`) to the
 * mini-program's message-push URL, handled by verifyNotify; `/xpay/query_order` confirms.
 */
import { PayError } from '../../core/errors';
import { isGatewayFailure } from '../gateway';
import type { IntegratedResponse } from '../../../../../types/unicloud-server';
import type {
  CreateOrderInput,
  NotifyEvent,
  ProviderAdapter,
  ProviderContext,
  QueryOrderResult,
  RawHttpRequest,
  RefundInput,
  RefundResult,
  TradeState,
} from '../types';
import { WxpayVirtualConfig, WXPAY_VIRTUAL_NODE, appKeyOf, code2Session, envOf, need, xpayRequest } from './api';
import { decryptPushMessage, hexEqual, pushMsgSignature, pushSignature, userSignature, virtualPaySig } from './sign';
import { diagnoseWxpayVirtual, probeWxpayVirtual } from './doctor';

export * from './sign';
export { code2Session, getAccessToken, xpayRequest, WXPAY_VIRTUAL_NODE, DEFAULT_API_BASE, envOf, appKeyOf } from './api';
export type { WxpayVirtualConfig, Code2SessionResult } from './api';

export type VirtualMode = 'short_series_coin' | 'short_series_goods';

export interface WxpayVirtualInput {
  mode: VirtualMode;
  buy_quantity: number;
  product_id?: string;
  /** fen, goods mode */
  goods_price?: number;
}

/** xpay order numbers: 8–32 of [0-9A-Za-z_-|*@], not starting with `_` (WeChat virtual-payment docs). */
export const XPAY_OUT_TRADE_NO = /^(?!_)[0-9A-Za-z_\-|*@]{8,32}$/;

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/**
 * Validates `data.wxpay_virtual` and returns the amount in fen it implies:
 * coin mode: buy_quantity × 100 / rate (must be whole fen); goods mode: goods_price × buy_quantity.
 */
export function virtualAmountFen(wv: unknown, config: WxpayVirtualConfig): { input: WxpayVirtualInput; total_fee: number; rate: number } {
  if (typeof wv !== 'object' || wv === null) throw new PayError('VIRTUAL_MODE_INVALID');
  const v = wv as Record<string, unknown>;
  if (v.mode !== 'short_series_coin' && v.mode !== 'short_series_goods') throw new PayError('VIRTUAL_MODE_INVALID');
  if (!isPosInt(v.buy_quantity)) throw new PayError('VIRTUAL_QUANTITY_INVALID');
  const rate = config.rate ?? 100;
  if (!isPosInt(rate)) throw new PayError('CONFIG_FIELD_MISSING', { node: WXPAY_VIRTUAL_NODE, field: 'rate' });
  if (v.mode === 'short_series_coin') {
    if ((v.buy_quantity * 100) % rate !== 0) {
      throw new PayError('FIELD_INVALID', {
        field: 'wxpay_virtual.buy_quantity',
        reason: `${v.buy_quantity} coins at ${rate} coins per yuan is not a whole number of fen`,
      });
    }
    return { input: { mode: v.mode, buy_quantity: v.buy_quantity }, total_fee: (v.buy_quantity * 100) / rate, rate };
  }
  if (typeof v.product_id !== 'string' || !v.product_id || !isPosInt(v.goods_price)) throw new PayError('VIRTUAL_GOODS_INVALID');
  const total = v.goods_price * v.buy_quantity;
  if (!Number.isSafeInteger(total)) throw new PayError('VIRTUAL_QUANTITY_INVALID');
  return {
    input: { mode: v.mode, buy_quantity: v.buy_quantity, product_id: v.product_id, goods_price: v.goods_price },
    total_fee: total,
    rate,
  };
}

/** The signData text, key order fixed, serialised exactly once. */
export function buildSignData(p: {
  offerId: string;
  buyQuantity: number;
  env: 0 | 1;
  productId?: string;
  goodsPrice?: number;
  outTradeNo: string;
  attach: string;
}): string {
  return JSON.stringify({
    offerId: p.offerId,
    buyQuantity: p.buyQuantity,
    env: p.env,
    currencyType: 'CNY',
    ...(p.productId !== undefined ? { productId: p.productId, goodsPrice: p.goodsPrice } : {}),
    outTradeNo: p.outTradeNo,
    attach: p.attach,
  });
}

/** `/xpay/query_order` status → trade state (0 init, 1 created, 2 paid, 3 delivering, 4 delivered, 5 refunded, 6 closed, 7 refund failed, 8 iOS user refund). */
export function xpayOrderState(status: unknown): TradeState {
  switch (status) {
    case 0:
    case 1:
      return 'NOTPAY';
    case 2:
    case 3:
    case 4:
    case 7:
      return 'PAID';
    case 5:
    case 8:
      return 'REFUND';
    case 6:
      return 'CLOSED';
    default:
      return 'ERROR';
  }
}

export interface WxpayVirtualQuery {
  out_trade_no: string;
  transaction_id?: string;
  /** the payer (stored on the order); query_order takes it with order_id */
  openid?: string;
}

export async function queryVirtualOrder(q: WxpayVirtualQuery, ctx: ProviderContext<WxpayVirtualConfig>): Promise<QueryOrderResult> {
  const json = await xpayRequest(
    'query_order',
    { ...(q.openid ? { openid: q.openid } : {}), env: envOf(ctx.config), order_id: q.out_trade_no },
    ctx,
  );
  const o = json.order;
  if (!o || typeof o !== 'object') throw new PayError('GATEWAY_RESPONSE_INVALID');
  const state = o.order_type === 1 ? 'REFUND' : xpayOrderState(o.status);
  return {
    state,
    out_trade_no: String(o.order_id ?? q.out_trade_no),
    ...(o.wx_order_id ? { transaction_id: String(o.wx_order_id) } : {}),
    ...(isPosInt(o.order_fee) ? { total_fee: o.order_fee } : {}),
    ...(isPosInt(o.paid_time) ? { pay_date: o.paid_time * 1000 } : {}),
    ...(q.openid ? { openid: q.openid } : {}),
    raw: o,
  };
}

export interface WxpayVirtualRefundInput extends RefundInput {
  /** the payer (stored on the order): required by refund_order */
  openid?: string;
  /** "0".."5" (ASSUMED default "0") */
  refund_reason?: string;
  /** "1" customer service, "2" user, "3" other (ASSUMED default "3") */
  req_from?: string;
}

export async function refundVirtualOrder(input: WxpayVirtualRefundInput, ctx: ProviderContext<WxpayVirtualConfig>): Promise<RefundResult> {
  if (!input.openid) throw new PayError('OPENID_REQUIRED', { pay_type: 'wxpay-virtual_mp-weixin' });
  if (!/^[0-9A-Za-z_\-|*@]{8,32}$/.test(input.out_refund_no))
    throw new PayError('FIELD_INVALID', { field: 'out_refund_no', reason: 'xpay needs 8-32 characters' });
  // left_fee must be what is still refundable: ask WeChat instead of trusting local bookkeeping
  // a failed look-up sent no refund: say so with a plain error (nothing sent), not the look-up's GatewayFailure
  const order = await queryVirtualOrder({ out_trade_no: input.out_trade_no, openid: input.openid }, ctx).catch((e) => {
    throw isGatewayFailure(e) ? new PayError('REFUND_RETRY_LATER', {}, { cause: e.key, providerCode: e.providerCode }) : e;
  });
  const raw = order.raw as Record<string, unknown>;
  const left_fee = typeof raw.left_fee === 'number' ? raw.left_fee : input.total_fee;
  if (!isPosInt(input.refund_fee) || input.refund_fee > left_fee) throw new PayError('REFUND_FEE_INVALID', { refundable: left_fee });
  const json = await xpayRequest(
    'refund_order',
    {
      openid: input.openid,
      order_id: input.out_trade_no,
      refund_order_id: input.out_refund_no,
      left_fee,
      refund_fee: input.refund_fee,
      ...(input.refund_desc ? { biz_meta: input.refund_desc } : {}),
      refund_reason: input.refund_reason ?? '0',
      req_from: input.req_from ?? '3',
      env: envOf(ctx.config),
    },
    ctx,
  );
  // the money returns asynchronously; xpay_refund_notify reports the end state
  return {
    state: 'PROCESSING',
    ...(json.refund_wx_order_id ? { refund_id: String(json.refund_wx_order_id) } : {}),
    refund_fee: input.refund_fee,
    raw: json,
  };
}

/** `/xpay/notify_provide_goods`: asks WeChat to re-run delivery when the push failed. */
export async function notifyProvideGoods(
  q: { out_trade_no?: string; wx_order_id?: string },
  ctx: ProviderContext<WxpayVirtualConfig>,
): Promise<void> {
  if (!q.out_trade_no && !q.wx_order_id)
    throw new PayError('FIELD_INVALID', { field: 'out_trade_no', reason: 'out_trade_no or wx_order_id is required' });
  await xpayRequest(
    'notify_provide_goods',
    { ...(q.out_trade_no ? { order_id: q.out_trade_no } : { wx_order_id: q.wx_order_id }), env: envOf(ctx.config) },
    ctx,
  );
}

function textReply(statusCode: number, body: string, type = 'application/json; charset=utf-8'): IntegratedResponse {
  return { mpserverlessComposedResponse: true, statusCode, headers: { 'content-type': type }, body };
}

function parseJsonObject(text: string): Record<string, any> {
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('shape');
    return v;
  } catch {
    // XML push format is not supported: configure the push data format as JSON
    throw new PayError('NOTIFY_MALFORMED');
  }
}

/**
 * Verifies and parses a message push. URL `signature` always; safe mode (`encrypt_type=aes`)
 * additionally `msg_signature` over the ciphertext, decryption and the appid at its end.
 */
export async function verifyVirtualPush(req: RawHttpRequest, ctx: ProviderContext<WxpayVirtualConfig>): Promise<NotifyEvent> {
  const token = need(ctx.config, 'token');
  const { signature, timestamp, nonce } = req.query;
  if (!timestamp || !nonce || !hexEqual(signature, pushSignature(token, timestamp, nonce))) throw new PayError('NOTIFY_SIGNATURE_INVALID');

  if (req.method.toUpperCase() === 'GET') {
    const echostr = req.query.echostr;
    if (typeof echostr !== 'string') throw new PayError('NOTIFY_MALFORMED');
    return { kind: 'challenge', reply: textReply(200, echostr, 'text/plain; charset=utf-8') };
  }

  let msg: Record<string, any>;
  let appid: string | undefined;
  const encrypted = req.query.encrypt_type === 'aes';
  if (encrypted) {
    const env = parseJsonObject(req.body.toString('utf8'));
    if (typeof env.Encrypt !== 'string') throw new PayError('NOTIFY_MALFORMED');
    if (!hexEqual(req.query.msg_signature, pushMsgSignature(token, timestamp, nonce, env.Encrypt)))
      throw new PayError('NOTIFY_SIGNATURE_INVALID');
    const dec = decryptPushMessage(need(ctx.config, 'encodingAESKey'), env.Encrypt);
    if (dec.appId !== need(ctx.config, 'appId')) throw new PayError('NOTIFY_MISMATCH', { field: 'appid' });
    appid = dec.appId;
    msg = parseJsonObject(dec.message);
  } else {
    // Plaintext mode: the URL signature covers token/timestamp/nonce only, never the body, so a seen
    // URL could be replayed with any body. With safe mode configured a plaintext push is refused;
    // without it, a plaintext payment push is only a hint that the service confirms by query_order.
    if (ctx.config.encodingAESKey) throw new PayError('NOTIFY_SIGNATURE_INVALID');
    msg = parseJsonObject(req.body.toString('utf8'));
    const event = virtualEvent(msg, undefined, false, ctx.config);
    if (event.kind === 'payment') return { kind: 'hint', out_trade_no: event.out_trade_no };
    if (event.kind === 'refund') return { kind: 'ignore', reason: 'unauthenticated plaintext refund push' };
    return event;
  }
  return virtualEvent(msg, appid, encrypted, ctx.config);
}

function virtualEvent(msg: Record<string, any>, appid: string | undefined, encrypted: boolean, config: WxpayVirtualConfig): NotifyEvent {
  const event = msg.Event;
  if (event === 'xpay_goods_deliver_notify' || event === 'xpay_coin_pay_notify') {
    if (msg.Env !== undefined && Number(msg.Env) !== envOf(config)) throw new PayError('NOTIFY_MISMATCH', { field: 'Env' });
    const item = event === 'xpay_goods_deliver_notify' ? msg.GoodsInfo : msg.CoinInfo;
    const pay = msg.WeChatPayInfo ?? {};
    const out_trade_no = msg.OutTradeNo;
    const actual = item?.ActualPrice;
    if (typeof out_trade_no !== 'string' || !out_trade_no || !Number.isSafeInteger(actual) || actual < 0)
      throw new PayError('NOTIFY_MALFORMED');
    const transaction_id = String(pay.TransactionId || pay.MchOrderNo || '');
    if (!transaction_id) throw new PayError('NOTIFY_MALFORMED');
    return {
      kind: 'payment',
      out_trade_no,
      transaction_id,
      total_fee: actual,
      paid: true,
      ...(appid ? { appid } : {}),
      ...(typeof msg.OpenId === 'string' ? { openid: msg.OpenId } : {}),
      ...(Number.isSafeInteger(pay.PaidTime) ? { pay_date: pay.PaidTime * 1000 } : {}),
      info: {
        event,
        encrypted,
        env: msg.Env,
        mch_order_no: pay.MchOrderNo,
        product_id: item?.ProductId,
        quantity: item?.Quantity,
        orig_price: item?.OrigPrice,
        actual_price: actual,
        attach: item?.Attach,
      },
    };
  }
  if (event === 'xpay_refund_notify') {
    if (typeof msg.MchOrderId !== 'string' || !msg.MchOrderId) throw new PayError('NOTIFY_MALFORMED');
    if (msg.RetCode !== 0 && msg.RetCode !== '0')
      return { kind: 'ignore', reason: `xpay refund ${msg.MchRefundId} failed: RetCode ${msg.RetCode}` };
    return {
      kind: 'refund',
      out_trade_no: msg.MchOrderId,
      ...(typeof msg.MchRefundId === 'string' ? { out_refund_no: msg.MchRefundId } : {}),
      ...(Number.isSafeInteger(msg.RefundFee) ? { refund_fee: msg.RefundFee } : {}),
      info: {
        event,
        encrypted,
        wx_refund_id: msg.WxRefundId,
        wx_order_id: msg.WxOrderId,
        refund_succ_time: msg.RefundSuccTimestamp,
        openid: msg.OpenId,
      },
    };
  }
  return { kind: 'ignore', reason: `push event ${String(event ?? msg.MsgType ?? 'unknown')}` };
}

export const wxpayVirtualAdapter: ProviderAdapter<WxpayVirtualConfig> = {
  provider: 'wxpay-virtual',
  diagnose: diagnoseWxpayVirtual,
  diagnoseOnline: probeWxpayVirtual,

  async createOrder(input: CreateOrderInput, ctx) {
    const config = ctx.config;
    if (input.time_expire !== undefined) throw new PayError('TIME_EXPIRE_UNSUPPORTED', { provider: 'wxpay-virtual' });
    const { input: wv, total_fee, rate } = virtualAmountFen(input.extra.wxpay_virtual, config);
    if (total_fee !== input.total_fee) {
      throw new PayError('FIELD_INVALID', {
        field: 'total_fee',
        reason: `wxpay_virtual implies ${total_fee} fen but total_fee is ${input.total_fee}`,
      });
    }
    if (!XPAY_OUT_TRADE_NO.test(input.out_trade_no))
      throw new PayError('FIELD_INVALID', {
        field: 'out_trade_no',
        reason: 'wxpay-virtual needs 8-32 characters of [0-9A-Za-z_-|*@], not starting with _',
      });
    if (!input.openid) throw new PayError('OPENID_REQUIRED', { pay_type: input.payType });
    const sessionKey = input.extra.session_key;
    if (typeof sessionKey !== 'string' || !sessionKey) throw new PayError('SESSION_KEY_MISSING');
    const attach = typeof input.extra.attach === 'string' ? input.extra.attach : input.out_trade_no;
    const signData = buildSignData({
      offerId: need(config, 'offerId'),
      buyQuantity: wv.buy_quantity,
      env: envOf(config),
      ...(wv.mode === 'short_series_goods' ? { productId: wv.product_id, goodsPrice: wv.goods_price } : {}),
      outTradeNo: input.out_trade_no,
      attach,
    });
    return {
      // session_key signs but is never part of the result
      orderInfo: {
        signData,
        mode: wv.mode,
        paySig: virtualPaySig(appKeyOf(config), signData),
        signature: userSignature(sessionKey, signData),
      },
      orderPatch: {
        provider_appid: config.appId,
        ...(config.mchId ? { mch_id: config.mchId } : {}),
        openid: input.openid,
        expand_data: { ...wv, rate, env: envOf(config) },
      },
    };
  },

  queryOrder: (q: WxpayVirtualQuery, ctx) => queryVirtualOrder(q, ctx),
  refund: (input: WxpayVirtualRefundInput, ctx) => refundVirtualOrder(input, ctx),
  verifyNotify: verifyVirtualPush,
  provideGoods: notifyProvideGoods,
  login: (code, _platformKey, ctx) => code2Session(code, ctx),

  /** the payment is signed with the user's session_key, which only the server holds (stored at login) */
  async prepareCreate(input, ctx, lookups) {
    const session_key = input.openid ? await lookups.sessionKey(need(ctx.config, 'appId'), input.openid) : undefined;
    if (!session_key) throw new PayError('SESSION_KEY_MISSING');
    return { extra: { session_key } };
  },

  notifyReply(ok, message) {
    return textReply(
      200,
      JSON.stringify(ok ? { ErrCode: 0, ErrMsg: 'success' } : { ErrCode: 1, ErrMsg: message ? String(message).slice(0, 64) : 'fail' }),
    );
  },
};

export default wxpayVirtualAdapter;
export const adapter = wxpayVirtualAdapter;
