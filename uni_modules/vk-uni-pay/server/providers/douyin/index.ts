/**
 * Douyin mini program guaranteed payment (抖音小程序担保支付, "ecpay"), pay type `douyin_mp-toutiao`,
 * config node `douyin.mp-toutiao` { appId, secret, mchId, salt, token, sandbox }. Wire facts and
 * their sources: docs/douyin.md.
 *
 * Requests are JSON POSTs signed with the SALT (sign.ts). Douyin's answers carry NO signature: their
 * authenticity rests on TLS to the official host (verifyJsonAnswer), so a create or refund answer
 * only tells what Douyin accepted; what happened to the money is settled by our own queries or by a
 * notification signed with the Token. Notifications (`type` payment / refund) are verified with the
 * Token over the fields exactly as received, and answered `{"err_no":0,"err_tips":"success"}`.
 */
import { PayError } from '../../core/errors';
import { parseProviderTime } from '../../core/time';
import { callGateway, gatewayUrl, jsonObject, verifyJsonAnswer } from '../gateway';
import type { IntegratedResponse } from '../../../../../types/unicloud-server';
import type {
  CreateOrderInput,
  CreateOrderResult,
  NotifyEvent,
  ProviderAdapter,
  ProviderContext,
  QueryOrderResult,
  RawHttpRequest,
  RefundInput,
  RefundResult,
  TradeState,
} from '../types';
import type { AccountBalance } from '../hooks';
import { douyinCallbackSignatureValid, douyinRequestSign, type DouyinParam } from './sign';
import { diagnoseDouyin } from './doctor';

export const DOUYIN_NODE = 'douyin.mp-toutiao';
/** production host of the ecpay APIs */
export const DOUYIN_GATEWAY = 'https://developer.toutiao.com';
/** Douyin's own sandbox (沙盒环境), used when the node says `sandbox: true` */
export const DOUYIN_SANDBOX_GATEWAY = 'https://open-sandbox.douyin.com';

export const DOUYIN_PATHS = {
  createOrder: '/api/apps/ecpay/v1/create_order',
  queryOrder: '/api/apps/ecpay/v1/query_order',
  createRefund: '/api/apps/ecpay/v1/create_refund',
  queryRefund: '/api/apps/ecpay/v1/query_refund',
  queryBalance: '/api/apps/ecpay/saas/query_merchant_balance',
} as const;

export interface DouyinConfig {
  appId?: string;
  /** AppSecret (login APIs; not used by payment) */
  secret?: string;
  /** merchant number (进件商户号, `merchant_uid`), needed by the balance query only */
  mchId?: string;
  /** 支付系统密钥 SALT: signs every request */
  salt?: string;
  /** 支付设置 Token(令牌): signs every notification */
  token?: string;
  /** true: Douyin's sandbox host */
  sandbox?: boolean;
  /** base URL override (loopback sandbox in tests) */
  gateway?: string;
  /** ms, default 10000 */
  timeout?: number;
  /** the channel account queryAccountBalance reads (`channel_type`: alipay, wx, hz …), default alipay */
  balanceChannelType?: string;
}

/** err_no values meaning "busy / may or may not have happened, ask again with the same numbers" (docs/douyin.md) */
const RETRYABLE_ERR_NO = new Set([1000, 1001]);
/** query_order / query_refund: "no such record" */
export const DOUYIN_NOT_FOUND = 2000;
/** order lifetime when the caller gives no time_expire (Douyin accepts 5 minutes to 2 days) */
const DEFAULT_VALID_SECONDS = 30 * 60;
const VALID_SECONDS = { min: 5 * 60, max: 2 * 24 * 3600 };
/** subject and body: at most 42 characters and 128 bytes */
const TEXT_CHARS = 42;
const TEXT_BYTES = 128;

function need(config: DouyinConfig, field: 'appId' | 'salt' | 'token' | 'mchId'): string {
  const v = config[field];
  if (typeof v !== 'string' || !v) throw new PayError('CONFIG_FIELD_MISSING', { node: DOUYIN_NODE, field });
  return v;
}

export interface DouyinAnswer {
  err_no: number;
  err_tips?: string;
  [k: string]: unknown;
}

/**
 * Signs and POSTs one ecpay call through the gateway step. `answers`: err_no values that are an
 * answer rather than a refusal (a query's "not found").
 */
export function douyinRequest(
  path: string,
  fields: Record<string, DouyinParam>,
  ctx: ProviderContext<DouyinConfig>,
  answers: readonly number[] = [],
): Promise<DouyinAnswer> {
  const params: Record<string, DouyinParam> = { app_id: need(ctx.config, 'appId'), ...fields };
  for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
  params.sign = douyinRequestSign(params, need(ctx.config, 'salt'));
  const base = ctx.config.sandbox === true ? DOUYIN_SANDBOX_GATEWAY : DOUYIN_GATEWAY;
  return callGateway(ctx.http, {
    request: {
      method: 'POST',
      url: gatewayUrl(ctx.config.gateway, base, path),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
      timeoutMs: ctx.config.timeout ?? 10_000,
    },
    // unsigned answers: only a 200 JSON object with err_no is Douyin's (over TLS to its host)
    verify: verifyJsonAnswer('err_no'),
    refusal: (res) => {
      const r = jsonObject(res.body) as DouyinAnswer;
      const errNo = Number(r.err_no);
      if (errNo === 0 || answers.includes(errNo)) return undefined;
      return { code: String(r.err_no), message: String(r.err_tips ?? ''), retryable: RETRYABLE_ERR_NO.has(errNo) };
    },
    parse: (res) => {
      const r = jsonObject(res.body) as DouyinAnswer;
      return { ...r, err_no: Number(r.err_no) };
    },
  });
}

/** At most `chars` characters and `bytes` UTF-8 bytes, cut on a character boundary. */
function clip(text: string, chars = TEXT_CHARS, bytes = TEXT_BYTES): string {
  let out = Array.from(text).slice(0, chars).join('');
  while (Buffer.byteLength(out, 'utf8') > bytes) out = Array.from(out).slice(0, -1).join('');
  return out;
}

/** `data.other` goes to Douyin as is (disable_msg, msg_page, store_uid, cp_extra …); only scalars are signed the documented way. */
function scalarOther(other: Record<string, unknown>): Record<string, DouyinParam> {
  const out: Record<string, DouyinParam> = {};
  for (const [k, v] of Object.entries(other)) {
    if (v !== null && typeof v === 'object')
      throw new PayError('FIELD_INVALID', { field: `other.${k}`, reason: 'Douyin takes strings and numbers here' });
    out[k] = v as DouyinParam;
  }
  return out;
}

/** valid_time (seconds) from the order's time_expire; Douyin takes 5 minutes to 2 days. */
function validSeconds(time_expire: number | undefined, now: number): number {
  if (time_expire === undefined) return DEFAULT_VALID_SECONDS;
  const s = Math.floor((time_expire - now) / 1000);
  if (s < VALID_SECONDS.min || s > VALID_SECONDS.max)
    throw new PayError('TIME_EXPIRE_INVALID', { min: VALID_SECONDS.min / 60, reason: 'Douyin: 5 minutes to 2 days' });
  return s;
}

const PAY_METHOD_OF_WAY: Record<string, string> = { '1': 'wxpay', '2': 'alipay', '10': 'douyin' };

/** The method the payer chose in Douyin's cashier (`way`), in vk-uni-pay's provider_pay_method words. */
export function payMethodOfWay(way: unknown): string | undefined {
  return way === undefined || way === null ? undefined : PAY_METHOD_OF_WAY[String(way)];
}

async function createOrder(input: CreateOrderInput, ctx: ProviderContext<DouyinConfig>): Promise<CreateOrderResult> {
  const subject = clip(input.subject);
  const r = await douyinRequest(
    DOUYIN_PATHS.createOrder,
    {
      ...scalarOther(input.other),
      out_order_no: input.out_trade_no,
      total_amount: input.total_fee,
      subject,
      body: clip(input.body || input.subject),
      valid_time: validSeconds(input.time_expire, ctx.clock.now()),
      notify_url: input.notify_url,
    },
    ctx,
  );
  const data = r.data as Record<string, unknown> | undefined;
  const order_id = data?.order_id;
  const order_token = data?.order_token;
  if (typeof order_id !== 'string' || !order_id || typeof order_token !== 'string' || !order_token)
    throw new PayError('GATEWAY_RESPONSE_INVALID');
  // tt.pay / uni.requestPayment({ orderInfo, service: 5 }) in the mini program
  return { orderInfo: { order_id, order_token } };
}

/** payment_info.order_status → our trade state (PROCESSING may still be paid: never closed on it). */
const ORDER_STATE: Record<string, TradeState> = { SUCCESS: 'PAID', PROCESSING: 'PAYING', TIMEOUT: 'CLOSED', FAIL: 'NOTPAY' };

async function queryOrder(q: { out_trade_no: string }, ctx: ProviderContext<DouyinConfig>): Promise<QueryOrderResult> {
  const r = await douyinRequest(DOUYIN_PATHS.queryOrder, { out_order_no: q.out_trade_no }, ctx, [DOUYIN_NOT_FOUND]);
  if (r.err_no === DOUYIN_NOT_FOUND) return { state: 'NOT_FOUND', out_trade_no: q.out_trade_no, raw: r };
  const info = r.payment_info as Record<string, unknown> | undefined;
  const state = ORDER_STATE[String(info?.order_status)];
  if (!info || !state || (r.out_order_no !== undefined && r.out_order_no !== q.out_trade_no))
    throw new PayError('GATEWAY_RESPONSE_INVALID');
  if (state !== 'PAID') return { state, out_trade_no: q.out_trade_no, raw: r };
  const total_fee = info.total_fee;
  if (typeof total_fee !== 'number' || !Number.isSafeInteger(total_fee)) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const provider_pay_method = payMethodOfWay(info.way);
  return {
    state,
    out_trade_no: q.out_trade_no,
    transaction_id: typeof r.order_id === 'string' && r.order_id ? r.order_id : String(info.channel_no ?? ''),
    total_fee,
    pay_date: parseProviderTime(typeof info.pay_time === 'string' ? info.pay_time : undefined),
    ...(provider_pay_method ? { provider_pay_method } : {}),
    raw: r,
  };
}

async function refund(input: RefundInput, ctx: ProviderContext<DouyinConfig>): Promise<RefundResult> {
  const r = await douyinRequest(
    DOUYIN_PATHS.createRefund,
    {
      out_order_no: input.out_trade_no,
      out_refund_no: input.out_refund_no,
      reason: clip(input.refund_desc || '退款', 80, 200),
      refund_amount: input.refund_fee,
      notify_url: input.notify_url,
      // echoed in the refund notification, which itself names no order
      cp_extra: input.out_trade_no,
    },
    ctx,
  );
  // accepted only: the outcome comes from the signed refund notification or query_refund
  return {
    state: 'PROCESSING',
    refund_id: typeof r.refund_no === 'string' ? r.refund_no : undefined,
    refund_fee: input.refund_fee,
    raw: r,
  };
}

const REFUND_STATE: Record<string, RefundResult['state']> = { SUCCESS: 'SUCCESS', PROCESSING: 'PROCESSING', FAIL: 'FAIL' };

async function queryRefund(q: { out_trade_no: string; out_refund_no: string }, ctx: ProviderContext<DouyinConfig>): Promise<RefundResult> {
  const r = await douyinRequest(DOUYIN_PATHS.queryRefund, { out_refund_no: q.out_refund_no }, ctx, [DOUYIN_NOT_FOUND]);
  // no such refund at Douyin: the service releases it as failed only once its grace period is over
  if (r.err_no === DOUYIN_NOT_FOUND) return { state: 'FAIL', refund_fee: 0, raw: r };
  const info = r.refundInfo as Record<string, unknown> | undefined;
  const state = REFUND_STATE[String(info?.refund_status)];
  if (!info || !state || typeof info.refund_amount !== 'number') throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { state, refund_id: typeof info.refund_no === 'string' ? info.refund_no : undefined, refund_fee: info.refund_amount, raw: r };
}

const fen = (v: unknown): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return v;
};

/**
 * 商户余额查询 for the configured merchant (mchId) and one channel account (`balanceChannelType`,
 * default alipay), in fen under vk-uni-pay's names; the service answers them in yuan.
 * availableAmount (vk documents it for Alipay only) is the withdrawable amount here.
 */
export async function queryBalance(ctx: ProviderContext<DouyinConfig>): Promise<AccountBalance> {
  const channel = ctx.config.balanceChannelType ?? 'alipay';
  if (!/^[a-z]{1,32}$/.test(channel)) throw new PayError('FIELD_INVALID', { field: 'balanceChannelType', reason: 'alipay, wx, hz, …' });
  const r = await douyinRequest(DOUYIN_PATHS.queryBalance, { merchant_uid: need(ctx.config, 'mchId'), channel_type: channel }, ctx);
  const a = r.account_info as Record<string, unknown> | undefined;
  if (!a) throw new PayError('GATEWAY_RESPONSE_INVALID');
  // the field name's misspelling is Douyin's own
  const withdrawable = fen(a.withdrawable_balacne ?? a.withdrawable_balance);
  return {
    availableAmount: withdrawable,
    withdrawableAmount: withdrawable,
    onlineAmount: fen(a.online_balance),
    freezeAmount: fen(a.freeze_balance ?? 0),
  };
}

/** The callback's top-level fields, all scalars (as Douyin posts them: JSON). */
function callbackFields(req: RawHttpRequest): Record<string, string | number> {
  const body = jsonObject(req.body);
  if (!body) throw new PayError('NOTIFY_MALFORMED');
  for (const k of ['timestamp', 'nonce', 'msg', 'type', 'msg_signature'])
    if (typeof body[k] !== 'string' && !(k === 'timestamp' && typeof body[k] === 'number')) throw new PayError('NOTIFY_MALFORMED');
  for (const v of Object.values(body)) if (v !== null && typeof v === 'object') throw new PayError('NOTIFY_MALFORMED');
  return body as Record<string, string | number>;
}

const OUT_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
/**
 * Replay bound (our rule, docs/douyin.md): Douyin's retries end about 25 h after the first attempt,
 * so an older notification is a replay; a small allowance for clocks running ahead.
 */
const NOTIFY_MAX_AGE_S = 48 * 3600;
const NOTIFY_MAX_AHEAD_S = 5 * 60;

function checkTimestamp(timestamp: string | number, nowMs: number): void {
  const ts = Number(timestamp);
  const now = Math.floor(nowMs / 1000);
  if (!Number.isSafeInteger(ts) || ts < now - NOTIFY_MAX_AGE_S || ts > now + NOTIFY_MAX_AHEAD_S)
    throw new PayError('NOTIFY_STALE', { window: '48 h' });
}

async function verifyNotify(req: RawHttpRequest, ctx: ProviderContext<DouyinConfig>): Promise<NotifyEvent> {
  const fields = callbackFields(req);
  if (!douyinCallbackSignatureValid(fields, need(ctx.config, 'token'))) throw new PayError('NOTIFY_SIGNATURE_INVALID');
  checkTimestamp(fields.timestamp, ctx.clock.now());
  const msg = jsonObject(String(fields.msg));
  if (!msg) throw new PayError('NOTIFY_MALFORMED');
  // the Token is per app, but the app id is still checked (a Token shared between apps)
  if (msg.appid !== need(ctx.config, 'appId')) throw new PayError('NOTIFY_MISMATCH', { field: 'appid' });
  if (fields.type === 'refund') {
    const out_refund_no = msg.cp_refundno;
    if (typeof out_refund_no !== 'string' || !OUT_NO.test(out_refund_no)) throw new PayError('NOTIFY_MALFORMED');
    // Token-signed, so its final state counts (SUCCESS / FAIL); anything else only prompts a query
    const state = msg.status === 'SUCCESS' || msg.status === 'FAIL' ? msg.status : undefined;
    return {
      kind: 'refund',
      out_trade_no: typeof msg.cp_extra === 'string' ? msg.cp_extra : '',
      out_refund_no,
      ...(typeof msg.refund_amount === 'number' ? { refund_fee: msg.refund_amount } : {}),
      ...(state ? { state } : {}),
      ...(typeof msg.refund_no === 'string' && msg.refund_no ? { refund_id: msg.refund_no } : {}),
      ...(typeof msg.order_id === 'string' && msg.order_id ? { transaction_id: msg.order_id } : {}),
      info: pick(msg, ['appid', 'cp_refundno', 'cp_extra', 'status', 'refund_amount', 'refund_no', 'order_id', 'refunded_at', 'message']),
    };
  }
  if (fields.type !== 'payment') return { kind: 'ignore', reason: `type ${String(fields.type).slice(0, 32)}` };
  const total = msg.total_amount;
  if (typeof msg.cp_orderno !== 'string' || typeof total !== 'number' || !Number.isSafeInteger(total))
    throw new PayError('NOTIFY_MALFORMED');
  const transaction_id = [msg.order_id, msg.payment_order_no].find((v): v is string => typeof v === 'string' && v !== '') ?? '';
  const provider_pay_method = payMethodOfWay(msg.way);
  return {
    kind: 'payment',
    out_trade_no: msg.cp_orderno,
    transaction_id,
    total_fee: total,
    paid: msg.status === 'SUCCESS',
    appid: msg.appid,
    info: {
      ...pick(msg, [
        'appid',
        'cp_orderno',
        'order_id',
        'payment_order_no',
        'channel_no',
        'way',
        'status',
        'total_amount',
        'seller_uid',
        'item_id',
      ]),
      ...(provider_pay_method ? { provider_pay_method } : {}),
    },
    ...(provider_pay_method ? { provider_pay_method } : {}),
  };
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

function reply(ok: boolean, message?: string): IntegratedResponse {
  return {
    mpserverlessComposedResponse: true,
    statusCode: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(
      ok ? { err_no: 0, err_tips: 'success' } : { err_no: 1, err_tips: message ? String(message).slice(0, 64) : 'FAIL' },
    ),
  };
}

export const adapter: ProviderAdapter<DouyinConfig> = {
  provider: 'douyin',
  diagnose: diagnoseDouyin,
  createOrder,
  queryOrder,
  refund,
  queryRefund,
  verifyNotify,
  queryBalance,
  /** `{"err_no":0,"err_tips":"success"}` acknowledges; anything else makes Douyin retry */
  notifyReply: (ok, message) => reply(ok, message),
};

export default adapter;
