/**
 * Alipay sandbox gateway (dev and tests only): a loopback `gateway.do` that checks the merchant's
 * RSA2 request signatures (and cert SNs in certificate mode), answers like Alipay (inner
 * `…_response` text built first, `/` escaped as `\/`, signed with the sandbox's Alipay key), keeps
 * trades in memory, serves a small cashier page for 当面付 QR codes and posts signed asynchronous
 * notifications with retries, and issues single-use auth codes for `alipay.system.oauth.token`.
 * All times are Beijing time whatever the host TZ.
 *
 * Files: state.ts (apps, trades, auth codes), gateway.ts (gateway.do methods), transfer.ts (fund transfers), cashier.ts, statements.ts (对账单),
 * notify.ts (notification delivery), crypto.ts (the sandbox's own RSA2 and SNs), testkit.ts.
 */
import { startLoopbackServer, type PeerRequest, type PeerResponse } from '../loopback';
import { handleCashier } from './cashier';
import { codepayMethods } from './codepay';
import { alipayGateway, parseForm } from './gateway';
import { alipayNotifications } from './notify';
import { alipayTransfers } from './transfer';
import { alipayStatements } from './statements';
import { AlipayState, type AlipaySandbox, type AlipaySandboxOptions } from './state';

export { certSn, rootCertSn } from './crypto';
export { createAlipayApp } from './state';
export type {
  AlipaySandboxApp,
  AlipayDelivery,
  AlipayGatewayRequest,
  AlipaySandboxOrder,
  AlipaySandbox,
  AlipaySandboxOptions,
} from './state';

export async function startAlipaySandbox(opts: AlipaySandboxOptions): Promise<AlipaySandbox> {
  const log = (...a: unknown[]) => {
    if (!opts.quiet) console.log('[alipay-sandbox]', ...a);
  };
  const state = new AlipayState(opts.apps, opts.now ?? Date.now, log);
  const notifications = alipayNotifications(state, opts.retryDelaysMs);
  state.onPaid = notifications.paymentNotice;
  const transfers = alipayTransfers(state);
  const statements = alipayStatements(state);
  const { gateway, submitAppOrder } = alipayGateway(state, {
    refundNotify: opts.refundNotify,
    refundNotice: notifications.refundNotice,
    extraHandlers: transfers.handlers,
    statements,
    extraMethods: (kit) => codepayMethods(state, kit),
  });

  function route(req: PeerRequest): PeerResponse {
    const send = (status: number, type: string, body: string): PeerResponse => ({
      status,
      headers: { 'content-type': `${type}; charset=utf-8` },
      body,
    });
    if (req.path === '/gateway.do' && (req.method === 'POST' || req.method === 'GET')) {
      const params: Record<string, string> = {};
      const q = req.url.indexOf('?');
      parseForm(q < 0 ? '' : req.url.slice(q + 1), params);
      if (req.body.length) parseForm(req.body.toString('utf8'), params);
      return send(200, 'text/html', gateway(params)); // Alipay's content type for gateway.do JSON
    }
    if (req.path === '/downloadBillFile.resource' && req.method === 'GET') return statements.download(req.query);
    return handleCashier(state, req) ?? send(404, 'text/plain', 'not found');
  }

  const server = await startLoopbackServer((req) => {
    try {
      return route(req);
    } catch (e) {
      return { status: 500, headers: { 'content-type': 'text/plain' }, body: String((e as Error).message) };
    }
  }, opts.port ?? 0);
  state.baseUrl = server.url;
  log(`listening on ${server.url}/gateway.do`);

  return {
    url: server.url,
    gateway: `${server.url}/gateway.do`,
    ...notifications.api,
    requests: state.requests,
    transfers,
    statements: statements.tweaks,
    async close() {
      notifications.close();
      await server.close();
    },
    async pay(out_trade_no, o = {}) {
      const order = state.findOrder(out_trade_no, o.appId);
      if (!order) throw new Error(`no order ${out_trade_no}`);
      state.markPaid(order, o.buyer_id);
    },
    async cancel(out_trade_no) {
      state.cancel(out_trade_no);
    },
    order(out_trade_no) {
      const o = state.findOrder(out_trade_no);
      return o ? state.refresh(o) : undefined;
    },
    async sendRefundNotice(out_trade_no, refund_fee_fen) {
      const o = state.findOrder(out_trade_no);
      if (!o) throw new Error(`no order ${out_trade_no}`);
      notifications.refundNotice(o, refund_fee_fen, `${out_trade_no}-refund-${o.refunds.length + 1}`, state.now());
    },
    issueAuthCode: (o = {}) => state.issueAuthCode(o, opts.apps[0]?.appId),
    async submitAppOrder(orderStr) {
      return submitAppOrder(orderStr);
    },
  };
}
