/**
 * WeChat Pay gateway simulator on loopback (dev and tests only): behaves like
 * api.mch.weixin.qq.com with real signatures (protocols.md §1, §2, §6).
 *
 * Routes (describe()):
 *   v3 (JSON; requests must carry a valid `Authorization: WECHATPAY2-SHA256-RSA2048 …`; every answer,
 *       errors included, is signed with the WeChat-side key chosen by the merchant's signMode)
 *     POST /v3/pay/transactions/jsapi|app|h5|native            → 200 {prepay_id} | {h5_url} | {code_url}
 *     GET  /v3/pay/transactions/out-trade-no/{no}?mchid=       → 200 Transaction | 404 ORDER_NOT_EXIST
 *     GET  /v3/pay/transactions/id/{transaction_id}?mchid=     → 200 Transaction | 404 ORDER_NOT_EXIST
 *     POST /v3/pay/transactions/out-trade-no/{no}/close        → 204
 *     POST /v3/refund/domestic/refunds                         → 200 Refund (status SUCCESS)
 *     GET  /v3/refund/domestic/refunds/{out_refund_no}         → 200 Refund | 404 RESOURCE_NOT_EXISTS
 *     GET  /v3/certificates                                    → 200 {data:[{serial_no, …, encrypt_certificate}]}
 *   v2 (XML, sign_type MD5 | HMAC-SHA256 with the apiV2Key)
 *     POST /pay/unifiedorder, /pay/orderquery, /pay/closeorder
 *   payer side (not part of WeChat; for people, browsers and scripts)
 *     GET  /cashier/{id}[?h5=1[&redirect_url=…]]               cashier page (#pay-btn, #cancel-btn)
 *     POST /cashier/{id}/pay, /cashier/{id}/cancel             form posts of that page (H5: 302 to redirect_url)
 *     POST /sandbox/pay    {mchid?, out_trade_no, openid?}     pay an order (JSAPI/APP/any)
 *     POST /sandbox/cancel {mchid?, out_trade_no}              payer cancels (order stays NOTPAY)
 *
 * Notifications: on payment the order's notify_url gets a v3 TRANSACTION.SUCCESS (v3 orders) or the
 * v2 XML notify (v2 orders), retried per `retryDelaysMs` until acknowledged (v3: HTTP 200/204;
 * v2: HTTP 200 with return_code SUCCESS).
 *
 * Not simulated: the request timestamp window (not verified in protocols.md §6), refund
 * notifications, v2 refunds (mutual TLS), transfers, rate limits.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { createPrivateKey, createPublicKey, randomBytes, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { issueCertificate, generateRsaKeyPair, type Issued } from '../pki';
import {
  aesGcmEncrypt,
  compactBeijing,
  digits,
  nonceStr,
  parseAuthorization,
  parseCompactBeijing,
  parseRfc3339,
  parseXml,
  rfc3339Beijing,
  rsaSign,
  rsaVerify,
  toXml,
  v2Sign,
  v3RequestMessage,
  v3ResponseMessage,
  type V2SignType,
} from './protocol';
import { renderCashier, type CashierView } from './cashier';

export { v2Sign, toXml, parseXml, aesGcmEncrypt, aesGcmDecrypt, rfc3339Beijing, compactBeijing } from './protocol';
export type { V2SignType, EncryptedResource } from './protocol';

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
}

export type WxTradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'REFUND' | 'PAYERROR';
export type WxTradeType = 'JSAPI' | 'APP' | 'MWEB' | 'NATIVE';

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
  /** notification delivery log */
  deliveries: WxpayDelivery[];
  /** resolves when a delivery for out_trade_no matching predicate (default: any attempt) is logged */
  waitForDelivery(out_trade_no: string, predicate?: (d: WxpayDelivery) => boolean, timeoutMs?: number): Promise<void>;
  /** sign an arbitrary notification body exactly as the gateway would (tests build tampered variants from it) */
  signNotification(
    mchid: string,
    body: string,
    opts?: { timestamp?: number; nonce?: string; serial?: string; signature?: string },
  ): Record<string, string>;
  buildPaymentNotification(mchid: string, transaction: Record<string, unknown>): { body: string; headers: Record<string, string> };
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
  opts: { mchid?: string; appids?: string[]; signMode?: WxSignMode } = {},
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
  };
}

// ---------------------------------------------------------------------------------------------
// Internals

interface MerchantRt {
  m: WxpaySandboxMerchant;
  merchantPublicKey: KeyObject;
  platformKey: KeyObject;
  pubKeyPrivate: KeyObject;
  /** migrating mode: notifications alternate between both keys */
  notifyFlip: boolean;
}

interface Signer {
  serial: string;
  key: KeyObject;
}

interface V3Result {
  status: number;
  body?: unknown;
}

interface Ctx {
  rt: MerchantRt;
  query: URLSearchParams;
  body: unknown;
}

const DEFAULT_RETRY = [1000, 2000, 5000, 15000, 30000];
const NOTIFY_TIMEOUT_MS = 5000;
const OUT_TRADE_NO_RE = /^[0-9A-Za-z_\-|*]{6,32}$/;
const TRADE_STATE_DESC: Record<WxTradeState, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
  REFUND: '转入退款',
  PAYERROR: '支付失败',
};

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.')) {
    if (!isObj(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

function err(status: number, code: string, message: string, detail?: Json): V3Result {
  return { status, body: detail ? { code, message, detail } : { code, message } };
}

function missing(path: string): V3Result {
  return err(400, 'PARAM_ERROR', `输入源“/body/${path.replace(/\./g, '/')}”映射到值字段必填性规则校验失败，此字段为必填项`, {
    field: `/${path.replace(/\./g, '/')}`,
    location: 'body',
    issue: '字段必填',
  });
}

function invalid(path: string, value: unknown, issue: string): V3Result {
  return err(400, 'PARAM_ERROR', `参数格式错误：${path} ${issue}`, {
    field: `/${path.replace(/\./g, '/')}`,
    value,
    location: 'body',
    issue,
  });
}

function eqStr(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function randomOpenid(): string {
  return `o${nonceStr(27)}`;
}

function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function readBody(req: IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------

export async function startWxpaySandbox(opts: WxpaySandboxOptions): Promise<WxpaySandbox> {
  const now = opts.now ?? (() => Date.now());
  const retryDelays = opts.retryDelaysMs ?? DEFAULT_RETRY;
  const log = (...a: unknown[]) => {
    if (!opts.quiet) console.log('[wxpay-sandbox]', ...a);
  };
  if (!opts.merchants.length) throw new Error('startWxpaySandbox: at least one merchant is required');

  const merchants = new Map<string, MerchantRt>();
  for (const m of opts.merchants) {
    if (merchants.has(m.mchid)) throw new Error(`startWxpaySandbox: duplicate mchid ${m.mchid}`);
    merchants.set(m.mchid, {
      m,
      merchantPublicKey: createPublicKey(m.merchant.certPem),
      platformKey: createPrivateKey(m.platform.keyPem),
      pubKeyPrivate: createPrivateKey(m.publicKey.privateKeyPem),
      notifyFlip: false,
    });
  }
  const fallbackRt = merchants.get(opts.merchants[0].mchid) as MerchantRt;

  const orders = new Map<string, SandboxOrder>(); // `${mchid}|${out_trade_no}`
  const fingerprints = new Map<SandboxOrder, string>();
  const byTransactionId = new Map<string, SandboxOrder>();
  const byCashierId = new Map<string, SandboxOrder>();
  const refunds = new Map<string, SandboxRefund>(); // `${mchid}|${out_refund_no}`
  const deliveries: WxpayDelivery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const inflight = new Set<http.ClientRequest>();
  const waiters = new Set<{
    no: string;
    pred: (d: WxpayDelivery) => boolean;
    resolve: () => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
  }>();
  let closed = false;
  let baseUrl = '';

  const okey = (mchid: string, no: string) => `${mchid}|${no}`;

  // --- keys -------------------------------------------------------------------------------
  const platformSigner = (rt: MerchantRt): Signer => ({ serial: rt.m.platform.serialHex, key: rt.platformKey });
  const pubKeySigner = (rt: MerchantRt): Signer => ({ serial: rt.m.publicKeyId, key: rt.pubKeyPrivate });

  function responseSigner(rt: MerchantRt, requestSerial: string | undefined): Signer {
    if (rt.m.signMode === 'platform-cert') return platformSigner(rt);
    if (rt.m.signMode === 'public-key') return pubKeySigner(rt);
    return requestSerial === rt.m.publicKeyId ? pubKeySigner(rt) : platformSigner(rt);
  }

  function notificationSigner(rt: MerchantRt): Signer {
    if (rt.m.signMode === 'platform-cert') return platformSigner(rt);
    if (rt.m.signMode === 'public-key') return pubKeySigner(rt);
    rt.notifyFlip = !rt.notifyFlip;
    return rt.notifyFlip ? pubKeySigner(rt) : platformSigner(rt);
  }

  function signedHeaders(
    signer: Signer,
    body: string,
    o: { timestamp?: number; nonce?: string; signature?: string; serial?: string } = {},
  ): Record<string, string> {
    const ts = String(o.timestamp ?? Math.floor(now() / 1000));
    const nonce = o.nonce ?? nonceStr(32);
    return {
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': o.signature ?? rsaSign(v3ResponseMessage(ts, nonce, body), signer.key),
      'Wechatpay-Timestamp': ts,
      'Wechatpay-Serial': o.serial ?? signer.serial,
      'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    };
  }

  function merchantOf(mchid: string): MerchantRt {
    const rt = merchants.get(mchid);
    if (!rt) throw new WxpaySandboxError('MCH_NOT_EXISTS', `unknown mchid ${mchid}`);
    return rt;
  }

  // --- orders -----------------------------------------------------------------------------
  function refresh(o: SandboxOrder): SandboxOrder {
    if (o.trade_state === 'NOTPAY' && o.time_expire !== undefined && now() >= o.time_expire) {
      o.trade_state = 'CLOSED';
      o.expired = true;
    }
    return o;
  }

  function findOrder(no: string, mchid?: string): SandboxOrder | undefined {
    if (mchid !== undefined) {
      const o = orders.get(okey(mchid, no));
      return o && refresh(o);
    }
    const found = [...orders.values()].filter((o) => o.out_trade_no === no);
    if (found.length > 1) throw new WxpaySandboxError('AMBIGUOUS', `out_trade_no ${no} exists for several merchants; pass mchid`);
    return found[0] && refresh(found[0]);
  }

  type PlaceResult = { order: SandboxOrder; existing: boolean } | { conflict: 'ORDERPAID' | 'ORDER_CLOSED' | 'OUT_TRADE_NO_USED' };

  /** one place for idempotency: same out_trade_no + same params → same order */
  function placeOrder(
    spec: Omit<
      SandboxOrder,
      'create_time' | 'trade_state' | 'expired' | 'prepay_id' | 'cashier_id' | 'refunded' | 'cancelled' | 'code_url' | 'h5_url'
    >,
    fingerprint: string,
  ): PlaceResult {
    const prev = orders.get(okey(spec.mchid, spec.out_trade_no));
    if (prev) {
      refresh(prev);
      if (prev.trade_state === 'SUCCESS' || prev.trade_state === 'REFUND') return { conflict: 'ORDERPAID' };
      if (prev.trade_state === 'CLOSED') return { conflict: 'ORDER_CLOSED' };
      if (fingerprints.get(prev) !== fingerprint) return { conflict: 'OUT_TRADE_NO_USED' };
      return { order: prev, existing: true };
    }
    const t = now();
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
    if (spec.trade_type === 'NATIVE') order.code_url = `${baseUrl}/cashier/${cashier_id}`;
    if (spec.trade_type === 'MWEB') order.h5_url = `${baseUrl}/cashier/${cashier_id}?h5=1`;
    orders.set(okey(spec.mchid, spec.out_trade_no), order);
    fingerprints.set(order, fingerprint);
    byCashierId.set(cashier_id, order);
    log('order', spec.protocol, spec.mchid, spec.out_trade_no, spec.trade_type, spec.total);
    return { order, existing: false };
  }

  function payOrder(o: SandboxOrder, openid?: string): void {
    refresh(o);
    if (o.trade_state === 'SUCCESS' || o.trade_state === 'REFUND') throw new WxpaySandboxError('ORDERPAID', '该订单已支付');
    if (o.expired) throw new WxpaySandboxError('ORDER_EXPIRED', '订单已过期');
    if (o.trade_state !== 'NOTPAY') throw new WxpaySandboxError('ORDER_CLOSED', '订单已关闭');
    const t = now();
    o.trade_state = 'SUCCESS';
    o.success_time = t;
    o.openid = openid ?? o.openid ?? randomOpenid();
    o.transaction_id = `42000${digits(5)}${compactBeijing(t).slice(0, 8)}${digits(10)}`;
    byTransactionId.set(o.transaction_id, o);
    log('paid', o.mchid, o.out_trade_no, o.transaction_id);
    startDelivery(o);
  }

  function transactionJson(o: SandboxOrder): Json {
    const paid = o.transaction_id !== undefined;
    const out: Json = { appid: o.appid, mchid: o.mchid, out_trade_no: o.out_trade_no };
    if (paid) out.transaction_id = o.transaction_id;
    out.trade_type = o.trade_type;
    out.trade_state = o.trade_state;
    out.trade_state_desc = TRADE_STATE_DESC[o.trade_state];
    if (paid) out.bank_type = 'OTHERS';
    if (o.attach !== undefined) out.attach = o.attach;
    if (paid) {
      out.success_time = rfc3339Beijing(o.success_time as number);
      out.payer = { openid: o.openid };
      out.amount = { total: o.total, payer_total: o.total, currency: o.currency, payer_currency: 'CNY' };
    } else {
      out.amount = { total: o.total, currency: o.currency, payer_currency: 'CNY' };
    }
    return out;
  }

  // --- notifications ----------------------------------------------------------------------
  function buildV3Notification(rt: MerchantRt, plaintext: Json, eventType = 'TRANSACTION.SUCCESS', summary = '支付成功'): string {
    const resource = aesGcmEncrypt(rt.m.apiV3Key, JSON.stringify(plaintext), 'transaction');
    return JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339Beijing(now()),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary,
      resource: {
        original_type: 'transaction',
        algorithm: resource.algorithm,
        ciphertext: resource.ciphertext,
        associated_data: resource.associated_data,
        nonce: resource.nonce,
      },
    });
  }

  function buildV2Notification(rt: MerchantRt, o: SandboxOrder): string {
    const signType = o.sign_type ?? 'MD5';
    const fields: Record<string, string | number | undefined> = {
      appid: o.appid,
      attach: o.attach,
      bank_type: 'OTHERS',
      cash_fee: o.total,
      device_info: o.device_info,
      fee_type: 'CNY',
      is_subscribe: 'N',
      mch_id: o.mchid,
      nonce_str: nonceStr(32),
      openid: o.openid,
      out_trade_no: o.out_trade_no,
      result_code: 'SUCCESS',
      return_code: 'SUCCESS',
      sign_type: signType === 'HMAC-SHA256' ? signType : undefined,
      time_end: compactBeijing(o.success_time as number),
      total_fee: o.total,
      trade_type: o.trade_type,
      transaction_id: o.transaction_id,
    };
    fields.sign = v2Sign(fields, rt.m.apiV2Key, signType);
    return toXml(fields);
  }

  function postOnce(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string } | 'error'> {
    return new Promise((resolve) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        resolve('error');
        return;
      }
      const mod = u.protocol === 'https:' ? https : http;
      const payload = Buffer.from(body, 'utf8');
      const req = mod.request(
        u,
        {
          method: 'POST',
          agent: false,
          headers: { ...headers, 'Content-Length': String(payload.length), 'User-Agent': 'Mozilla/4.0', Connection: 'close' },
          timeout: NOTIFY_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            inflight.delete(req);
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', () => {
            inflight.delete(req);
            resolve('error');
          });
        },
      );
      inflight.add(req);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        inflight.delete(req);
        resolve('error');
      });
      req.end(payload);
    });
  }

  function record(d: WxpayDelivery): void {
    deliveries.push(d);
    for (const w of [...waiters]) {
      if (w.no === d.out_trade_no && w.pred(d)) {
        clearTimeout(w.timer);
        waiters.delete(w);
        w.resolve();
      }
    }
  }

  function startDelivery(o: SandboxOrder): void {
    const rt = merchantOf(o.mchid);
    const body = o.protocol === 'v3' ? buildV3Notification(rt, transactionJson(o)) : buildV2Notification(rt, o);
    const attempt = async (n: number): Promise<void> => {
      if (closed) return;
      let headers: Record<string, string>;
      let serial: string | undefined;
      if (o.protocol === 'v3') {
        const signer = notificationSigner(rt);
        serial = signer.serial;
        headers = { 'Content-Type': 'application/json', ...signedHeaders(signer, body) };
      } else {
        headers = { 'Content-Type': 'text/xml' };
      }
      const r = await postOnce(o.notify_url, body, headers);
      if (closed) return;
      const status = r === 'error' ? 'error' : r.status;
      const acknowledged =
        r !== 'error' &&
        (o.protocol === 'v3' ? r.status === 200 || r.status === 204 : r.status === 200 && parseXml(r.text)?.return_code === 'SUCCESS');
      log('notify', o.protocol, o.out_trade_no, `attempt ${n}`, status, acknowledged ? 'ack' : 'no ack');
      record({ out_trade_no: o.out_trade_no, attempt: n, status, at: now(), mchid: o.mchid, protocol: o.protocol, acknowledged, serial });
      if (acknowledged || n > retryDelays.length) return;
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          void attempt(n + 1);
        },
        retryDelays[n - 1],
      );
      timers.add(timer);
    };
    void attempt(1);
  }

  // --- v3 handlers ------------------------------------------------------------------------
  function checkBodyMchid(ctx: Ctx): V3Result | undefined {
    const mchid = get(ctx.body, 'mchid');
    if (mchid === undefined || mchid === '') return missing('mchid');
    if (mchid !== ctx.rt.m.mchid)
      return err(400, 'PARAM_ERROR', '请求体中的mchid与请求头Authorization中的商户号不一致', { field: '/mchid', location: 'body' });
    return undefined;
  }

  function checkQueryMchid(ctx: Ctx): V3Result | undefined {
    const mchid = ctx.query.get('mchid');
    if (!mchid)
      return err(400, 'PARAM_ERROR', '输入源“/query/mchid”映射到值字段必填性规则校验失败，此字段为必填项', {
        field: 'mchid',
        location: 'query',
      });
    if (mchid !== ctx.rt.m.mchid)
      return err(400, 'PARAM_ERROR', '查询参数mchid与请求头Authorization中的商户号不一致', { field: 'mchid', location: 'query' });
    return undefined;
  }

  function prepay(kind: 'jsapi' | 'app' | 'h5' | 'native', ctx: Ctx): V3Result {
    const b = ctx.body;
    if (!isObj(b)) return err(400, 'PARAM_ERROR', '请求体不是有效的JSON对象');
    const required = ['appid', 'mchid', 'description', 'out_trade_no', 'notify_url', 'amount', 'amount.total'];
    if (kind === 'jsapi') required.push('payer', 'payer.openid');
    if (kind === 'h5') required.push('scene_info', 'scene_info.payer_client_ip', 'scene_info.h5_info', 'scene_info.h5_info.type');
    for (const p of required) {
      const v = get(b, p);
      if (v === undefined || v === null || v === '') return missing(p);
    }
    for (const p of [
      'appid',
      'mchid',
      'description',
      'out_trade_no',
      'notify_url',
      'attach',
      'time_expire',
      'payer.openid',
      'scene_info.payer_client_ip',
      'scene_info.h5_info.type',
    ]) {
      const v = get(b, p);
      if (v !== undefined && typeof v !== 'string') return invalid(p, v, '应为字符串');
    }
    const mchErr = checkBodyMchid(ctx);
    if (mchErr) return mchErr;
    const description = b.description as string;
    if ([...description].length > 127) return invalid('description', description, '长度不能超过127个字符');
    const no = b.out_trade_no as string;
    if (!OUT_TRADE_NO_RE.test(no)) return invalid('out_trade_no', no, '应为6-32位数字、大小写字母或_-|*');
    if (!isHttpUrl(b.notify_url)) return invalid('notify_url', b.notify_url, '应为http(s)地址');
    const total = get(b, 'amount.total');
    if (typeof total !== 'number' || !Number.isSafeInteger(total) || total <= 0)
      return invalid('amount.total', total, '应为正整数（单位：分）');
    const currency = get(b, 'amount.currency');
    if (currency !== undefined && currency !== 'CNY') return invalid('amount.currency', currency, '仅支持CNY');
    if (typeof b.attach === 'string' && [...b.attach].length > 128) return invalid('attach', b.attach, '长度不能超过128个字符');
    if (kind === 'h5' && !['Wap', 'iOS', 'Android'].includes(get(b, 'scene_info.h5_info.type') as string)) {
      return invalid('scene_info.h5_info.type', get(b, 'scene_info.h5_info.type'), '应为Wap、iOS或Android');
    }
    let timeExpire: number | undefined;
    if (b.time_expire !== undefined) {
      timeExpire = parseRfc3339(b.time_expire);
      if (timeExpire === undefined) return invalid('time_expire', b.time_expire, '应为RFC 3339格式，如2018-06-08T10:34:56+08:00');
      if (timeExpire <= now()) return invalid('time_expire', b.time_expire, '订单失效时间不能早于当前时间');
    }
    if (!ctx.rt.m.appids.includes(b.appid as string)) return err(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');

    const tradeType: WxTradeType = kind === 'jsapi' ? 'JSAPI' : kind === 'app' ? 'APP' : kind === 'h5' ? 'MWEB' : 'NATIVE';
    const placed = placeOrder(
      {
        protocol: 'v3',
        mchid: ctx.rt.m.mchid,
        appid: b.appid as string,
        out_trade_no: no,
        trade_type: tradeType,
        description,
        attach: b.attach as string | undefined,
        notify_url: b.notify_url as string,
        total,
        currency: 'CNY',
        openid: get(b, 'payer.openid') as string | undefined,
        time_expire: timeExpire,
        request: b,
      },
      `v3|${tradeType}|${stable(b)}`,
    );
    if ('conflict' in placed) {
      if (placed.conflict === 'ORDERPAID') return err(400, 'ORDERPAID', '该订单已支付');
      if (placed.conflict === 'ORDER_CLOSED') return err(400, 'ORDER_CLOSED', '该订单已关闭');
      return err(400, 'INVALID_REQUEST', '201 商户订单号重复');
    }
    const o = placed.order;
    if (kind === 'native') return { status: 200, body: { code_url: o.code_url } };
    if (kind === 'h5') return { status: 200, body: { h5_url: o.h5_url } };
    return { status: 200, body: { prepay_id: o.prepay_id } };
  }

  function queryByOutTradeNo(ctx: Ctx, no: string): V3Result {
    const e = checkQueryMchid(ctx);
    if (e) return e;
    const o = findOrder(no, ctx.rt.m.mchid);
    if (!o) return err(404, 'ORDER_NOT_EXIST', '订单不存在');
    return { status: 200, body: transactionJson(o) };
  }

  function queryByTransactionId(ctx: Ctx, id: string): V3Result {
    const e = checkQueryMchid(ctx);
    if (e) return e;
    const o = byTransactionId.get(id);
    if (!o || o.mchid !== ctx.rt.m.mchid) return err(404, 'ORDER_NOT_EXIST', '订单不存在');
    return { status: 200, body: transactionJson(refresh(o)) };
  }

  function closeOrder(ctx: Ctx, no: string): V3Result {
    if (!isObj(ctx.body)) return err(400, 'PARAM_ERROR', '请求体不是有效的JSON对象');
    const e = checkBodyMchid(ctx);
    if (e) return e;
    const o = findOrder(no, ctx.rt.m.mchid);
    if (!o) return err(404, 'ORDER_NOT_EXIST', '订单不存在');
    if (o.trade_state === 'SUCCESS' || o.trade_state === 'REFUND') return err(400, 'ORDERPAID', '该订单已支付，不能关闭');
    o.trade_state = 'CLOSED';
    return { status: 204 };
  }

  function refundJson(r: SandboxRefund): Json {
    return {
      refund_id: r.refund_id,
      out_refund_no: r.out_refund_no,
      transaction_id: r.transaction_id,
      out_trade_no: r.out_trade_no,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      success_time: rfc3339Beijing(r.success_time),
      create_time: rfc3339Beijing(r.create_time),
      status: 'SUCCESS',
      funds_account: r.funds_account ?? 'AVAILABLE',
      amount: {
        total: r.total,
        refund: r.refund,
        from: [],
        payer_total: r.total,
        payer_refund: r.refund,
        settlement_refund: r.refund,
        settlement_total: r.total,
        discount_refund: 0,
        currency: 'CNY',
        refund_fee: 0,
      },
      promotion_detail: [],
    };
  }

  function createRefund(ctx: Ctx): V3Result {
    const b = ctx.body;
    if (!isObj(b)) return err(400, 'PARAM_ERROR', '请求体不是有效的JSON对象');
    for (const p of ['out_refund_no', 'amount', 'amount.refund', 'amount.total', 'amount.currency']) {
      const v = get(b, p);
      if (v === undefined || v === null || v === '') return missing(p);
    }
    if (b.transaction_id === undefined && b.out_trade_no === undefined) return missing('out_trade_no');
    const outRefundNo = b.out_refund_no;
    if (typeof outRefundNo !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(outRefundNo))
      return invalid('out_refund_no', outRefundNo, '应为1-64位数字、大小写字母或_-|*@');
    const refund = get(b, 'amount.refund');
    const total = get(b, 'amount.total');
    if (typeof refund !== 'number' || !Number.isSafeInteger(refund) || refund <= 0)
      return invalid('amount.refund', refund, '应为正整数（单位：分）');
    if (typeof total !== 'number' || !Number.isSafeInteger(total) || total <= 0)
      return invalid('amount.total', total, '应为正整数（单位：分）');
    if (get(b, 'amount.currency') !== 'CNY') return invalid('amount.currency', get(b, 'amount.currency'), '仅支持CNY');
    if (b.notify_url !== undefined && !isHttpUrl(b.notify_url)) return invalid('notify_url', b.notify_url, '应为http(s)地址');

    const mchid = ctx.rt.m.mchid;
    const fingerprint = stable(b);
    const prev = refunds.get(okey(mchid, outRefundNo));
    if (prev) {
      if (prev.fingerprint !== fingerprint) return err(400, 'INVALID_REQUEST', '商户退款单号重复，且请求参数与原请求不一致');
      return { status: 200, body: refundJson(prev) };
    }
    let o: SandboxOrder | undefined;
    if (typeof b.transaction_id === 'string') {
      o = byTransactionId.get(b.transaction_id);
      if (o && o.mchid !== mchid) o = undefined;
    } else if (typeof b.out_trade_no === 'string') {
      o = findOrder(b.out_trade_no, mchid);
    }
    if (!o) return err(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    if (o.trade_state !== 'SUCCESS' && o.trade_state !== 'REFUND') return err(400, 'INVALID_REQUEST', '订单未支付，不能退款');
    if (total !== o.total) return err(400, 'INVALID_REQUEST', '订单金额与原订单金额不一致');
    if (refund > o.total - o.refunded) return err(403, 'NOT_ENOUGH', '申请退款金额超过订单可退金额');
    const t = now();
    const r: SandboxRefund = {
      mchid,
      out_refund_no: outRefundNo,
      refund_id: `50${digits(30)}`,
      out_trade_no: o.out_trade_no,
      transaction_id: o.transaction_id as string,
      refund,
      total,
      reason: b.reason as string | undefined,
      funds_account: b.funds_account as string | undefined,
      create_time: t,
      success_time: t,
      fingerprint,
    };
    refunds.set(okey(mchid, outRefundNo), r);
    o.refunded += refund;
    o.trade_state = 'REFUND';
    log('refund', mchid, o.out_trade_no, outRefundNo, refund);
    return { status: 200, body: refundJson(r) };
  }

  function queryRefund(ctx: Ctx, outRefundNo: string): V3Result {
    const r = refunds.get(okey(ctx.rt.m.mchid, outRefundNo));
    if (!r) return err(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return { status: 200, body: refundJson(r) };
  }

  function certificates(ctx: Ctx): V3Result {
    const p = ctx.rt.m.platform;
    const enc = aesGcmEncrypt(ctx.rt.m.apiV3Key, p.certPem, 'certificate');
    return {
      status: 200,
      body: {
        data: [
          {
            serial_no: p.serialHex,
            effective_time: rfc3339Beijing(Date.parse(p.cert.validFrom)),
            expire_time: rfc3339Beijing(Date.parse(p.cert.validTo)),
            encrypt_certificate: enc,
          },
        ],
      },
    };
  }

  const v3Routes: Array<{ method: string; re: RegExp; run: (ctx: Ctx, m: string[]) => V3Result }> = [
    { method: 'POST', re: /^\/v3\/pay\/transactions\/(jsapi|app|h5|native)$/, run: (c, m) => prepay(m[1] as 'jsapi', c) },
    { method: 'GET', re: /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/, run: (c, m) => queryByOutTradeNo(c, m[1]) },
    { method: 'GET', re: /^\/v3\/pay\/transactions\/id\/([^/]+)$/, run: (c, m) => queryByTransactionId(c, m[1]) },
    { method: 'POST', re: /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/, run: (c, m) => closeOrder(c, m[1]) },
    { method: 'POST', re: /^\/v3\/refund\/domestic\/refunds$/, run: (c) => createRefund(c) },
    { method: 'GET', re: /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/, run: (c, m) => queryRefund(c, m[1]) },
    { method: 'GET', re: /^\/v3\/certificates$/, run: (c) => certificates(c) },
  ];

  function sendV3(res: ServerResponse, rt: MerchantRt, requestSerial: string | undefined, result: V3Result): void {
    const body = result.status === 204 || result.body === undefined ? '' : JSON.stringify(result.body);
    const headers: Record<string, string> = {
      'Request-ID': randomBytes(16).toString('hex').toUpperCase(),
      ...signedHeaders(responseSigner(rt, requestSerial), body),
    };
    if (result.status !== 204) {
      headers['Content-Type'] = 'application/json; charset=utf-8';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    res.writeHead(result.status, headers);
    res.end(result.status === 204 ? undefined : body);
  }

  function handleV3(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const rawUrl = req.url ?? '/';
    const method = (req.method ?? 'GET').toUpperCase();
    const u = new URL(rawUrl, 'http://sandbox.invalid');
    const requestSerial = req.headers['wechatpay-serial'] as string | undefined;
    const auth = parseAuthorization(req.headers.authorization);
    const claimed = auth?.mchid !== undefined ? merchants.get(auth.mchid) : undefined;
    const replyRt = claimed ?? fallbackRt;

    const route = v3Routes.find((r) => r.method === method && r.re.test(u.pathname));
    if (!route) {
      const other = v3Routes.some((r) => r.re.test(u.pathname));
      sendV3(
        res,
        replyRt,
        requestSerial,
        other ? err(405, 'NOT_ALLOWED', `不支持的请求方法 ${method}`) : err(404, 'NOT_FOUND', '请求的资源不存在'),
      );
      return;
    }

    const signError = (message: string, issue: string): V3Result => {
      const msg = v3RequestMessage(method, rawUrl, auth?.timestamp ?? '', auth?.nonce_str ?? '', raw).toString('utf8');
      return err(401, 'SIGN_ERROR', message, {
        field: 'signature',
        location: 'authorization',
        detail: { issue },
        sign_information: {
          method,
          url: rawUrl,
          truncated_sign_message: msg.split('\n').slice(0, 2).join('\n') + '\n',
          sign_message_length: Buffer.byteLength(msg),
        },
      });
    };
    if (!auth) {
      sendV3(
        res,
        replyRt,
        requestSerial,
        signError('Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》', 'authorization format error'),
      );
      return;
    }
    for (const k of ['mchid', 'nonce_str', 'timestamp', 'serial_no', 'signature']) {
      if (!auth[k]) {
        sendV3(res, replyRt, requestSerial, signError(`Http头Authorization中缺少${k}`, `${k} missing`));
        return;
      }
    }
    if (!claimed) {
      sendV3(res, replyRt, requestSerial, signError('商户号不存在或未开通API v3', 'mchid not found'));
      return;
    }
    if (auth.serial_no.toUpperCase() !== claimed.m.merchant.serialHex) {
      sendV3(res, replyRt, requestSerial, signError('商户证书序列号有误。请使用签名私钥匹配的证书序列号', 'serial_no not match'));
      return;
    }
    if (!/^\d{1,12}$/.test(auth.timestamp)) {
      sendV3(res, replyRt, requestSerial, signError('Http头Authorization中timestamp格式错误', 'timestamp invalid'));
      return;
    }
    const message = v3RequestMessage(method, rawUrl, auth.timestamp, auth.nonce_str, raw);
    if (!rsaVerify(message, auth.signature, claimed.merchantPublicKey)) {
      sendV3(res, replyRt, requestSerial, signError('错误的签名，验签失败', 'sign not match'));
      return;
    }

    let body: unknown;
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        sendV3(res, claimed, requestSerial, err(400, 'PARAM_ERROR', '请求体不是合法的JSON'));
        return;
      }
    }
    const m = route.re.exec(u.pathname) as RegExpExecArray;
    const params = m.map((s, i) => (i === 0 ? s : decodeURIComponent(s)));
    const result = route.run({ rt: claimed, query: u.searchParams, body }, params);
    log(method, u.pathname, result.status);
    sendV3(res, claimed, requestSerial, result);
  }

  // --- v2 handlers ------------------------------------------------------------------------
  function v2Fail(msg: string): string {
    return toXml({ return_code: 'FAIL', return_msg: msg });
  }

  function v2Reply(rt: MerchantRt, signType: V2SignType, appid: string, fields: Record<string, string | number | undefined>): string {
    const base: Record<string, string | number | undefined> = {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      appid,
      mch_id: rt.m.mchid,
      nonce_str: nonceStr(16),
    };
    const all = { ...base, ...fields };
    const sign = v2Sign(all, rt.m.apiV2Key, signType);
    const ordered: Record<string, string | number | undefined> = {};
    for (const [k, v] of Object.entries(all)) {
      ordered[k] = v;
      if (k === 'nonce_str') ordered.sign = sign;
    }
    return toXml(ordered);
  }

  function v2Error(rt: MerchantRt, signType: V2SignType, appid: string, code: string, des: string): string {
    return v2Reply(rt, signType, appid, { result_code: 'FAIL', err_code: code, err_code_des: des });
  }

  function handleV2(path: string, raw: Buffer): string {
    const p = parseXml(raw.toString('utf8'));
    if (!p) return v2Fail('XML格式错误');
    if (!p.mch_id) return v2Fail('缺少参数mch_id');
    const rt = merchants.get(p.mch_id);
    if (!rt) return v2Fail('mch_id参数格式错误');
    const signType = (p.sign_type || 'MD5') as V2SignType;
    if (signType !== 'MD5' && signType !== 'HMAC-SHA256') return v2Fail('sign_type参数格式错误');
    if (!p.sign || !eqStr(v2Sign(p, rt.m.apiV2Key, signType), p.sign)) return v2Fail('签名错误');
    if (!p.nonce_str) return v2Fail('缺少参数nonce_str');
    if (!p.appid) return v2Fail('缺少参数appid');
    if (!rt.m.appids.includes(p.appid)) return v2Error(rt, signType, p.appid, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    const reply = (f: Record<string, string | number | undefined>) => v2Reply(rt, signType, p.appid, f);
    const fail = (code: string, des: string) => v2Error(rt, signType, p.appid, code, des);

    if (path === '/pay/unifiedorder') {
      for (const k of ['body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type']) {
        if (!p[k]) return fail('LACK_PARAMS', `缺少参数${k}`);
      }
      const tradeType = p.trade_type as WxTradeType;
      if (!['JSAPI', 'NATIVE', 'APP', 'MWEB'].includes(tradeType)) return v2Fail('trade_type参数格式错误');
      if (tradeType === 'JSAPI' && !p.openid) return v2Fail('JSAPI支付必须传openid');
      if (!/^[1-9]\d{0,15}$/.test(p.total_fee) || !Number.isSafeInteger(Number(p.total_fee))) return v2Fail('total_fee参数格式错误');
      if (p.fee_type && p.fee_type !== 'CNY') return v2Fail('fee_type参数格式错误');
      if (!OUT_TRADE_NO_RE.test(p.out_trade_no)) return v2Fail('out_trade_no参数格式错误');
      if (!isHttpUrl(p.notify_url)) return v2Fail('notify_url参数格式错误');
      let timeExpire: number | undefined;
      if (p.time_expire) {
        timeExpire = parseCompactBeijing(p.time_expire);
        if (timeExpire === undefined) return v2Fail('time_expire参数格式错误');
        if (timeExpire <= now()) return fail('PARAM_ERROR', 'time_expire时间过短，刷卡至少1分钟，其他5分钟');
      }
      const signedParams: Record<string, string> = { ...p };
      for (const k of ['sign', 'nonce_str', 'sign_type']) delete signedParams[k];
      const placed = placeOrder(
        {
          protocol: 'v2',
          mchid: rt.m.mchid,
          appid: p.appid,
          out_trade_no: p.out_trade_no,
          trade_type: tradeType,
          description: p.body,
          attach: p.attach || undefined,
          notify_url: p.notify_url,
          total: Number(p.total_fee),
          currency: 'CNY',
          openid: p.openid || undefined,
          time_expire: timeExpire,
          sign_type: signType,
          device_info: p.device_info || undefined,
          request: p,
        },
        `v2|${stable(signedParams)}`,
      );
      if ('conflict' in placed) {
        if (placed.conflict === 'ORDERPAID') return fail('ORDERPAID', '该订单已支付');
        if (placed.conflict === 'ORDER_CLOSED') return fail('ORDERCLOSED', '该订单已关闭');
        return fail('OUT_TRADE_NO_USED', '商户订单号重复');
      }
      const o = placed.order;
      return reply({
        device_info: o.device_info,
        result_code: 'SUCCESS',
        prepay_id: o.prepay_id,
        trade_type: o.trade_type,
        code_url: o.code_url,
        mweb_url: o.h5_url,
      });
    }

    if (path === '/pay/orderquery') {
      if (!p.transaction_id && !p.out_trade_no) return fail('LACK_PARAMS', '缺少参数out_trade_no或transaction_id');
      let o: SandboxOrder | undefined;
      if (p.transaction_id) {
        o = byTransactionId.get(p.transaction_id);
        if (o && o.mchid !== rt.m.mchid) o = undefined;
        if (o) refresh(o);
      } else {
        o = findOrder(p.out_trade_no, rt.m.mchid);
      }
      if (!o) return fail('ORDERNOTEXIST', '此交易订单号不存在');
      const paid = o.transaction_id !== undefined;
      return reply({
        result_code: 'SUCCESS',
        device_info: o.device_info,
        openid: paid ? o.openid : undefined,
        is_subscribe: paid ? 'N' : undefined,
        trade_type: o.trade_type,
        bank_type: paid ? 'OTHERS' : undefined,
        total_fee: o.total,
        fee_type: 'CNY',
        cash_fee: paid ? o.total : undefined,
        cash_fee_type: paid ? 'CNY' : undefined,
        transaction_id: o.transaction_id,
        out_trade_no: o.out_trade_no,
        attach: o.attach,
        time_end: paid ? compactBeijing(o.success_time as number) : undefined,
        trade_state: o.trade_state,
        trade_state_desc: TRADE_STATE_DESC[o.trade_state],
      });
    }

    // /pay/closeorder
    if (!p.out_trade_no) return fail('LACK_PARAMS', '缺少参数out_trade_no');
    const o = findOrder(p.out_trade_no, rt.m.mchid);
    if (!o) return fail('ORDERNOTEXIST', '订单不存在');
    if (o.trade_state === 'SUCCESS' || o.trade_state === 'REFUND') return fail('ORDERPAID', '订单已支付，不能发起关单');
    if (o.trade_state === 'CLOSED' && !o.expired) return fail('ORDERCLOSED', '订单已关闭，无法重复关闭');
    o.trade_state = 'CLOSED';
    return reply({ result_code: 'SUCCESS', result_msg: 'OK' });
  }

  // --- payer side -------------------------------------------------------------------------
  function cashierView(o: SandboxOrder, h5: boolean, redirectUrl?: string, notice?: string): CashierView {
    refresh(o);
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

  function sendHtml(res: ServerResponse, status: number, html: string): void {
    res.writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(html)),
      'Cache-Control': 'no-store',
    });
    res.end(html);
  }

  function sendJson(res: ServerResponse, status: number, body: unknown): void {
    const s = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(s)) });
    res.end(s);
  }

  function handleCashier(req: IncomingMessage, res: ServerResponse, raw: Buffer, u: URL): void {
    const m = /^\/cashier\/([0-9A-Za-z]+)(?:\/(pay|cancel))?$/.exec(u.pathname);
    const o = m ? byCashierId.get(m[1]) : undefined;
    if (!m || !o) {
      sendHtml(res, 404, '<!DOCTYPE html><meta charset="utf-8"><title>微信支付</title><p id="status">二维码已失效或订单不存在</p>');
      return;
    }
    const method = req.method ?? 'GET';
    if (!m[2]) {
      if (method !== 'GET' && method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      const h5 = u.searchParams.get('h5') === '1';
      sendHtml(res, 200, renderCashier(cashierView(o, h5, u.searchParams.get('redirect_url') ?? undefined)));
      return;
    }
    if (method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const form = new URLSearchParams(raw.toString('utf8'));
    const h5 = form.get('h5') === '1';
    const redirectUrl = h5 && isHttpUrl(form.get('redirect_url')) ? (form.get('redirect_url') as string) : undefined;
    let notice: string;
    let status = 200;
    if (m[2] === 'pay') {
      try {
        payOrder(o, form.get('openid') || undefined);
        notice = '支付成功';
      } catch (e) {
        notice =
          e instanceof WxpaySandboxError && e.code === 'ORDERPAID'
            ? '该订单已支付'
            : cashierView(o, h5).state === 'EXPIRED'
              ? '订单已过期'
              : '订单已关闭，无法支付';
        status = 409;
      }
    } else {
      if (o.trade_state === 'NOTPAY') o.cancelled += 1;
      notice = '已取消支付';
    }
    if (redirectUrl) {
      res.writeHead(302, { Location: redirectUrl, 'Content-Length': '0' });
      res.end();
      return;
    }
    sendHtml(res, status, renderCashier(cashierView(o, h5, undefined, notice)));
  }

  function handleScript(path: string, res: ServerResponse, raw: Buffer): void {
    let b: unknown;
    try {
      b = JSON.parse(raw.toString('utf8') || '{}');
    } catch {
      sendJson(res, 400, { code: 'PARAM_ERROR', message: 'invalid JSON' });
      return;
    }
    if (!isObj(b) || typeof b.out_trade_no !== 'string') {
      sendJson(res, 400, { code: 'PARAM_ERROR', message: 'out_trade_no required' });
      return;
    }
    try {
      const o = findOrder(b.out_trade_no, typeof b.mchid === 'string' ? b.mchid : undefined);
      if (!o) {
        sendJson(res, 404, { code: 'ORDER_NOT_EXIST', message: '订单不存在' });
        return;
      }
      if (path === '/sandbox/pay') payOrder(o, typeof b.openid === 'string' ? b.openid : undefined);
      else cancelOrder(o);
      sendJson(res, 200, { out_trade_no: o.out_trade_no, trade_state: o.trade_state, transaction_id: o.transaction_id });
    } catch (e) {
      const code = e instanceof WxpaySandboxError ? e.code : 'SYSTEM_ERROR';
      sendJson(res, 400, { code, message: (e as Error).message });
    }
  }

  function cancelOrder(o: SandboxOrder): void {
    refresh(o);
    if (o.trade_state !== 'NOTPAY') throw new WxpaySandboxError(o.transaction_id ? 'ORDERPAID' : 'ORDER_CLOSED', '订单不是待支付状态');
    o.cancelled += 1;
  }

  // --- server -----------------------------------------------------------------------------
  const server = http.createServer((req, res) => {
    readBody(req)
      .then((raw) => {
        const u = new URL(req.url ?? '/', 'http://sandbox.invalid');
        if (u.pathname.startsWith('/v3/')) return handleV3(req, res, raw);
        if (u.pathname === '/pay/unifiedorder' || u.pathname === '/pay/orderquery' || u.pathname === '/pay/closeorder') {
          if (req.method !== 'POST') {
            res.writeHead(405).end();
            return;
          }
          const xml = handleV2(u.pathname, raw);
          log('POST', u.pathname);
          res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(xml)) });
          res.end(xml);
          return;
        }
        if (u.pathname.startsWith('/cashier/')) return handleCashier(req, res, raw, u);
        if ((u.pathname === '/sandbox/pay' || u.pathname === '/sandbox/cancel') && req.method === 'POST')
          return handleScript(u.pathname, res, raw);
        sendJson(res, 404, { code: 'NOT_FOUND', message: 'no such route' });
      })
      .catch((e: unknown) => {
        log('error', e);
        if (!res.headersSent) sendJson(res, 500, { code: 'SYSTEM_ERROR', message: '系统错误' });
        else res.destroy();
      });
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  baseUrl = `http://${urlHost}:${port}`;
  log('listening on', baseUrl);

  return {
    url: baseUrl,
    deliveries,
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const r of inflight) r.destroy();
      inflight.clear();
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error('wxpay sandbox closed'));
      }
      waiters.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    async pay(no, o = {}) {
      const order = findOrder(no, o.mchid);
      if (!order) throw new WxpaySandboxError('ORDER_NOT_EXIST', `no order ${no}`);
      payOrder(order, o.openid);
    },
    async cancel(no, o = {}) {
      const order = findOrder(no, o.mchid);
      if (!order) throw new WxpaySandboxError('ORDER_NOT_EXIST', `no order ${no}`);
      cancelOrder(order);
    },
    order(no, mchid) {
      return findOrder(no, mchid);
    },
    refund(outRefundNo, mchid) {
      if (mchid !== undefined) return refunds.get(okey(mchid, outRefundNo));
      return [...refunds.values()].find((r) => r.out_refund_no === outRefundNo);
    },
    waitForDelivery(no, predicate = () => true, timeoutMs = 10_000) {
      if (deliveries.some((d) => d.out_trade_no === no && predicate(d))) return Promise.resolve();
      if (closed) return Promise.reject(new Error('wxpay sandbox closed'));
      return new Promise<void>((resolve, reject) => {
        const w = {
          no,
          pred: predicate,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(w);
            const seen = deliveries.filter((d) => d.out_trade_no === no).map((d) => `#${d.attempt}:${d.status}`);
            reject(new Error(`waitForDelivery(${no}) timed out after ${timeoutMs} ms; attempts so far: ${seen.join(', ') || 'none'}`));
          }, timeoutMs),
        };
        waiters.add(w);
      });
    },
    signNotification(mchid, body, o = {}) {
      const rt = merchantOf(mchid);
      let signer: Signer;
      if (o.serial === rt.m.publicKeyId) signer = pubKeySigner(rt);
      else if (o.serial === rt.m.platform.serialHex) signer = platformSigner(rt);
      else signer = notificationSigner(rt);
      return { 'Content-Type': 'application/json', ...signedHeaders(signer, body, o) };
    },
    buildPaymentNotification(mchid, transaction) {
      const rt = merchantOf(mchid);
      const body = buildV3Notification(rt, transaction);
      return { body, headers: { 'Content-Type': 'application/json', ...signedHeaders(notificationSigner(rt), body) } };
    },
  };
}
