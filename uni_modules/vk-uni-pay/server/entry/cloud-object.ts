/**
 * The `vk-pay` cloud object (URL化 at /http/vk-pay). Client-callable: queryPayment (the whole answer
 * only for the order's owner by uni-id token, or for server code). HTTP only:
 * paymentNotify, wxpayVirtualNotify, appleNotify. Cloud-to-cloud only: createPayment, closeOrder, refund, queryRefund (the amount must come
 * from server code). Results follow uniCloud's response spec: `errCode`, `errMsg`, `errSubject`.
 */
import { PayError, isPayError } from '../core/errors';
import type { CloudObjectThis, HttpInfo } from '../../../../types/unicloud-server';
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

/** the methods that answer over URL化 (provider notifications) */
const NOTIFY_METHODS = new Set(['paymentNotify', 'vk-pay-notify', 'wxpayVirtualNotify', 'appleNotify']);

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

/** Money-moving methods: only your own cloud code may call them (5001 for a client). */
async function serverOnly(ctx: Ctx, method: string, run: () => Promise<unknown>): Promise<Record<string, unknown>> {
  if (!isServerCall(ctx)) throw new PayError('FORBIDDEN', { method });
  return toResponse(ctx, (await run()) as Record<string, unknown>);
}

/** Provider notifications arrive over URL化 only. */
function httpOnly(ctx: Ctx, method: string): HttpInfo {
  const http = ctx.getHttpInfo();
  if (!http) throw new PayError('FORBIDDEN', { method });
  return http;
}

export function createCloudObject(options: { handlersDir: string | string[] }) {
  let pay: VkPay | undefined;
  const vkPay = () => (pay ??= createVkPay({ handlersDir: options.handlersDir }));

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

    /** Provider notifications: `/http/vk-pay/paymentNotify/<pay_type>/<out_trade_no>` */
    async paymentNotify(this: Ctx) {
      const http = httpOnly(this, 'paymentNotify');
      return vkPay().paymentNotify(http);
    },

    /** vk-uni-pay's notify route `/http/vk-pay/vk-pay-notify/<pay_type>/<out_trade_no>`: orders created before the switch */
    async 'vk-pay-notify'(this: Ctx) {
      return vkPay().paymentNotify(httpOnly(this, 'vk-pay-notify'));
    },

    /** Not paid is not an error here: errCode 0 with orderPaid false (clients poll this). */
    async queryPayment(this: Ctx, params: Record<string, unknown> = {}) {
      const server = isServerCall(this);
      const result = (await vkPay().queryPayment({
        out_trade_no: typeof params.out_trade_no === 'string' ? params.out_trade_no : undefined,
        transaction_id: typeof params.transaction_id === 'string' ? params.transaction_id : undefined,
        ...(server ? {} : { caller: { uid: uniIdTokenUid(this.getUniIdToken(), uniIdSecret(), Date.now()) } }),
        await_notify: params.await_notify === true,
        await_max_time: typeof params.await_max_time === 'number' ? params.await_max_time : undefined,
        pay_order_info: params.pay_order_info === true,
      })) as Record<string, any>;
      if (result.code === -1) result.code = 0;
      if (result.payOrder && !server) {
        result.payOrder = Object.fromEntries(CLIENT_ORDER_FIELDS.filter((k) => k in result.payOrder).map((k) => [k, result.payOrder[k]]));
      }
      return toResponse(this, result);
    },

    /** WeChat mini-program message push (virtual payment): `/http/vk-pay/wxpayVirtualNotify` */
    async wxpayVirtualNotify(this: Ctx) {
      const http = httpOnly(this, 'wxpayVirtualNotify');
      return vkPay().pushNotify('wxpay-virtual', http);
    },

    /** App Store Server Notifications V2: `/http/vk-pay/appleNotify` */
    async appleNotify(this: Ctx) {
      const http = httpOnly(this, 'appleNotify');
      return vkPay().pushNotify('appleiap', http);
    },

    /** After an App Store purchase: the legacy receipt (vk-uni-pay's verifyReceipt) ... */
    async verifyAppleReceipt(this: Ctx, params: Record<string, unknown> = {}) {
      const { out_trade_no, transaction_receipt, transaction_identifier } = params;
      return toResponse(
        this,
        (await vkPay().verifyApplePurchase({ out_trade_no, transaction_receipt, transaction_identifier })) as Record<string, unknown>,
      );
    },

    /** ... or a StoreKit 2 signed transaction (JWS). */
    async verifyAppleTransaction(this: Ctx, params: Record<string, unknown> = {}) {
      const { out_trade_no, signedTransaction } = params;
      return toResponse(this, (await vkPay().verifyApplePurchase({ out_trade_no, signedTransaction })) as Record<string, unknown>);
    },

    /** Mini-program login: returns the openid; the session_key never leaves the server. */
    async code2SessionWeixinMP(this: Ctx, params: Record<string, unknown> = {}) {
      return toResponse(this, (await vkPay().code2SessionWeixinMP({ code: params.code })) as Record<string, unknown>);
    },

    /** Official-account OAuth code (snsapi_base) → openid. */
    async code2SessionWeixinH5(this: Ctx, params: Record<string, unknown> = {}) {
      return toResponse(this, (await vkPay().code2SessionWeixinH5({ code: params.code })) as Record<string, unknown>);
    },

    /** Alipay mini-program auth code → buyer id (returned as openid). */
    async code2SessionAlipay(this: Ctx, params: Record<string, unknown> = {}) {
      return toResponse(this, (await vkPay().code2SessionAlipay({ code: params.code })) as Record<string, unknown>);
    },

    async createPayment(this: Ctx, options: Record<string, unknown> = {}) {
      return serverOnly(this, 'createPayment', () => vkPay().createPayment(options));
    },

    /** Refunds move money out: never callable by a client, only by your own cloud code. */
    async refund(this: Ctx, params: Record<string, any> = {}) {
      return serverOnly(this, 'refund', () => vkPay().refund(params as never));
    },

    async closeOrder(this: Ctx, params: Record<string, any> = {}) {
      return serverOnly(this, 'closeOrder', () => vkPay().closeOrder(params));
    },

    async queryRefund(this: Ctx, params: Record<string, any> = {}) {
      return serverOnly(this, 'queryRefund', () => vkPay().queryRefund(params as never));
    },

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
