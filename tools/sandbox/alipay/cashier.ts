/**
 * Alipay sandbox cashier: the page behind a 当面付 `qr_code` (opening it is the buyer's scan: the
 * trade then exists at Alipay), with `#pay-btn` / `#cancel-btn` posting to `/cashier/<id>/pay|cancel`.
 */
import type { PeerRequest, PeerResponse } from '../loopback';
import { escapeHtml } from '../html';
import type { AlipaySandboxOrder, AlipayState } from './state';

function text(status: number, type: string, body: string): PeerResponse {
  return { status, headers: { 'content-type': `${type}; charset=utf-8` }, body };
}

function cashierPage(state: AlipayState, o: AlipaySandboxOrder): string {
  state.refresh(o);
  const expired =
    o.trade_status === 'TRADE_CLOSED' && o.gmt_payment === undefined && o.time_expire !== undefined && o.gmt_close === o.time_expire;
  let status: string;
  if (o.trade_status === 'TRADE_SUCCESS' || o.trade_status === 'TRADE_FINISHED') status = '<p id="state" class="ok">支付成功</p>';
  else if (expired) status = '<p id="state" class="bad">订单已过期</p>';
  else if (o.trade_status === 'TRADE_CLOSED') status = '<p id="state" class="bad">交易已关闭</p>';
  else status = `<p id="state">${o.canceled ? '已取消支付，可重新支付' : '待支付'}</p>`;
  const open = o.trade_status === 'WAIT_BUYER_PAY';
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>支付宝沙箱收银台</title>
<style>body{font-family:sans-serif;max-width:420px;margin:40px auto;text-align:center}#amount{font-size:32px;margin:16px 0}
button{font-size:18px;padding:10px 24px;margin:6px}#pay-btn{background:#1677ff;color:#fff;border:0;border-radius:6px}.ok{color:#1a7f37}.bad{color:#cf222e}</style></head>
<body><h1>支付宝沙箱收银台</h1>
<p id="subject">${escapeHtml(o.subject)}</p>
<p id="amount">￥${o.total_amount}</p>
<p>订单号：<span id="out-trade-no">${escapeHtml(o.out_trade_no)}</span></p>
${status}
${open ? '<button id="pay-btn" type="button">确认付款</button><button id="cancel-btn" type="button">取消</button>' : ''}
<script>
function act(a){fetch(location.pathname+'/'+a,{method:'POST'}).then(function(r){return r.text()}).then(function(t){document.getElementById('state').textContent=t;
if(a==='pay'){var b=document.getElementById('pay-btn');if(b)b.remove();var c=document.getElementById('cancel-btn');if(c)c.remove();}})}
var p=document.getElementById('pay-btn');if(p)p.onclick=function(){act('pay')};
var c=document.getElementById('cancel-btn');if(c)c.onclick=function(){act('cancel')};
</script></body></html>`;
}

/** `/cashier/<id>[/pay|/cancel]`; undefined when the path is not a cashier path */
export function handleCashier(state: AlipayState, req: PeerRequest): PeerResponse | undefined {
  const m = /^\/cashier\/([0-9a-f]+)(?:\/(pay|cancel))?$/.exec(req.path);
  if (!m) return undefined;
  const o = state.byCashier.get(m[1]);
  if (!o) return text(404, 'text/plain', '二维码无效');
  if (!m[2] && req.method === 'GET') {
    o.scanned = true; // the buyer scanned: the trade now exists at Alipay
    return text(200, 'text/html', cashierPage(state, o));
  }
  if (m[2] && req.method === 'POST') {
    try {
      if (m[2] === 'pay') {
        state.markPaid(o);
        return text(200, 'text/plain', '支付成功');
      }
      state.cancel(o.out_trade_no);
      return text(200, 'text/plain', '已取消支付');
    } catch (e) {
      return text(
        409,
        'text/plain',
        state.refresh(o).trade_status === 'TRADE_CLOSED' && o.gmt_close === o.time_expire ? '订单已过期' : (e as Error).message,
      );
    }
  }
  return undefined;
}
