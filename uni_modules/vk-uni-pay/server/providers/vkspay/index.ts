/**
 * VksPay (VK个人支付) adapter. EXPERIMENTAL: the only description of the
 * wire protocol is the vendor's 2023 demo. One endpoint `POST <gateway>/api`, JSON body, operation
 * in `method`, MD5 signature over sorted `k=v&…&key=<key>` (lower hex). Amounts are yuan.
 *
 * Fields marked ASSUMED are not in the vendor demo (the plugin's encrypted SDK hides them); they
 * are sent because the plugin API needs them (our out_trade_no, subject, return_url, channel).
 *
 * Notifications are unauthenticated hints: verifyNotify returns `{kind:'hint'}` and the service
 * must confirm with queryOrder (`orderquery`), never trust the notification itself.
 */
import { createHash, randomInt } from 'node:crypto';
import { PayError } from '../../core/errors';
import { fenToYuan, yuanToFen } from '../../core/money';
import { callGateway, gatewayUrl, jsonObject, verifyJsonAnswer } from '../gateway';
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
} from '../types';
import { diagnoseVksPay, probeVksPay } from './doctor';

export const VKSPAY_NODE = 'vkspay';
export const DEFAULT_VKSPAY_GATEWAY = 'https://vk-spay-openapi.fsq.pub';

export interface VksPayConfig {
  /** store number (门店号), sent as `merchantno` */
  mchId?: string;
  key?: string;
  /** default https://vk-spay-openapi.fsq.pub (the sandbox peer in tests) */
  gateway?: string;
  /** ms, default 30000 like the vendor demo */
  timeout?: number;
}

export type VksPayValue = string | number | boolean | null | undefined;

/** The string that is signed: defined values kept (empty and null too), code-unit sort, no URL-encoding. */
export function vksPaySignString(params: Record<string, VksPayValue>, key: string): string {
  const pairs = Object.keys(params)
    .filter((k) => k !== 'sign' && params[k] !== undefined)
    .sort()
    .map((k) => `${k}=${params[k] === null ? 'null' : String(params[k])}`);
  return `${pairs.join('&')}&key=${key}`;
}

export function vksPaySign(params: Record<string, VksPayValue>, key: string): string {
  return createHash('md5').update(vksPaySignString(params, key), 'utf8').digest('hex');
}

/** 8 digits, each 1-9 (vendor demo). */
export function vksPayNonce(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += String(randomInt(1, 10));
  return s;
}

/** fen → the yuan amount VksPay reads: JSON number like the demo (`0.01`, `19.99`), converted once by core/money. */
export const vksPayAmount = (fen: number): number => Number(fenToYuan(fen));

function need(config: VksPayConfig, field: 'mchId' | 'key'): string {
  const v = config[field];
  if (!v) throw new PayError('CONFIG_FIELD_MISSING', { node: VKSPAY_NODE, field });
  return v;
}

export interface VksPayResponse {
  return_code?: string;
  return_msg?: string;
  msg?: string;
  data?: Record<string, any>;
  [k: string]: unknown;
}

/**
 * Signs and POSTs one operation through the gateway step; the body is serialised once. Answers are
 * not signed (TLS only): a 200 JSON object with `return_code` is the gateway's answer.
 * `refuseUnlessSuccess`: for operations where anything but SUCCESS is a refusal (webpay, orderrefund);
 * queries read FAIL as "not paid" / "not refunded" instead.
 */
export function vksPayRequest(
  method: string,
  fields: Record<string, VksPayValue>,
  ctx: ProviderContext<VksPayConfig>,
  refuseUnlessSuccess = false,
): Promise<VksPayResponse> {
  const params: Record<string, VksPayValue> = {
    ...fields,
    method,
    merchantno: need(ctx.config, 'mchId'),
    signaturenonce: vksPayNonce(),
    timestamp: Math.floor(ctx.clock.now() / 1000),
    version: '2.0',
  };
  params.sign = vksPaySign(params, need(ctx.config, 'key'));
  return callGateway(ctx.http, {
    request: {
      method: 'POST',
      url: gatewayUrl(ctx.config.gateway, DEFAULT_VKSPAY_GATEWAY, '/api'),
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(params),
      timeoutMs: ctx.config.timeout ?? 30_000,
    },
    verify: verifyJsonAnswer('return_code'),
    refusal: (res) => {
      const r = jsonObject(res.body) as VksPayResponse;
      if (!refuseUnlessSuccess || ok(r)) return undefined;
      return { code: String(r.return_code ?? ''), message: String(r.return_msg ?? r.msg ?? ''), retryable: false };
    },
    parse: (res) => jsonObject(res.body) as VksPayResponse,
  });
}

const ok = (r: VksPayResponse) => r.return_code === 'SUCCESS';

/** WeChat payment codes start 10-15, Alipay 25-30 (public code ranges). */
function channelOfAuthCode(code: string): 'wxpay' | 'alipay' | undefined {
  if (/^1[0-5]\d{16}$/.test(code)) return 'wxpay';
  if (/^(2[5-9]|30)\d{14,22}$/.test(code)) return 'alipay';
  return undefined;
}

function payMethodOf(extra: Record<string, unknown>): 'wxpay' | 'alipay' | 'auto' {
  const m = extra.provider_pay_method;
  if (m === undefined || m === null || m === '') return 'auto';
  if (m !== 'wxpay' && m !== 'alipay' && m !== 'auto')
    throw new PayError('FIELD_INVALID', { field: 'provider_pay_method', reason: 'wxpay, alipay or auto' });
  return m;
}

async function createOrder(input: CreateOrderInput, ctx: ProviderContext<VksPayConfig>) {
  if (input.time_expire !== undefined) throw new PayError('TIME_EXPIRE_UNSUPPORTED', { provider: 'vkspay' });
  const total_fee = vksPayAmount(input.total_fee);
  const authCode = input.extra.auth_code;
  if (authCode !== undefined) {
    if (typeof authCode !== 'string' || !channelOfAuthCode(authCode))
      throw new PayError('FIELD_INVALID', { field: 'auth_code', reason: 'not a WeChat or Alipay payment code' });
    const r = await vksPayRequest(
      'micropay',
      {
        total_fee,
        auth_code: authCode,
        pay_chnl: channelOfAuthCode(authCode),
        client_ip: input.client_ip,
        cashier: 'default',
        kuantai: 'default',
        source: 'default',
        pay_cate: 'pay',
        out_trade_no: input.out_trade_no, // ASSUMED
        subject: input.subject, // ASSUMED
      },
      ctx,
    );
    // not SUCCESS may mean "waiting for the payer's password": the service polls queryOrder
    return { orderInfo: { out_trade_no: input.out_trade_no, micropay: true, paid: ok(r), return_msg: r.return_msg ?? r.msg } };
  }
  const returnUrl = input.extra.return_url;
  if (returnUrl !== undefined && (typeof returnUrl !== 'string' || !/^https?:\/\//.test(returnUrl)))
    throw new PayError('FIELD_INVALID', { field: 'return_url', reason: 'must be an http(s) URL' });
  const r = await vksPayRequest(
    'webpay',
    {
      total_fee, // demo: yuan number
      notify_url: input.notify_url, // demo
      out_trade_no: input.out_trade_no, // ASSUMED (the demo lets the server generate one)
      subject: input.subject, // ASSUMED
      body: input.body, // ASSUMED (dropped when undefined)
      return_url: returnUrl as string | undefined, // ASSUMED wire name (vk-uni-pay `return_url`, "仅vkspay")
      provider_pay_method: payMethodOf(input.extra), // ASSUMED
    },
    ctx,
    true,
  );
  const qrcode = r.data?.qrcode;
  if (typeof qrcode !== 'string' || !/^https?:\/\//.test(qrcode)) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const providerNo = typeof r.data?.out_trade_no === 'string' ? r.data.out_trade_no : input.out_trade_no;
  return {
    orderInfo: { codeUrl: qrcode, mwebUrl: qrcode, out_trade_no: providerNo },
    codeUrl: qrcode,
    // when the gateway numbers the order itself, later calls and hints use its number
    orderPatch: providerNo !== input.out_trade_no ? { provider_out_trade_no: providerNo } : undefined,
  };
}

/** `orderquery`: return_code SUCCESS is "paid" (vendor demo); anything else is "not paid". */
async function queryOrder(q: { out_trade_no: string }, ctx: ProviderContext<VksPayConfig>): Promise<QueryOrderResult> {
  const r = await vksPayRequest('orderquery', { out_trade_no: q.out_trade_no }, ctx);
  if (!ok(r)) return { state: 'NOTPAY', out_trade_no: q.out_trade_no, raw: r };
  const fee = yuanToFen(r.data?.total_fee ?? r.total_fee); // ASSUMED field; compared with the order by the service when present
  const tx = r.data?.transaction_id ?? r.data?.trade_no; // ASSUMED fields
  return {
    state: 'PAID',
    out_trade_no: q.out_trade_no,
    transaction_id: typeof tx === 'string' && tx ? tx : q.out_trade_no,
    ...(fee !== undefined ? { total_fee: fee } : {}),
    raw: r,
  };
}

async function refund(input: RefundInput, ctx: ProviderContext<VksPayConfig>): Promise<RefundResult> {
  const r = await vksPayRequest(
    'orderrefund',
    {
      out_trade_no: input.out_trade_no,
      refund_fee: vksPayAmount(input.refund_fee),
      out_refund_no: input.out_refund_no, // ASSUMED (the demo reads the gateway's out_refund_no back)
      refund_desc: input.refund_desc, // ASSUMED
    },
    ctx,
    true,
  );
  return {
    state: 'SUCCESS',
    refund_id: typeof r.out_refund_no === 'string' ? r.out_refund_no : input.out_refund_no,
    refund_fee: input.refund_fee,
    raw: r,
  };
}

async function queryRefund(q: { out_trade_no: string; out_refund_no: string }, ctx: ProviderContext<VksPayConfig>): Promise<RefundResult> {
  const r = await vksPayRequest('orderrefundquery', { out_trade_no: q.out_trade_no, out_refund_no: q.out_refund_no }, ctx);
  const fee = yuanToFen(r.data?.refund_fee ?? r.refund_fee); // ASSUMED field
  return { state: ok(r) ? 'SUCCESS' : 'FAIL', refund_id: q.out_refund_no, refund_fee: fee ?? 0, raw: r };
}

const OUT_TRADE_NO = /^[A-Za-z0-9_\-|*]{1,64}$/;

/** Splits `k=v&k=v` like the demo (no URL-decoding needed for the fields used, decoding tolerated). */
export function parseVksPayForm(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = i < 0 ? part : part.slice(0, i);
    const v = i < 0 ? '' : part.slice(i + 1);
    let dv = v;
    try {
      dv = decodeURIComponent(v.replace(/\+/g, ' '));
    } catch {
      /* keep raw */
    }
    out[k] = dv;
  }
  return out;
}

/** The notification is only a hint; it is parsed, never trusted. */
async function verifyNotify(req: RawHttpRequest): Promise<NotifyEvent> {
  let text = req.body.toString('utf8').trim();
  // gateways behind uniCloud URL-ization may hand the body over base64 encoded
  if (!text.includes('out_trade_no=') && /^[A-Za-z0-9+/\r\n]+={0,2}$/.test(text)) {
    const decoded = Buffer.from(text, 'base64').toString('utf8');
    if (decoded.includes('out_trade_no=')) text = decoded;
  }
  const fields = text ? parseVksPayForm(text) : { ...req.query };
  const out_trade_no = fields.out_trade_no;
  if (typeof out_trade_no !== 'string' || !OUT_TRADE_NO.test(out_trade_no)) throw new PayError('NOTIFY_MALFORMED');
  return { kind: 'hint', out_trade_no };
}

function jsonReply(body: Record<string, string>): IntegratedResponse {
  return {
    mpserverlessComposedResponse: true,
    statusCode: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}

export const vkspayAdapter: ProviderAdapter<VksPayConfig> = {
  provider: 'vkspay',
  diagnose: diagnoseVksPay,
  diagnoseOnline: probeVksPay,
  createOrder,
  queryOrder,
  refund,
  queryRefund,
  verifyNotify,
  /** the fixed acknowledgement of the demo for any parsed hint (paid or not); FAIL otherwise */
  notifyReply(okay, message) {
    return okay
      ? jsonReply({ code: 'SUCCESS', msg: 'SUCCESS' })
      : jsonReply({ code: 'FAIL', msg: message ? String(message).slice(0, 64) : 'FAIL' });
  },
};

export default vkspayAdapter;
export const adapter = vkspayAdapter;
