/**
 * The common module `vk-uni-pay` (`require('vk-uni-pay')`): vk-uni-pay's API with `{code, msg, …}`
 * results. One default instance per warm cloud instance; `createVkPay()` builds others (tests,
 * benchmarks, several handler folders).
 */
import { ERRORS, PayError, isPayError } from '../core/errors';
import { createDeps, handlersFromDir, type PayDeps } from '../services/deps';
import { createPayment } from '../services/create-payment';
import { paymentNotify, pushNotify } from '../services/notify';
import { verifyApplePurchase, type ApplePurchaseParams } from '../services/apple';
import { queryRefund, refund, type QueryRefundParams, type RefundParams } from '../services/refund';
import { closeOrder } from '../services/close-order';
import { notifyProvideGoods } from '../services/virtual-payment';
import { code2SessionAlipay, code2SessionWeixinH5, code2SessionWeixinMP, type LoginParams } from '../services/sessions';
import { queryPayment, type QueryPaymentParams } from '../services/query-payment';
import { runDoctor } from '../services/doctor';
import { runTimer } from '../services/reconcile';
import type { HttpInfo, IntegratedResponse } from '../../../../types/unicloud-server';
import type { RawHttpRequest } from '../providers/types';

export interface ErrorResult {
  code: number;
  msg: string;
  msg_en: string;
  [k: string]: unknown;
}

export function errorResult(e: unknown, deps?: Pick<PayDeps, 'log'>): ErrorResult {
  // the provider's detail first: its own `code` (e.g. Alipay's "40002") must not replace ours
  if (isPayError(e)) return { ...(e.detail ?? {}), code: e.code, msg: e.msgZh, msg_en: e.msgEn };
  // an unexpected failure: log the message only (never objects that may hold secrets)
  deps?.log.error('internal', { error: e instanceof Error ? e.message : String(e) });
  const [code, zh, en] = ERRORS.INTERNAL;
  return { code, msg: zh, msg_en: en };
}

export function httpInfoToRequest(http: HttpInfo): RawHttpRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(http.headers || {})) headers[k.toLowerCase()] = String(v);
  return {
    method: (http.httpMethod || 'POST').toUpperCase(),
    path: http.path || '',
    headers,
    query: http.queryStringParameters || {},
    body: Buffer.from(http.body || '', http.isBase64Encoded ? 'base64' : 'utf8'),
  };
}

export interface VkPayOptions extends Partial<PayDeps> {
  /** folder(s) of the `pay-notify/<type>.js` handlers; the first that has the file wins */
  handlersDir?: string | string[];
}

export function createVkPay(options: VkPayOptions = {}) {
  const { handlersDir, ...overrides } = options;
  const deps = createDeps({ ...overrides, ...(handlersDir && !overrides.handlers ? { handlers: handlersFromDir(handlersDir) } : {}) });
  const safe =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R | ErrorResult> => {
      try {
        return await fn(...a);
      } catch (e) {
        return errorResult(e, deps);
      }
    };
  return {
    deps,
    /** vk-uni-pay createPayment (seed contract) */
    createPayment: safe((options: unknown) => createPayment(deps, options)),
    /** vk-uni-pay queryPayment */
    queryPayment: safe((params: QueryPaymentParams) => queryPayment(deps, params)),
    /** WeChat virtual payment: have WeChat push the delivery notification again; server code only */
    notifyProvideGoods: safe((params: { out_trade_no?: unknown }) => notifyProvideGoods(deps, params)),
    /** closes an unpaid order at the provider, then here; server code only */
    closeOrder: safe((params: { out_trade_no?: unknown }) => closeOrder(deps, params)),
    /** refund (vk-uni-pay): the amount is reserved on the order before the provider is asked; server code only */
    refund: safe((params: RefundParams) => refund(deps, params)),
    /** the provider's word on a refund; settles PROCESSING / UNKNOWN, releases a failed one */
    queryRefund: safe((params: QueryRefundParams) => queryRefund(deps, params)),
    /** a URL化 notification (`this.getHttpInfo()`) → the integrated response the provider expects */
    paymentNotify: (http: HttpInfo): Promise<IntegratedResponse> => paymentNotify(deps, httpInfoToRequest(http)),
    /** fixed-URL notifications: WeChat virtual-payment message push, App Store Server Notifications V2 */
    pushNotify: (provider: 'wxpay-virtual' | 'appleiap', http: HttpInfo): Promise<IntegratedResponse> =>
      pushNotify(deps, provider, httpInfoToRequest(http)),
    /** Apple IAP: verify a receipt or signed transaction, then settle the order (vk appleiap.verifyReceipt) */
    verifyApplePurchase: safe((params: ApplePurchaseParams) => verifyApplePurchase(deps, params)),
    /** mini-program login: openid back, session_key kept on the server */
    code2SessionWeixinMP: safe((params: LoginParams) => code2SessionWeixinMP(deps, params)),
    /** official-account OAuth code → openid (JSAPI in the WeChat browser) */
    code2SessionWeixinH5: safe((params: LoginParams) => code2SessionWeixinH5(deps, params)),
    /** Alipay mini-program auth code → buyer id */
    code2SessionAlipay: safe((params: LoginParams) => code2SessionAlipay(deps, params)),
    /** one reconciliation timer run (vk-pay's `_timing`); throws a coded error for a bad `timer` config */
    runTimer: () => runTimer(deps),
    /** checks the merchant config (the `pid` merchant's, or config.js); server code only, never a client */
    doctor: safe(async (params: DoctorParams = {}) => {
      const spaceId = deps.spaceId();
      const report = await runDoctor(
        await deps.configs.load(params.pid),
        { http: deps.http, clock: deps.clock, pid: params.pid },
        {
          online: params.online === true,
          spaceIds: spaceId ? [spaceId] : [],
        },
      );
      return { code: 0, msg: report.ok ? 'ok' : `${report.errors} error(s)`, ...report };
    }),
  };
}

export interface DoctorParams {
  /** a merchant of vk-pay-config; default: uni-pay/config.js */
  pid?: string;
  /** one signed read-only gateway call per node */
  online?: boolean;
}

export type VkPay = ReturnType<typeof createVkPay>;

let defaultInstance: VkPay | undefined;
export function instance(): VkPay {
  return (defaultInstance ??= createVkPay());
}

export const createPaymentApi = (options: unknown) => instance().createPayment(options);
export const queryPaymentApi = (params: QueryPaymentParams) => instance().queryPayment(params);
export const refundApi = (params: RefundParams) => instance().refund(params);
export const wxpayVirtualApi = { notifyProvideGoods: (params: { out_trade_no?: unknown }) => instance().notifyProvideGoods(params) };
export const closeOrderApi = (params: { out_trade_no?: unknown }) => instance().closeOrder(params);
export const queryRefundApi = (params: QueryRefundParams) => instance().queryRefund(params);
export const code2SessionApi = {
  weixinMP: (params: LoginParams) => instance().code2SessionWeixinMP(params),
  weixinH5: (params: LoginParams) => instance().code2SessionWeixinH5(params),
  alipay: (params: LoginParams) => instance().code2SessionAlipay(params),
};
export const doctorApi = (params?: DoctorParams) => instance().doctor(params);
export const appleiapApi = { verifyReceipt: (params: ApplePurchaseParams) => instance().verifyApplePurchase(params) };

export { PayError, ERRORS, isPayError };
