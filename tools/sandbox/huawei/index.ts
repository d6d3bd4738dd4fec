/**
 * Huawei Pay sandbox (Payment Kit REST, direct merchant) on loopback. Dev and tests only.
 *
 * Like the real gateway it checks every merchant request's PayMercAuth header (callerId, authId,
 * a fresh `time`, an unused traceId, bodySign over the signed body string or GET path, headerSign
 * over the header fields) with the merchant's public key (RSA-PSS, or SM2 checked by sm-crypto, the
 * library Huawei's docs use), and signs every answer and notification with its own SM2 key. With
 * `independentSigner` those signatures are made by sm-crypto too, so that the plugin's SM2 code is
 * checked against an independent implementation on every call; by default they are made with the
 * plugin's own SM2 code, which is about ten times faster (sm-crypto: ~150 ms a signature here).
 *
 * Served: pre-order (`/api/v2/aggr/preorder/create/app|fa`), order query by mercOrderNo, refund
 * (`/api/v1/aggr/transactions/refunds`, settled asynchronously with a refund notification), refund
 * query by mercRefundOrderNo or sysRefundOrderNo, and `POST /client/requestPayment` standing in for
 * the HarmonyOS Payment Kit on the device: it checks the orderStr signature and pays.
 */
import { createPublicKey, constants, generateKeyPair, randomBytes, randomInt, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { huaweiSignString } from '../../../uni_modules/vk-uni-pay/server/providers/huawei/sign';
import { parseSm2PublicKey, sm2Sign } from '../../../uni_modules/vk-uni-pay/server/providers/huawei/sm2';
import {
  startLoopbackServer,
  nodeTransport,
  deliveryLog,
  deliverWithRetries,
  type PeerRequest,
  type PeerResponse,
  type Delivery,
} from '../loopback';

const generate = promisify(generateKeyPair) as (type: string, opts: object) => Promise<{ privateKey: KeyObject }>;
const { sm2 } = require('sm-crypto') as { sm2: SmCrypto };
interface SmCrypto {
  generateKeyPairHex(): { publicKey: string; privateKey: string };
  doSignature(msg: string, privateKey: string, opts: { hash: boolean; der: boolean; publicKey?: string }): string;
  doVerifySignature(msg: string, sigHex: string, publicKey: string, opts: { hash: boolean; der: boolean }): boolean;
}

export interface HuaweiMerchant {
  mchId: string;
  authId: string;
  appIds: string[];
  /** the merchant's signing key, as the merchant keeps it (PEM PKCS#8) */
  privateKeyPem: string;
  keyKind: 'rsa' | 'sm2';
}

/** A merchant with fresh keys: RSA 3072 (Huawei's guide asks for at least 3072 bits) or SM2. */
export async function createHuaweiMerchant(opts: { mchId?: string; appIds: string[]; keyKind?: 'rsa' | 'sm2' }): Promise<HuaweiMerchant> {
  const keyKind = opts.keyKind ?? 'rsa';
  const { privateKey } = keyKind === 'rsa' ? await generate('rsa', { modulusLength: 3072 }) : await generate('ec', { namedCurve: 'SM2' });
  return {
    mchId: opts.mchId ?? `1015${String(Date.now()).slice(-8)}`,
    authId: `1202${randomInt(1e10, 1e11)}`,
    appIds: opts.appIds,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    keyKind,
  };
}

interface Order {
  mchId: string;
  appId: string;
  mercOrderNo: string;
  sysTransOrderNo: string;
  prepayId: string;
  prepayAt: number;
  totalAmount: number;
  callbackUrl: string;
  scene: 'app' | 'fa';
  status: 'TRX_APPLY' | 'TRX_SUCCESS';
  finishTime?: number;
  refunded: number;
}

interface Refund {
  mchId: string;
  mercOrderNo: string;
  mercRefundOrderNo: string;
  sysRefundOrderNo: string;
  refundAmount: number;
  callbackUrl: string;
  status: 'REFUND_CHL_PROC' | 'REFUND_SUCCESS' | 'REFUND_FAILED';
  finishTime?: number;
}

export interface HuaweiSandboxOptions {
  port?: number;
  merchants: HuaweiMerchant[];
  notifyRetryDelaysMs?: number[];
  /** ms before an accepted refund turns REFUND_SUCCESS and is notified (default 30) */
  refundDelayMs?: number;
  /** sign answers and notifications with sm-crypto instead of the plugin's SM2 code */
  independentSigner?: boolean;
}

export interface HuaweiSandbox {
  url: string;
  /** Huawei Pay certificate's public key as the merchant platform shows it: hex `04…` */
  platformPublicKeyHex: string;
  /** the same key as PEM SubjectPublicKeyInfo */
  platformPublicKeyPem: string;
  orders: Map<string, Order>;
  refunds: Map<string, Refund>;
  deliveries: Delivery[];
  /** every API call seen: path and resultCode */
  calls: Array<{ path: string; resultCode: string; subCode?: string }>;
  /** the device's Payment Kit: checks the orderStr and pays (sends the notification) */
  requestPayment(orderStr: string): Promise<{ resultCode: string; resultDesc?: string }>;
  /** pays an order directly (the user confirmed on the checkout) */
  pay(mercOrderNo: string): Promise<void>;
  waitForDelivery(key: string, timeoutMs?: number): Promise<Delivery>;
  /** a payment notification body for an order, signed by the sandbox (override fields; `sign: null` to leave it unsigned) */
  paymentNotification(mercOrderNo: string, over?: Record<string, unknown>): string;
  /** signs any object the way Huawei signs notifications (for forged-content tests) */
  signed(fields: Record<string, unknown>): string;
  /** POSTs a body to a URL like the gateway's notifier, returns the reply */
  post(url: string, body: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const pad2 = (n: number) => String(n).padStart(2, '0');
/** `2026-12-01T11:00:00.000+0800` (Huawei's finishTime form) */
function beijingIso(ms: number): string {
  const t = new Date(ms + 8 * 3600_000);
  return `${t.getUTCFullYear()}-${pad2(t.getUTCMonth() + 1)}-${pad2(t.getUTCDate())}T${pad2(t.getUTCHours())}:${pad2(t.getUTCMinutes())}:${pad2(
    t.getUTCSeconds(),
  )}.${String(t.getUTCMilliseconds()).padStart(3, '0')}+0800`;
}
/** `2026-12-01 11:00:00` (callbackTime) */
const beijingPlain = (ms: number) => beijingIso(ms).slice(0, 19).replace('T', ' ');

/** The uncompressed hex point of an SM2 public key (what sm-crypto takes). */
function sm2Hex(key: KeyObject): string {
  const spki = key.export({ type: 'spki', format: 'der' });
  return spki.subarray(spki.length - 65).toString('hex');
}

export async function startHuaweiSandbox(opts: HuaweiSandboxOptions): Promise<HuaweiSandbox> {
  const platform = sm2.generateKeyPairHex();
  const platformPem = (() => {
    // SubjectPublicKeyInfo of id-ecPublicKey with the SM2 curve OID, then the point
    const prefix = Buffer.from('3059301306072a8648ce3d020106082a811ccf5501822d034200', 'hex');
    const der = Buffer.concat([prefix, Buffer.from(platform.publicKey, 'hex')]);
    return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n`;
  })();
  const merchants = new Map(opts.merchants.map((m) => [m.mchId, { ...m, publicKey: createPublicKey(m.privateKeyPem) }] as const));
  const orders = new Map<string, Order>();
  const byPrepay = new Map<string, Order>();
  const refunds = new Map<string, Refund>();
  const seenTraceIds = new Set<string>();
  const log = deliveryLog();
  const calls: HuaweiSandbox['calls'] = [];
  const transport = nodeTransport();
  const delays = opts.notifyRetryDelaysMs ?? [20, 50, 100, 200];
  const okKey = (mchId: string, no: string) => `${mchId}|${no}`;

  const platformD = BigInt('0x' + platform.privateKey);
  const platformPoint = parseSm2PublicKey(platform.publicKey)!;
  const sign = (fields: Record<string, unknown>): Record<string, unknown> => {
    const content = huaweiSignString(fields as Record<string, any>);
    const sig = opts.independentSigner
      ? Buffer.from(sm2.doSignature(content, platform.privateKey, { hash: true, der: true, publicKey: platform.publicKey }), 'hex')
      : sm2Sign(Buffer.from(content, 'utf8'), platformD, platformPoint);
    return { ...fields, sign: sig.toString('base64') };
  };

  const answer = (path: string, fields: Record<string, unknown>): PeerResponse => {
    calls.push({ path, resultCode: String(fields.resultCode), ...(fields.subCode ? { subCode: String(fields.subCode) } : {}) });
    return { status: 200, body: JSON.stringify(sign(fields)) };
  };
  const refuse = (path: string, subCode: string, subDesc: string, resultCode = '400000') =>
    answer(path, { resultCode, resultDesc: subDesc, subCode, subDesc });

  /** the merchant signature checks the gateway makes before anything else */
  function checkAuth(req: PeerRequest, bodyContent: string): { mchId: string } | string {
    let auth: Record<string, any>;
    try {
      auth = JSON.parse(req.headers.paymercauth ?? '');
    } catch {
      return 'PayMercAuth missing';
    }
    const m = merchants.get(String(auth.callerId));
    if (!m) return 'unknown callerId';
    if (auth.authId !== m.authId) return 'authId mismatch';
    if (typeof auth.time !== 'number' || Math.abs(Date.now() - auth.time) > 5 * 60_000) return 'time outside the window';
    if (typeof auth.traceId !== 'string' || !auth.traceId || auth.traceId.length > 32 || seenTraceIds.has(auth.traceId))
      return 'traceId missing or reused';
    const { headerSign, ...rest } = auth;
    if (!verifyMerchant(m, bodyContent, auth.bodySign)) return 'bodySign invalid';
    if (!verifyMerchant(m, huaweiSignString(rest), headerSign)) return 'headerSign invalid';
    seenTraceIds.add(auth.traceId);
    return { mchId: m.mchId };
  }

  function verifyMerchant(m: HuaweiMerchant & { publicKey: KeyObject }, content: string, sig: unknown): boolean {
    if (typeof sig !== 'string') return false;
    const bytes = Buffer.from(sig, 'base64');
    if (m.keyKind === 'sm2') return sm2.doVerifySignature(content, bytes.toString('hex'), sm2Hex(m.publicKey), { hash: true, der: true });
    return nodeVerify(
      'sha256',
      Buffer.from(content, 'utf8'),
      { key: m.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      bytes,
    );
  }

  function notification(o: Order): Record<string, unknown> {
    const m = merchants.get(o.mchId)!;
    return {
      callbackId: randomBytes(12).toString('hex'),
      callbackTime: beijingPlain(Date.now()),
      dataType: 'plain',
      signType: 'SM2',
      certNo: 'sandbox-cert-1',
      mercNo: m.mchId,
      appId: o.appId,
      sysTransOrderNo: o.sysTransOrderNo,
      mercOrderNo: o.mercOrderNo,
      orderStatus: o.status,
      currency: 'CNY',
      totalAmount: o.totalAmount,
      payerAmount: o.totalAmount,
      promotionAmount: 0,
      finishTime: beijingIso(o.finishTime ?? Date.now()),
      paymentTools: 'HUAWEIPAY',
    };
  }

  const isAck = (res: { status: number; body: Buffer }) => {
    try {
      const r = JSON.parse(res.body.toString('utf8'));
      return res.status === 200 && r.resultCode === '000000' && r.resultDesc === 'Success.';
    } catch {
      return false;
    }
  };

  function deliver(key: string, target: string, body: string) {
    const d: Delivery = { key, url: target, attempts: 0, acked: false };
    void deliverWithRetries(
      d,
      () => transport.request({ method: 'POST', url: target, headers: { 'content-type': 'application/json;charset=UTF-8' }, body }),
      isAck,
      delays,
      (x) => log.record(x),
    );
  }

  function markPaid(o: Order) {
    if (o.status === 'TRX_SUCCESS') return;
    o.status = 'TRX_SUCCESS';
    o.finishTime = Date.now();
    deliver(o.mercOrderNo, o.callbackUrl, JSON.stringify(sign(notification(o))));
  }

  function settleRefund(r: Refund) {
    r.status = 'REFUND_SUCCESS';
    r.finishTime = Date.now();
    const body = sign({
      callbackId: randomBytes(12).toString('hex'),
      callbackTime: beijingPlain(Date.now()),
      dataType: 'plain',
      signType: 'SM2',
      mercNo: r.mchId,
      mercRefundNo: r.mercRefundOrderNo,
      sysRefundNo: r.sysRefundOrderNo,
      refundAmount: r.refundAmount,
      payerRefundAmount: r.refundAmount,
      promotionRefundAmount: 0,
      currency: 'CNY',
      finishTime: beijingIso(r.finishTime),
      refundOrderStatus: r.status,
    });
    deliver(r.mercRefundOrderNo, r.callbackUrl, JSON.stringify(body));
  }

  const refundAnswer = (path: string, r: Refund) =>
    answer(path, {
      resultCode: '000000',
      resultDesc: 'Success.',
      sysRefundOrderNo: r.sysRefundOrderNo,
      mercRefundOrderNo: r.mercRefundOrderNo,
      refundOrderStatus: r.status,
      refundAmount: r.refundAmount,
      payerRefundAmount: r.refundAmount,
      promotionRefundAmount: 0,
      currency: 'CNY',
      ...(r.finishTime ? { finishTime: beijingIso(r.finishTime) } : {}),
    });

  async function handle(req: PeerRequest): Promise<PeerResponse> {
    const path = req.path;
    if (req.method === 'POST' && path === '/client/requestPayment')
      return { status: 200, body: JSON.stringify(await clientPay(req.body.toString('utf8'))) };
    let body: Record<string, any> = {};
    if (req.method === 'POST') {
      try {
        body = JSON.parse(req.body.toString('utf8'));
      } catch {
        return refuse(path, 'INVALID_ARGUMENTS', 'body is not JSON');
      }
    }
    const auth = checkAuth(req, req.method === 'POST' ? huaweiSignString(body) : req.url);
    if (typeof auth === 'string') return refuse(path, 'AUTH_FAILED', auth, '100001');
    const mchId = auth.mchId;

    const pre = /^\/api\/v2\/aggr\/preorder\/create\/(app|fa)$/.exec(path);
    if (req.method === 'POST' && pre) {
      const m = merchants.get(mchId)!;
      if (!m.appIds.includes(body.appId)) return refuse(path, 'INVALID_APPID', 'appId not bound to the merchant');
      if (body.mercNo !== mchId) return refuse(path, 'INVALID_MERCNO', 'mercNo differs from callerId');
      if (!Number.isSafeInteger(body.totalAmount) || body.totalAmount <= 0) return refuse(path, 'INVALID_ARGUMENTS', 'totalAmount');
      if (typeof body.mercOrderNo !== 'string' || !body.mercOrderNo || body.mercOrderNo.length > 46)
        return refuse(path, 'INVALID_ARGUMENTS', 'mercOrderNo');
      if (typeof body.tradeSummary !== 'string' || !body.tradeSummary || body.tradeSummary.length > 128)
        return refuse(path, 'INVALID_ARGUMENTS', 'tradeSummary');
      if (typeof body.callbackUrl !== 'string' || !/^https?:\/\//.test(body.callbackUrl))
        return refuse(path, 'INVALID_ARGUMENTS', 'callbackUrl');
      let o = orders.get(okKey(mchId, body.mercOrderNo));
      if (o && (o.totalAmount !== body.totalAmount || o.status !== 'TRX_APPLY')) return refuse(path, 'CHECK_ORDER_STATUS', '订单状态异常');
      if (!o) {
        o = {
          mchId,
          appId: body.appId,
          mercOrderNo: body.mercOrderNo,
          sysTransOrderNo: `124${Date.now()}${randomBytes(4).toString('hex')}`,
          prepayId: '',
          prepayAt: 0,
          totalAmount: body.totalAmount,
          callbackUrl: body.callbackUrl,
          scene: pre[1] as 'app' | 'fa',
          status: 'TRX_APPLY',
          refunded: 0,
        };
        orders.set(okKey(mchId, o.mercOrderNo), o);
      }
      o.callbackUrl = body.callbackUrl;
      o.prepayId = `pp${randomBytes(12).toString('hex')}`;
      o.prepayAt = Date.now();
      byPrepay.set(o.prepayId, o);
      return answer(path, { resultCode: '000000', resultDesc: 'Success.', prepayId: o.prepayId });
    }

    const q = /^\/api\/v2\/aggr\/transactions\/merc-orders\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && q) {
      if (req.query.mercNo !== mchId) return refuse(path, 'INVALID_MERCNO', '无效商户号');
      const o = orders.get(okKey(mchId, decodeURIComponent(q[1])));
      if (!o) return refuse(path, 'MERC_ORDER_NOT_EXIST', '商户订单号不存在');
      return answer(path, {
        resultCode: '000000',
        resultDesc: 'Success.',
        sysTransOrderNo: o.sysTransOrderNo,
        mercOrderNo: o.mercOrderNo,
        orderStatus: o.status,
        currency: 'CNY',
        totalAmount: o.totalAmount,
        ...(o.status === 'TRX_SUCCESS'
          ? { payerAmount: o.totalAmount, promotionAmount: 0, finishTime: beijingIso(o.finishTime!), paymentTools: 'HUAWEIPAY' }
          : {}),
      });
    }

    if (req.method === 'POST' && path === '/api/v1/aggr/transactions/refunds') {
      const o = orders.get(okKey(mchId, String(body.mercOrderNo)));
      if (!o) return refuse(path, 'MERC_ORDER_NOT_EXIST', '商户订单号不存在');
      if (typeof body.mercRefundOrderNo !== 'string' || !body.mercRefundOrderNo || body.mercRefundOrderNo.length > 64)
        return refuse(path, 'INVALID_ARGUMENTS', 'mercRefundOrderNo');
      if (typeof body.callbackUrl !== 'string' || !body.callbackUrl) return refuse(path, 'INVALID_ARGUMENTS', 'callbackUrl');
      const existing = refunds.get(okKey(mchId, body.mercRefundOrderNo));
      // the same refund number refunds once (the docs' re-entry rule)
      if (existing) return refundAnswer(path, existing);
      if (o.status !== 'TRX_SUCCESS') return refuse(path, 'CHECK_ORDER_STATUS', '订单状态异常');
      const amount = body.refundAmount ?? o.totalAmount - o.refunded;
      if (!Number.isSafeInteger(amount) || amount <= 0 || amount > o.totalAmount - o.refunded)
        return refuse(path, 'REFUND_AMOUNT_INVALID', '退款金额超限');
      o.refunded += amount;
      const r: Refund = {
        mchId,
        mercOrderNo: o.mercOrderNo,
        mercRefundOrderNo: body.mercRefundOrderNo,
        sysRefundOrderNo: `1240${Date.now()}${randomBytes(4).toString('hex')}`,
        refundAmount: amount,
        callbackUrl: body.callbackUrl,
        status: 'REFUND_CHL_PROC',
      };
      refunds.set(okKey(mchId, r.mercRefundOrderNo), r);
      setTimeout(() => settleRefund(r), opts.refundDelayMs ?? 30);
      return refundAnswer(path, r);
    }

    const rq = /^\/api\/v1\/aggr\/transactions\/refunds\/(merc-orders|orders)\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && rq) {
      const no = decodeURIComponent(rq[2]);
      const r =
        rq[1] === 'orders'
          ? [...refunds.values()].find((x) => x.mchId === mchId && x.sysRefundOrderNo === no)
          : refunds.get(okKey(mchId, no));
      if (!r) return refuse(path, 'REFUND_ORDER_NOT_EXIST', '退款订单不存在');
      return refundAnswer(path, r);
    }
    return { status: 404, body: JSON.stringify({ resultCode: '404', resultDesc: 'not found' }) };
  }

  /** The device side: Payment Kit checks the orderStr (merchant signature, prepay id age) and the user pays. */
  async function clientPay(orderStr: string): Promise<{ resultCode: string; resultDesc?: string }> {
    let f: Record<string, any>;
    try {
      f = JSON.parse(orderStr);
    } catch {
      return { resultCode: '50000101', resultDesc: 'orderStr is not JSON' };
    }
    const o = byPrepay.get(String(f.prepay_id));
    const m = merchants.get(String(f.merc_no));
    if (!o || !m || o.mchId !== m.mchId) return { resultCode: '50000101', resultDesc: 'unknown prepay_id' };
    if (Date.now() - o.prepayAt > 10 * 60_000) return { resultCode: '50000101', resultDesc: 'prepay_id expired' };
    if (f.auth_id !== m.authId || (f.app_id !== undefined && f.app_id !== o.appId))
      return { resultCode: '50000101', resultDesc: 'app or cert mismatch' };
    if (!/^\d{13}$/.test(String(f.timestamp)) || typeof f.noncestr !== 'string' || !f.noncestr || f.noncestr.length > 32)
      return { resultCode: '50000101', resultDesc: 'timestamp or noncestr' };
    if (!verifyMerchant(m, huaweiSignString(f), f.sign)) return { resultCode: '50000101', resultDesc: 'sign invalid' };
    markPaid(o);
    return { resultCode: '0' };
  }

  const server = await startLoopbackServer(handle, opts.port ?? 0);
  const find = (no: string) => [...orders.values()].find((o) => o.mercOrderNo === no);

  return {
    url: server.url,
    platformPublicKeyHex: platform.publicKey,
    platformPublicKeyPem: platformPem,
    orders,
    refunds,
    deliveries: log.deliveries,
    calls,
    requestPayment: clientPay,
    async pay(no) {
      const o = find(no);
      if (!o) throw new Error(`no order ${no}`);
      markPaid(o);
    },
    waitForDelivery: (key, t) => log.waitFor(key, t),
    paymentNotification(no, over = {}) {
      const o = find(no);
      if (!o) throw new Error(`no order ${no}`);
      const fields = { ...notification({ ...o, status: 'TRX_SUCCESS', finishTime: o.finishTime ?? Date.now() }), ...over };
      if (over.sign !== null) return JSON.stringify(sign(fields));
      delete (fields as Record<string, unknown>).sign;
      return JSON.stringify(fields);
    },
    signed: (fields) => JSON.stringify(sign(fields)),
    async post(target, body) {
      const res = await transport.request({
        method: 'POST',
        url: target,
        headers: { 'content-type': 'application/json;charset=UTF-8' },
        body,
      });
      return { status: res.status, body: res.body.toString('utf8') };
    },
    close: server.close,
  };
}
