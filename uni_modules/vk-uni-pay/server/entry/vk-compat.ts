/**
 * Drop-in for vk-uni-pay projects: the entry points, result field names and config keys vk
 * documents, on top of the common module's own API. Every vk key is honoured here or refused with
 * a coded error naming the key and what replaces it (docs/migration.md lists them all).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ERRORS, PayError } from '../core/errors';
import type { HttpInfo, IntegratedResponse } from '../../../../types/unicloud-server';
import { userNickname } from '../store/users';
import { createVkPay, errorResult, type ErrorResult, type VkPay } from './common';

/** refund / queryRefund answers with vk-uni-pay's names next to ours. */
export function withVkRefundNames<R extends Record<string, any>>(result: R, order?: Record<string, any>): R {
  if (result.code !== 0) return result;
  return {
    ...result,
    outTradeNo: result.out_trade_no,
    outRefundNo: result.out_refund_no,
    refundFee: result.refund_fee,
    cashRefundFee: result.state === 'SUCCESS' ? result.refund_fee : 0,
    ...(result.refund_id ? { refundId: result.refund_id } : {}),
    ...(order?.transaction_id ? { transactionId: order.transaction_id } : {}),
  };
}

/** A refund vk-uni-pay recorded on the order (`refund_list`), answered as it recorded it. */
export function vkRecordedRefund(order: Record<string, any>, out_refund_no?: unknown): Record<string, any> | undefined {
  const list: Array<Record<string, any>> = Array.isArray(order.refund_list) ? order.refund_list : [];
  const rec = out_refund_no === undefined ? list[list.length - 1] : list.find((r) => r.out_refund_no === out_refund_no);
  if (!rec) return undefined;
  return {
    code: 0,
    msg: '退款成功（vk-uni-pay 记录）',
    out_trade_no: order.out_trade_no,
    out_refund_no: rec.out_refund_no,
    refund_fee: rec.refund_fee,
    state: 'SUCCESS',
    refund_date: rec.refund_date,
    order: { total_fee: order.total_fee, refund_fee: order.refund_fee, status: order.status },
  };
}

/** queryRefund's `queryResult` (the refund as the provider settled it) and `orderInfo` (a subset of the order). */
export function withVkQueryRefundNames<R extends Record<string, any>>(result: R, order?: Record<string, any>): R {
  const named = withVkRefundNames(result, order);
  if (named.code !== 0) return named;
  const orderInfo = order
    ? Object.fromEntries(
        ['out_trade_no', 'transaction_id', 'pay_type', 'total_fee', 'refund_fee', 'refund_num', 'refund_list', 'status'].map((k) => [
          k,
          k === 'refund_fee' || k === 'status' ? (result.order?.[k] ?? order[k]) : order[k],
        ]),
      )
    : {};
  const queryResult = {
    out_refund_no: result.out_refund_no,
    refund_id: result.refund_id,
    refund_fee: result.refund_fee,
    state: result.state,
  };
  return { ...named, queryResult, orderInfo };
}

/** AES-256-CBC keyed by sha256(notifyKey); output base64(iv ‖ ciphertext) of the JSON text. */
function aesKey(notifyKey: unknown): Buffer {
  if (typeof notifyKey !== 'string' || notifyKey.length < 32)
    throw new PayError('VK_CONFIG_UNSUPPORTED', {
      key: 'notifyKey',
      fix: '配置至少 32 位（建议 64 位）随机字符串 / set a random string of at least 32 (recommended 64) characters',
    });
  return createHash('sha256').update(notifyKey).digest();
}

export function aesEncrypt(notifyKey: unknown, data: unknown): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', aesKey(notifyKey), iv);
  return Buffer.concat([iv, cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]).toString('base64');
}

export function aesDecrypt(notifyKey: unknown, text: unknown): unknown {
  const key = aesKey(notifyKey);
  const raw = typeof text === 'string' ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (raw.length < 32) throw new PayError('FIELD_INVALID', { field: 'data', reason: 'base64 of iv + ciphertext' });
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, raw.subarray(0, 16));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]).toString('utf8'));
  } catch {
    throw new PayError('FIELD_INVALID', { field: 'data', reason: 'not encrypted with this notifyKey' });
  }
}

/** vk's URL化 `event` (or a cloud object's getHttpInfo()) as HttpInfo. */
function eventToHttpInfo(event: Record<string, any>): HttpInfo {
  return {
    path: String(event.path ?? ''),
    httpMethod: event.httpMethod ?? 'POST',
    headers: event.headers ?? {},
    queryStringParameters: event.queryStringParameters ?? {},
    body: event.body ?? '',
    isBase64Encoded: !!event.isBase64Encoded,
  } as HttpInfo;
}

type Safe<T> = Promise<T | ErrorResult>;

/** The vk-uni-pay-only entry points, bound to one instance of the plugin. */
export function vkCompatApi(instance: () => VkPay) {
  const deps = () => instance().deps;
  const guard = async <T>(run: () => Promise<T>): Safe<T> => {
    try {
      return await run();
    } catch (e) {
      return errorResult(e, deps());
    }
  };
  const orderOf = (out_trade_no: unknown) => (typeof out_trade_no === 'string' ? deps().orders.findByOutTradeNo(out_trade_no) : undefined);
  const replaced = (api: string, replacement: string) => () =>
    guard(async () => Promise.reject(new PayError('VK_API_REPLACED', { api, replacement })));

  return {
    /**
     * queryPayment from your own cloud function: settling works here, but the handlers are deployed
     * with vk-pay only, so with `await_notify` a paid order whose handler has not succeeded yet is
     * handed to vk-pay (cloud-to-cloud), which runs it — a lost notification is still fulfilled.
     */
    async queryPayment(params: any) {
      const pay = instance();
      const viaVkPay =
        params?.await_notify === true && !pay.deps.handlersConfigured && typeof uniCloud !== 'undefined' && !!uniCloud.importObject;
      if (!viaVkPay) return pay.queryPayment(params);
      const local = (await pay.queryPayment({ ...params, await_notify: false })) as Record<string, any>;
      if (!local.orderPaid || local.user_order_success === true) return local;
      try {
        const remote = await uniCloud.importObject!('vk-pay').queryPayment({
          out_trade_no: local.out_trade_no,
          await_notify: true,
          ...(params.await_max_time !== undefined ? { await_max_time: params.await_max_time } : {}),
        });
        return { ...local, user_order_success: remote.user_order_success, status: remote.status ?? local.status };
      } catch (e) {
        deps().log.warn('query.vk_pay_unreachable', {
          out_trade_no: local.out_trade_no,
          error: e instanceof Error ? e.message : String(e),
        });
        return local;
      }
    },
    async refund(params: any) {
      const result = await instance().refund(params);
      return withVkRefundNames(result as Record<string, any>, await orderOf(params?.out_trade_no));
    },
    async queryRefund(params: any) {
      const result = (await instance().queryRefund(params)) as Record<string, any>;
      const order = await orderOf(params?.out_trade_no);
      // a refund vk-uni-pay made before the switch is only in the order's refund_list, not in our ledger
      const vkRecord = result.code === ERRORS.FIELD_INVALID[0] && order && vkRecordedRefund(order, params?.out_refund_no);
      if (vkRecord) return withVkQueryRefundNames(vkRecord, order);
      return withVkQueryRefundNames(result, order);
    },
    /**
     * vk's notify entry `paymentNotify({event, context, orderPaySuccess?})`: `event` is the URL化
     * request (path `/vk-pay-notify/<pay_type>/<out_trade_no>`). `orderPaySuccess(obj, originalParam)`,
     * when given, is the handler for every type, as vk-pay's dispatcher was.
     */
    async paymentNotify(params: {
      event?: Record<string, any>;
      orderPaySuccess?: (obj: unknown, originalParam: unknown) => unknown;
    }): Promise<IntegratedResponse> {
      const pay = params?.orderPaySuccess ? createVkPay({ handlers: () => params.orderPaySuccess }) : instance();
      return pay.paymentNotify(eventToHttpInfo(params?.event ?? {}));
    },
    crypto: {
      aes: {
        encrypt: ({ data }: { data?: unknown } = {}) =>
          guard(async () => ({ code: 0, msg: 'ok', data: aesEncrypt((await deps().configs.load()).notifyKey, data) })),
        decrypt: ({ data }: { data?: unknown } = {}) =>
          guard(async () => ({ code: 0, msg: 'ok', data: aesDecrypt((await deps().configs.load()).notifyKey, data) })),
      },
    },
    /** uni-id token → user id (needs the uni-id-common module in the calling function) */
    checkTokenReturnUserId: ({ uniIdToken, context }: { uniIdToken?: string; context?: unknown } = {}) =>
      guard(async () => {
        let uniIdCommon: any;
        try {
          uniIdCommon = require('uni-id-common');
        } catch {
          throw new PayError('VK_API_REPLACED', {
            api: 'checkTokenReturnUserId',
            replacement: '在调用的云函数中添加依赖 uni-id-common / add the uni-id-common dependency to the calling function',
          });
        }
        const res = await uniIdCommon.createInstance({ context, clientInfo: context }).checkToken(uniIdToken);
        return res && !res.errCode && res.uid
          ? { code: 0, msg: 'ok', user_id: res.uid }
          : { code: 0, msg: res?.errMsg ?? 'invalid token', user_id: undefined };
      }),
    /** the nickname in uni-id-users (order statistics); undefined when the user is unknown */
    getUserNickname: (user_id: unknown): Promise<string | undefined> => userNickname(deps().db, user_id),
    wxpay: {
      fetchCertificates: replaced(
        'wxpay.fetchCertificates',
        '平台证书由插件自动下载、验证并缓存，无需手动获取 / platform certificates are fetched, verified and cached automatically',
      ),
    },
    // documented by vk-uni-pay, not implemented in this version: a coded answer instead of "is not a function"
    ...(Object.fromEntries(
      [
        'transfer',
        'cancelTransfer',
        'queryTransfer',
        'transferNotify',
        'verifyTransferNotify',
        'queryAccountBalance',
        'getWxpayVirtualManager',
      ].map((api) => [
        api,
        replaced(api, '本版本尚未实现（见 docs/migration.md）/ not implemented in this version (see docs/migration.md)'),
      ]),
    ) as Record<
      | 'transfer'
      | 'cancelTransfer'
      | 'queryTransfer'
      | 'transferNotify'
      | 'verifyTransferNotify'
      | 'queryAccountBalance'
      | 'getWxpayVirtualManager',
      () => Promise<ErrorResult>
    >),
    initUniPayInstance: replaced(
      'initUniPayInstance',
      '不提供原始渠道客户端；请使用 createPayment / refund / queryRefund / closeOrder / no raw provider client; use the plugin API',
    ),
  };
}
