/**
 * VksPay sandbox peer: `POST /api` with the `method` field, MD5 sign checked on every call
 * (return_code FAIL otherwise), a cashier page at the `qrcode` URL (`#pay-btn`, `#cancel-btn`),
 * and the form-encoded notification `out_trade_no=…&…` POSTed to notify_url on payment, retried
 * until the plugin answers `{"code":"SUCCESS"}`. Response/notification fields beyond those the adapter
 * documents (providers/vkspay/index.ts) are invented for the sandbox and marked as such.
 */
import { randomBytes } from 'node:crypto';
import { vksPaySign, VksPayValue } from '../../../uni_modules/vk-uni-pay/server/providers/vkspay';
import { startLoopbackServer, nodeTransport, deliveryLog, deliverWithRetries, PeerRequest, PeerResponse, Delivery } from '../loopback';

export interface VksMerchant {
  mchId: string;
  key: string;
  /** send the notification body base64 encoded */
  base64Notify?: boolean;
}

export interface VksPaySandboxOptions {
  port?: number;
  merchants: VksMerchant[];
  notifyRetryDelaysMs?: number[];
}

interface VksOrder {
  mchId: string;
  out_trade_no: string;
  total_fee: number;
  subject?: string;
  notify_url?: string;
  return_url?: string;
  status: 'NOTPAY' | 'PAID' | 'CLOSED';
  pay_time?: number;
  token: string;
  refunded: number;
  refunds: Map<string, number>;
}

export interface VksPaySandbox {
  url: string;
  close(): Promise<void>;
  /** pays an order as if the payer pressed #pay-btn; sends the notification */
  pay(out_trade_no: string): Promise<void>;
  orders: Map<string, VksOrder>;
  deliveries: Delivery[];
  waitForDelivery(out_trade_no: string, timeoutMs?: number): Promise<Delivery>;
  /** sends one notification (also for unpaid/unknown orders: forged hints); returns the reply */
  notify(out_trade_no: string, fields?: Record<string, string>, url?: string): Promise<{ status: number; body: string }>;
  /** calls seen: method and return_code */
  calls: Array<{ method: string; return_code: string }>;
}

const cents = (yuan: number) => Math.round(yuan * 100);

export async function startVksPaySandbox(opts: VksPaySandboxOptions): Promise<VksPaySandbox> {
  const merchants = new Map(opts.merchants.map((m) => [m.mchId, m]));
  const orders = new Map<string, VksOrder>();
  const byToken = new Map<string, VksOrder>();
  const log = deliveryLog();
  const calls: VksPaySandbox['calls'] = [];
  const transport = nodeTransport();
  const delays = opts.notifyRetryDelaysMs ?? [20, 50, 100, 200];
  let url = '';

  const reply = (method: string, o: Record<string, unknown>): PeerResponse => {
    calls.push({ method, return_code: String(o.return_code) });
    return { status: 200, body: JSON.stringify(o) };
  };
  const FAIL = (method: string, msg: string) => reply(method, { return_code: 'FAIL', return_msg: msg });

  function formOf(o: VksOrder, extra: Record<string, string> = {}): string {
    // invented fields besides out_trade_no (the demo reads only out_trade_no)
    const f: Record<string, string> = {
      out_trade_no: o.out_trade_no,
      merchantno: o.mchId,
      total_fee: (o.total_fee / 100).toFixed(2),
      trade_status: 'SUCCESS',
      ...extra,
    };
    return Object.entries(f)
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
  }

  async function sendNotification(target: string, form: string, base64: boolean) {
    const body = base64 ? Buffer.from(form).toString('base64') : form;
    return transport.request({ method: 'POST', url: target, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  }

  async function markPaid(o: VksOrder) {
    if (o.status !== 'NOTPAY') return;
    o.status = 'PAID';
    o.pay_time = Date.now();
    if (!o.notify_url) return;
    const m = merchants.get(o.mchId)!;
    const d: Delivery = { key: o.out_trade_no, url: o.notify_url, attempts: 0, acked: false };
    const form = formOf(o);
    void deliverWithRetries(
      d,
      () => sendNotification(o.notify_url!, form, !!m.base64Notify),
      (res) => {
        try {
          return res.status === 200 && JSON.parse(res.body.toString('utf8')).code === 'SUCCESS';
        } catch {
          return false;
        }
      },
      delays,
      (x) => log.record(x),
    );
  }

  function cashierPage(o: VksOrder, note = ''): PeerResponse {
    const yuan = (o.total_fee / 100).toFixed(2);
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>VksPay 收银台</title></head><body>
<h1>VksPay 收银台 (sandbox)</h1><p id="order">${o.out_trade_no}</p><p id="amount">¥${yuan}</p><p id="status">${o.status}</p>${note}
${
  o.status === 'NOTPAY'
    ? `<form method="post" action="/cashier/${o.token}/pay"><button id="pay-btn" type="submit">确认支付</button></form>
<form method="post" action="/cashier/${o.token}/cancel"><button id="cancel-btn" type="submit">取消</button></form>`
    : ''
}
${o.return_url ? `<a id="return-link" href="${o.return_url}">返回商户</a>` : ''}
</body></html>`;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }

  async function handle(req: PeerRequest): Promise<PeerResponse> {
    const cm = /^\/cashier\/([a-f0-9]+)(?:\/(pay|cancel))?$/.exec(req.path);
    if (cm) {
      const o = byToken.get(cm[1]);
      if (!o) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'order not found' };
      if (req.method === 'POST' && cm[2] === 'pay') await markPaid(o);
      if (req.method === 'POST' && cm[2] === 'cancel') return cashierPage(o, '<p id="cancelled">已取消</p>');
      return cashierPage(o, o.status === 'PAID' ? '<p id="paid">支付成功</p>' : '');
    }
    if (req.path !== '/api' || req.method !== 'POST') return { status: 404, body: '{}' };
    let b: Record<string, VksPayValue>;
    try {
      b = JSON.parse(req.body.toString('utf8'));
    } catch {
      return FAIL('?', 'invalid json');
    }
    const method = String(b.method ?? '');
    const m = merchants.get(String(b.merchantno ?? ''));
    if (!m) return FAIL(method, 'merchantno not found');
    if (typeof b.sign !== 'string' || b.sign !== vksPaySign(b, m.key)) return FAIL(method, 'sign error');
    if (!/^[1-9]{8}$/.test(String(b.signaturenonce)) || typeof b.timestamp !== 'number' || b.version !== '2.0')
      return FAIL(method, 'param error');
    if (Math.abs(Date.now() / 1000 - b.timestamp) > 300) return FAIL(method, 'timestamp expired');
    const key = (no: unknown) => `${m.mchId}|${String(no)}`;
    switch (method) {
      case 'webpay':
      case 'micropay': {
        if (typeof b.total_fee !== 'number' || !(b.total_fee > 0) || cents(b.total_fee) / 100 !== b.total_fee)
          return FAIL(method, 'total_fee invalid');
        const no =
          typeof b.out_trade_no === 'string' && b.out_trade_no ? b.out_trade_no : `VKS${Date.now()}${randomBytes(3).toString('hex')}`;
        let o = orders.get(key(no));
        if (o && (o.total_fee !== cents(b.total_fee) || o.status !== 'NOTPAY')) return FAIL(method, 'out_trade_no already used');
        if (!o) {
          o = {
            mchId: m.mchId,
            out_trade_no: no,
            total_fee: cents(b.total_fee),
            subject: b.subject as string | undefined,
            notify_url: b.notify_url as string | undefined,
            return_url: b.return_url as string | undefined,
            status: 'NOTPAY',
            token: randomBytes(12).toString('hex'),
            refunded: 0,
            refunds: new Map(),
          };
          orders.set(key(no), o);
          byToken.set(o.token, o);
        }
        if (method === 'micropay') {
          if (!/^\d{18}$/.test(String(b.auth_code ?? ''))) return FAIL(method, 'auth_code invalid');
          await markPaid(o);
          return reply(method, { return_code: 'SUCCESS', return_msg: '支付成功', data: { out_trade_no: no, total_fee: b.total_fee } });
        }
        return reply(method, { return_code: 'SUCCESS', return_msg: 'OK', data: { out_trade_no: no, qrcode: `${url}/cashier/${o.token}` } });
      }
      case 'orderquery': {
        const o = orders.get(key(b.out_trade_no));
        if (!o) return FAIL(method, '订单不存在');
        if (o.status !== 'PAID') return FAIL(method, '订单未支付');
        return reply(method, {
          return_code: 'SUCCESS',
          return_msg: '支付成功',
          data: { out_trade_no: o.out_trade_no, total_fee: o.total_fee / 100, pay_time: o.pay_time },
        });
      }
      case 'orderrefund': {
        const o = orders.get(key(b.out_trade_no));
        if (!o || o.status !== 'PAID') return FAIL(method, '订单未支付');
        if (typeof b.refund_fee !== 'number' || !(b.refund_fee > 0) || cents(b.refund_fee) > o.total_fee - o.refunded)
          return FAIL(method, 'refund_fee invalid');
        const rno = typeof b.out_refund_no === 'string' && b.out_refund_no ? b.out_refund_no : `R${m.mchId}-${Date.now()}`;
        if (o.refunds.has(rno)) return FAIL(method, 'out_refund_no already used');
        o.refunds.set(rno, cents(b.refund_fee));
        o.refunded += cents(b.refund_fee);
        return reply(method, { return_code: 'SUCCESS', return_msg: '退款成功', out_refund_no: rno });
      }
      case 'orderrefundquery': {
        const o = orders.get(key(b.out_trade_no));
        const fee = o?.refunds.get(String(b.out_refund_no));
        if (fee === undefined) return FAIL(method, '退款不存在');
        return reply(method, {
          return_code: 'SUCCESS',
          return_msg: '退款成功',
          data: { out_refund_no: b.out_refund_no, refund_fee: fee / 100 },
        });
      }
      default:
        return FAIL(method, 'method not supported');
    }
  }

  const server = await startLoopbackServer(handle, opts.port ?? 0);
  url = server.url;
  const find = (no: string) => [...orders.values()].find((o) => o.out_trade_no === no);

  return {
    url,
    close: server.close,
    orders,
    calls,
    deliveries: log.deliveries,
    waitForDelivery: (no, t) => log.waitFor(no, t),
    async pay(no) {
      const o = find(no);
      if (!o) throw new Error(`no order ${no}`);
      await markPaid(o);
    },
    async notify(no, fields = {}, target) {
      const o = find(no);
      const to = target ?? o?.notify_url;
      if (!to) throw new Error('no notify_url for this order; pass one');
      const form = o
        ? formOf(o, fields)
        : Object.entries({ out_trade_no: no, ...fields })
            .map(([k, v]) => `${k}=${v}`)
            .join('&');
      const res = await sendNotification(to, form, !!(o && merchants.get(o.mchId)?.base64Notify));
      return { status: res.status, body: res.body.toString('utf8') };
    },
  };
}
