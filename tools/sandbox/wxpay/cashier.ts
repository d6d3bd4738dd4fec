/**
 * The payer side of the WeChat Pay sandbox (not part of WeChat; for people, browsers and scripts):
 * the cashier (收银台) page behind `code_url` / `h5_url` (plain HTML, no script, two forms that POST
 * to `/cashier/<id>/pay` and `/cashier/<id>/cancel`; H5: 302 to redirect_url) and the script routes
 * `POST /sandbox/pay {mchid?, out_trade_no, openid?}` and `POST /sandbox/cancel {mchid?, out_trade_no}`.
 */
import { escapeHtml } from '../html';
import type { PeerRequest, PeerResponse } from '../loopback';
import { fenToYuan } from './protocol';
import { isHttpUrl, isObj, WxpaySandboxError, type SandboxOrder, type WxpayState, type WxTradeState } from './state';

export interface CashierView {
  id: string;
  mchid: string;
  description: string;
  total: number;
  tradeType: string;
  state: WxTradeState | 'EXPIRED';
  /** carried through the forms (H5 only) */
  redirectUrl?: string;
  h5: boolean;
  /** message after an action */
  notice?: string;
}

export { escapeHtml };

const STYLE = `
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f2f2f2;color:#333}
.card{max-width:420px;margin:40px auto;background:#fff;border-radius:12px;padding:28px 24px;box-shadow:0 2px 12px rgba(0,0,0,.06)}
.brand{color:#07c160;font-weight:600;font-size:15px;margin-bottom:18px}.sandbox{color:#999;font-weight:400;font-size:12px;margin-left:6px}
.merchant{font-size:14px;color:#666}.desc{margin:6px 0 18px;font-size:15px}
.amount{font-size:36px;font-weight:600;margin:8px 0 24px}.amount small{font-size:20px;margin-right:4px}
.status{padding:12px;border-radius:8px;background:#f7f7f7;text-align:center;margin-bottom:16px}
.status.ok{background:#e9f8ef;color:#07c160}.status.bad{background:#fdecec;color:#e64340}
form{margin:0}button{width:100%;padding:13px;border:0;border-radius:8px;font-size:16px;cursor:pointer;margin-top:10px}
#pay-btn{background:#07c160;color:#fff}#cancel-btn{background:#f2f2f2;color:#333}
.meta{margin-top:18px;font-size:12px;color:#aaa;word-break:break-all}`;

const STATE_TEXT: Record<CashierView['state'], [string, string]> = {
  NOTPAY: ['待支付', ''],
  SUCCESS: ['支付成功', 'ok'],
  REFUND: ['支付成功（已退款）', 'ok'],
  CLOSED: ['订单已关闭', 'bad'],
  PAYERROR: ['支付失败', 'bad'],
  USERPAYING: ['用户支付中', ''],
  REVOKED: ['已撤销', 'bad'],
  EXPIRED: ['订单已过期', 'bad'],
};

export function renderCashier(v: CashierView): string {
  const [stateText, cls] = STATE_TEXT[v.state];
  const hidden = v.redirectUrl ? `<input type="hidden" name="redirect_url" value="${escapeHtml(v.redirectUrl)}">` : '';
  const h5 = v.h5 ? '<input type="hidden" name="h5" value="1">' : '';
  const actions =
    v.state === 'NOTPAY'
      ? `<form method="post" action="/cashier/${encodeURIComponent(v.id)}/pay">${hidden}${h5}<button id="pay-btn" type="submit">确认支付 ¥${fenToYuan(v.total)}</button></form>
<form method="post" action="/cashier/${encodeURIComponent(v.id)}/cancel">${hidden}${h5}<button id="cancel-btn" type="submit">取消支付</button></form>`
      : '';
  const notice = v.notice ? `<div class="status ${cls}" id="notice">${escapeHtml(v.notice)}</div>` : '';
  const status = v.state === 'NOTPAY' && !v.notice ? '' : `<div class="status ${cls}" id="status">${stateText}</div>`;
  return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>微信支付收银台（沙箱）</title><style>${STYLE}</style></head>
<body><div class="card">
<div class="brand">微信支付<span class="sandbox">沙箱环境 · 仅供开发测试</span></div>
<div class="merchant">收款商户：<span id="merchant">沙箱商户 ${escapeHtml(v.mchid)}</span></div>
<div class="desc" id="description">${escapeHtml(v.description)}</div>
<div class="amount" id="amount"><small>¥</small>${fenToYuan(v.total)}</div>
${notice}${v.notice ? '' : status}
${actions}
<div class="meta">交易类型 ${escapeHtml(v.tradeType)}</div>
</div></body></html>`;
}

function cashierView(state: WxpayState, o: SandboxOrder, h5: boolean, redirectUrl?: string, notice?: string): CashierView {
  state.refresh(o);
  return {
    id: o.cashier_id,
    mchid: o.mchid,
    description: o.description,
    total: o.total,
    tradeType: o.trade_type,
    state: o.expired ? 'EXPIRED' : o.trade_state,
    h5,
    redirectUrl: h5 && isHttpUrl(redirectUrl) ? redirectUrl : undefined,
    notice,
  };
}

function html(status: number, body: string): PeerResponse {
  return {
    status,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' },
    body,
  };
}

export function json(status: number, body: unknown): PeerResponse {
  const s = JSON.stringify(body);
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(s)) },
    body: s,
  };
}

/** `/cashier/<id>[/pay|/cancel]` */
export function handleCashier(state: WxpayState, req: PeerRequest): PeerResponse {
  const m = /^\/cashier\/([0-9A-Za-z]+)(?:\/(pay|cancel))?$/.exec(req.path);
  const o = m ? state.byCashierId.get(m[1]) : undefined;
  if (!m || !o) return html(404, '<!DOCTYPE html><meta charset="utf-8"><title>微信支付</title><p id="status">二维码已失效或订单不存在</p>');
  const query = new URL(req.url, 'http://sandbox.invalid').searchParams;
  if (!m[2]) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, body: '' };
    const h5 = query.get('h5') === '1';
    return html(200, renderCashier(cashierView(state, o, h5, query.get('redirect_url') ?? undefined)));
  }
  if (req.method !== 'POST') return { status: 405, body: '' };
  const form = new URLSearchParams(req.body.toString('utf8'));
  const h5 = form.get('h5') === '1';
  const redirectUrl = h5 && isHttpUrl(form.get('redirect_url')) ? (form.get('redirect_url') as string) : undefined;
  let notice: string;
  let status = 200;
  if (m[2] === 'pay') {
    try {
      state.payOrder(o, form.get('openid') || undefined);
      notice = '支付成功';
    } catch (e) {
      notice =
        e instanceof WxpaySandboxError && e.code === 'ORDERPAID'
          ? '该订单已支付'
          : cashierView(state, o, h5).state === 'EXPIRED'
            ? '订单已过期'
            : '订单已关闭，无法支付';
      status = 409;
    }
  } else {
    if (o.trade_state === 'NOTPAY') o.cancelled += 1;
    notice = '已取消支付';
  }
  if (redirectUrl) return { status: 302, headers: { Location: redirectUrl, 'Content-Length': '0' }, body: '' };
  return html(status, renderCashier(cashierView(state, o, h5, undefined, notice)));
}

/** `POST /sandbox/pay` and `POST /sandbox/cancel` (JSON) */
export function handleScript(state: WxpayState, req: PeerRequest): PeerResponse {
  let b: unknown;
  try {
    b = JSON.parse(req.body.toString('utf8') || '{}');
  } catch {
    return json(400, { code: 'PARAM_ERROR', message: 'invalid JSON' });
  }
  if (!isObj(b) || typeof b.out_trade_no !== 'string') return json(400, { code: 'PARAM_ERROR', message: 'out_trade_no required' });
  try {
    const o = state.findOrder(b.out_trade_no, typeof b.mchid === 'string' ? b.mchid : undefined);
    if (!o) return json(404, { code: 'ORDER_NOT_EXIST', message: '订单不存在' });
    if (req.path === '/sandbox/pay') state.payOrder(o, typeof b.openid === 'string' ? b.openid : undefined);
    else state.cancelOrder(o);
    return json(200, { out_trade_no: o.out_trade_no, trade_state: o.trade_state, transaction_id: o.transaction_id });
  } catch (e) {
    const code = e instanceof WxpaySandboxError ? e.code : 'SYSTEM_ERROR';
    return json(400, { code, message: (e as Error).message });
  }
}
