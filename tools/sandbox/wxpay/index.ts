/**
 * WeChat Pay gateway simulator on loopback (dev and tests only): behaves like
 * api.mch.weixin.qq.com with real signatures.
 *
 * Routes (describe()):
 *   v3 (JSON; requests must carry a valid `Authorization: WECHATPAY2-SHA256-RSA2048 …`; every answer,
 *       errors included, is signed with the WeChat-side key chosen by the merchant's signMode)
 *     POST /v3/pay/transactions/jsapi|app|h5|native            → 200 {prepay_id} | {h5_url} | {code_url}
 *     GET  /v3/pay/transactions/out-trade-no/{no}?mchid=       → 200 Transaction | 404 ORDER_NOT_EXIST
 *     GET  /v3/pay/transactions/id/{transaction_id}?mchid=     → 200 Transaction | 404 ORDER_NOT_EXIST
 *     POST /v3/pay/transactions/out-trade-no/{no}/close        → 204
 *     POST /v3/refund/domestic/refunds                         → 200 Refund (SUCCESS; PROCESSING while holdRefunds)
 *     GET  /v3/refund/domestic/refunds/{out_refund_no}         → 200 Refund | 404 RESOURCE_NOT_EXISTS
 *     POST /v3/pay/transactions/codepay                        → 200 Transaction | 202 USERPAYING | 403 NOT_ENOUGH (codepay.ts)
 *     POST /v3/pay/transactions/out-trade-no/{no}/reverse      → 200 (closes; a paid trade is refunded)
 *     GET  /v3/certificates                                    → 200 {data:[{serial_no, …, encrypt_certificate}]}
 *   v3 service provider (服务商; partner.ts): the signer is the service provider (sp_mchid), each order a sub-merchant's
 *     POST /v3/pay/partner/transactions/jsapi|app|h5|native    body sp_appid, sp_mchid, sub_mchid, sub_appid?, payer.sp_openid|sub_openid
 *     GET  /v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid=&sub_mchid=   (and /id/{transaction_id})
 *     POST /v3/pay/partner/transactions/out-trade-no/{no}/close  body {sp_mchid, sub_mchid} → 204
 *     refunds: body sub_mchid; refund query ?sub_mchid=. Notifications carry sp_/sub_ ids and payer.sp_openid|sub_openid.
 *     GET  /v3/bill/tradebill|fundflowbill?bill_date=…         → 200 {hash_type, hash_value, download_url} | 400 NO_STATEMENT_EXIST
 *     GET  /v3/billdownload/file?token=                        → the bill file (unsigned; statements.ts)
 *   v2 (XML, sign_type MD5 | HMAC-SHA256 with the apiV2Key)
 *     POST /pay/unifiedorder, /pay/orderquery, /pay/closeorder
 *   payer side (not part of WeChat; for people, browsers and scripts)
 *     GET  /cashier/{id}[?h5=1[&redirect_url=…]]               cashier page (#pay-btn, #cancel-btn)
 *     POST /cashier/{id}/pay, /cashier/{id}/cancel             form posts of that page (H5: 302 to redirect_url)
 *     POST /sandbox/pay    {mchid?, out_trade_no, openid?}     pay an order (JSAPI/APP/any)
 *     POST /sandbox/cancel {mchid?, out_trade_no}              payer cancels (order stays NOTPAY)
 *   merchant transfer (user-confirm mode) and its payee confirm page: transfer.ts
 *
 * Notifications: on payment the order's notify_url gets a v3 TRANSACTION.SUCCESS (v3 orders) or the
 * v2 XML notify (v2 orders), retried per `retryDelaysMs` until acknowledged (v3: HTTP 200/204;
 * v2: HTTP 200 with return_code SUCCESS).
 *
 * Refund notifications: when a refund reaches its final state (at once, or finishRefund for a held
 * one), REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED goes to the refund's notify_url, signed
 * and encrypted like payment notifications, retried until acknowledged.
 *
 * Not simulated: the request timestamp window (not checked), v2 refunds (mutual TLS), legacy batch
 * transfers, rate limits.
 *
 * Files: state.ts (merchants, orders, refunds), v3.ts, v2.ts, cashier.ts (payer side), notify.ts
 * (notification delivery), protocol.ts (wire primitives), testkit.ts (client side for tests).
 */
import { startLoopbackServer, type PeerRequest, type PeerResponse } from '../loopback';
import { handleCashier, handleScript, json } from './cashier';
import { wxpayNotifications } from './notify';
import { WxpaySandboxError, WxpayState, type WxpaySandbox, type WxpaySandboxOptions } from './state';
import { handleV2, V2_PATHS } from './v2';
import { codepayRoutes } from './codepay';
import { v3Handler } from './v3';
import { wxpayTransfers } from './transfer';
import { wxpayStatements } from './statements';

export { v2Sign, toXml, parseXml, aesGcmEncrypt, aesGcmDecrypt, rfc3339Beijing, compactBeijing } from './protocol';
export type { V2SignType, EncryptedResource } from './protocol';
export { createWxpayMerchant, WxpaySandboxError } from './state';
export type {
  WxSignMode,
  WxpaySandboxMerchant,
  WxpaySandboxSubMerchant,
  SandboxPartner,
  WxTradeState,
  WxTradeType,
  SandboxOrder,
  SandboxRefund,
  WxpayDelivery,
  WxpaySandboxOptions,
  WxpaySandbox,
} from './state';

export async function startWxpaySandbox(opts: WxpaySandboxOptions): Promise<WxpaySandbox> {
  const log = (...a: unknown[]) => {
    if (!opts.quiet) console.log('[wxpay-sandbox]', ...a);
  };
  const state = new WxpayState(opts.merchants, opts.now ?? (() => Date.now()), log);
  const notifications = wxpayNotifications(state, opts.retryDelaysMs);
  // codepay trades carry no notify_url: WeChat sends no notification for them
  state.onPaid = (o) => {
    if (o.notify_url) notifications.startDelivery(o);
  };
  const transfers = wxpayTransfers(state, notifications.deliverEvent);
  const statements = wxpayStatements(state);
  state.onRefundFinal = notifications.refundDelivery;
  const handleV3 = v3Handler(state, statements, [...transfers.routes, ...codepayRoutes(state)]);

  function route(req: PeerRequest): PeerResponse {
    if (req.path.startsWith('/v3/')) return handleV3(req);
    if (V2_PATHS.includes(req.path)) {
      if (req.method !== 'POST') return { status: 405, body: '' };
      const xml = handleV2(state, req.path, req.body);
      log('POST', req.path);
      return {
        status: 200,
        headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(xml)) },
        body: xml,
      };
    }
    if (req.path.startsWith('/cashier/')) return handleCashier(state, req);
    const payee = transfers.handlePayee(req);
    if (payee) return payee;
    if ((req.path === '/sandbox/pay' || req.path === '/sandbox/cancel') && req.method === 'POST') return handleScript(state, req);
    return json(404, { code: 'NOT_FOUND', message: 'no such route' });
  }

  const server = await startLoopbackServer(
    (req) => {
      try {
        return route(req);
      } catch (e) {
        log('error', e);
        return json(500, { code: 'SYSTEM_ERROR', message: '系统错误' });
      }
    },
    { port: opts.port, host: opts.host, maxBodyBytes: 1 << 20 },
  );
  state.baseUrl = server.url;
  log('listening on', server.url);

  let closed = false;
  return {
    url: server.url,
    ...notifications.api,
    async close() {
      if (closed) return;
      closed = true;
      notifications.close();
      await server.close();
    },
    async pay(no, o = {}) {
      const order = state.findOrder(no, o.mchid);
      if (!order) throw new WxpaySandboxError('ORDER_NOT_EXIST', `no order ${no}`);
      state.payOrder(order, o.openid);
    },
    async cancel(no, o = {}) {
      const order = state.findOrder(no, o.mchid);
      if (!order) throw new WxpaySandboxError('ORDER_NOT_EXIST', `no order ${no}`);
      state.cancelOrder(order);
    },
    transfers,
    statements: statements.tweaks,
    order: (no, mchid) => state.findOrder(no, mchid),
    refund: (outRefundNo, mchid) => state.refund(outRefundNo, mchid),
    holdRefunds(hold) {
      state.holdRefunds = hold;
    },
    finishRefund: (outRefundNo, status, o = {}) => state.finishRefund(outRefundNo, status, o.mchid),
    refundNotice(outRefundNo, mchid) {
      const r = state.refund(outRefundNo, mchid);
      return r ? notifications.refundNotice(r) : undefined;
    },
  };
}
