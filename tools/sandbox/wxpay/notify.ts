/**
 * WeChat Pay sandbox notifications: on payment the order's notify_url gets a v3 TRANSACTION.SUCCESS
 * (v3 orders, signed and AES-GCM encrypted) or the v2 XML notify (v2 orders), retried until
 * acknowledged (v3: HTTP 200/204; v2: HTTP 200 with return_code SUCCESS).
 */
import { randomUUID } from 'node:crypto';
import { createNotifier } from '../notifier';
import { aesGcmEncrypt, compactBeijing, nonceStr, parseXml, rfc3339Beijing, toXml, v2Sign } from './protocol';
import {
  notificationSigner,
  platformSigner,
  pubKeySigner,
  type Json,
  type MerchantRt,
  type SandboxOrder,
  type SandboxRefund,
  type Signer,
  type WxpayDelivery,
  type WxpaySandbox,
  type WxpayState,
} from './state';
import { transactionJson } from './v3';
import { partnerV2Fields } from './partner';

const DEFAULT_RETRY = [1000, 2000, 5000, 15000, 30000];
const REFUND_SUMMARY: Record<string, string> = { SUCCESS: '退款成功', ABNORMAL: '退款异常', CLOSED: '退款关闭' };

/** the decrypted `resource` of a refund notification */
export function refundNotice(r: SandboxRefund): Json {
  return {
    mchid: r.mchid,
    transaction_id: r.transaction_id,
    out_trade_no: r.out_trade_no,
    refund_id: r.refund_id,
    out_refund_no: r.out_refund_no,
    refund_status: r.status,
    ...(r.status === 'SUCCESS' ? { success_time: rfc3339Beijing(r.success_time) } : {}),
    user_received_account: '支付用户零钱',
    amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
  };
}
const NOTIFY_TIMEOUT_MS = 5000;

export function wxpayNotifications(state: WxpayState, retryDelaysMs = DEFAULT_RETRY) {
  const notifier = createNotifier<WxpayDelivery>({ name: 'wxpay', retryDelaysMs, timeoutMs: NOTIFY_TIMEOUT_MS });

  function buildV3Notification(
    rt: MerchantRt,
    plaintext: Json,
    eventType = 'TRANSACTION.SUCCESS',
    summary = '支付成功',
    originalType = 'transaction',
  ): string {
    const resource = aesGcmEncrypt(rt.m.apiV3Key, JSON.stringify(plaintext), originalType);
    return JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339Beijing(state.now()),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary,
      resource: {
        original_type: originalType,
        algorithm: resource.algorithm,
        ciphertext: resource.ciphertext,
        associated_data: resource.associated_data,
        nonce: resource.nonce,
      },
    });
  }

  function buildV2Notification(rt: MerchantRt, o: SandboxOrder): string {
    const signType = o.sign_type ?? 'MD5';
    const fields: Record<string, string | number | undefined> = {
      appid: o.appid,
      attach: o.attach,
      bank_type: 'OTHERS',
      cash_fee: o.total,
      device_info: o.device_info,
      fee_type: 'CNY',
      is_subscribe: 'N',
      mch_id: o.mchid,
      nonce_str: nonceStr(32),
      ...partnerV2Fields(o, true),
      out_trade_no: o.out_trade_no,
      result_code: 'SUCCESS',
      return_code: 'SUCCESS',
      sign_type: signType === 'HMAC-SHA256' ? signType : undefined,
      time_end: compactBeijing(o.success_time as number),
      total_fee: o.total,
      trade_type: o.trade_type,
      transaction_id: o.transaction_id,
    };
    fields.sign = v2Sign(fields, rt.m.apiV2Key, signType);
    return toXml(fields);
  }
  function startDelivery(o: SandboxOrder): void {
    const rt = state.merchantOf(o.mchid);
    const body = o.protocol === 'v3' ? buildV3Notification(rt, transactionJson(o)) : buildV2Notification(rt, o);
    deliver(o, o.notify_url, o.out_trade_no, body, 'TRANSACTION.SUCCESS');
  }

  /** POSTs one notification until acknowledged; its deliveries are logged under `key` (out_trade_no, or out_refund_no for refunds). */
  function deliver(o: SandboxOrder, url: string, key: string, body: string, event: string): void {
    const rt = state.merchantOf(o.mchid);
    notifier.retry(async (n) => {
      let headers: Record<string, string>;
      let serial: string | undefined;
      if (o.protocol === 'v3') {
        const signer = notificationSigner(rt);
        serial = signer.serial;
        headers = { 'Content-Type': 'application/json', ...state.signedHeaders(signer, body) };
      } else {
        headers = { 'Content-Type': 'text/xml' };
      }
      const r = await notifier.post(url, body, { ...headers, 'User-Agent': 'Mozilla/4.0', Connection: 'close' });
      if (notifier.closed) return true;
      const status = r === 'error' ? 'error' : r.status;
      const acknowledged =
        r !== 'error' &&
        (o.protocol === 'v3' ? r.status === 200 || r.status === 204 : r.status === 200 && parseXml(r.text)?.return_code === 'SUCCESS');
      state.log('notify', o.protocol, key, event, `attempt ${n}`, status, acknowledged ? 'ack' : 'no ack');
      notifier.record({
        out_trade_no: key,
        attempt: n,
        status,
        at: state.now(),
        mchid: o.mchid,
        protocol: o.protocol,
        acknowledged,
        serial,
        event,
      });
      return acknowledged;
    });
  }

  /**
   * Any other v3 event (e.g. MCHTRANSFER.BILL.FINISHED, original_type mch_payment), delivered and
   * retried like payment notifications; logged under `key` (e.g. the out_bill_no).
   */
  function deliverEvent(
    mchid: string,
    url: string,
    key: string,
    event: { plaintext: Json; event_type: string; summary: string; original_type: string },
  ): void {
    const rt = state.merchantOf(mchid);
    const body = buildV3Notification(rt, event.plaintext, event.event_type, event.summary, event.original_type);
    notifier.retry(async (n) => {
      const signer = notificationSigner(rt);
      const r = await notifier.post(url, body, {
        'Content-Type': 'application/json',
        ...state.signedHeaders(signer, body),
        'User-Agent': 'Mozilla/4.0',
        Connection: 'close',
      });
      if (notifier.closed) return true;
      const acknowledged = r !== 'error' && (r.status === 200 || r.status === 204);
      state.log('notify', event.event_type, key, `attempt ${n}`, r === 'error' ? 'error' : r.status, acknowledged ? 'ack' : 'no ack');
      notifier.record({
        out_trade_no: key,
        attempt: n,
        status: r === 'error' ? 'error' : r.status,
        at: state.now(),
        mchid,
        protocol: 'v3',
        acknowledged,
        serial: signer.serial,
      });
      return acknowledged;
    });
  }

  /**
   * The refund result notification (https://pay.weixin.qq.com/doc/v3/merchant/4012791865): event
   * REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED, resource `original_type: refund`, sent to the
   * refund's notify_url when it reaches a final state.
   */
  function refundDelivery(r: SandboxRefund): void {
    const o = state.findOrder(r.out_trade_no, r.mchid);
    if (!o || !r.notify_url || r.status === 'PROCESSING') return;
    const rt = state.merchantOf(r.mchid);
    const body = buildV3Notification(rt, refundNotice(r), `REFUND.${r.status}`, REFUND_SUMMARY[r.status], 'refund');
    deliver({ ...o, protocol: 'v3' }, r.notify_url, r.out_refund_no, body, `REFUND.${r.status}`);
  }

  const api: Pick<
    WxpaySandbox,
    'deliveries' | 'waitForDelivery' | 'signNotification' | 'buildPaymentNotification' | 'buildRefundNotification'
  > = {
    deliveries: notifier.deliveries,
    waitForDelivery: (no, predicate = () => true, timeoutMs = 10_000) => notifier.waitFor(no, predicate, timeoutMs),
    signNotification(mchid, body, o = {}) {
      const rt = state.merchantOf(mchid);
      let signer: Signer;
      if (o.serial === rt.m.publicKeyId) signer = pubKeySigner(rt);
      else if (o.serial === rt.m.platform.serialHex) signer = platformSigner(rt);
      else signer = notificationSigner(rt);
      return { 'Content-Type': 'application/json', ...state.signedHeaders(signer, body, o) };
    },
    buildPaymentNotification(mchid, transaction) {
      const rt = state.merchantOf(mchid);
      const body = buildV3Notification(rt, transaction);
      return { body, headers: { 'Content-Type': 'application/json', ...state.signedHeaders(notificationSigner(rt), body) } };
    },
    buildRefundNotification(mchid, refund, status = String(refund.refund_status ?? 'SUCCESS')) {
      const rt = state.merchantOf(mchid);
      const body = buildV3Notification(rt, refund, `REFUND.${status}`, REFUND_SUMMARY[status] ?? '退款', 'refund');
      return { body, headers: { 'Content-Type': 'application/json', ...state.signedHeaders(notificationSigner(rt), body) } };
    },
  };
  return { startDelivery, deliverEvent, refundDelivery, refundNotice, close: () => notifier.close(), api };
}
