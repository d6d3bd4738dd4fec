/**
 * Alipay asynchronous notification (POST application/x-www-form-urlencoded to notify_url).
 * Verification (crypto/verifier.ts): drop `sign` and `sign_type`, skip empty values, sort keys,
 * join `k=v` with `&` (decoded values, decoded exactly once, here), SHA256withRSA with the Alipay
 * public key (or the key of a configured Alipay public cert in cert mode).
 */
import { PayError } from '../../core/errors';
import { yuanToFen } from '../../core/money';
import { parseProviderTime } from '../../core/time';
import type { NotifyEvent, RawHttpRequest } from '../types';
import type { AlipayRuntime } from './config';
import { verifyNotifyFields } from './crypto';

/** Parses a form body from its raw bytes (UTF-8). Duplicate keys or bad escapes → NOTIFY_MALFORMED. */
export function parseFormBody(raw: Buffer): Record<string, string> {
  const text = raw.toString('utf8');
  const out: Record<string, string> = Object.create(null);
  if (!text.trim()) throw new PayError('NOTIFY_MALFORMED');
  for (const seg of text.split('&')) {
    if (!seg) continue;
    const eq = seg.indexOf('=');
    const k = eq < 0 ? seg : seg.slice(0, eq);
    const v = eq < 0 ? '' : seg.slice(eq + 1);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(k.replace(/\+/g, ' '));
      value = decodeURIComponent(v.replace(/\+/g, ' '));
    } catch {
      throw new PayError('NOTIFY_MALFORMED');
    }
    if (!key || key in out) throw new PayError('NOTIFY_MALFORMED');
    out[key] = value;
  }
  return out;
}

const REFUND_MARKERS = ['refund_fee', 'gmt_refund', 'out_biz_no'];

/**
 * A refund posts a trade_status_sync to the payment's notify_url (alipay.trade.refund takes no
 * notify_url): TRADE_SUCCESS after a partial refund, TRADE_CLOSED after a full one, with
 * `out_biz_no` = the refund's out_request_no (our out_refund_no), `refund_fee` = the trade's TOTAL
 * refunded so far (yuan) and `gmt_refund` (https://opendocs.alipay.com/open/203/105286). Alipay
 * refunds are synchronous, so the notice states a refund that succeeded; the amount of this one
 * refund is not in it (the ledger keeps it), so a notice of a refund we did not ask for (made in
 * the merchant console) is acknowledged but not recorded.
 */
function refundNotice(f: Record<string, string>): NotifyEvent {
  if (!f.out_trade_no) throw new PayError('NOTIFY_MALFORMED');
  return {
    kind: 'refund',
    out_trade_no: f.out_trade_no,
    ...(f.out_biz_no ? { out_refund_no: f.out_biz_no, state: 'SUCCESS' as const } : {}),
    ...(f.trade_no ? { transaction_id: f.trade_no } : {}),
    info: {
      trade_status: f.trade_status,
      trade_refund_fee: yuanToFen(f.refund_fee),
      gmt_refund: f.gmt_refund,
      ...(f.app_id ? { appid: f.app_id } : {}),
    },
  };
}

export function verifyAndParseNotify(req: RawHttpRequest, rt: AlipayRuntime): NotifyEvent {
  if (!req || !Buffer.isBuffer(req.body)) throw new PayError('NOTIFY_MALFORMED');
  const ct = (req.headers?.['content-type'] || '').toLowerCase();
  if (ct && !ct.includes('application/x-www-form-urlencoded')) throw new PayError('NOTIFY_MALFORMED');
  const f = parseFormBody(req.body);
  if (f.charset && !/^utf-?8$/i.test(f.charset)) throw new PayError('NOTIFY_MALFORMED');

  if (!verifyNotifyFields(rt.verifier, f)) throw new PayError('NOTIFY_SIGNATURE_INVALID');

  // ---- verified from here on
  if (f.notify_type && f.notify_type !== 'trade_status_sync') return { kind: 'ignore', reason: `notify_type ${f.notify_type}` };
  if (REFUND_MARKERS.some((k) => f[k])) return refundNotice(f);
  const status = f.trade_status;
  if (status !== 'TRADE_SUCCESS' && status !== 'TRADE_FINISHED') return { kind: 'ignore', reason: `trade_status ${status || '(none)'}` };

  if (!f.out_trade_no || !f.trade_no) throw new PayError('NOTIFY_MALFORMED');
  const total_fee = yuanToFen(f.total_amount);
  if (total_fee === undefined || total_fee <= 0) throw new PayError('NOTIFY_MALFORMED');

  const info: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) if (k !== 'sign' && k !== 'sign_type') info[k] = v;
  return {
    kind: 'payment',
    out_trade_no: f.out_trade_no,
    transaction_id: f.trade_no,
    total_fee,
    paid: true,
    appid: f.app_id || undefined,
    openid: f.buyer_id || f.buyer_open_id || undefined,
    pay_date: parseProviderTime(f.gmt_payment),
    info,
  };
}
