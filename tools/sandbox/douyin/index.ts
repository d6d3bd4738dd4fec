/**
 * Douyin guaranteed payment (担保支付) sandbox peer on loopback, speaking the ecpay wire format of
 * providers/douyin (docs/douyin.md): every call's `sign` is checked with the app's SALT (err_no 2008
 * otherwise, as the real API answers), answers are unsigned JSON `{err_no, err_tips, …}`, and the
 * payment and refund notifications are JSON `{timestamp, nonce, msg, type, msg_signature}` signed
 * with the app's Token, POSTed to notify_url and retried until the plugin answers err_no 0.
 * A cashier page at /cashier/<order_token> stands in for tt.pay (`#pay-btn`, `#cancel-btn`).
 * Dev and tests only.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { douyinCallbackSign, douyinRequestSign, type DouyinParam } from '../../../uni_modules/vk-uni-pay/server/providers/douyin/sign';
import { DOUYIN_PATHS } from '../../../uni_modules/vk-uni-pay/server/providers/douyin';
import { toDateTimeShanghai } from '../../../uni_modules/vk-uni-pay/server/core/time';
import { escapeHtml } from '../html';
import {
  startLoopbackServer,
  nodeTransport,
  deliveryLog,
  deliverWithRetries,
  type PeerRequest,
  type PeerResponse,
  type Delivery,
} from '../loopback';

export interface DouyinApp {
  appId: string;
  salt: string;
  token: string;
  /** 进件商户号 (merchant_uid of the balance query) */
  mchId: string;
}

export interface DouyinSandboxOptions {
  port?: number;
  apps: DouyinApp[];
  notifyRetryDelaysMs?: number[];
  /** refund outcome delay (the real one is asynchronous) */
  refundDelayMs?: number;
}

export type DouyinWay = '1' | '2' | '10';

interface DyRefund {
  out_refund_no: string;
  refund_no: string;
  amount: number;
  status: 'PROCESSING' | 'SUCCESS' | 'FAIL';
  refunded_at?: number;
  notify_url?: string;
  cp_extra?: string;
}

export interface DyOrder {
  appId: string;
  out_order_no: string;
  order_id: string;
  order_token: string;
  total_amount: number;
  subject: string;
  notify_url?: string;
  cp_extra?: string;
  expires: number;
  status: 'PROCESSING' | 'SUCCESS' | 'TIMEOUT';
  way?: DouyinWay;
  paid_at?: number;
  payment_order_no?: string;
  channel_no?: string;
  refunds: Map<string, DyRefund>;
}

export interface DouyinNotification {
  body: string;
  fields: Record<string, string>;
}

export interface DouyinSandbox {
  url: string;
  close(): Promise<void>;
  apps: Map<string, DouyinApp>;
  /** by `<appId>|<out_order_no>` */
  orders: Map<string, DyOrder>;
  /** the order as the peer knows it, by out_order_no */
  order(out_order_no: string): DyOrder | undefined;
  /** every API call: path and err_no */
  calls: Array<{ path: string; err_no: number }>;
  /** the payer pays in the cashier with a channel (default Alipay, way 2); the notification follows */
  pay(out_order_no: string, way?: DouyinWay): Promise<void>;
  deliveries: Delivery[];
  /** keys: out_order_no (payments), `refund:<out_refund_no>` (refunds) */
  waitForDelivery(key: string, timeoutMs?: number): Promise<Delivery>;
  /** a signed notification of `type` whose msg is `msg` (the Token of `appId`, or `token` to forge) */
  buildNotification(
    type: string,
    msg: Record<string, unknown>,
    opts?: { appId?: string; token?: string; timestamp?: string },
  ): DouyinNotification;
  /** the payment notification the peer would send for a paid order (msg fields overridable) */
  paymentNotification(out_order_no: string, override?: Record<string, unknown>): DouyinNotification;
  /** POSTs any body to a URL once; returns the plugin's reply */
  post(url: string, body: string): Promise<{ status: number; body: string }>;
  /** balances (fen) the balance query reports beyond the computed online balance */
  balance: { withdrawable: number; freeze: number };
}

const ERR = {
  internal: [1000, '内部异常'],
  sign: [2008, '签名校验异常，请使用正确的签名和 json 传参'],
  param: [2010, '业务参数处理异常'],
  appid: [2042, '小程序appid无效，请检查app_id字段'],
  notFound: [2000, '支付记录不存在'],
} as const;

const OUT_NO = /^[0-9A-Za-z_\-*]{1,64}$/;

export async function startDouyinSandbox(opts: DouyinSandboxOptions): Promise<DouyinSandbox> {
  const apps = new Map(opts.apps.map((a) => [a.appId, a]));
  const orders = new Map<string, DyOrder>();
  const byToken = new Map<string, DyOrder>();
  const log = deliveryLog();
  const calls: DouyinSandbox['calls'] = [];
  const transport = nodeTransport();
  const delays = opts.notifyRetryDelaysMs ?? [20, 50, 100, 200];
  const balance = { withdrawable: 0, freeze: 0 };
  const timers = new Set<NodeJS.Timeout>();

  const answer = (path: string, o: Record<string, unknown>): PeerResponse => {
    calls.push({ path, err_no: Number(o.err_no) });
    return { status: 200, body: JSON.stringify(o) };
  };
  const refuse = (path: string, [err_no, err_tips]: readonly [number, string]) => answer(path, { err_no, err_tips });
  const digits = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? randomInt(1, 10) : randomInt(0, 10))).join('');

  function buildNotification(
    type: string,
    msg: Record<string, unknown>,
    o: { appId?: string; token?: string; timestamp?: string } = {},
  ): DouyinNotification {
    const app = apps.get(o.appId ?? String(msg.appid)) ?? opts.apps[0];
    const fields: Record<string, string> = {
      timestamp: o.timestamp ?? String(Math.floor(Date.now() / 1000)),
      nonce: String(randomInt(1000, 10000)),
      msg: JSON.stringify(msg),
      type,
    };
    fields.msg_signature = douyinCallbackSign(fields, o.token ?? app.token);
    return { fields, body: JSON.stringify(fields) };
  }

  function paymentMsg(o: DyOrder, override: Record<string, unknown> = {}) {
    return {
      appid: o.appId,
      cp_orderno: o.out_order_no,
      cp_extra: o.cp_extra ?? '',
      way: o.way ?? '2',
      channel_no: o.channel_no ?? '',
      payment_order_no: o.payment_order_no ?? '',
      total_amount: o.total_amount,
      status: 'SUCCESS',
      seller_uid: apps.get(o.appId)!.mchId,
      extra: 'null',
      item_id: '',
      order_id: o.order_id,
      ...override,
    };
  }

  const acked = (res: { status: number; body: Buffer }) => {
    try {
      return res.status === 200 && JSON.parse(res.body.toString('utf8')).err_no === 0;
    } catch {
      return false;
    }
  };

  function deliver(key: string, url: string, body: () => string) {
    const d: Delivery = { key, url, attempts: 0, acked: false };
    void deliverWithRetries(
      d,
      () => transport.request({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: body() }),
      acked,
      delays,
      (x) => log.record(x),
    );
  }

  async function markPaid(o: DyOrder, way: DouyinWay) {
    if (o.status !== 'PROCESSING') return;
    o.status = 'SUCCESS';
    o.way = way;
    o.paid_at = Date.now();
    o.payment_order_no = digits(28);
    o.channel_no = `${way === '1' ? '42' : '20'}${digits(26)}`;
    // every retry is signed afresh (new timestamp and nonce), as a push service would
    if (o.notify_url) deliver(o.out_order_no, o.notify_url, () => buildNotification('payment', paymentMsg(o)).body);
  }

  function settleRefund(o: DyOrder, r: DyRefund) {
    const t = setTimeout(() => {
      timers.delete(t);
      r.status = 'SUCCESS';
      r.refunded_at = Math.floor(Date.now() / 1000);
      const url = r.notify_url || o.notify_url;
      if (!url) return;
      const msg = () => ({
        appid: o.appId,
        cp_refundno: r.out_refund_no,
        cp_extra: r.cp_extra ?? '',
        status: r.status,
        refund_amount: r.amount,
        is_all_settled: false,
        refunded_at: r.refunded_at,
        message: '',
        order_id: o.order_id,
        refund_no: r.refund_no,
      });
      deliver(`refund:${r.out_refund_no}`, url, () => buildNotification('refund', msg()).body);
    }, opts.refundDelayMs ?? 30);
    timers.add(t);
  }

  function cashierPage(o: DyOrder, note = ''): PeerResponse {
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>抖音收银台 (sandbox)</title></head><body>
<h1>抖音收银台 (sandbox)</h1><p id="order">${escapeHtml(o.out_order_no)}</p><p id="subject">${escapeHtml(o.subject)}</p>
<p id="amount">¥${(o.total_amount / 100).toFixed(2)}</p><p id="status">${o.status}</p>${note}
${
  o.status === 'PROCESSING'
    ? `<form method="post" action="/cashier/${o.order_token}/pay"><select name="way"><option value="2">支付宝</option><option value="1">微信支付</option><option value="10">抖音支付</option></select><button id="pay-btn" type="submit">确认支付</button></form>
<form method="post" action="/cashier/${o.order_token}/cancel"><button id="cancel-btn" type="submit">取消</button></form>`
    : ''
}</body></html>`;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }

  const key = (appId: string, no: unknown) => `${appId}|${String(no)}`;

  function handleApi(path: string, b: Record<string, DouyinParam>, app: DouyinApp): PeerResponse {
    switch (path) {
      case DOUYIN_PATHS.createOrder: {
        const { out_order_no, total_amount, subject, body, valid_time } = b;
        if (typeof out_order_no !== 'string' || !OUT_NO.test(out_order_no)) return refuse(path, ERR.param);
        if (typeof total_amount !== 'number' || !Number.isSafeInteger(total_amount) || total_amount <= 0) return refuse(path, ERR.param);
        if (typeof subject !== 'string' || !subject || [...subject].length > 42 || Buffer.byteLength(subject) > 128)
          return refuse(path, ERR.param);
        if (typeof body !== 'string' || !body || [...body].length > 42) return refuse(path, ERR.param);
        if (typeof valid_time !== 'number' || valid_time < 300 || valid_time > 172800) return refuse(path, ERR.param);
        const existing = orders.get(key(app.appId, out_order_no));
        if (existing) {
          // the same order asked again: the same token while unpaid and unchanged
          if (existing.status !== 'PROCESSING' || existing.total_amount !== total_amount)
            return answer(path, { err_no: 2010, err_tips: '订单已存在' });
          return answer(path, { err_no: 0, err_tips: '', data: { order_id: existing.order_id, order_token: existing.order_token } });
        }
        const o: DyOrder = {
          appId: app.appId,
          out_order_no,
          order_id: `N${digits(19)}`,
          order_token: randomBytes(24).toString('base64url'),
          total_amount,
          subject,
          notify_url: typeof b.notify_url === 'string' ? b.notify_url : undefined,
          cp_extra: typeof b.cp_extra === 'string' ? b.cp_extra : undefined,
          expires: Date.now() + valid_time * 1000,
          status: 'PROCESSING',
          refunds: new Map(),
        };
        orders.set(key(app.appId, out_order_no), o);
        byToken.set(o.order_token, o);
        return answer(path, { err_no: 0, err_tips: '', data: { order_id: o.order_id, order_token: o.order_token } });
      }
      case DOUYIN_PATHS.queryOrder: {
        const o = orders.get(key(app.appId, b.out_order_no));
        if (!o) return refuse(path, ERR.notFound);
        if (o.status === 'PROCESSING' && Date.now() > o.expires) o.status = 'TIMEOUT';
        return answer(path, {
          err_no: 0,
          err_tips: 'success',
          out_order_no: o.out_order_no,
          order_id: o.order_id,
          payment_info: {
            total_fee: o.total_amount,
            order_status: o.status,
            pay_time: o.paid_at ? toDateTimeShanghai(o.paid_at) : '',
            way: o.way ? Number(o.way) : 0,
            channel_no: o.channel_no ?? '',
            channel_gateway_no: '',
            seller_uid: app.mchId,
            item_id: '',
            cp_extra: o.cp_extra ?? '',
          },
        });
      }
      case DOUYIN_PATHS.createRefund: {
        const o = orders.get(key(app.appId, b.out_order_no));
        if (!o) return refuse(path, ERR.notFound);
        if (o.status !== 'SUCCESS') return answer(path, { err_no: 2010, err_tips: '订单未支付' });
        const { out_refund_no, refund_amount, reason } = b;
        if (typeof out_refund_no !== 'string' || !OUT_NO.test(out_refund_no) || typeof reason !== 'string' || !reason)
          return refuse(path, ERR.param);
        const known = o.refunds.get(out_refund_no);
        if (known) {
          if (known.amount !== refund_amount) return answer(path, { err_no: 2010, err_tips: '退款单号已存在' });
          return answer(path, { err_no: 0, err_tips: '', refund_no: known.refund_no });
        }
        const refunded = [...o.refunds.values()].filter((r) => r.status !== 'FAIL').reduce((n, r) => n + r.amount, 0);
        if (
          typeof refund_amount !== 'number' ||
          !Number.isSafeInteger(refund_amount) ||
          refund_amount <= 0 ||
          refund_amount > o.total_amount - refunded
        )
          return answer(path, { err_no: 2010, err_tips: '退款金额超过可退金额' });
        const r: DyRefund = {
          out_refund_no,
          refund_no: digits(19),
          amount: refund_amount,
          status: 'PROCESSING',
          notify_url: typeof b.notify_url === 'string' ? b.notify_url : undefined,
          cp_extra: typeof b.cp_extra === 'string' ? b.cp_extra : undefined,
        };
        o.refunds.set(out_refund_no, r);
        settleRefund(o, r);
        return answer(path, { err_no: 0, err_tips: '', refund_no: r.refund_no });
      }
      case DOUYIN_PATHS.queryRefund: {
        const r = [...orders.values()]
          .filter((o) => o.appId === app.appId)
          .map((o) => o.refunds.get(String(b.out_refund_no)))
          .find(Boolean);
        if (!r) return answer(path, { err_no: 2000, err_tips: '退款记录不存在' });
        return answer(path, {
          err_no: 0,
          err_tips: 'success',
          refundInfo: {
            refund_no: r.refund_no,
            refund_amount: r.amount,
            refund_status: r.status,
            refunded_at: r.refunded_at ?? 0,
            is_all_settled: false,
            cp_extra: r.cp_extra ?? '',
            msg: '',
          },
        });
      }
      case DOUYIN_PATHS.queryBalance: {
        if (b.merchant_uid !== app.mchId) return answer(path, { err_no: 2010, err_tips: '商户号无效' });
        if (typeof b.channel_type !== 'string' || !b.channel_type) return refuse(path, ERR.param);
        const online = [...orders.values()]
          .filter((o) => o.appId === app.appId && o.status === 'SUCCESS')
          .reduce(
            (n, o) => n + o.total_amount - [...o.refunds.values()].filter((r) => r.status !== 'FAIL').reduce((m, r) => m + r.amount, 0),
            0,
          );
        return answer(path, {
          err_no: 0,
          err_tips: 'success',
          account_info: { online_balance: online, withdrawable_balacne: balance.withdrawable, freeze_balance: balance.freeze },
          settle_info: { settle_type: 2, settle_account: 'sandbox@example.com', bankcard_no: '', bank_name: '' },
          merchant_entity: 1,
        });
      }
      default:
        return { status: 404, body: JSON.stringify({ err_no: 404, err_tips: 'not found' }) };
    }
  }

  async function handle(req: PeerRequest): Promise<PeerResponse> {
    const cm = /^\/cashier\/([A-Za-z0-9_-]+)(?:\/(pay|cancel))?$/.exec(req.path);
    if (cm) {
      const o = byToken.get(cm[1]);
      if (!o) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'order not found' };
      if (req.method === 'POST' && cm[2] === 'pay') {
        const way = new URLSearchParams(req.body.toString('utf8')).get('way');
        await markPaid(o, way === '1' || way === '10' ? way : '2');
      }
      if (req.method === 'POST' && cm[2] === 'cancel') return cashierPage(o, '<p id="cancelled">已取消</p>');
      return cashierPage(o, o.status === 'SUCCESS' ? '<p id="paid">支付成功</p>' : '');
    }
    if (req.method !== 'POST') return { status: 405, body: '{}' };
    let b: Record<string, DouyinParam>;
    try {
      b = JSON.parse(req.body.toString('utf8'));
      if (!b || typeof b !== 'object' || Array.isArray(b)) throw new Error('not an object');
    } catch {
      return refuse(req.path, ERR.param);
    }
    const app = apps.get(String(b.app_id ?? ''));
    if (!app) return refuse(req.path, ERR.appid);
    if (typeof b.sign !== 'string' || b.sign !== douyinRequestSign(b, app.salt)) return refuse(req.path, ERR.sign);
    return handleApi(req.path, b, app);
  }

  const server = await startLoopbackServer(handle, opts.port ?? 0);
  const find = (no: string) => [...orders.values()].find((o) => o.out_order_no === no);

  return {
    url: server.url,
    async close() {
      for (const t of timers) clearTimeout(t);
      await server.close();
    },
    apps,
    orders,
    order: find,
    calls,
    balance,
    deliveries: log.deliveries,
    waitForDelivery: (k, t) => log.waitFor(k, t),
    buildNotification,
    paymentNotification(no, override) {
      const o = find(no);
      if (!o) throw new Error(`no order ${no}`);
      return buildNotification('payment', paymentMsg(o, override));
    },
    async pay(no, way = '2') {
      const o = find(no);
      if (!o) throw new Error(`no order ${no}`);
      await markPaid(o, way);
    },
    async post(url, body) {
      const res = await transport.request({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body });
      return { status: res.status, body: res.body.toString('utf8') };
    },
  };
}
