/**
 * WeChat sandbox peer for mini-program virtual payment: plays api.weixin.qq.com
 * (`/cgi-bin/stable_token`, `/sns/jscode2session`, `/sns/oauth2/access_token` for 公众号网页授权 codes,
 * `/xpay/query_order|refund_order|notify_provide_goods` with access_token and pay_sig checks, and the
 * coin APIs of coins.ts) and the WeChat client (`wx.login`, `wx.requestVirtualPayment`
 * checking paySig and the user signature), then pushes the (safe-mode encrypted) delivery message
 * to the app's message-push URL until it answers `{"ErrCode":0}`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  apiPaySig,
  encryptPushMessage,
  pushMsgSignature,
  pushSignature,
  userSignature,
  virtualPaySig,
} from '../../../uni_modules/vk-uni-pay/server/providers/wxpay-virtual/sign';
import { coinLedger, COIN_PATHS } from './coins';
import { startLoopbackServer, nodeTransport, deliveryLog, deliverWithRetries, PeerRequest, PeerResponse, Delivery } from '../loopback';

export interface WxApp {
  appId: string;
  secret: string;
  appKey: string;
  sandboxAppKey: string;
  offerId: string;
  token: string;
  encodingAESKey: string;
  pushUrl?: string;
  /** 'aes' (safe mode, default) or 'plain' */
  pushMode?: 'aes' | 'plain';
  /** coins per yuan configured in the MP console (default 100) */
  rate?: number;
}

export interface WxApiSandboxOptions {
  port?: number;
  apps: WxApp[];
  /** waits between push attempts (default short, for tests) */
  pushRetryDelaysMs?: number[];
}

/** What the WeChat client reports on failure (`fail` callback of requestVirtualPayment). */
export class WxClientError extends Error {
  constructor(
    readonly errCode: number,
    readonly errMsg: string,
  ) {
    super(`requestVirtualPayment:fail ${errMsg} (${errCode})`);
  }
}

export interface RequestVirtualPaymentArgs {
  appId: string;
  openid: string;
  signData: string;
  paySig: string;
  signature: string;
  mode: string;
}

interface XpayOrder {
  appId: string;
  openid: string;
  order_id: string;
  wx_order_id: string;
  transaction_id: string;
  env: 0 | 1;
  mode: string;
  status: number;
  order_fee: number;
  paid_fee: number;
  left_fee: number;
  refund_fee: number;
  create_time: number;
  paid_time: number;
  product_id?: string;
  quantity: number;
  attach: string;
  refunds: string[];
}

export interface WxApiSandbox {
  url: string;
  close(): Promise<void>;
  login(openid?: string, appId?: string): { code: string; openid: string };
  /** 公众号网页授权 (snsapi_base): the single-use `code` the OAuth redirect hands the page */
  oauthLogin(openid?: string, appId?: string): { code: string; openid: string };
  sessionKeyOf(openid: string, appId?: string): string | undefined;
  requestVirtualPayment(args: RequestVirtualPaymentArgs): Promise<void>;
  setPushUrl(appId: string, url: string): void;
  orders: Map<string, XpayOrder>;
  deliveries: Delivery[];
  waitForDelivery(out_trade_no: string, timeoutMs?: number): Promise<Delivery>;
  /** API calls seen (path, errcode) */
  calls: Array<{ path: string; errcode: number }>;
  /** coin accounts (coins.ts): a user's wallet, and coins given outside a payment */
  coins: ReturnType<typeof coinLedger>;
}

const RE_OUT_TRADE_NO = /^(?!_)[0-9A-Za-z_\-|*@]{8,32}$/;

export async function startWxApiSandbox(opts: WxApiSandboxOptions): Promise<WxApiSandbox> {
  const apps = new Map(opts.apps.map((a) => [a.appId, { ...a }]));
  const firstApp = opts.apps[0]?.appId;
  const tokens = new Map<string, { appId: string; expires: number }>();
  const stableTokens = new Map<string, string>();
  const codes = new Map<string, { appId: string; openid: string }>();
  const oauthCodes = new Map<string, { appId: string; openid: string; used: boolean }>();
  const sessions = new Map<string, string>(); // `${appId}|${openid}` → session_key
  const orders = new Map<string, XpayOrder>(); // `${appId}|${order_id}`
  const log = deliveryLog();
  const coins = coinLedger();
  const calls: WxApiSandbox['calls'] = [];
  const transport = nodeTransport();
  const delays = opts.pushRetryDelaysMs ?? [20, 50, 100, 200, 400];

  const json = (o: Record<string, unknown>): PeerResponse => ({ status: 200, body: JSON.stringify(o) });
  const err = (path: string, errcode: number, errmsg: string) => {
    calls.push({ path, errcode });
    return json({ errcode, errmsg });
  };

  async function push(app: WxApp, key: string, message: Record<string, unknown>): Promise<void> {
    if (!app.pushUrl) return;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = String(randomBytes(4).readUInt32BE(0));
    const q = new URLSearchParams({ signature: pushSignature(app.token, timestamp, nonce), timestamp, nonce });
    let body = JSON.stringify(message);
    if ((app.pushMode ?? 'aes') === 'aes') {
      const encrypt = encryptPushMessage(app.encodingAESKey, app.appId, body);
      q.set('encrypt_type', 'aes');
      q.set('msg_signature', pushMsgSignature(app.token, timestamp, nonce, encrypt));
      body = JSON.stringify({ ToUserName: `gh_${app.appId.slice(-8)}`, Encrypt: encrypt });
    }
    const url = `${app.pushUrl}${app.pushUrl.includes('?') ? '&' : '?'}${q}`;
    const d: Delivery = { key, url, attempts: 0, acked: false };
    await deliverWithRetries(
      d,
      () => transport.request({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body }),
      (res) => {
        try {
          return res.status === 200 && JSON.parse(res.body.toString('utf8')).ErrCode === 0;
        } catch {
          return false;
        }
      },
      delays,
      (x) => log.record(x),
    );
  }

  function deliverMessage(o: XpayOrder): Record<string, unknown> {
    const app = apps.get(o.appId)!;
    const item = { Quantity: o.quantity, OrigPrice: o.order_fee, ActualPrice: o.paid_fee, Attach: o.attach };
    return {
      ToUserName: `gh_${app.appId.slice(-8)}`,
      FromUserName: o.openid,
      CreateTime: o.paid_time,
      MsgType: 'event',
      Event: o.mode === 'short_series_goods' ? 'xpay_goods_deliver_notify' : 'xpay_coin_pay_notify',
      OpenId: o.openid,
      OutTradeNo: o.order_id,
      Env: o.env,
      WeChatPayInfo: { MchOrderNo: o.wx_order_id, TransactionId: o.transaction_id, PaidTime: o.paid_time },
      ...(o.mode === 'short_series_goods' ? { GoodsInfo: { ProductId: o.product_id, ...item } } : { CoinInfo: item }),
    };
  }

  function deliver(o: XpayOrder): void {
    void push(apps.get(o.appId)!, o.order_id, deliverMessage(o)).then(() => {
      const acked = log.deliveries.some((d) => d.key === o.order_id && d.acked);
      if (acked && o.status === 2) o.status = 4;
    });
  }

  function handle(req: PeerRequest): PeerResponse {
    const path = req.path;
    if (path === '/cgi-bin/stable_token' && req.method === 'POST') {
      let b: Record<string, any>;
      try {
        b = JSON.parse(req.body.toString('utf8'));
      } catch {
        return err(path, 47001, 'data format error');
      }
      const app = apps.get(b.appid);
      if (!app) return err(path, 40013, 'invalid appid');
      if (b.secret !== app.secret) return err(path, 40125, 'invalid appsecret');
      let token = stableTokens.get(app.appId);
      if (!token || b.force_refresh === true || (tokens.get(token)?.expires ?? 0) < Date.now()) {
        token = `AT_${randomUUID().replace(/-/g, '')}`;
        stableTokens.set(app.appId, token);
        tokens.set(token, { appId: app.appId, expires: Date.now() + 7200_000 });
      }
      calls.push({ path, errcode: 0 });
      return json({ access_token: token, expires_in: 7200 });
    }
    if (path === '/sns/jscode2session' && req.method === 'GET') {
      const app = apps.get(req.query.appid);
      if (!app) return err(path, 40013, 'invalid appid');
      if (req.query.secret !== app.secret) return err(path, 40125, 'invalid appsecret');
      const c = codes.get(req.query.js_code);
      if (!c || c.appId !== app.appId) return err(path, 40029, 'invalid code');
      codes.delete(req.query.js_code); // single use (40163 in real life)
      const session_key = randomBytes(16).toString('base64');
      sessions.set(`${app.appId}|${c.openid}`, session_key);
      calls.push({ path, errcode: 0 });
      return json({ openid: c.openid, session_key, unionid: `u_${c.openid}` });
    }
    if (path === '/sns/oauth2/access_token' && req.method === 'GET') {
      const app = apps.get(req.query.appid);
      if (!app) return err(path, 40013, 'invalid appid');
      if (req.query.secret !== app.secret) return err(path, 40125, 'invalid appsecret');
      if (req.query.grant_type !== 'authorization_code') return err(path, 40002, 'invalid grant_type');
      const c = oauthCodes.get(req.query.code ?? '');
      if (!c || c.appId !== app.appId) return err(path, 40029, 'invalid code');
      if (c.used) return err(path, 40163, 'code been used');
      c.used = true; // single use
      calls.push({ path, errcode: 0 });
      return json({
        access_token: `WAT_${randomUUID().replace(/-/g, '')}`,
        expires_in: 7200,
        refresh_token: `WRT_${randomUUID().replace(/-/g, '')}`,
        openid: c.openid,
        scope: 'snsapi_base',
        unionid: `u_${c.openid}`,
      });
    }
    if (path.startsWith('/xpay/') && req.method === 'POST') {
      const t = tokens.get(req.query.access_token ?? '');
      if (!t || t.expires < Date.now()) return err(path, 40001, 'invalid credential, access_token is invalid or not latest');
      const app = apps.get(t.appId)!;
      const raw = req.body.toString('utf8');
      let b: Record<string, any>;
      try {
        b = JSON.parse(raw);
      } catch {
        return err(path, 268490002, 'param error');
      }
      const key = b.env === 1 ? app.sandboxAppKey : app.appKey;
      if (req.query.pay_sig !== apiPaySig(key, path, raw)) return err(path, 268490003, 'sign error');
      if (COIN_PATHS.has(path)) {
        const answer = coins.handle(app.appId, path, b, raw, req.query.signature, sessions.get(`${app.appId}|${b.openid}`));
        calls.push({ path, errcode: answer.errcode });
        return json(answer);
      }
      const o =
        orders.get(`${app.appId}|${b.order_id}`) ??
        [...orders.values()].find((x) => x.appId === app.appId && b.wx_order_id && x.wx_order_id === b.wx_order_id);
      if (!o || o.env !== (b.env ?? 0) || (b.openid !== undefined && b.openid !== o.openid)) return err(path, 268490002, 'order not exist');
      calls.push({ path, errcode: 0 });
      if (path === '/xpay/query_order') {
        return json({
          errcode: 0,
          errmsg: 'ok',
          order: {
            order_id: o.order_id,
            create_time: o.create_time,
            update_time: o.paid_time,
            status: o.status,
            biz_type: 0,
            order_fee: o.order_fee,
            coupon_fee: 0,
            paid_fee: o.paid_fee,
            order_type: 0,
            refund_fee: o.refund_fee,
            paid_time: o.paid_time,
            provide_time: o.status === 4 ? o.paid_time : 0,
            biz_meta: '',
            env_type: o.env === 1 ? 2 : 1,
            token: '',
            left_fee: o.left_fee,
            wx_order_id: o.wx_order_id,
            channel_order_id: o.transaction_id,
            wxpay_order_id: o.transaction_id,
          },
        });
      }
      if (path === '/xpay/refund_order') {
        if (![2, 3, 4, 5].includes(o.status)) return err(path, 268490002, 'order not paid');
        if (typeof b.refund_order_id !== 'string' || !/^[0-9A-Za-z_\-|*@]{8,32}$/.test(b.refund_order_id))
          return err(path, 268490002, 'param error');
        if (o.refunds.includes(b.refund_order_id)) return err(path, 268490004, 'duplicate operation');
        if (b.left_fee !== o.left_fee || !Number.isSafeInteger(b.refund_fee) || b.refund_fee <= 0 || b.refund_fee > o.left_fee)
          return err(path, 268490002, 'param error: left_fee/refund_fee');
        o.refunds.push(b.refund_order_id);
        o.left_fee -= b.refund_fee;
        o.refund_fee += b.refund_fee;
        if (o.left_fee === 0) o.status = 5;
        const refundWx = `RWX${Date.now()}${o.refunds.length}`;
        const now = Math.floor(Date.now() / 1000);
        void push(app, `refund:${b.refund_order_id}`, {
          ToUserName: `gh_${app.appId.slice(-8)}`,
          FromUserName: o.openid,
          CreateTime: now,
          MsgType: 'event',
          Event: 'xpay_refund_notify',
          OpenId: o.openid,
          WxRefundId: refundWx,
          MchRefundId: b.refund_order_id,
          WxOrderId: o.wx_order_id,
          MchOrderId: o.order_id,
          RefundFee: b.refund_fee,
          RetCode: 0,
          RetMsg: 'ok',
          RefundStartTimestamp: now,
          RefundSuccTimestamp: now,
          WxpayRefundTransactionId: `50${Date.now()}`,
          RetryTimes: 0,
        });
        return json({
          errcode: 0,
          errmsg: 'ok',
          refund_order_id: b.refund_order_id,
          refund_wx_order_id: refundWx,
          pay_order_id: o.order_id,
          pay_wx_order_id: o.wx_order_id,
        });
      }
      if (path === '/xpay/notify_provide_goods') {
        deliver(o);
        return json({ errcode: 0, errmsg: 'ok' });
      }
      return err(path, 268490002, 'unknown api');
    }
    return { status: 404, body: JSON.stringify({ errcode: -1, errmsg: 'not found' }) };
  }

  const server = await startLoopbackServer(handle, opts.port ?? 0);

  return {
    url: server.url,
    close: server.close,
    orders,
    deliveries: log.deliveries,
    calls,
    coins,
    waitForDelivery: (out_trade_no, timeoutMs) => log.waitFor(out_trade_no, timeoutMs),
    setPushUrl(appId, url) {
      apps.get(appId)!.pushUrl = url;
    },
    login(openid = `o${randomBytes(12).toString('base64url')}`, appId = firstApp) {
      const code = randomBytes(16).toString('hex');
      codes.set(code, { appId, openid });
      return { code, openid };
    },
    oauthLogin(openid = `o${randomBytes(12).toString('base64url')}`, appId = firstApp) {
      const code = randomBytes(16).toString('hex');
      oauthCodes.set(code, { appId, openid, used: false });
      return { code, openid };
    },
    sessionKeyOf: (openid, appId = firstApp) => sessions.get(`${appId}|${openid}`),

    async requestVirtualPayment(a) {
      const app = apps.get(a.appId);
      if (!app) throw new WxClientError(1001, 'invalid appId');
      if (a.mode !== 'short_series_goods' && a.mode !== 'short_series_coin') throw new WxClientError(1001, 'invalid mode');
      let d: Record<string, any>;
      try {
        d = JSON.parse(a.signData);
      } catch {
        throw new WxClientError(-15001, 'signData is not JSON');
      }
      const env = d.env === 1 ? 1 : d.env === 0 ? 0 : undefined;
      if (env === undefined) throw new WxClientError(-15001, 'env invalid');
      // signatures over the exact signData text, like the client
      if (a.paySig !== virtualPaySig(env === 1 ? app.sandboxAppKey : app.appKey, a.signData))
        throw new WxClientError(-15005, 'paySig invalid');
      const sk = sessions.get(`${app.appId}|${a.openid}`);
      if (!sk) throw new WxClientError(-15005, 'session_key expired, call wx.login');
      if (a.signature !== userSignature(sk, a.signData)) throw new WxClientError(-15005, 'signature invalid');
      if (d.offerId !== app.offerId || d.currencyType !== 'CNY') throw new WxClientError(-15001, 'offerId/currencyType invalid');
      if (!Number.isSafeInteger(d.buyQuantity) || d.buyQuantity <= 0) throw new WxClientError(-15001, 'buyQuantity invalid');
      if (typeof d.outTradeNo !== 'string' || !RE_OUT_TRADE_NO.test(d.outTradeNo)) throw new WxClientError(-15001, 'outTradeNo invalid');
      if (orders.has(`${app.appId}|${d.outTradeNo}`)) throw new WxClientError(-15001, 'outTradeNo already used');
      let fee: number;
      if (a.mode === 'short_series_goods') {
        if (typeof d.productId !== 'string' || !Number.isSafeInteger(d.goodsPrice) || d.goodsPrice <= 0)
          throw new WxClientError(-15001, 'productId/goodsPrice invalid');
        fee = d.goodsPrice * d.buyQuantity;
      } else {
        fee = (d.buyQuantity * 100) / (app.rate ?? 100);
        if (!Number.isSafeInteger(fee)) throw new WxClientError(-15001, 'buyQuantity does not match the coin rate');
      }
      const now = Math.floor(Date.now() / 1000);
      const o: XpayOrder = {
        appId: app.appId,
        openid: a.openid,
        order_id: d.outTradeNo,
        wx_order_id: `WX${Date.now()}${randomBytes(3).toString('hex')}`,
        transaction_id: `42000${Date.now()}${randomBytes(2).readUInt16BE(0)}`,
        env,
        mode: a.mode,
        status: 2,
        order_fee: fee,
        paid_fee: fee,
        left_fee: fee,
        refund_fee: 0,
        create_time: now,
        paid_time: now,
        product_id: d.productId,
        quantity: d.buyQuantity,
        attach: String(d.attach ?? ''),
        refunds: [],
      };
      orders.set(`${app.appId}|${o.order_id}`, o);
      if (a.mode === 'short_series_coin') coins.credit(app.appId, env, a.openid, d.buyQuantity);
      deliver(o);
    },
  };
}
