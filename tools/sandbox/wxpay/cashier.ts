/**
 * The sandbox cashier (收银台) page behind `code_url` / `h5_url`: plain HTML, no script, two forms
 * that POST to `/cashier/<id>/pay` and `/cashier/<id>/cancel`.
 */
import { fenToYuan } from './protocol';

export interface CashierView {
  id: string;
  mchid: string;
  description: string;
  total: number;
  tradeType: string;
  state: 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'REFUND' | 'PAYERROR' | 'EXPIRED';
  /** carried through the forms (H5 only) */
  redirectUrl?: string;
  h5: boolean;
  /** message after an action */
  notice?: string;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

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
