/**
 * Alipay sandbox gateway (dev and tests only): a loopback `gateway.do` that checks the merchant's
 * RSA2 request signatures (and cert SNs in certificate mode), answers like Alipay (inner
 * `…_response` text built first, `/` escaped as `\/`, signed with the sandbox's Alipay key), keeps
 * trades in memory, serves a small cashier page for 当面付 QR codes and posts signed asynchronous
 * notifications with retries, and issues single-use auth codes for `alipay.system.oauth.token`.
 * All times are Beijing time whatever the host TZ.
 */
import http from 'node:http';
import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { generateRsaKeyPair, issueCertificate, type Issued } from '../pki';
import { beijing, certSn, fenToYuanText, parseBeijing, rootCertSn, rsa2Sign, rsa2Verify, signString, yuanToFenStrict } from './crypto';

export { certSn, rootCertSn } from './crypto';

export interface AlipaySandboxApp {
  appId: string;
  /** PKCS#8; the merchant's app private key */
  appPrivateKeyPem: string;
  appPublicKeyPem: string;
  /** Alipay's signing key pair */
  alipayPrivateKeyPem: string;
  alipayPublicKeyPem: string;
  certMode: boolean;
  /** cert mode: PEMs for appCertContent / alipayPublicCertContent / alipayRootCertContent */
  appCert?: Issued;
  alipayCert?: Issued;
  rootCert?: Issued;
  /** cert mode: a root bundle like Alipay's (the RSA root plus an EC root that SN rules skip) */
  rootBundlePem?: string;
}

let appSeq = 0;

export async function createAlipayApp(opts: { appId?: string; certMode?: boolean } = {}): Promise<AlipaySandboxApp> {
  const appId = opts.appId ?? `20210001${String(Date.now() % 1e6).padStart(6, '0')}${String(appSeq++ % 100).padStart(2, '0')}`;
  if (!opts.certMode) {
    const [app, ali] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
    return {
      appId,
      appPrivateKeyPem: app.privateKeyPem,
      appPublicKeyPem: app.publicKeyPem,
      alipayPrivateKeyPem: ali.privateKeyPem,
      alipayPublicKeyPem: ali.publicKeyPem,
      certMode: false,
    };
  }
  const rootCert = await issueCertificate({
    subject: 'CN=Alipay Sandbox Root CA, OU=Certification Authority, O=Alipay Sandbox, C=CN',
    isCa: true,
  });
  const ecRoot = await issueCertificate({
    subject: 'CN=Alipay Sandbox SM2 Stand-in Root, O=Alipay Sandbox, C=CN',
    isCa: true,
    keyType: 'ec',
  });
  const [alipayCert, appCert] = await Promise.all([
    issueCertificate({ subject: 'CN=支付宝(中国)网络技术有限公司-沙箱, OU=Alipay OpenAPI, O=Alipay Sandbox, C=CN', issuer: rootCert }),
    issueCertificate({ subject: `CN=${appId}, OU=Alipay OpenAPI, O=Sandbox Merchant, C=CN`, issuer: rootCert }),
  ]);
  return {
    appId,
    appPrivateKeyPem: appCert.keyPem,
    appPublicKeyPem: appCert.publicKeyPem,
    alipayPrivateKeyPem: alipayCert.keyPem,
    alipayPublicKeyPem: alipayCert.publicKeyPem,
    certMode: true,
    appCert,
    alipayCert,
    rootCert,
    rootBundlePem: rootCert.certPem + ecRoot.certPem,
  };
}

export interface AlipayDelivery {
  out_trade_no: string;
  attempt: number;
  status: number | 'error';
  body?: string;
  at: number;
  /** what was posted (form body) */
  payload?: string;
}

export interface AlipayGatewayRequest {
  at: number;
  method: string;
  app_id: string;
  /** all params (query + body), decoded */
  params: Record<string, string>;
  /** parsed biz_content */
  biz: Record<string, any>;
  /** the raw response text */
  response: string;
}

export interface AlipaySandboxOrder {
  app_id: string;
  out_trade_no: string;
  trade_no: string;
  via: 'precreate' | 'create' | 'app';
  total_fen: number;
  total_amount: string;
  subject: string;
  body?: string;
  product_code?: string;
  notify_url?: string;
  passback_params?: string;
  buyer_id?: string;
  buyer_open_id?: string;
  op_app_id?: string;
  trade_status: 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED' | 'TRADE_FINISHED';
  /** a precreate trade exists at Alipay only once scanned (cashier opened) */
  scanned: boolean;
  canceled: boolean;
  time_expire?: number;
  gmt_create: number;
  gmt_payment?: number;
  gmt_close?: number;
  refunded_fen: number;
  refunds: Array<{ out_request_no: string; fen: number; at: number }>;
  cashier_id?: string;
}

export interface AlipaySandbox {
  /** base; gateway = url + '/gateway.do' */
  url: string;
  gateway: string;
  close(): Promise<void>;
  pay(out_trade_no: string, opts?: { appId?: string; buyer_id?: string }): Promise<void>;
  /** the buyer gives up in the cashier: nothing changes at Alipay (still WAIT_BUYER_PAY), no notification */
  cancel(out_trade_no: string): Promise<void>;
  order(out_trade_no: string): AlipaySandboxOrder | undefined;
  deliveries: AlipayDelivery[];
  /** resolves once a delivery for the order matches (default: acknowledged with `success`) */
  waitForDelivery(out_trade_no: string, predicate?: (d: AlipayDelivery) => boolean, timeoutMs?: number): Promise<void>;
  /** build a signed notification form body as the gateway would (tests tamper with it) */
  buildNotification(appId: string, fields: Record<string, string>): string;
  /** post a partial-refund notice (TRADE_SUCCESS + refund_fee/gmt_refund/out_biz_no) to the pay notify_url */
  sendRefundNotice(out_trade_no: string, refund_fee_fen: number): Promise<void>;
  /** what the Alipay App does with an `alipay.trade.app.pay` order string: verify it and create the trade */
  submitAppOrder(orderStr: string): Promise<{ trade_no: string; out_trade_no: string }>;
  /** every gateway call, in order (tests inspect what reached the gateway) */
  requests: AlipayGatewayRequest[];
  /**
   * What my.getAuthCode / the web authorisation redirect hands the client: a single-use auth code
   * for `alipay.system.oauth.token` (bound to `appId`, default the first app) and the ids it maps to.
   */
  issueAuthCode(opts?: { user_id?: string; open_id?: string; appId?: string }): { code: string; user_id: string; open_id: string };
}

export interface AlipaySandboxOptions {
  apps: AlipaySandboxApp[];
  port?: number;
  retryDelaysMs?: number[];
  now?: () => number;
  quiet?: boolean;
  /** also post a refund notice after each successful alipay.trade.refund (Alipay does, on the pay URL) */
  refundNotify?: boolean;
}

const SELLER_ID = '2088000000000001';
const DEFAULT_RETRY = [1000, 2000, 5000, 15000, 30000];

interface Failure {
  code: string;
  msg: string;
  sub_code: string;
  sub_msg: string;
}

const fail = (code: string, msg: string, sub_code: string, sub_msg: string): Failure => ({ code, msg, sub_code, sub_msg });
const MISSING = (what: string) => fail('40001', 'Missing Required Arguments', `isv.missing-${what}`, `缺少必选参数 ${what}`);
const BIZ = (sub_code: string, sub_msg: string) => fail('40004', 'Business Failed', sub_code, sub_msg);
const INVALID_PARAM = (sub_msg: string) => BIZ('ACQ.INVALID_PARAMETER', sub_msg);

function parseForm(text: string, into: Record<string, string>): void {
  for (const seg of text.split('&')) {
    if (!seg) continue;
    const eq = seg.indexOf('=');
    const k = decodeURIComponent((eq < 0 ? seg : seg.slice(0, eq)).replace(/\+/g, ' '));
    const v = eq < 0 ? '' : decodeURIComponent(seg.slice(eq + 1).replace(/\+/g, ' '));
    into[k] = v;
  }
}

function formEncode(fields: Record<string, string>): string {
  return Object.keys(fields)
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(fields[k])}`)
    .join('&');
}

/** Alipay's JSON: `/` escaped as `\/` */
function alipayJson(obj: unknown): string {
  return JSON.stringify(obj).replace(/\//g, '\\/');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function postForm(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'Mozilla/4.0 (Alipay sandbox notify)',
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function startAlipaySandbox(opts: AlipaySandboxOptions): Promise<AlipaySandbox> {
  const now = opts.now ?? Date.now;
  const retry = opts.retryDelaysMs ?? DEFAULT_RETRY;
  const log = (...a: unknown[]) => {
    if (!opts.quiet) console.log('[alipay-sandbox]', ...a);
  };
  const apps = new Map(opts.apps.map((a) => [a.appId, a]));
  const sns = new Map(
    opts.apps
      .filter((a) => a.certMode)
      .map((a) => [
        a.appId,
        {
          app: certSn(a.appCert!.certPem),
          alipay: certSn(a.alipayCert!.certPem),
          root: rootCertSn(a.rootBundlePem ?? a.rootCert!.certPem),
        },
      ]),
  );
  const orders = new Map<string, AlipaySandboxOrder>(); // key app_id|out_trade_no
  const byCashier = new Map<string, AlipaySandboxOrder>();
  const deliveries: AlipayDelivery[] = [];
  const requests: AlipayGatewayRequest[] = [];
  const authCodes = new Map<string, { appId: string; user_id: string; open_id: string }>(); // unused codes only
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  let base = '';

  const key = (appId: string, no: string) => `${appId}|${no}`;
  const newTradeNo = () =>
    `${beijing(now()).replace(/\D/g, '').slice(0, 8)}22001${String(randomInt(1e9)).padStart(10, '0')}${String(randomInt(1e4)).padStart(4, '0')}`.slice(
      0,
      28,
    );

  function findOrder(no: string, appId?: string): AlipaySandboxOrder | undefined {
    if (appId) return orders.get(key(appId, no));
    for (const o of orders.values()) if (o.out_trade_no === no) return o;
    return undefined;
  }

  /** expiry is applied lazily, whenever a trade is looked at */
  function refresh(o: AlipaySandboxOrder): AlipaySandboxOrder {
    if (o.trade_status === 'WAIT_BUYER_PAY' && o.time_expire !== undefined && now() >= o.time_expire) {
      o.trade_status = 'TRADE_CLOSED';
      o.gmt_close = o.time_expire;
    }
    return o;
  }

  function signedResponse(app: AlipaySandboxApp | undefined, responseKey: string, obj: Record<string, unknown>): string {
    const inner = alipayJson(obj);
    if (!app) return `{"${responseKey}":${inner}}`;
    const sign = rsa2Sign(inner, app.alipayPrivateKeyPem);
    const sn = sns.get(app.appId);
    return `{"${responseKey}":${inner}${sn ? `,"alipay_cert_sn":"${sn.alipay}"` : ''},"sign":"${sign}"}`;
  }

  function buildNotification(appId: string, fields: Record<string, string>): string {
    const app = apps.get(appId);
    if (!app) throw new Error(`unknown app ${appId}`);
    const f: Record<string, string> = { ...fields };
    if (!f.sign_type) f.sign_type = 'RSA2';
    delete f.sign;
    f.sign = rsa2Sign(signString(f, true), app.alipayPrivateKeyPem);
    return formEncode(f);
  }

  function notificationFields(o: AlipaySandboxOrder): Record<string, string> {
    const t = now();
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
      auth_app_id: o.app_id,
      seller_id: SELLER_ID,
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

  function deliver(o: AlipaySandboxOrder, payload: string, attempt = 1): void {
    if (closed || !o.notify_url) return;
    const url = o.notify_url;
    postForm(url, payload).then(
      (r) => record(r.status, r.body),
      () => record('error'),
    );
    function record(status: number | 'error', body?: string) {
      if (closed) return;
      const d: AlipayDelivery = { out_trade_no: o.out_trade_no, attempt, status, body, at: now(), payload };
      deliveries.push(d);
      events.emit('delivery', d);
      log(`notify ${o.out_trade_no} attempt ${attempt} → ${status} ${JSON.stringify(body ?? '')}`);
      if (body === 'success') return; // only this exact body acknowledges
      const delay = retry[attempt - 1];
      if (delay === undefined) return;
      const t = setTimeout(() => {
        timers.delete(t);
        deliver(o, payload, attempt + 1);
      }, delay);
      timers.add(t);
    }
  }

  function markPaid(o: AlipaySandboxOrder, buyer_id?: string): void {
    refresh(o);
    if (o.trade_status !== 'WAIT_BUYER_PAY') throw new Error(o.trade_status === 'TRADE_CLOSED' ? '订单已关闭或已过期' : '订单已支付');
    o.scanned = true;
    if (buyer_id) o.buyer_id = buyer_id;
    if (!o.buyer_id && !o.buyer_open_id)
      o.buyer_id = `2088${String(randomInt(1e6)).padStart(6, '0')}${String(randomInt(1e6)).padStart(6, '0')}`;
    o.trade_status = 'TRADE_SUCCESS';
    o.gmt_payment = now();
    log(`paid ${o.out_trade_no} ${o.total_amount}`);
    deliver(o, buildNotification(o.app_id, notificationFields(o)));
  }

  // ---------------------------------------------------------------- gateway methods
  type Handler = (app: AlipaySandboxApp, biz: Record<string, any>, params: Record<string, string>) => Record<string, unknown> | Failure;

  function newTrade(
    app: AlipaySandboxApp,
    biz: Record<string, any>,
    params: Record<string, string>,
    via: AlipaySandboxOrder['via'],
  ): AlipaySandboxOrder | Failure {
    if (!biz.out_trade_no) return MISSING('out-trade-no');
    if (typeof biz.out_trade_no !== 'string' || biz.out_trade_no.length > 64) return INVALID_PARAM('out_trade_no 无效');
    const fen = yuanToFenStrict(biz.total_amount);
    if (fen === undefined) return INVALID_PARAM('total_amount 无效（单位元，两位小数，范围 0.01-100000000）');
    if (!biz.subject) return MISSING('subject');
    let time_expire: number | undefined;
    if (biz.time_expire !== undefined) {
      time_expire = parseBeijing(String(biz.time_expire));
      if (time_expire === undefined) return INVALID_PARAM('time_expire 格式应为 yyyy-MM-dd HH:mm:ss');
    }
    const existing = orders.get(key(app.appId, biz.out_trade_no));
    if (existing) {
      refresh(existing);
      if (existing.trade_status === 'TRADE_SUCCESS' || existing.trade_status === 'TRADE_FINISHED')
        return BIZ('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
      if (existing.trade_status === 'TRADE_CLOSED') return BIZ('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (existing.total_fen !== fen || existing.via !== via) return BIZ('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      return existing;
    }
    const o: AlipaySandboxOrder = {
      app_id: app.appId,
      out_trade_no: biz.out_trade_no,
      trade_no: newTradeNo(),
      via,
      total_fen: fen,
      total_amount: fenToYuanText(fen),
      subject: String(biz.subject),
      body: biz.body ? String(biz.body) : undefined,
      product_code: biz.product_code,
      notify_url: params.notify_url || undefined,
      passback_params: biz.passback_params,
      trade_status: 'WAIT_BUYER_PAY',
      scanned: via !== 'precreate',
      canceled: false,
      time_expire,
      gmt_create: now(),
      refunded_fen: 0,
      refunds: [],
    };
    orders.set(key(app.appId, o.out_trade_no), o);
    return o;
  }

  const isFailure = (x: unknown): x is Failure =>
    !!x && typeof x === 'object' && 'sub_code' in x && 'code' in x && (x as Failure).code !== '10000';

  function lookup(app: AlipaySandboxApp, biz: Record<string, any>, needScanned: boolean): AlipaySandboxOrder | Failure {
    if (!biz.out_trade_no && !biz.trade_no) return MISSING('out-trade-no');
    let o = biz.out_trade_no ? orders.get(key(app.appId, biz.out_trade_no)) : undefined;
    if (!o && biz.trade_no) for (const x of orders.values()) if (x.app_id === app.appId && x.trade_no === biz.trade_no) o = x;
    if (!o || (needScanned && !o.scanned)) return BIZ('ACQ.TRADE_NOT_EXIST', '交易不存在');
    return refresh(o);
  }

  const handlers: Record<string, Handler> = {
    'alipay.trade.precreate'(app, biz, params) {
      const o = newTrade(app, biz, params, 'precreate');
      if (isFailure(o)) return o;
      if (!o.cashier_id) {
        o.cashier_id = randomBytes(12).toString('hex');
        byCashier.set(o.cashier_id, o);
      }
      return { code: '10000', msg: 'Success', out_trade_no: o.out_trade_no, qr_code: `${base}/cashier/${o.cashier_id}` };
    },
    'alipay.trade.create'(app, biz, params) {
      const buyer = biz.buyer_id || biz.buyer_open_id || biz.op_buyer_open_id;
      if (!buyer) return INVALID_PARAM('buyer_id、buyer_open_id 和 op_buyer_open_id 不能同时为空');
      if (biz.buyer_id && !/^2088\d{12}$/.test(String(biz.buyer_id)))
        return INVALID_PARAM('buyer_id 无效（应为 2088 开头的 16 位支付宝用户号）');
      const o = newTrade(app, biz, params, 'create');
      if (isFailure(o)) return o;
      o.buyer_id = biz.buyer_id;
      o.buyer_open_id = biz.buyer_open_id || biz.op_buyer_open_id;
      o.op_app_id = biz.op_app_id;
      return { code: '10000', msg: 'Success', out_trade_no: o.out_trade_no, trade_no: o.trade_no };
    },
    'alipay.trade.query'(app, biz) {
      const o = lookup(app, biz, true);
      if (isFailure(o)) return o;
      const paid = o.gmt_payment !== undefined;
      const r: Record<string, unknown> = {
        code: '10000',
        msg: 'Success',
        buyer_logon_id: 'sbx***@alipay.test',
        buyer_pay_amount: paid ? o.total_amount : '0.00',
        invoice_amount: paid ? o.total_amount : '0.00',
        out_trade_no: o.out_trade_no,
        point_amount: '0.00',
        receipt_amount: paid ? o.total_amount : '0.00',
        total_amount: o.total_amount,
        trade_no: o.trade_no,
        trade_status: o.trade_status,
      };
      if (paid) {
        r.send_pay_date = beijing(o.gmt_payment!);
        r.fund_bill_list = [{ amount: o.total_amount, fund_channel: 'ALIPAYACCOUNT' }];
      }
      if (o.buyer_id) r.buyer_user_id = o.buyer_id;
      if (o.buyer_open_id) r.buyer_open_id = o.buyer_open_id;
      return r;
    },
    'alipay.trade.close'(app, biz) {
      const o = lookup(app, biz, true);
      if (isFailure(o)) return o;
      if (o.trade_status === 'TRADE_CLOSED') return BIZ('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (o.trade_status !== 'WAIT_BUYER_PAY') return BIZ('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      o.trade_status = 'TRADE_CLOSED';
      o.gmt_close = now();
      return { code: '10000', msg: 'Success', out_trade_no: o.out_trade_no, trade_no: o.trade_no };
    },
    'alipay.trade.refund'(app, biz) {
      const o = lookup(app, biz, true);
      if (isFailure(o)) return o;
      const fen = yuanToFenStrict(biz.refund_amount);
      if (fen === undefined) return INVALID_PARAM('refund_amount 无效');
      const reqNo = String(biz.out_request_no || o.out_trade_no);
      const prior = o.refunds.find((r) => r.out_request_no === reqNo);
      const head = { out_trade_no: o.out_trade_no, trade_no: o.trade_no, buyer_logon_id: 'sbx***@alipay.test', buyer_user_id: o.buyer_id };
      if (prior) {
        if (prior.fen !== fen) return BIZ('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额与同一退款请求号的原退款金额不一致');
        return {
          code: '10000',
          msg: 'Success',
          ...head,
          fund_change: 'N',
          refund_fee: fenToYuanText(o.refunded_fen),
          gmt_refund_pay: beijing(prior.at),
        };
      }
      if (o.trade_status === 'TRADE_CLOSED') return BIZ('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (o.trade_status !== 'TRADE_SUCCESS') return BIZ('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      if (fen > o.total_fen - o.refunded_fen) return BIZ('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
      const at = now();
      o.refunds.push({ out_request_no: reqNo, fen, at });
      o.refunded_fen += fen;
      if (o.refunded_fen === o.total_fen) {
        o.trade_status = 'TRADE_CLOSED';
        o.gmt_close = at;
      }
      if (opts.refundNotify) void sendRefundNoticeFor(o, fen, reqNo, at);
      return {
        code: '10000',
        msg: 'Success',
        ...head,
        fund_change: 'Y',
        refund_fee: fenToYuanText(o.refunded_fen),
        gmt_refund_pay: beijing(at),
      };
    },
    // answers only with the token fields (no code/msg) on success, like Alipay; failures go out as error_response
    'alipay.system.oauth.token'(app, _biz, params) {
      if (!params.grant_type) return MISSING('grant-type');
      if (params.grant_type !== 'authorization_code')
        return fail('40002', 'Invalid Arguments', 'isv.grant-type-invalid', '不支持的grantType');
      if (!params.code) return MISSING('code');
      const c = authCodes.get(params.code);
      if (!c || c.appId !== app.appId) return fail('40002', 'Invalid Arguments', 'isv.code-invalid', '授权码code无效');
      authCodes.delete(params.code); // single use
      return {
        access_token: `authusrB${randomBytes(16).toString('hex')}`,
        expires_in: 1296000,
        refresh_token: `authusrB${randomBytes(16).toString('hex')}`,
        re_expires_in: 2592000,
        auth_start: beijing(now()),
        user_id: c.user_id,
        open_id: c.open_id,
      };
    },
    'alipay.trade.fastpay.refund.query'(app, biz) {
      const o = lookup(app, biz, true);
      if (isFailure(o)) return o;
      const reqNo = String(biz.out_request_no || o.out_trade_no);
      const r = o.refunds.find((x) => x.out_request_no === reqNo);
      if (!r) return { code: '10000', msg: 'Success', out_trade_no: o.out_trade_no, trade_no: o.trade_no, out_request_no: reqNo };
      return {
        code: '10000',
        msg: 'Success',
        out_trade_no: o.out_trade_no,
        trade_no: o.trade_no,
        out_request_no: reqNo,
        total_amount: o.total_amount,
        refund_amount: fenToYuanText(r.fen),
        refund_status: 'REFUND_SUCCESS',
        gmt_refund_pay: beijing(r.at),
      };
    },
  };

  async function sendRefundNoticeFor(o: AlipaySandboxOrder, fen: number, reqNo: string, at: number): Promise<void> {
    const f = notificationFields(o);
    f.refund_fee = fenToYuanText(fen);
    f.gmt_refund = `${beijing(at)}.000`;
    f.out_biz_no = reqNo;
    f.trade_status = o.refunded_fen >= o.total_fen ? 'TRADE_CLOSED' : 'TRADE_SUCCESS';
    deliver(o, buildNotification(o.app_id, f));
  }

  /** request signature and common-parameter checks shared by gateway.do and app order strings */
  function checkRequest(params: Record<string, string>): { app?: AlipaySandboxApp; failure?: Failure; biz?: Record<string, any> } {
    const app = apps.get(params.app_id);
    if (!params.app_id) return { failure: MISSING('app-id') };
    if (!app) return { failure: fail('40002', 'Invalid Arguments', 'isv.invalid-app-id', '无效的AppID参数') };
    if (!params.method) return { app, failure: MISSING('method') };
    if (!params.sign) return { app, failure: MISSING('signature') };
    if (!params.sign_type) return { app, failure: MISSING('signature-type') };
    if (params.sign_type !== 'RSA2')
      return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-signature-type', '无效的签名类型') };
    if (!params.timestamp || parseBeijing(params.timestamp) === undefined)
      return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-timestamp', '非法的时间戳参数') };
    if (params.charset && params.charset.toLowerCase() !== 'utf-8')
      return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-charset', '字符集错误') };
    const content = signString(params, false);
    if (!rsa2Verify(content, params.sign, app.appPublicKeyPem)) {
      return {
        app,
        failure: fail(
          '40002',
          'Invalid Arguments',
          'isv.invalid-signature',
          `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content}`,
        ),
      };
    }
    const sn = sns.get(app.appId);
    if (sn) {
      if (!params.app_cert_sn) return { app, failure: MISSING('app-cert-sn') };
      if (params.app_cert_sn !== sn.app)
        return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-app-cert-sn', '应用公钥证书序列号不匹配') };
      if (!params.alipay_root_cert_sn) return { app, failure: MISSING('alipay-root-cert-sn') };
      if (params.alipay_root_cert_sn !== sn.root)
        return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-alipay-root-cert-sn', '支付宝根证书序列号不匹配') };
    }
    let biz: Record<string, any> = {};
    if (params.biz_content) {
      try {
        biz = JSON.parse(params.biz_content);
      } catch {
        return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-biz-content', 'biz_content 不是合法的 JSON') };
      }
      if (!biz || typeof biz !== 'object' || Array.isArray(biz))
        return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-biz-content', 'biz_content 不是 JSON 对象') };
    }
    return { app, biz };
  }

  function gateway(params: Record<string, string>): string {
    const method = params.method || '';
    const responseKey = method && handlers[method] ? `${method.replace(/\./g, '_')}_response` : 'error_response';
    const { app, failure, biz } = checkRequest(params);
    let text: string;
    if (failure) {
      // unknown app: nothing to sign with (Alipay sends such errors unsigned too)
      text = signedResponse(failure.sub_code === 'isv.invalid-app-id' ? undefined : app, 'error_response', { ...failure });
    } else if (!handlers[method]) {
      text = signedResponse(app, 'error_response', { ...fail('40002', 'Invalid Arguments', 'isv.invalid-method', '不存在的方法名') });
    } else {
      const r = handlers[method](app!, biz!, params);
      const asError = method === 'alipay.system.oauth.token' && isFailure(r);
      text = signedResponse(app, asError ? 'error_response' : responseKey, r as Record<string, unknown>);
    }
    requests.push({ at: now(), method, app_id: params.app_id, params, biz: biz ?? {}, response: text });
    log(`${method} ${params.app_id} → ${text.length > 200 ? text.slice(0, 200) + '…' : text}`);
    return text;
  }

  // ---------------------------------------------------------------- cashier
  function cashierPage(o: AlipaySandboxOrder): string {
    refresh(o);
    const expired =
      o.trade_status === 'TRADE_CLOSED' && o.gmt_payment === undefined && o.time_expire !== undefined && o.gmt_close === o.time_expire;
    let state: string;
    if (o.trade_status === 'TRADE_SUCCESS' || o.trade_status === 'TRADE_FINISHED') state = '<p id="state" class="ok">支付成功</p>';
    else if (expired) state = '<p id="state" class="bad">订单已过期</p>';
    else if (o.trade_status === 'TRADE_CLOSED') state = '<p id="state" class="bad">交易已关闭</p>';
    else state = `<p id="state">${o.canceled ? '已取消支付，可重新支付' : '待支付'}</p>`;
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
${state}
${open ? '<button id="pay-btn" type="button">确认付款</button><button id="cancel-btn" type="button">取消</button>' : ''}
<script>
function act(a){fetch(location.pathname+'/'+a,{method:'POST'}).then(function(r){return r.text()}).then(function(t){document.getElementById('state').textContent=t;
if(a==='pay'){var b=document.getElementById('pay-btn');if(b)b.remove();var c=document.getElementById('cancel-btn');if(c)c.remove();}})}
var p=document.getElementById('pay-btn');if(p)p.onclick=function(){act('pay')};
var c=document.getElementById('cancel-btn');if(c)c.onclick=function(){act('cancel')};
</script></body></html>`;
  }

  // ---------------------------------------------------------------- HTTP server
  const server = http.createServer(async (req, res) => {
    try {
      const u = new URL(req.url || '/', 'http://sandbox');
      const send = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': `${type}; charset=utf-8` });
        res.end(body);
      };
      if (u.pathname === '/gateway.do' && (req.method === 'POST' || req.method === 'GET')) {
        const params: Record<string, string> = {};
        parseForm(u.search.slice(1), params);
        const raw = await readBody(req);
        if (raw.length) parseForm(raw.toString('utf8'), params);
        return send(200, 'text/html', gateway(params)); // Alipay's content type for gateway.do JSON
      }
      const m = /^\/cashier\/([0-9a-f]+)(?:\/(pay|cancel))?$/.exec(u.pathname);
      if (m) {
        const o = byCashier.get(m[1]);
        if (!o) return send(404, 'text/plain', '二维码无效');
        if (!m[2] && req.method === 'GET') {
          o.scanned = true; // the buyer scanned: the trade now exists at Alipay
          return send(200, 'text/html', cashierPage(o));
        }
        if (m[2] && req.method === 'POST') {
          try {
            if (m[2] === 'pay') {
              markPaid(o);
              return send(200, 'text/plain', '支付成功');
            }
            await api.cancel(o.out_trade_no);
            return send(200, 'text/plain', '已取消支付');
          } catch (e) {
            return send(
              409,
              'text/plain',
              refresh(o).trade_status === 'TRADE_CLOSED' && o.gmt_close === o.time_expire ? '订单已过期' : (e as Error).message,
            );
          }
        }
      }
      send(404, 'text/plain', 'not found');
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String((e as Error).message));
    }
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : opts.port}`;
  log(`listening on ${base}/gateway.do`);

  const api: AlipaySandbox = {
    url: base,
    gateway: `${base}/gateway.do`,
    deliveries,
    requests,
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    async pay(out_trade_no, o = {}) {
      const order = findOrder(out_trade_no, o.appId);
      if (!order) throw new Error(`no order ${out_trade_no}`);
      markPaid(order, o.buyer_id);
    },
    async cancel(out_trade_no) {
      const order = findOrder(out_trade_no);
      if (!order) throw new Error(`no order ${out_trade_no}`);
      refresh(order);
      if (order.trade_status !== 'WAIT_BUYER_PAY') throw new Error(order.trade_status === 'TRADE_CLOSED' ? '交易已关闭' : '订单已支付');
      order.scanned = true;
      order.canceled = true;
    },
    order(out_trade_no) {
      const o = findOrder(out_trade_no);
      return o ? refresh(o) : undefined;
    },
    waitForDelivery(out_trade_no, predicate = (d) => d.body === 'success', timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const match = (d: AlipayDelivery) => d.out_trade_no === out_trade_no && predicate(d);
        if (deliveries.some(match)) return resolve();
        const on = (d: AlipayDelivery) => {
          if (!match(d)) return;
          clearTimeout(t);
          events.off('delivery', on);
          resolve();
        };
        const t = setTimeout(() => {
          events.off('delivery', on);
          reject(new Error(`no matching Alipay notification delivery for ${out_trade_no} within ${timeoutMs} ms`));
        }, timeoutMs);
        events.on('delivery', on);
      });
    },
    buildNotification,
    async sendRefundNotice(out_trade_no, refund_fee_fen) {
      const o = findOrder(out_trade_no);
      if (!o) throw new Error(`no order ${out_trade_no}`);
      await sendRefundNoticeFor(o, refund_fee_fen, `${out_trade_no}-refund-${o.refunds.length + 1}`, now());
    },
    issueAuthCode(o = {}) {
      const appId = o.appId ?? opts.apps[0]?.appId;
      if (!appId || !apps.has(appId)) throw new Error(`unknown app ${appId}`);
      const code = randomBytes(16).toString('hex');
      const user_id = o.user_id ?? `2088${String(randomInt(1e6)).padStart(6, '0')}${String(randomInt(1e6)).padStart(6, '0')}`;
      const open_id = o.open_id ?? `0${randomBytes(24).toString('base64url')}`;
      authCodes.set(code, { appId, user_id, open_id });
      return { code, user_id, open_id };
    },
    async submitAppOrder(orderStr) {
      const params: Record<string, string> = {};
      parseForm(orderStr, params);
      const { app, failure, biz } = checkRequest(params);
      if (failure) throw new Error(`${failure.sub_code}: ${failure.sub_msg}`);
      if (params.method !== 'alipay.trade.app.pay') throw new Error(`not an app pay order string: ${params.method}`);
      const o = newTrade(app!, biz!, params, 'app');
      if (isFailure(o)) throw new Error(`${o.sub_code}: ${o.sub_msg}`);
      requests.push({ at: now(), method: params.method, app_id: params.app_id, params, biz: biz!, response: '' });
      return { trade_no: o.trade_no, out_trade_no: o.out_trade_no };
    },
  };
  return api;
}
