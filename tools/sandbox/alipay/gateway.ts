/**
 * Alipay sandbox gateway (`gateway.do`): checks the merchant's RSA2 request signature (and the cert
 * SNs in certificate mode) and the common parameters, runs the method, and answers like Alipay:
 * the inner `…_response` text is built first (`/` escaped as `\/`) and signed with the app's
 * Alipay key. Methods: alipay.trade.precreate|create|query|close|refund|fastpay.refund.query,
 * alipay.system.oauth.token, alipay.data.dataservice.bill.downloadurl.query (statements.ts); `alipay.trade.app.pay` order strings are checked the same way.
 */
import { randomBytes } from 'node:crypto';
import { beijing, fenToYuanText, parseBeijing, rsa2Sign, rsa2Verify, signString, yuanToFenStrict } from './crypto';
import type { AlipaySandboxApp, AlipaySandboxOrder, AlipayState } from './state';
import { checkAppAuthToken, sameMerchant } from './isv';
import type { AlipayStatements } from './statements';

export interface Failure {
  code: string;
  msg: string;
  sub_code: string;
  sub_msg: string;
}

export const fail = (code: string, msg: string, sub_code: string, sub_msg: string): Failure => ({ code, msg, sub_code, sub_msg });
export const MISSING = (what: string) => fail('40001', 'Missing Required Arguments', `isv.missing-${what}`, `缺少必选参数 ${what}`);
export const BIZ = (sub_code: string, sub_msg: string) => fail('40004', 'Business Failed', sub_code, sub_msg);
export const INVALID_PARAM = (sub_msg: string) => BIZ('ACQ.INVALID_PARAMETER', sub_msg);

export function parseForm(text: string, into: Record<string, string>): void {
  for (const seg of text.split('&')) {
    if (!seg) continue;
    const eq = seg.indexOf('=');
    const k = decodeURIComponent((eq < 0 ? seg : seg.slice(0, eq)).replace(/\+/g, ' '));
    const v = eq < 0 ? '' : decodeURIComponent(seg.slice(eq + 1).replace(/\+/g, ' '));
    into[k] = v;
  }
}

/** Alipay's JSON: `/` escaped as `\/` */
function alipayJson(obj: unknown): string {
  return JSON.stringify(obj).replace(/\//g, '\\/');
}

export type Handler = (
  app: AlipaySandboxApp,
  biz: Record<string, any>,
  params: Record<string, string>,
) => Record<string, unknown> | Failure;

/** What methods living in other files (codepay.ts) may use to make and find trades. */
export interface GatewayKit {
  newTrade(
    app: AlipaySandboxApp,
    biz: Record<string, any>,
    params: Record<string, string>,
    via: AlipaySandboxOrder['via'],
  ): AlipaySandboxOrder | Failure;
  lookup(
    app: AlipaySandboxApp,
    biz: Record<string, any>,
    params: Record<string, string>,
    needScanned: boolean,
  ): AlipaySandboxOrder | Failure;
  isFailure(x: unknown): x is Failure;
}

export function alipayGateway(
  state: AlipayState,
  opts: {
    refundNotify?: boolean;
    refundNotice: (o: AlipaySandboxOrder, fen: number, reqNo: string, at: number) => void;
    /** methods kept in their own files (e.g. transfer.ts) */
    extraHandlers?: Record<string, Handler>;
    statements: AlipayStatements;
    /** more methods, from their own files */
    extraMethods?: (kit: GatewayKit) => Record<string, Handler>;
  },
) {
  function signedResponse(app: AlipaySandboxApp | undefined, responseKey: string, obj: Record<string, unknown>): string {
    const inner = alipayJson(obj);
    if (!app) return `{"${responseKey}":${inner}}`;
    const sign = rsa2Sign(inner, app.alipayPrivateKeyPem);
    const sn = state.sns.get(app.appId);
    return `{"${responseKey}":${inner}${sn ? `,"alipay_cert_sn":"${sn.alipay}"` : ''},"sign":"${sign}"}`;
  }

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
    const existing = state.order(app.appId, biz.out_trade_no);
    if (existing) {
      if (!sameMerchant(existing, params)) return BIZ('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      state.refresh(existing);
      if (existing.trade_status === 'TRADE_SUCCESS' || existing.trade_status === 'TRADE_FINISHED')
        return BIZ('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
      if (existing.trade_status === 'TRADE_CLOSED') return BIZ('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (existing.total_fen !== fen || existing.via !== via) return BIZ('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      return existing;
    }
    const o: AlipaySandboxOrder = {
      app_id: app.appId,
      out_trade_no: biz.out_trade_no,
      trade_no: state.newTradeNo(),
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
      gmt_create: state.now(),
      refunded_fen: 0,
      refunds: [],
      ...(params.app_auth_token ? { app_auth_token: params.app_auth_token } : {}),
    };
    state.addOrder(o);
    return o;
  }

  const isFailure = (x: unknown): x is Failure =>
    !!x && typeof x === 'object' && 'sub_code' in x && 'code' in x && (x as Failure).code !== '10000';

  function lookup(
    app: AlipaySandboxApp,
    biz: Record<string, any>,
    params: Record<string, string>,
    needScanned: boolean,
  ): AlipaySandboxOrder | Failure {
    if (!biz.out_trade_no && !biz.trade_no) return MISSING('out-trade-no');
    let o = biz.out_trade_no ? state.order(app.appId, biz.out_trade_no) : undefined;
    if (!o && biz.trade_no) for (const x of state.orders.values()) if (x.app_id === app.appId && x.trade_no === biz.trade_no) o = x;
    // another merchant's trade (other or no app_auth_token) does not exist for this call
    if (!o || (needScanned && !o.scanned) || !sameMerchant(o, params)) return BIZ('ACQ.TRADE_NOT_EXIST', '交易不存在');
    return state.refresh(o);
  }

  const handlers: Record<string, Handler> = {
    ...opts.extraHandlers,
    'alipay.trade.precreate'(app, biz, params) {
      const o = newTrade(app, biz, params, 'precreate');
      if (isFailure(o)) return o;
      if (!o.cashier_id) {
        o.cashier_id = randomBytes(12).toString('hex');
        state.byCashier.set(o.cashier_id, o);
      }
      return { code: '10000', msg: 'Success', out_trade_no: o.out_trade_no, qr_code: `${state.baseUrl}/cashier/${o.cashier_id}` };
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
    'alipay.trade.query'(app, biz, params) {
      const o = lookup(app, biz, params, true);
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
    'alipay.trade.close'(app, biz, params) {
      const o = lookup(app, biz, params, true);
      if (isFailure(o)) return o;
      if (o.trade_status === 'TRADE_CLOSED') return BIZ('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (o.trade_status !== 'WAIT_BUYER_PAY') return BIZ('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      o.trade_status = 'TRADE_CLOSED';
      o.gmt_close = state.now();
      return { code: '10000', msg: 'Success', out_trade_no: o.out_trade_no, trade_no: o.trade_no };
    },
    'alipay.trade.refund'(app, biz, params) {
      const o = lookup(app, biz, params, true);
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
      const at = state.now();
      o.refunds.push({ out_request_no: reqNo, fen, at });
      o.refunded_fen += fen;
      if (o.refunded_fen === o.total_fen) {
        o.trade_status = 'TRADE_CLOSED';
        o.gmt_close = at;
      }
      if (opts.refundNotify) opts.refundNotice(o, fen, reqNo, at);
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
      const c = state.authCodes.get(params.code);
      if (!c || c.appId !== app.appId) return fail('40002', 'Invalid Arguments', 'isv.code-invalid', '授权码code无效');
      state.authCodes.delete(params.code); // single use
      return {
        access_token: `authusrB${randomBytes(16).toString('hex')}`,
        expires_in: 1296000,
        refresh_token: `authusrB${randomBytes(16).toString('hex')}`,
        re_expires_in: 2592000,
        auth_start: beijing(state.now()),
        user_id: c.user_id,
        open_id: c.open_id,
      };
    },
    'alipay.data.dataservice.bill.downloadurl.query': (app, biz) => opts.statements.query(app, biz) as Record<string, unknown> | Failure,
    'alipay.trade.fastpay.refund.query'(app, biz, params) {
      const o = lookup(app, biz, params, true);
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
  Object.assign(handlers, opts.extraMethods?.({ newTrade, lookup, isFailure }) ?? {});
  /** request signature and common-parameter checks shared by gateway.do and app order strings */
  function checkRequest(params: Record<string, string>): { app?: AlipaySandboxApp; failure?: Failure; biz?: Record<string, any> } {
    const app = state.apps.get(params.app_id);
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
    const sn = state.sns.get(app.appId);
    if (sn) {
      if (!params.app_cert_sn) return { app, failure: MISSING('app-cert-sn') };
      if (params.app_cert_sn !== sn.app)
        return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-app-cert-sn', '应用公钥证书序列号不匹配') };
      if (!params.alipay_root_cert_sn) return { app, failure: MISSING('alipay-root-cert-sn') };
      if (params.alipay_root_cert_sn !== sn.root)
        return { app, failure: fail('40002', 'Invalid Arguments', 'isv.invalid-alipay-root-cert-sn', '支付宝根证书序列号不匹配') };
    }
    const tokenFailure = checkAppAuthToken(app, params);
    if (tokenFailure) return { app, failure: tokenFailure };
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
      // a refused app_auth_token is answered under the method's own key (the call itself was well-formed)
      const key = failure.sub_code === 'aop.invalid-app-auth-token' ? responseKey : 'error_response';
      text = signedResponse(failure.sub_code === 'isv.invalid-app-id' ? undefined : app, key, { ...failure });
    } else if (!handlers[method]) {
      text = signedResponse(app, 'error_response', { ...fail('40002', 'Invalid Arguments', 'isv.invalid-method', '不存在的方法名') });
    } else {
      const r = handlers[method](app!, biz!, params);
      const asError = method === 'alipay.system.oauth.token' && isFailure(r);
      text = signedResponse(app, asError ? 'error_response' : responseKey, r as Record<string, unknown>);
    }
    state.requests.push({ at: state.now(), method, app_id: params.app_id, params, biz: biz ?? {}, response: text });
    state.log(`${method} ${params.app_id} → ${text.length > 200 ? text.slice(0, 200) + '…' : text}`);
    return text;
  }

  /** what the Alipay App does with an `alipay.trade.app.pay` order string: verify it and create the trade */
  function submitAppOrder(orderStr: string): { trade_no: string; out_trade_no: string } {
    const params: Record<string, string> = {};
    parseForm(orderStr, params);
    const { app, failure, biz } = checkRequest(params);
    if (failure) throw new Error(`${failure.sub_code}: ${failure.sub_msg}`);
    if (params.method !== 'alipay.trade.app.pay') throw new Error(`not an app pay order string: ${params.method}`);
    const o = newTrade(app!, biz!, params, 'app');
    if (isFailure(o)) throw new Error(`${o.sub_code}: ${o.sub_msg}`);
    state.requests.push({ at: state.now(), method: params.method, app_id: params.app_id, params, biz: biz!, response: '' });
    return { trade_no: o.trade_no, out_trade_no: o.out_trade_no };
  }

  return { gateway, submitAppOrder };
}
