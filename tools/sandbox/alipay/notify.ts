/**
 * Alipay sandbox notifications: signed `trade_status_sync` form posts to the trade's notify_url
 * on payment (and refund notices on the same URL), retried until the merchant answers exactly
 * `success`.
 */
import { randomBytes } from 'node:crypto';
import { createNotifier } from '../notifier';
import { beijing, fenToYuanText, rsa2Sign, signString } from './crypto';
import type { AlipayDelivery, AlipaySandbox, AlipaySandboxOrder, AlipayState } from './state';
import { merchantOf } from './isv';

const SELLER_ID = '2088000000000001';
const DEFAULT_RETRY = [1000, 2000, 5000, 15000, 30000];
const NOTIFY_TIMEOUT_MS = 10_000;

function formEncode(fields: Record<string, string>): string {
  return Object.keys(fields)
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(fields[k])}`)
    .join('&');
}

export function alipayNotifications(state: AlipayState, retryDelaysMs = DEFAULT_RETRY) {
  const notifier = createNotifier<AlipayDelivery>({ name: 'alipay', retryDelaysMs, timeoutMs: NOTIFY_TIMEOUT_MS });

  function buildNotification(appId: string, fields: Record<string, string>): string {
    const app = state.apps.get(appId);
    if (!app) throw new Error(`unknown app ${appId}`);
    const f: Record<string, string> = { ...fields };
    if (!f.sign_type) f.sign_type = 'RSA2';
    delete f.sign;
    f.sign = rsa2Sign(signString(f, true), app.alipayPrivateKeyPem);
    return formEncode(f);
  }

  function notificationFields(o: AlipaySandboxOrder): Record<string, string> {
    const t = state.now();
    const merchant = merchantOf(state.apps.get(o.app_id), o, SELLER_ID);
    const f: Record<string, string> = {
      gmt_create: beijing(o.gmt_create),
      charset: 'utf-8',
      seller_email: 'sandbox-seller@alipay.test',
      subject: o.subject,
      buyer_logon_id: 'sbx***@alipay.test',
      invoice_amount: o.total_amount,
      notify_id: `2024${randomBytes(12).toString('hex')}`,
      fund_bill_list: JSON.stringify([{ amount: o.total_amount, fundChannel: 'ALIPAYACCOUNT' }]),
      notify_type: 'trade_status_sync',
      trade_status: o.trade_status,
      receipt_amount: o.total_amount,
      app_id: o.app_id,
      buyer_pay_amount: o.total_amount,
      version: '1.0',
      notify_time: beijing(t),
      point_amount: '0.00',
      total_amount: o.total_amount,
      trade_no: o.trade_no,
      auth_app_id: merchant.auth_app_id,
      seller_id: merchant.seller_id,
      out_trade_no: o.out_trade_no,
    };
    if (o.gmt_payment !== undefined) f.gmt_payment = beijing(o.gmt_payment);
    if (o.gmt_close !== undefined) f.gmt_close = beijing(o.gmt_close);
    if (o.buyer_id) f.buyer_id = o.buyer_id;
    if (o.buyer_open_id) f.buyer_open_id = o.buyer_open_id;
    if (o.body) f.body = o.body;
    if (o.passback_params) f.passback_params = o.passback_params;
    return f;
  }

  function deliver(o: AlipaySandboxOrder, payload: string): void {
    if (!o.notify_url) return;
    const url = o.notify_url;
    notifier.retry(async (attempt) => {
      const headers = {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'user-agent': 'Mozilla/4.0 (Alipay sandbox notify)',
      };
      const r = await notifier.post(url, payload, headers);
      if (notifier.closed) return true;
      const status = r === 'error' ? 'error' : r.status;
      const body = r === 'error' ? undefined : r.text;
      notifier.record({ out_trade_no: o.out_trade_no, attempt, status, body, at: state.now(), payload });
      state.log(`notify ${o.out_trade_no} attempt ${attempt} → ${status} ${JSON.stringify(body ?? '')}`);
      return body === 'success'; // only this exact body acknowledges
    });
  }

  function paymentNotice(o: AlipaySandboxOrder): void {
    deliver(o, buildNotification(o.app_id, notificationFields(o)));
  }

  function refundNotice(o: AlipaySandboxOrder, fen: number, reqNo: string, at: number): void {
    const f = notificationFields(o);
    f.refund_fee = fenToYuanText(fen);
    f.gmt_refund = `${beijing(at)}.000`;
    f.out_biz_no = reqNo;
    f.trade_status = o.refunded_fen >= o.total_fen ? 'TRADE_CLOSED' : 'TRADE_SUCCESS';
    deliver(o, buildNotification(o.app_id, f));
  }

  const api: Pick<AlipaySandbox, 'deliveries' | 'waitForDelivery' | 'buildNotification'> = {
    deliveries: notifier.deliveries,
    waitForDelivery: (no, predicate = (d) => d.body === 'success', timeoutMs = 10_000) => notifier.waitFor(no, predicate, timeoutMs),
    buildNotification,
  };
  return { paymentNotice, refundNotice, close: () => notifier.close(), api };
}
