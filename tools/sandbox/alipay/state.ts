/**
 * Alipay sandbox state: apps (keys, certificate SNs), trades, single-use auth codes and the
 * gateway call log, with the trade rules shared by the gateway methods and the cashier (lazy
 * expiry, payment, the buyer's cancel).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { generateRsaKeyPair, issueCertificate, type Issued } from '../pki';
import { beijing, certSn, rootCertSn } from './crypto';
import type { AlipayAuthorization } from './isv';
import type { StatementTweaks } from '../statements';

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
  /** service-provider (ISV) app: the merchants that authorised it, by app_auth_token (isv.ts) */
  authorizations?: Record<string, AlipayAuthorization>;
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
  /** pay: a bar-code trade (alipay.trade.pay, codepay.ts) */
  via: 'precreate' | 'create' | 'app' | 'pay';
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
  /** ISV mode: the token of the merchant the trade was created for */
  app_auth_token?: string;
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
  /** fund transfers (transfer.ts) */
  transfers: import('./transfer').AlipayTransfers;
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
  /** make the next statements disagree with what the sandbox recorded (tests) */
  statements: StatementTweaks;
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

export const randomUserId = () => `2088${String(randomInt(1e6)).padStart(6, '0')}${String(randomInt(1e6)).padStart(6, '0')}`;

const key = (appId: string, no: string) => `${appId}|${no}`;

export class AlipayState {
  readonly apps: Map<string, AlipaySandboxApp>;
  /** cert mode apps: the SNs requests must carry and responses name */
  readonly sns: Map<string, { app: string; alipay: string; root: string }>;
  readonly orders = new Map<string, AlipaySandboxOrder>(); // key app_id|out_trade_no
  readonly byCashier = new Map<string, AlipaySandboxOrder>();
  readonly requests: AlipayGatewayRequest[] = [];
  readonly authCodes = new Map<string, { appId: string; user_id: string; open_id: string }>(); // unused codes only
  /** set once listening (QR codes) */
  baseUrl = '';
  /** called after each payment (notification delivery) */
  onPaid: (o: AlipaySandboxOrder) => void = () => {};

  constructor(
    appList: AlipaySandboxApp[],
    readonly now: () => number,
    readonly log: (...a: unknown[]) => void,
  ) {
    this.apps = new Map(appList.map((a) => [a.appId, a]));
    this.sns = new Map(
      appList
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
  }

  newTradeNo(): string {
    return `${beijing(this.now()).replace(/\D/g, '').slice(0, 8)}22001${String(randomInt(1e9)).padStart(10, '0')}${String(randomInt(1e4)).padStart(4, '0')}`.slice(
      0,
      28,
    );
  }

  order(appId: string, no: string): AlipaySandboxOrder | undefined {
    return this.orders.get(key(appId, no));
  }

  addOrder(o: AlipaySandboxOrder): void {
    this.orders.set(key(o.app_id, o.out_trade_no), o);
  }

  findOrder(no: string, appId?: string): AlipaySandboxOrder | undefined {
    if (appId) return this.orders.get(key(appId, no));
    for (const o of this.orders.values()) if (o.out_trade_no === no) return o;
    return undefined;
  }

  /** expiry is applied lazily, whenever a trade is looked at */
  refresh(o: AlipaySandboxOrder): AlipaySandboxOrder {
    if (o.trade_status === 'WAIT_BUYER_PAY' && o.time_expire !== undefined && this.now() >= o.time_expire) {
      o.trade_status = 'TRADE_CLOSED';
      o.gmt_close = o.time_expire;
    }
    return o;
  }

  markPaid(o: AlipaySandboxOrder, buyer_id?: string): void {
    this.refresh(o);
    if (o.trade_status !== 'WAIT_BUYER_PAY') throw new Error(o.trade_status === 'TRADE_CLOSED' ? '订单已关闭或已过期' : '订单已支付');
    o.scanned = true;
    if (buyer_id) o.buyer_id = buyer_id;
    if (!o.buyer_id && !o.buyer_open_id) o.buyer_id = randomUserId();
    o.trade_status = 'TRADE_SUCCESS';
    o.gmt_payment = this.now();
    this.log(`paid ${o.out_trade_no} ${o.total_amount}`);
    this.onPaid(o);
  }

  /** the buyer gives up in the cashier: nothing changes at Alipay (still WAIT_BUYER_PAY), no notification */
  cancel(out_trade_no: string): void {
    const order = this.findOrder(out_trade_no);
    if (!order) throw new Error(`no order ${out_trade_no}`);
    this.refresh(order);
    if (order.trade_status !== 'WAIT_BUYER_PAY') throw new Error(order.trade_status === 'TRADE_CLOSED' ? '交易已关闭' : '订单已支付');
    order.scanned = true;
    order.canceled = true;
  }

  issueAuthCode(o: { user_id?: string; open_id?: string; appId?: string }, defaultAppId: string | undefined) {
    const appId = o.appId ?? defaultAppId;
    if (!appId || !this.apps.has(appId)) throw new Error(`unknown app ${appId}`);
    const code = randomBytes(16).toString('hex');
    const user_id = o.user_id ?? randomUserId();
    const open_id = o.open_id ?? `0${randomBytes(24).toString('base64url')}`;
    this.authCodes.set(code, { appId, user_id, open_id });
    return { code, user_id, open_id };
  }
}
