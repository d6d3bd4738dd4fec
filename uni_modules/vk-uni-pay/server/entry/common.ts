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
import { login, type LoginParams } from '../services/sessions';
import { queryPayment, type QueryPaymentParams, type QueryPaymentResult } from '../services/query-payment';
import type { RefundLedgerState } from '../store/refunds';
import { ORDER_STATUS } from '../core/order';
import type { ProviderName } from '../core/catalog';
import { runDoctor } from '../services/doctor';
import {
  cancelTransfer,
  queryTransfer,
  settlePendingTransfers,
  transfer,
  transferNotify,
  verifyTransferNotification,
  type TransferResult,
} from '../services/transfer';
import type { TransferState } from '../providers/transfer-types';
import { checkStatements, type CheckStatementsInput } from '../services/statements';
import { queryAccountBalance, type BalanceParams } from '../services/balance';
import { coinOperation } from '../services/coins';
import { fenToYuan } from '../core/money';
import type { AccountBalance } from '../providers/hooks';
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

/** vk-uni-pay's `{code: 0, msg}` around a service's typed result (only this layer shapes answers). */
function ok<T extends object>(result: T, msg = 'ok'): { code: 0; msg: string } & T {
  return { code: 0, msg, ...result };
}

const REFUND_MESSAGES: Record<RefundLedgerState, string> = {
  SUCCESS: '退款成功',
  PROCESSING: '退款处理中，请稍后调用 queryRefund 查询结果',
  PENDING: '退款请求正在处理，请稍后调用 queryRefund 查询结果',
  UNKNOWN: '退款结果未知（已保留退款额度），请稍后调用 queryRefund 确认',
  FAIL: '退款失败',
};

const refundAnswer = <T extends { state: RefundLedgerState }>(r: T) => ok(r, REFUND_MESSAGES[r.state]);

const TRANSFER_MESSAGES: Record<TransferState, string> = {
  PENDING: '转账请求处理中，请稍后用相同参数重试或调用 queryTransfer 查询',
  UNKNOWN: '转账结果未知（未收到可信应答），请稍后用相同参数重试或调用 queryTransfer 确认，切勿更换单号',
  ACCEPTED: '转账已受理',
  PROCESSING: '转账处理中',
  WAIT_USER_CONFIRM: '待用户确认收款：请将 options 交给客户端拉起确认页',
  TRANSFERING: '转账中，用户可再次拉起确认页',
  SUCCESS: '转账成功',
  FAIL: '转账失败',
  CANCELING: '撤销中',
  CANCELLED: '已撤销',
};

const transferAnswer = (r: TransferResult) => ok(r, TRANSFER_MESSAGES[r.state]);

/** queryPayment: vk-uni-pay answers an unpaid order with code -1 and the reason in both languages. */
function paymentAnswer(r: QueryPaymentResult): { code: 0 | -1; msg: string; msg_en: string } & QueryPaymentResult {
  if (r.orderPaid) return { code: 0, msg: 'ok', msg_en: 'ok', ...r };
  const [, zh, en] = r.status === ORDER_STATUS.CLOSED ? ERRORS.ORDER_CLOSED : ERRORS.ORDER_NOT_PAID;
  return { code: -1, msg: zh, msg_en: en, ...r };
}

/** queryAccountBalance answers yuan as vk-uni-pay documents (numbers, camelCase since 1.13). */
function balanceInYuan(b: AccountBalance): Record<string, number> {
  return Object.fromEntries(Object.entries(b).map(([k, fen]) => [k, Number(fenToYuan(fen as number))]));
}

/**
 * The common module's API: one row per method, from the dependencies to the method. Registering a
 * method is one row here (plus a row in cloud-object's METHODS when vk-pay should answer it); the
 * module exports every row (entry/index.ts) and each answer is wrapped in `{code, msg}` here only.
 */
const API = {
  /** vk-uni-pay createPayment (seed contract) */
  createPayment: (deps: PayDeps) => async (options: unknown) => ok(await createPayment(deps, options)),
  /** vk-uni-pay queryPayment */
  queryPayment: (deps: PayDeps) => async (params: QueryPaymentParams) => paymentAnswer(await queryPayment(deps, params)),
  /** WeChat virtual payment: have WeChat push the delivery notification again; server code only */
  notifyProvideGoods: (deps: PayDeps) => async (params: { out_trade_no?: unknown }) => ok(await notifyProvideGoods(deps, params)),
  /** closes an unpaid order at the provider, then here; server code only */
  closeOrder: (deps: PayDeps) => async (params: { out_trade_no?: unknown }) => ok(await closeOrder(deps, params)),
  /** refund (vk-uni-pay): the amount is reserved on the order before the provider is asked; server code only */
  refund: (deps: PayDeps) => async (params: RefundParams) => refundAnswer(await refund(deps, params)),
  /** the provider's word on a refund; settles PROCESSING / UNKNOWN, releases a failed one */
  queryRefund: (deps: PayDeps) => async (params: QueryRefundParams) => refundAnswer(await queryRefund(deps, params)),
  /** Apple IAP: verify a receipt or signed transaction, then settle the order (vk appleiap.verifyReceipt) */
  verifyApplePurchase: (deps: PayDeps) => async (params: ApplePurchaseParams) => ok(await verifyApplePurchase(deps, params)),
  /** mini-program login: openid back, session_key kept on the server */
  code2SessionWeixinMP: (deps: PayDeps) => async (params: LoginParams) => ok(await login(deps, 'code2SessionWeixinMP', params)),
  /** official-account OAuth code → openid (JSAPI in the WeChat browser) */
  code2SessionWeixinH5: (deps: PayDeps) => async (params: LoginParams) => ok(await login(deps, 'code2SessionWeixinH5', params)),
  /** Alipay mini-program auth code → buyer id */
  code2SessionAlipay: (deps: PayDeps) => async (params: LoginParams) => ok(await login(deps, 'code2SessionAlipay', params)),
  /** pays money out (vk-uni-pay ≥ 1.16): recorded in vk-pay-transfers before the provider is asked; server code only */
  transfer: (deps: PayDeps) => async (params: unknown) => transferAnswer(await transfer(deps, params)),
  /** the provider's word on a transfer (out_bill_no or transfer_bill_no); settles the ledger */
  queryTransfer: (deps: PayDeps) => async (params: unknown) => transferAnswer(await queryTransfer(deps, params)),
  /** cancels a transfer the payee has not confirmed yet */
  cancelTransfer: (deps: PayDeps) => async (params: unknown) => transferAnswer(await cancelTransfer(deps, params)),
  /** checks a transfer notification you received yourself; writes nothing */
  verifyTransferNotify: (deps: PayDeps) => async (params: unknown) => ok(await verifyTransferNotification(deps, params)),
  /** the merchant account balance (capability `balance`), in yuan; server code only */
  queryAccountBalance: (deps: PayDeps) => async (params: BalanceParams) => ok(balanceInYuan(await queryAccountBalance(deps, params))),
  /** one virtual coin operation (getWxpayVirtualManager's methods: `op` and vk's `params`); server code only */
  virtualCoins: (deps: PayDeps) => async (p: { op?: unknown; params?: unknown; pid?: string }) =>
    ok(await coinOperation(deps, p?.op, p?.params, { pid: p?.pid })),
  /** checks the merchant config (the `pid` merchant's, or config.js); server code only, never a client */
  doctor:
    (deps: PayDeps) =>
    async (params: DoctorParams = {}) => {
      const spaceId = deps.spaceId();
      const report = await runDoctor(
        await deps.configs.load(params.pid),
        { http: deps.http, clock: deps.clock, pid: params.pid },
        { online: params.online === true, spaceIds: spaceId ? [spaceId] : [] },
      );
      return ok(report, report.ok ? 'ok' : `${report.errors} error(s)`);
    },
  /** the day's statements (对账单) checked against orders and refunds, kept in vk-pay-statements; server code only */
  checkStatements:
    (deps: PayDeps) =>
    async (params: CheckStatementsInput = {}) =>
      ok(await checkStatements(deps, params)),
} satisfies Record<string, (deps: PayDeps) => (params: never) => Promise<object>>;

type ApiRows = typeof API;
/** each row's method, answering a coded error result instead of throwing */
export type VkPayApi = {
  [K in keyof ApiRows]: ReturnType<ApiRows[K]> extends (...a: infer A) => Promise<infer R> ? (...a: A) => Promise<R | ErrorResult> : never;
};
export const API_METHODS = Object.keys(API) as Array<keyof ApiRows>;

export interface VkPayOptions extends Partial<PayDeps> {
  /** folder(s) of the `pay-notify/<type>.js` handlers; the first that has the file wins */
  handlersDir?: string | string[];
  /** folder(s) of the `refund-notify/<type>.js` hooks (run once per final refund state) */
  refundHandlersDir?: string | string[];
}

export function createVkPay(options: VkPayOptions = {}) {
  const { handlersDir, refundHandlersDir, ...overrides } = options;
  const deps = createDeps({
    ...overrides,
    ...(handlersDir && !overrides.handlers ? { handlers: handlersFromDir(handlersDir) } : {}),
    ...(refundHandlersDir && !overrides.refundHandlers ? { refundHandlers: handlersFromDir(refundHandlersDir) } : {}),
  });
  const safe =
    (fn: (...a: unknown[]) => Promise<unknown>) =>
    async (...a: unknown[]): Promise<unknown> => {
      try {
        return await fn(...a);
      } catch (e) {
        return errorResult(e, deps);
      }
    };
  const methods = Object.fromEntries(
    API_METHODS.map((name) => [name, safe(API[name](deps) as (...a: unknown[]) => Promise<unknown>)]),
  ) as VkPayApi;
  return {
    deps,
    ...methods,
    /** a URL化 notification (`this.getHttpInfo()`) → the integrated response the provider expects */
    paymentNotify: (http: HttpInfo): Promise<IntegratedResponse> => paymentNotify(deps, httpInfoToRequest(http)),
    /** fixed-URL notifications: WeChat virtual-payment message push, App Store Server Notifications V2 */
    pushNotify: (provider: ProviderName, http: HttpInfo): Promise<IntegratedResponse> =>
      pushNotify(deps, provider, httpInfoToRequest(http)),
    /** a URL化 transfer notification (`/transferNotify/<provider>/<out_bill_no>[/<pid>]`) → the provider's reply */
    transferNotify: (http: HttpInfo): Promise<IntegratedResponse> => transferNotify(deps, httpInfoToRequest(http)),
    /** for the reconciliation timer: settles open transfers by query and finishes their handlers (docs/transfers.md) */
    settlePendingTransfers: (opts?: { limit?: number; olderThanMs?: number }) => settlePendingTransfers(deps, opts),
    /** one reconciliation timer run (vk-pay's `_timing`, not a public API row); throws a coded error for a bad `timer` config */
    runTimer: () => runTimer(deps),
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

export { PayError, ERRORS, isPayError };
