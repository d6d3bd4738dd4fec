/**
 * WeChat Pay sandbox state: merchants (keys and signers), orders and refunds, and the order rules
 * shared by the v3 and v2 routes and the cashier (idempotent placement, lazy expiry, payment).
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { issueCertificate, generateRsaKeyPair, type Issued } from '../pki';
import type { StatementTweaks } from '../statements';
import { compactBeijing, digits, nonceStr, rsaSign, v3ResponseMessage, type V2SignType } from './protocol';

// ---------------------------------------------------------------------------------------------
// Public types

export type WxSignMode = 'platform-cert' | 'public-key' | 'migrating';

export interface WxpaySandboxMerchant {
  mchid: string;
  /** app ids bound to the merchant (mini program, App, official account) */
  appids: string[];
  /** 32 ASCII chars */
  apiV3Key: string;
  /** 32 chars */
  apiV2Key: string;
  /** merchant API certificate + private key (apiclient_cert.pem / apiclient_key.pem) */
  merchant: Issued;
  /** WeChat platform certificate + key */
  platform: Issued;
  /** `PUB_KEY_ID_01…` (WeChat Pay public-key mode) */
  publicKeyId: string;
  publicKey: { privateKeyPem: string; publicKeyPem: string };
  signMode: WxSignMode;
  /** service-provider (服务商) mode: the sub-merchants (特约商户) bound to this merchant, with their app ids */
  subMerchants?: WxpaySandboxSubMerchant[];
}

export interface WxpaySandboxSubMerchant {
  sub_mchid: string;
  /** app ids bound to the sub-merchant (sub_appid) */
  appids: string[];
}

/** an order placed through `/v3/pay/partner/...`: `mchid`/`appid` of the order are the service provider's */
export interface SandboxPartner {
  sub_mchid: string;
  sub_appid?: string;
  /** which app the payer's openid belongs to (payer.sp_openid or payer.sub_openid) */
  openid_kind: 'sp' | 'sub';
}

export type WxTradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'REFUND' | 'PAYERROR' | 'USERPAYING' | 'REVOKED';
/** MICROPAY: codepay (codepay.ts) */
export type WxTradeType = 'JSAPI' | 'APP' | 'MWEB' | 'NATIVE' | 'MICROPAY';

export interface SandboxOrder {
  /** protocol the order was created with; notifications follow it */
  protocol: 'v3' | 'v2';
  mchid: string;
  appid: string;
  out_trade_no: string;
  trade_type: WxTradeType;
  description: string;
  attach?: string;
  notify_url: string;
  /** fen */
  total: number;
  currency: 'CNY';
  /** JSAPI: from the request; others: set on payment */
  openid?: string;
  /** epoch ms */
  time_expire?: number;
  create_time: number;
  trade_state: WxTradeState;
  /** closed because time_expire passed */
  expired: boolean;
  transaction_id?: string;
  success_time?: number;
  prepay_id: string;
  code_url?: string;
  h5_url?: string;
  /** id in `/cashier/<id>` */
  cashier_id: string;
  /** fen refunded so far */
  refunded: number;
  /** times the payer pressed cancel in the cashier */
  cancelled: number;
  /** v2 only */
  sign_type?: V2SignType;
  device_info?: string;
  /** the request body as received (parsed) */
  request: Record<string, unknown>;
  /** service-provider order */
  partner?: SandboxPartner;
}

export interface SandboxRefund {
  mchid: string;
  out_refund_no: string;
  refund_id: string;
  out_trade_no: string;
  transaction_id: string;
  refund: number;
  total: number;
  reason?: string;
  funds_account?: string;
  create_time: number;
  success_time: number;
  fingerprint: string;
  /** service-provider refund: the order's sub-merchant */
  sub_mchid?: string;
  /** PROCESSING while held (holdRefunds), then final; SUCCESS at once otherwise */
  status: 'SUCCESS' | 'PROCESSING' | 'ABNORMAL' | 'CLOSED';
  /** where the REFUND.* notification goes (the request's notify_url) */
  notify_url?: string;
}

export interface WxpayDelivery {
  out_trade_no: string;
  /** 1-based */
  attempt: number;
  /** HTTP status of the merchant's answer, or 'error' (connection refused, timeout …) */
  status: number | 'error';
  /** sandbox clock, epoch ms */
  at: number;
  mchid: string;
  protocol: 'v3' | 'v2';
  acknowledged: boolean;
  /** `Wechatpay-Serial` used (v3) */
  serial?: string;
  /** TRANSACTION.SUCCESS, REFUND.SUCCESS, … */
  event?: string;
}

export interface WxpaySandboxOptions {
  merchants: WxpaySandboxMerchant[];
  /** 0 = ephemeral */
  port?: number;
  host?: string;
  /** notification retry schedule; default [1000, 2000, 5000, 15000, 30000] */
  retryDelaysMs?: number[];
  now?: () => number;
  quiet?: boolean;
}

export interface WxpaySandbox {
  /** base URL, e.g. http://127.0.0.1:PORT (use as the plugin's gateway) */
  url: string;
  close(): Promise<void>;
  /** the payer pays (JSAPI/APP/any); starts notification delivery */
  pay(out_trade_no: string, opts?: { mchid?: string; openid?: string }): Promise<void>;
  /** payer cancels in the cashier (order stays NOTPAY) */
  cancel(out_trade_no: string, opts?: { mchid?: string }): Promise<void>;
  order(out_trade_no: string, mchid?: string): SandboxOrder | undefined;
  refund(out_refund_no: string, mchid?: string): SandboxRefund | undefined;
  /** merchant transfers (transfer.ts): bills, the payee's confirmation, expiry */
  transfers: import('./transfer').WxpayTransfers;
  /** notification delivery log */
  /** new refunds answer PROCESSING and wait for finishRefund (as WeChat does for most refunds) */
  holdRefunds(hold: boolean): void;
  /**
   * A held refund reaches its final state: SUCCESS, or ABNORMAL / CLOSED (the amount is refundable
   * again); its REFUND.<status> notification is sent to the refund's notify_url (retried).
   */
  finishRefund(out_refund_no: string, status: 'SUCCESS' | 'ABNORMAL' | 'CLOSED', opts?: { mchid?: string }): void;
  /** notification delivery log (refund notifications are logged under their out_refund_no, `event` REFUND.*) */
  deliveries: WxpayDelivery[];
  /** make the next statements disagree with what the sandbox recorded (tests) */
  statements: StatementTweaks;
  /** resolves when a delivery for out_trade_no matching predicate (default: any attempt) is logged */
  waitForDelivery(out_trade_no: string, predicate?: (d: WxpayDelivery) => boolean, timeoutMs?: number): Promise<void>;
  /** sign an arbitrary notification body exactly as the gateway would (tests build tampered variants from it) */
  signNotification(
    mchid: string,
    body: string,
    opts?: { timestamp?: number; nonce?: string; serial?: string; signature?: string },
  ): Record<string, string>;
  buildPaymentNotification(mchid: string, transaction: Record<string, unknown>): { body: string; headers: Record<string, string> };
  /** a signed REFUND.<status> notification of any refund resource (tests build forged variants from it) */
  buildRefundNotification(
    mchid: string,
    refund: Record<string, unknown>,
    status?: string,
  ): { body: string; headers: Record<string, string> };
  /** the decrypted resource of the refund's notification as the sandbox would send it now */
  refundNotice(out_refund_no: string, mchid?: string): Record<string, unknown> | undefined;
}

export class WxpaySandboxError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'WxpaySandboxError';
  }
}

// ---------------------------------------------------------------------------------------------
// Merchants

function wechatSerial(): string {
  const b = randomBytes(20);
  b[0] = (b[0] & 0x3f) | 0x10; // positive, 40 hex chars
  return b.toString('hex').toUpperCase();
}

export async function createWxpayMerchant(
  opts: { mchid?: string; appids?: string[]; signMode?: WxSignMode; subMerchants?: WxpaySandboxSubMerchant[] } = {},
): Promise<WxpaySandboxMerchant> {
  const mchid = opts.mchid ?? `19${digits(8)}`;
  const [merchant, platform, publicKey] = await Promise.all([
    issueCertificate({ subject: `CN=${mchid}, OU=Sandbox Merchant, O=WeChat Pay Sandbox, C=CN`, serialHex: wechatSerial() }),
    issueCertificate({
      subject: 'CN=Tenpay.com Sandbox Platform, OU=Tenpay.com CA Center, O=WeChat Pay Sandbox, C=CN',
      serialHex: wechatSerial(),
    }),
    generateRsaKeyPair(),
  ]);
  return {
    mchid,
    appids: opts.appids ?? [`wx${randomBytes(8).toString('hex')}`],
    apiV3Key: nonceStr(32),
    apiV2Key: nonceStr(32),
    merchant,
    platform,
    publicKeyId: `PUB_KEY_ID_01${mchid}${digits(16)}`,
    publicKey,
    signMode: opts.signMode ?? 'platform-cert',
    ...(opts.subMerchants ? { subMerchants: opts.subMerchants } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Shared internals

export type Json = Record<string, unknown>;

export const OUT_TRADE_NO_RE = /^[0-9A-Za-z_\-|*]{6,32}$/;
export const TRADE_STATE_DESC: Record<WxTradeState, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
  REFUND: '转入退款',
  PAYERROR: '支付失败',
  USERPAYING: '用户支付中（输入密码）',
  REVOKED: '已撤销',
};

export function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** canonical JSON (sorted keys): request fingerprints for idempotency */
export function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

export function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export interface MerchantRt {
  m: WxpaySandboxMerchant;
  merchantPublicKey: KeyObject;
  platformKey: KeyObject;
  pubKeyPrivate: KeyObject;
  /** migrating mode: notifications alternate between both keys */
  notifyFlip: boolean;
}

export interface Signer {
  serial: string;
  key: KeyObject;
}

export const platformSigner = (rt: MerchantRt): Signer => ({ serial: rt.m.platform.serialHex, key: rt.platformKey });
export const pubKeySigner = (rt: MerchantRt): Signer => ({ serial: rt.m.publicKeyId, key: rt.pubKeyPrivate });

export function responseSigner(rt: MerchantRt, requestSerial: string | undefined): Signer {
  if (rt.m.signMode === 'platform-cert') return platformSigner(rt);
  if (rt.m.signMode === 'public-key') return pubKeySigner(rt);
  return requestSerial === rt.m.publicKeyId ? pubKeySigner(rt) : platformSigner(rt);
}

export function notificationSigner(rt: MerchantRt): Signer {
  if (rt.m.signMode === 'platform-cert') return platformSigner(rt);
  if (rt.m.signMode === 'public-key') return pubKeySigner(rt);
  rt.notifyFlip = !rt.notifyFlip;
  return rt.notifyFlip ? pubKeySigner(rt) : platformSigner(rt);
}

type OrderSpec = Omit<
  SandboxOrder,
  'create_time' | 'trade_state' | 'expired' | 'prepay_id' | 'cashier_id' | 'refunded' | 'cancelled' | 'code_url' | 'h5_url'
>;
type PlaceResult = { order: SandboxOrder; existing: boolean } | { conflict: 'ORDERPAID' | 'ORDER_CLOSED' | 'OUT_TRADE_NO_USED' };

const okey = (mchid: string, no: string) => `${mchid}|${no}`;

export class WxpayState {
  readonly merchants = new Map<string, MerchantRt>();
  /** answers requests that name no known merchant */
  readonly fallbackRt: MerchantRt;
  readonly orders = new Map<string, SandboxOrder>(); // `${mchid}|${out_trade_no}`
  private readonly fingerprints = new Map<SandboxOrder, string>();
  private readonly byTransactionId = new Map<string, SandboxOrder>();
  readonly byCashierId = new Map<string, SandboxOrder>();
  readonly refunds = new Map<string, SandboxRefund>(); // `${mchid}|${out_refund_no}`
  /** set once listening (cashier URLs) */
  baseUrl = '';
  /** called after each payment (notification delivery) */
  onPaid: (o: SandboxOrder) => void = () => {};
  /** a refund reached its final state */
  onRefundFinal: (r: SandboxRefund) => void = () => {};
  /** new refunds stay PROCESSING until finishRefund */
  holdRefunds = false;

  constructor(
    merchants: WxpaySandboxMerchant[],
    readonly now: () => number,
    readonly log: (...a: unknown[]) => void,
  ) {
    if (!merchants.length) throw new Error('startWxpaySandbox: at least one merchant is required');
    for (const m of merchants) {
      if (this.merchants.has(m.mchid)) throw new Error(`startWxpaySandbox: duplicate mchid ${m.mchid}`);
      this.merchants.set(m.mchid, {
        m,
        merchantPublicKey: createPublicKey(m.merchant.certPem),
        platformKey: createPrivateKey(m.platform.keyPem),
        pubKeyPrivate: createPrivateKey(m.publicKey.privateKeyPem),
        notifyFlip: false,
      });
    }
    this.fallbackRt = this.merchants.get(merchants[0].mchid) as MerchantRt;
  }

  merchantOf(mchid: string): MerchantRt {
    const rt = this.merchants.get(mchid);
    if (!rt) throw new WxpaySandboxError('MCH_NOT_EXISTS', `unknown mchid ${mchid}`);
    return rt;
  }

  /** the `Wechatpay-*` headers of a signed answer or notification */
  signedHeaders(
    signer: Signer,
    body: string,
    o: { timestamp?: number; nonce?: string; signature?: string; serial?: string } = {},
  ): Record<string, string> {
    const ts = String(o.timestamp ?? Math.floor(this.now() / 1000));
    const nonce = o.nonce ?? nonceStr(32);
    return {
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': o.signature ?? rsaSign(v3ResponseMessage(ts, nonce, body), signer.key),
      'Wechatpay-Timestamp': ts,
      'Wechatpay-Serial': o.serial ?? signer.serial,
      'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    };
  }

  /** expiry is applied lazily, whenever an order is looked at */
  refresh(o: SandboxOrder): SandboxOrder {
    if (o.trade_state === 'NOTPAY' && o.time_expire !== undefined && this.now() >= o.time_expire) {
      o.trade_state = 'CLOSED';
      o.expired = true;
    }
    return o;
  }

  findOrder(no: string, mchid?: string): SandboxOrder | undefined {
    if (mchid !== undefined) {
      const o = this.orders.get(okey(mchid, no));
      return o && this.refresh(o);
    }
    const found = [...this.orders.values()].filter((o) => o.out_trade_no === no);
    if (found.length > 1) throw new WxpaySandboxError('AMBIGUOUS', `out_trade_no ${no} exists for several merchants; pass mchid`);
    return found[0] && this.refresh(found[0]);
  }

  /** the merchant's order with this transaction_id (not refreshed) */
  byTransaction(id: string, mchid: string): SandboxOrder | undefined {
    const o = this.byTransactionId.get(id);
    return o && o.mchid === mchid ? o : undefined;
  }

  /** one place for idempotency: same out_trade_no + same params → same order */
  placeOrder(spec: OrderSpec, fingerprint: string): PlaceResult {
    const prev = this.orders.get(okey(spec.mchid, spec.out_trade_no));
    if (prev) {
      this.refresh(prev);
      if (prev.trade_state === 'SUCCESS' || prev.trade_state === 'REFUND') return { conflict: 'ORDERPAID' };
      if (prev.trade_state === 'CLOSED') return { conflict: 'ORDER_CLOSED' };
      if (this.fingerprints.get(prev) !== fingerprint) return { conflict: 'OUT_TRADE_NO_USED' };
      return { order: prev, existing: true };
    }
    const t = this.now();
    const cashier_id = nonceStr(20);
    const order: SandboxOrder = {
      ...spec,
      create_time: t,
      trade_state: 'NOTPAY',
      expired: false,
      prepay_id: `wx${compactBeijing(t)}${randomBytes(10).toString('hex')}`,
      cashier_id,
      refunded: 0,
      cancelled: 0,
    };
    if (spec.trade_type === 'NATIVE') order.code_url = `${this.baseUrl}/cashier/${cashier_id}`;
    if (spec.trade_type === 'MWEB') order.h5_url = `${this.baseUrl}/cashier/${cashier_id}?h5=1`;
    this.orders.set(okey(spec.mchid, spec.out_trade_no), order);
    this.fingerprints.set(order, fingerprint);
    this.byCashierId.set(cashier_id, order);
    this.log('order', spec.protocol, spec.mchid, spec.out_trade_no, spec.trade_type, spec.total);
    return { order, existing: false };
  }

  payOrder(o: SandboxOrder, openid?: string): void {
    this.refresh(o);
    if (o.trade_state === 'SUCCESS' || o.trade_state === 'REFUND') throw new WxpaySandboxError('ORDERPAID', '该订单已支付');
    if (o.expired) throw new WxpaySandboxError('ORDER_EXPIRED', '订单已过期');
    // a codepay trade waits in USERPAYING while the buyer types the password
    if (o.trade_state !== 'NOTPAY' && o.trade_state !== 'USERPAYING') throw new WxpaySandboxError('ORDER_CLOSED', '订单已关闭');
    const t = this.now();
    o.trade_state = 'SUCCESS';
    o.success_time = t;
    o.openid = openid ?? o.openid ?? `o${nonceStr(27)}`;
    o.transaction_id = `42000${digits(5)}${compactBeijing(t).slice(0, 8)}${digits(10)}`;
    this.byTransactionId.set(o.transaction_id, o);
    this.log('paid', o.mchid, o.out_trade_no, o.transaction_id);
    this.onPaid(o);
  }

  cancelOrder(o: SandboxOrder): void {
    this.refresh(o);
    if (o.trade_state !== 'NOTPAY') throw new WxpaySandboxError(o.transaction_id ? 'ORDERPAID' : 'ORDER_CLOSED', '订单不是待支付状态');
    o.cancelled += 1;
  }

  refund(outRefundNo: string, mchid?: string): SandboxRefund | undefined {
    if (mchid !== undefined) return this.refunds.get(okey(mchid, outRefundNo));
    return [...this.refunds.values()].find((r) => r.out_refund_no === outRefundNo);
  }

  /** a held refund ends: SUCCESS, or ABNORMAL / CLOSED giving its amount back to the order */
  finishRefund(outRefundNo: string, status: 'SUCCESS' | 'ABNORMAL' | 'CLOSED', mchid?: string): void {
    const r = this.refund(outRefundNo, mchid);
    if (!r) throw new WxpaySandboxError('RESOURCE_NOT_EXISTS', `no refund ${outRefundNo}`);
    if (r.status !== 'PROCESSING') throw new WxpaySandboxError('INVALID_REQUEST', `refund ${outRefundNo} is already ${r.status}`);
    r.status = status;
    r.success_time = this.now();
    if (status !== 'SUCCESS') {
      const o = this.findOrder(r.out_trade_no, r.mchid);
      if (o) o.refunded -= r.refund;
    }
    this.log('refund', r.mchid, r.out_trade_no, outRefundNo, status);
    this.onRefundFinal(r);
  }

  addRefund(r: SandboxRefund): void {
    this.refunds.set(okey(r.mchid, r.out_refund_no), r);
  }
}
