/**
 * The `vk-pay` cloud object (URL化 at /http/vk-pay): the METHODS table lists every public method with
 * its access rule (client / server-only / HTTP-only). queryPayment gives a client the whole answer
 * only for the order's owner by uni-id token. Results follow uniCloud's response spec:
 * `errCode`, `errMsg`, `errSubject`; only this layer shapes them.
 */
import { PayError, isPayError } from '../core/errors';
import type { CloudObjectThis, HttpInfo } from '../../../../types/unicloud-server';
import { PUSH_ROUTES } from '../core/catalog';
import { uniIdTokenUid } from '../core/uni-id';
import { createVkPay, type VkPay } from './common';

const SUBJECT = 'vk-pay';
/** fields of an order a client may see (no openid, IP, custom data or raw notification) */
const CLIENT_ORDER_FIELDS = [
  'out_trade_no',
  'total_fee',
  'status',
  'provider',
  'pay_type',
  'description',
  'create_date',
  'pay_date',
  'user_order_success',
  'refund_fee',
];

type Ctx = CloudObjectThis & { locale?: string };

/** uni-id's tokenSecret (uni-config-center/uni-id/config.json), read once; undefined without uni-id */
let tokenSecret: string | undefined | null = null;
function uniIdSecret(): string | undefined {
  if (tokenSecret === null) {
    try {
      const secret = require('uni-config-center')({ pluginId: 'uni-id' }).config('tokenSecret');
      tokenSecret = typeof secret === 'string' && secret ? secret : undefined;
    } catch {
      tokenSecret = undefined;
    }
  }
  return tokenSecret;
}

function isServerCall(ctx: Ctx): boolean {
  const source = ctx.getClientInfo()?.source;
  return source === 'function' || source === 'server' || source === 'timing';
}

/** `{code, msg}` → `{errCode, errMsg}` in the caller's language. */
function toResponse(ctx: Ctx, result: Record<string, any>): Record<string, unknown> {
  const { code, msg, msg_en, ...rest } = result;
  const en = ctx.locale && /^en/i.test(ctx.locale);
  return { errCode: code, errMsg: en && msg_en ? msg_en : msg, ...(code ? { errSubject: SUBJECT } : {}), ...rest };
}

/** Who may call a method: any client, only your own cloud code (5001 for a client), or only URL化 HTTP. */
export type Access = 'client' | 'server' | 'http';

interface Call {
  ctx: Ctx;
  params: Record<string, unknown>;
  /** the request, for `http` methods */
  http: HttpInfo;
  /** called by cloud code (cloud function / object, timer) */
  server: boolean;
}

/** One row per public method of the cloud object: its name, who may call it, and what it runs. */
export interface MethodRow {
  name: string;
  access: Access;
  run(pay: VkPay, call: Call): Promise<unknown>;
}

const pick = (p: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, p[k]]));

/** Not paid is not an error here: errCode 0 with orderPaid false (clients poll this); a client sees a few order fields only. */
async function queryPaymentForCaller(pay: VkPay, { ctx, params, server }: Call): Promise<Record<string, any>> {
  const result = (await pay.queryPayment({
    out_trade_no: typeof params.out_trade_no === 'string' ? params.out_trade_no : undefined,
    transaction_id: typeof params.transaction_id === 'string' ? params.transaction_id : undefined,
    ...(server ? {} : { caller: { uid: uniIdTokenUid(ctx.getUniIdToken(), uniIdSecret(), Date.now()) } }),
    await_notify: params.await_notify === true,
    await_max_time: typeof params.await_max_time === 'number' ? params.await_max_time : undefined,
    pay_order_info: params.pay_order_info === true,
  })) as Record<string, any>;
  if (result.code === -1) result.code = 0;
  if (result.payOrder && !server) {
    result.payOrder = Object.fromEntries(CLIENT_ORDER_FIELDS.filter((k) => k in result.payOrder).map((k) => [k, result.payOrder[k]]));
  }
  return result;
}

/** The cloud object's public methods. Registering a method is one row here. */
export const METHODS: readonly MethodRow[] = [
  /** provider notifications: `/http/vk-pay/paymentNotify/<pay_type>/<out_trade_no>` */
  { name: 'paymentNotify', access: 'http', run: (pay, { http }) => pay.paymentNotify(http) },
  /** vk-uni-pay's notify route `/http/vk-pay/vk-pay-notify/<pay_type>/<out_trade_no>`: orders created before the switch */
  { name: 'vk-pay-notify', access: 'http', run: (pay, { http }) => pay.paymentNotify(http) },
  /** fixed-URL notifications (catalog push routes): `/http/vk-pay/wxpayVirtualNotify`, `/http/vk-pay/appleNotify` */
  ...PUSH_ROUTES.map((r): MethodRow => ({ name: r.method, access: 'http', run: (pay, { http }) => pay.pushNotify(r.provider, http) })),
  { name: 'queryPayment', access: 'client', run: queryPaymentForCaller },
  /** after an App Store purchase: the legacy receipt (vk-uni-pay's verifyReceipt) ... */
  {
    name: 'verifyAppleReceipt',
    access: 'client',
    run: (pay, { params }) => pay.verifyApplePurchase(pick(params, ['out_trade_no', 'transaction_receipt', 'transaction_identifier'])),
  },
  /** ... or a StoreKit 2 signed transaction (JWS) */
  {
    name: 'verifyAppleTransaction',
    access: 'client',
    run: (pay, { params }) => pay.verifyApplePurchase(pick(params, ['out_trade_no', 'signedTransaction'])),
  },
  /** logins: the openid back; a session_key never leaves the server */
  { name: 'code2SessionWeixinMP', access: 'client', run: (pay, { params }) => pay.code2SessionWeixinMP({ code: params.code }) },
  { name: 'code2SessionWeixinH5', access: 'client', run: (pay, { params }) => pay.code2SessionWeixinH5({ code: params.code }) },
  { name: 'code2SessionAlipay', access: 'client', run: (pay, { params }) => pay.code2SessionAlipay({ code: params.code }) },
  /** money-moving methods: the amount must come from server code */
  { name: 'createPayment', access: 'server', run: (pay, { params }) => pay.createPayment(params) },
  { name: 'refund', access: 'server', run: (pay, { params }) => pay.refund(params as never) },
  { name: 'closeOrder', access: 'server', run: (pay, { params }) => pay.closeOrder(params) },
  { name: 'queryRefund', access: 'server', run: (pay, { params }) => pay.queryRefund(params as never) },
  /** transfers (payouts): server code only */
  { name: 'transfer', access: 'server', run: (pay, { params }) => pay.transfer(params) },
  { name: 'queryTransfer', access: 'server', run: (pay, { params }) => pay.queryTransfer(params) },
  { name: 'cancelTransfer', access: 'server', run: (pay, { params }) => pay.cancelTransfer(params) },
  /** transfer final-state notifications: `/http/vk-pay/transferNotify/<provider>/<out_bill_no>[/<pid>]` */
  { name: 'transferNotify', access: 'http', run: (pay, { http }) => pay.transferNotify(http) },
  {
    name: 'checkStatements',
    access: 'server',
    run: (pay, { params }) => pay.checkStatements(pick(params, ['bill_date', 'provider', 'pid'])),
  },
  { name: 'queryAccountBalance', access: 'server', run: (pay, { params }) => pay.queryAccountBalance(params) },
  { name: 'virtualCoins', access: 'server', run: (pay, { params }) => pay.virtualCoins(params) },
];

/** the methods that answer over URL化 (provider notifications): the `http` rows */
const NOTIFY_METHODS = new Set(METHODS.filter((row) => row.access === 'http').map((row) => row.name));

export function createCloudObject(options: { handlersDir: string | string[]; refundHandlersDir?: string | string[] }) {
  let pay: VkPay | undefined;
  const vkPay = () => (pay ??= createVkPay({ handlersDir: options.handlersDir, refundHandlersDir: options.refundHandlersDir }));

  const methods = Object.fromEntries(
    METHODS.map((row) => [
      row.name,
      async function (this: Ctx, params: Record<string, unknown> = {}) {
        // provider notifications arrive over URL化 only; money-moving methods only from your own cloud code
        const http = row.access === 'http' ? this.getHttpInfo() : undefined;
        if ((row.access === 'http' && !http) || (row.access === 'server' && !isServerCall(this)))
          throw new PayError('FORBIDDEN', { method: row.name });
        const result = await row.run(vkPay(), { ctx: this, params, http: http as HttpInfo, server: isServerCall(this) });
        return row.access === 'http' ? result : toResponse(this, result as Record<string, unknown>);
      },
    ]),
  );

  return {
    _before(this: Ctx) {
      const info = this.getClientInfo() || {};
      // only a string is a locale (a deeply nested object here must not reach String())
      this.locale = [info.locale, info.LOCALE, info.appLanguage].find((l): l is string => typeof l === 'string') ?? 'zh-Hans';
      // every method takes one options object: null or a primitive from a client reads as {} (a coded error follows)
      const params = this.getParams();
      if (params[0] === null || (params[0] !== undefined && typeof params[0] !== 'object')) params[0] = {};
      // over URL化 only the notification routes answer
      const method = this.getMethodName();
      if (this.getHttpInfo() && !NOTIFY_METHODS.has(method)) throw new PayError('FORBIDDEN', { method });
    },

    ...methods,

    /**
     * The reconciliation timer (`cloudfunction-config.triggers` in vk-pay's package.json). uniCloud
     * calls it without `_before`/`_after` and discards what it returns; the run logs one summary line.
     */
    async _timing(this: Ctx) {
      await vkPay().runTimer();
    },

    _after(this: Ctx, error: unknown, result: unknown) {
      if (!error) return result;
      if (isPayError(error)) return toResponse(this, { code: error.code, msg: error.msgZh, msg_en: error.msgEn });
      throw error;
    },
  };
}
