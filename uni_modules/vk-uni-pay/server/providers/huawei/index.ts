/**
 * Huawei Pay (华为支付, HarmonyOS Payment Kit, direct merchant) adapter: scenes `app-plus` (HarmonyOS
 * app, config node `huawei.app-harmony`) and `mp-harmony` (atomic service / 元服务, node
 * `huawei.mp-harmony`). Every request carries the PayMercAuth header signed with the merchant key;
 * every answer and notification is checked against Huawei's SM2 signature (platformPublicKey)
 * before anything in it is used. Wire format and sources: docs/huawei.md.
 */
import { PayError } from '../../core/errors';
import { parseProviderTime } from '../../core/time';
import { callGateway, gatewayUrl, jsonObject, type GatewayRefusal } from '../gateway';
import type { HttpResponse } from '../../ports';
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
import {
  buildOrderStr,
  huaweiSignString,
  parseMerchantKey,
  parseSm2PublicKey,
  payMercAuth,
  verifyHuaweiSigned,
  type MerchantKey,
} from './sign';
import type { Sm2Point } from './sm2';
import { diagnoseHuawei } from './doctor';

export const DEFAULT_HUAWEI_GATEWAY = 'https://petalpay-developer.cloud.huawei.com.cn';
const OK = '000000';

export interface HuaweiConfig {
  appId?: string;
  /** merchant number (mercNo / callerId) */
  mchId?: string;
  /** merchant certificate id (authId / auth_id) */
  mchAuthId?: string;
  /** merchant private key, RSA or SM2, PEM or bare base64 PKCS#8 */
  mchPrivateKey?: string;
  /** Huawei Pay certificate's SM2 public key: hex point `04…`, PEM public key or certificate */
  platformPublicKey?: string;
  /** `app-harmony` or `mp-harmony` (vk-uni-pay writes it; the scene decides the API here) */
  clientType?: string;
  /** base URL override (sandbox) */
  gateway?: string;
  timeout?: number;
}

interface Keys {
  mchId: string;
  authId: string;
  merchant: MerchantKey;
  platform: Sm2Point;
}

function node(ctx: ProviderContext<HuaweiConfig>): string {
  return ctx.config.clientType === 'mp-harmony' ? 'huawei.mp-harmony' : 'huawei.app-harmony';
}

function need(ctx: ProviderContext<HuaweiConfig>, field: 'appId' | 'mchId' | 'mchAuthId' | 'mchPrivateKey' | 'platformPublicKey'): string {
  const v = ctx.config[field];
  if (typeof v !== 'string' || !v.trim()) throw new PayError('CONFIG_FIELD_MISSING', { node: node(ctx), field });
  return v.trim();
}

/** The platform key alone (notifications need no merchant key). */
function platformKey(ctx: ProviderContext<HuaweiConfig>): Sm2Point {
  const key = parseSm2PublicKey(need(ctx, 'platformPublicKey'));
  if (!key) throw new PayError('CONFIG_KEY_INVALID', { node: node(ctx), field: 'platformPublicKey' });
  return key;
}

function keys(ctx: ProviderContext<HuaweiConfig>): Keys {
  const merchant = parseMerchantKey(need(ctx, 'mchPrivateKey'));
  if (!merchant) throw new PayError('CONFIG_KEY_INVALID', { node: node(ctx), field: 'mchPrivateKey' });
  return { mchId: need(ctx, 'mchId'), authId: need(ctx, 'mchAuthId'), merchant, platform: platformKey(ctx) };
}

/** Errors whose repetition may succeed; every other verified refusal is final (Huawei's 400000 family). */
const RETRYABLE_CODES = new Set(['UNKNOW_ERROR', 'UNKNOWN_ERROR', 'SYSTEM_ERROR', 'SYSTEM_BUSY', 'RETRY_LATER']);

interface Call {
  method: 'GET' | 'POST';
  /** path with its query (GET signs exactly this) */
  path: string;
  body?: Record<string, unknown>;
  /** verified refusals read as an answer (e.g. "no such order" for a query) */
  accept?: (code: string) => boolean;
}

/** Signs, sends and verifies one call; the answer is Huawei's only if its SM2 `sign` checks out. */
function huaweiCall(call: Call, ctx: ProviderContext<HuaweiConfig>, k: Keys): Promise<Record<string, any>> {
  const body = call.body ? JSON.stringify(call.body) : undefined;
  const bodyContent = call.body ? huaweiSignString(call.body as Record<string, any>) : call.path;
  const parsed = (res: HttpResponse) => jsonObject(res.body) as Record<string, any>;
  const code = (r: Record<string, any>) => String(r.subCode || r.resultCode || '');
  return callGateway(ctx.http, {
    request: {
      method: call.method,
      url: gatewayUrl(ctx.config.gateway, DEFAULT_HUAWEI_GATEWAY, call.path),
      headers: {
        'content-type': 'application/json; charset=UTF-8',
        accept: 'application/json',
        paymercauth: payMercAuth({ mchId: k.mchId, authId: k.authId, bodyContent, key: k.merchant, now: ctx.clock.now() }),
      },
      ...(body !== undefined ? { body } : {}),
      timeoutMs: ctx.config.timeout ?? 10_000,
    },
    verify: (res) => {
      const r = jsonObject(res.body);
      if (!r || !verifyHuaweiSigned(r, k.platform)) throw new Error('unsigned');
    },
    refusal: (res): GatewayRefusal | undefined => {
      const r = parsed(res);
      if (r.resultCode === OK || call.accept?.(code(r))) return undefined;
      return { code: code(r), message: String(r.subDesc || r.resultDesc || ''), retryable: RETRYABLE_CODES.has(code(r)) };
    },
    parse: parsed,
  });
}

const FEN = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/** Huawei's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (offset without colon) or a Beijing `yyyy-MM-dd HH:mm:ss`. */
function huaweiTime(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?([+-]\d{2}:?\d{2}|Z)$/.test(v)) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return parseProviderTime(v);
}

/** expireTime: an exact UTC time `yyyy-MM-dd'T'HH:mm:ss.SSS+0000`. */
function expireTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

const PREORDER_PATH: Record<string, string> = {
  'app-plus': '/api/v2/aggr/preorder/create/app',
  'mp-harmony': '/api/v2/aggr/preorder/create/fa',
};

async function createOrder(input: CreateOrderInput, ctx: ProviderContext<HuaweiConfig>): Promise<CreateOrderResult> {
  const k = keys(ctx);
  const appId = need(ctx, 'appId');
  const bizType = input.extra.biz_type;
  if (bizType !== undefined && !/^\d{1,12}$/.test(String(bizType)))
    throw new PayError('FIELD_INVALID', { field: 'biz_type', reason: 'digits, e.g. 100001 (virtual goods) or 100002 (physical goods)' });
  const r = await huaweiCall(
    {
      method: 'POST',
      path: PREORDER_PATH[input.platformKey] ?? PREORDER_PATH['app-plus'],
      body: {
        ...input.other,
        appId,
        mercOrderNo: input.out_trade_no,
        mercNo: k.mchId,
        tradeSummary: input.subject.slice(0, 128),
        totalAmount: input.total_fee,
        currency: 'CNY',
        callbackUrl: input.notify_url,
        ...(bizType !== undefined ? { bizType: String(bizType) } : {}),
        ...(input.time_expire !== undefined ? { expireTime: expireTime(input.time_expire) } : {}),
      },
    },
    ctx,
    k,
  );
  if (typeof r.prepayId !== 'string' || !r.prepayId) throw new PayError('GATEWAY_RESPONSE_INVALID');
  // what uni.requestPayment({ provider: 'huawei', orderInfo }) hands to the Payment Kit
  const orderInfo = buildOrderStr({ appId, mchId: k.mchId, authId: k.authId, prepayId: r.prepayId, key: k.merchant, now: ctx.clock.now() });
  return { orderInfo, orderPatch: { provider_appid: appId, mch_id: k.mchId } };
}

const TRADE_STATE: Record<string, TradeState> = {
  TRX_SUCCESS: 'PAID',
  TRX_FAILED: 'ERROR',
  TRX_APPLY: 'PAYING',
  TRX_PROC: 'PAYING',
};

async function queryOrder(q: { out_trade_no: string }, ctx: ProviderContext<HuaweiConfig>): Promise<QueryOrderResult> {
  const k = keys(ctx);
  const r = await huaweiCall(
    {
      method: 'GET',
      path: `/api/v2/aggr/transactions/merc-orders/${encodeURIComponent(q.out_trade_no)}?mercNo=${encodeURIComponent(k.mchId)}`,
      accept: (code) => code === 'MERC_ORDER_NOT_EXIST' || code === 'PAY_ORDER_NOT_EXIST',
    },
    ctx,
    k,
  );
  if (r.resultCode !== OK) return { state: 'NOT_FOUND', out_trade_no: q.out_trade_no, raw: r };
  if (r.mercOrderNo !== q.out_trade_no) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const state = TRADE_STATE[String(r.orderStatus)] ?? 'NOTPAY';
  return {
    state,
    out_trade_no: q.out_trade_no,
    ...(typeof r.sysTransOrderNo === 'string' ? { transaction_id: r.sysTransOrderNo } : {}),
    ...(FEN(r.totalAmount) !== undefined ? { total_fee: FEN(r.totalAmount) } : {}),
    ...(huaweiTime(r.finishTime) !== undefined ? { pay_date: huaweiTime(r.finishTime) } : {}),
    raw: r,
  };
}

const REFUND_STATE: Record<string, RefundResult['state']> = {
  REFUND_SUCCESS: 'SUCCESS',
  REFUND_FAILED: 'FAIL',
  REFUND_CHL_PROC: 'PROCESSING',
};

function refundResult(r: Record<string, any>, fallbackFee: number): RefundResult {
  const fee = FEN(r.refundAmount);
  return {
    // an accepted application is processing until Huawei says otherwise (its docs: only the notice is final)
    state: REFUND_STATE[String(r.refundOrderStatus)] ?? 'PROCESSING',
    ...(typeof r.sysRefundOrderNo === 'string' ? { refund_id: r.sysRefundOrderNo } : {}),
    refund_fee: fee ?? fallbackFee,
    raw: r,
  };
}

async function refund(input: RefundInput, ctx: ProviderContext<HuaweiConfig>): Promise<RefundResult> {
  const k = keys(ctx);
  if (!input.notify_url) throw new PayError('NOTIFY_URL_MISSING', {});
  const r = await huaweiCall(
    {
      method: 'POST',
      path: '/api/v1/aggr/transactions/refunds',
      body: {
        mercOrderNo: input.out_trade_no,
        mercRefundOrderNo: input.out_refund_no,
        refundAmount: input.refund_fee,
        callbackUrl: input.notify_url,
        ...(input.refund_desc ? { reason: input.refund_desc.slice(0, 256) } : {}),
      },
    },
    ctx,
    k,
  );
  if (r.mercRefundOrderNo !== undefined && r.mercRefundOrderNo !== input.out_refund_no) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return refundResult(r, input.refund_fee);
}

/** "no such refund" codes of the refund query (its error table lists the order ones; REFUND_ORDER_NOT_EXIST is inferred) */
const NO_SUCH_REFUND = new Set(['REFUND_ORDER_NOT_EXIST', 'MERC_ORDER_NOT_EXIST', 'PAY_ORDER_NOT_EXIST']);

async function queryRefund(q: { out_trade_no: string; out_refund_no: string }, ctx: ProviderContext<HuaweiConfig>): Promise<RefundResult> {
  const k = keys(ctx);
  // INFERRED path: the docs name "query a refund by mercRefundOrderNo" beside the documented
  // /refunds/orders/{sysRefundOrderNo}; the merc-orders form follows the order query's
  const r = await huaweiCall(
    {
      method: 'GET',
      path: `/api/v1/aggr/transactions/refunds/merc-orders/${encodeURIComponent(q.out_refund_no)}?mercNo=${encodeURIComponent(k.mchId)}`,
      accept: (code) => NO_SUCH_REFUND.has(code),
    },
    ctx,
    k,
  );
  // Huawei never received this refund (a verified answer): it failed, and the same number may be sent again
  if (r.resultCode !== OK) return { state: 'FAIL', refund_fee: 0, raw: r };
  if (r.mercRefundOrderNo !== q.out_refund_no) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return refundResult(r, 0);
}

/** A verified notification of Huawei's, parsed: a payment result or a refund result on the same route. */
async function verifyNotify(req: RawHttpRequest, ctx: ProviderContext<HuaweiConfig>): Promise<NotifyEvent> {
  const key = platformKey(ctx);
  const n = jsonObject(req.body);
  if (!n) throw new PayError('NOTIFY_MALFORMED');
  if (n.signType !== undefined && n.signType !== 'SM2') throw new PayError('NOTIFY_SIGNATURE_INVALID');
  if (!verifyHuaweiSigned(n, key)) throw new PayError('NOTIFY_SIGNATURE_INVALID');
  // encrypted notifications belong to products that carry sensitive fields; basic payment sends plain ones
  if (n.dataType !== 'plain') throw new PayError('NOTIFY_MALFORMED');
  const mchId = ctx.config.mchId;
  if (typeof n.mercNo === 'string' && mchId && n.mercNo !== mchId) throw new PayError('NOTIFY_MISMATCH', { field: 'mchid' });
  const info: Record<string, unknown> = {};
  for (const f of NOTIFY_INFO) if (n[f] !== undefined && n[f] !== null) info[f] = n[f];

  if (typeof n.mercOrderNo === 'string' && typeof n.orderStatus === 'string') {
    const total_fee = FEN(n.totalAmount);
    if (total_fee === undefined) throw new PayError('NOTIFY_MALFORMED');
    return {
      kind: 'payment',
      out_trade_no: n.mercOrderNo,
      transaction_id: typeof n.sysTransOrderNo === 'string' ? n.sysTransOrderNo : '',
      total_fee,
      paid: n.orderStatus === 'TRX_SUCCESS',
      ...(typeof n.appId === 'string' ? { appid: n.appId } : {}),
      ...(typeof n.mercNo === 'string' ? { mchid: n.mercNo } : {}),
      ...(huaweiTime(n.finishTime) !== undefined ? { pay_date: huaweiTime(n.finishTime) } : {}),
      info,
    };
  }
  if (typeof n.mercRefundNo === 'string' && typeof n.refundOrderStatus === 'string') {
    return {
      kind: 'refund',
      out_trade_no: '', // a refund notice names only the refund; the route names the order
      out_refund_no: n.mercRefundNo,
      ...(FEN(n.refundAmount) !== undefined ? { refund_fee: FEN(n.refundAmount) } : {}),
      info,
    };
  }
  throw new PayError('NOTIFY_MALFORMED');
}

/** Fields kept on the order as notify_info (no signature, nothing secret). */
const NOTIFY_INFO = [
  'callbackId',
  'callbackTime',
  'sysTransOrderNo',
  'mercOrderNo',
  'orderStatus',
  'totalAmount',
  'payerAmount',
  'promotionAmount',
  'currency',
  'finishTime',
  'paymentTools',
  'mercRefundNo',
  'sysRefundNo',
  'refundOrderStatus',
  'refundAmount',
  'payerRefundAmount',
  'promotionRefundAmount',
] as const;

/** Huawei retries until it reads exactly {"resultCode":"000000","resultDesc":"Success."} as JSON. */
function notifyReply(ok: boolean, message?: string): IntegratedResponse {
  return {
    mpserverlessComposedResponse: true,
    statusCode: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(
      ok ? { resultCode: OK, resultDesc: 'Success.' } : { resultCode: 'FAIL', resultDesc: String(message ?? 'FAIL').slice(0, 64) },
    ),
  };
}

export const huaweiAdapter: ProviderAdapter<HuaweiConfig> = {
  provider: 'huawei',
  diagnose: diagnoseHuawei,
  createOrder,
  queryOrder,
  refund,
  queryRefund,
  verifyNotify,
  notifyReply,
};

export const adapter = huaweiAdapter;
export default huaweiAdapter;
