/**
 * WeChat Pay sandbox, API v3 routes (JSON; requests must carry a valid
 * `Authorization: WECHATPAY2-SHA256-RSA2048 …`; every answer, errors included, is signed with the
 * WeChat-side key chosen by the merchant's signMode).
 */
import { randomBytes } from 'node:crypto';
import type { PeerRequest, PeerResponse } from '../loopback';
import { aesGcmEncrypt, digits, parseAuthorization, parseRfc3339, rfc3339Beijing, rsaVerify, v3RequestMessage } from './protocol';
import { err, get, invalid, missing, type Ctx, type V3Result } from './v3-common';
import { checkSubMerchant, partnerOrderKey, partnerPrepay, partnerTransaction, visibleTo } from './partner';
import {
  isHttpUrl,
  isObj,
  OUT_TRADE_NO_RE,
  responseSigner,
  stable,
  TRADE_STATE_DESC,
  type Json,
  type MerchantRt,
  type SandboxOrder,
  type SandboxRefund,
  type WxpayState,
  type WxTradeType,
} from './state';
import type { WxpayStatements } from './statements';

/** the transfer routes (transfer.ts) build on the same v3 helpers */
export { err, get, invalid, missing };
export type { V3Result };
export type V3Ctx = Ctx;

/** the v3 Transaction shape (queries and TRANSACTION.SUCCESS notifications) */
export function transactionJson(o: SandboxOrder): Json {
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
  return o.partner ? partnerTransaction({ ...o, partner: o.partner }, out) : out;
}

/** A v3 route: method, path pattern, and the handler of a request whose signature checked out. */
export interface V3Route {
  method: string;
  re: RegExp;
  run: (ctx: V3Ctx, m: string[], req: PeerRequest) => V3Result;
}

/** `extraRoutes`: routes kept in their own files (e.g. transfer.ts), served with the same signing rules. */
export function v3Handler(state: WxpayState, statements: WxpayStatements, extraRoutes: V3Route[] = []): (req: PeerRequest) => PeerResponse {
  function checkBodyMchid(ctx: V3Ctx): V3Result | undefined {
    const mchid = get(ctx.body, 'mchid');
    if (mchid === undefined || mchid === '') return missing('mchid');
    if (mchid !== ctx.rt.m.mchid)
      return err(400, 'PARAM_ERROR', '请求体中的mchid与请求头Authorization中的商户号不一致', { field: '/mchid', location: 'body' });
    return undefined;
  }

  function checkQueryMchid(ctx: V3Ctx): V3Result | undefined {
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

  /** `partner`: `/v3/pay/partner/transactions/...` (sp_/sub_ ids instead of appid/mchid, see partner.ts) */
  function prepay(kind: 'jsapi' | 'app' | 'h5' | 'native', ctx: Ctx, partner = false): V3Result {
    const b = ctx.body;
    if (!isObj(b)) return err(400, 'PARAM_ERROR', '请求体不是有效的JSON对象');
    const ids = partner ? partnerPrepay(ctx, kind) : undefined;
    if (ids && 'status' in ids) return ids;
    const required = [...(partner ? [] : ['appid', 'mchid']), 'description', 'out_trade_no', 'notify_url', 'amount', 'amount.total'];
    if (kind === 'jsapi' && !partner) required.push('payer', 'payer.openid');
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
    const mchErr = partner ? undefined : checkBodyMchid(ctx);
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
      if (timeExpire <= state.now()) return invalid('time_expire', b.time_expire, '订单失效时间不能早于当前时间');
    }
    if (!ids && !ctx.rt.m.appids.includes(b.appid as string)) return err(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');

    const tradeType: WxTradeType = kind === 'jsapi' ? 'JSAPI' : kind === 'app' ? 'APP' : kind === 'h5' ? 'MWEB' : 'NATIVE';
    const placed = state.placeOrder(
      {
        protocol: 'v3',
        mchid: ctx.rt.m.mchid,
        appid: ids ? ids.appid : (b.appid as string),
        out_trade_no: no,
        trade_type: tradeType,
        description,
        attach: b.attach as string | undefined,
        notify_url: b.notify_url as string,
        total,
        currency: 'CNY',
        openid: ids ? ids.openid : (get(b, 'payer.openid') as string | undefined),
        time_expire: timeExpire,
        request: b,
        ...(ids ? { partner: ids.partner } : {}),
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

  /** the sub-merchant a partner route names (undefined on direct routes), or the error to answer */
  function subMerchantOf(ctx: Ctx, partner: boolean, from: 'query' | 'body'): { sub?: string } | V3Result {
    if (!partner) return (from === 'query' ? checkQueryMchid(ctx) : checkBodyMchid(ctx)) ?? { sub: undefined };
    const key = partnerOrderKey(ctx, from);
    return 'status' in key ? key : { sub: key.sub_mchid };
  }

  function queryByOutTradeNo(ctx: Ctx, no: string, partner = false): V3Result {
    const k = subMerchantOf(ctx, partner, 'query');
    if ('status' in k) return k;
    const o = visibleTo(state.findOrder(no, ctx.rt.m.mchid), k.sub);
    if (!o) return err(404, 'ORDER_NOT_EXIST', '订单不存在');
    return { status: 200, body: transactionJson(o) };
  }

  function queryByTransactionId(ctx: Ctx, id: string, partner = false): V3Result {
    const k = subMerchantOf(ctx, partner, 'query');
    if ('status' in k) return k;
    const o = visibleTo(state.byTransaction(id, ctx.rt.m.mchid), k.sub);
    if (!o) return err(404, 'ORDER_NOT_EXIST', '订单不存在');
    return { status: 200, body: transactionJson(state.refresh(o)) };
  }

  function closeOrder(ctx: Ctx, no: string, partner = false): V3Result {
    if (!isObj(ctx.body)) return err(400, 'PARAM_ERROR', '请求体不是有效的JSON对象');
    const k = subMerchantOf(ctx, partner, 'body');
    if ('status' in k) return k;
    const o = visibleTo(state.findOrder(no, ctx.rt.m.mchid), k.sub);
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
      ...(r.status === 'SUCCESS' ? { success_time: rfc3339Beijing(r.success_time) } : {}),
      create_time: rfc3339Beijing(r.create_time),
      status: r.status,
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

  function createRefund(ctx: V3Ctx): V3Result {
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

    // service provider: the refund names the order's sub-merchant (body sub_mchid)
    const sub = b.sub_mchid === undefined ? undefined : b.sub_mchid;
    if (sub !== undefined) {
      if (typeof sub !== 'string' || !sub) return invalid('sub_mchid', sub, '应为字符串');
      const subErr = checkSubMerchant(ctx, sub);
      if (subErr) return subErr;
    }
    const mchid = ctx.rt.m.mchid;
    const fingerprint = stable(b);
    const prev = state.refund(outRefundNo, mchid);
    if (prev) {
      if (prev.fingerprint !== fingerprint) return err(400, 'INVALID_REQUEST', '商户退款单号重复，且请求参数与原请求不一致');
      return { status: 200, body: refundJson(prev) };
    }
    let o: SandboxOrder | undefined;
    if (typeof b.transaction_id === 'string') {
      o = state.byTransaction(b.transaction_id, mchid);
    } else if (typeof b.out_trade_no === 'string') {
      o = state.findOrder(b.out_trade_no, mchid);
    }
    o = visibleTo(o, sub);
    if (!o) return err(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    if (o.trade_state !== 'SUCCESS' && o.trade_state !== 'REFUND') return err(400, 'INVALID_REQUEST', '订单未支付，不能退款');
    if (total !== o.total) return err(400, 'INVALID_REQUEST', '订单金额与原订单金额不一致');
    if (refund > o.total - o.refunded) return err(403, 'NOT_ENOUGH', '申请退款金额超过订单可退金额');
    const t = state.now();
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
      ...(sub ? { sub_mchid: sub } : {}),
      status: state.holdRefunds ? 'PROCESSING' : 'SUCCESS',
      ...(typeof b.notify_url === 'string' ? { notify_url: b.notify_url } : {}),
    };
    state.addRefund(r);
    o.refunded += refund; // a refund in flight counts too: it cannot be refunded twice
    o.trade_state = 'REFUND';
    state.log('refund', mchid, o.out_trade_no, outRefundNo, refund, r.status);
    const answer: V3Result = { status: 200, body: refundJson(r) };
    // the notification follows the answer, as at WeChat
    if (r.status === 'SUCCESS') setImmediate(() => state.onRefundFinal(r));
    return answer;
  }

  function queryRefund(ctx: V3Ctx, outRefundNo: string): V3Result {
    const r = state.refund(outRefundNo, ctx.rt.m.mchid);
    // a service provider's refund is found only with its sub-merchant (`?sub_mchid=`)
    if (!r || (r.sub_mchid ?? null) !== ctx.query.get('sub_mchid')) return err(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return { status: 200, body: refundJson(r) };
  }

  function certificates(ctx: V3Ctx): V3Result {
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

  const v3Routes: V3Route[] = [
    { method: 'POST', re: /^\/v3\/pay\/transactions\/(jsapi|app|h5|native)$/, run: (c, m) => prepay(m[1] as 'jsapi', c) },
    { method: 'GET', re: /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/, run: (c, m) => queryByOutTradeNo(c, m[1]) },
    { method: 'GET', re: /^\/v3\/pay\/transactions\/id\/([^/]+)$/, run: (c, m) => queryByTransactionId(c, m[1]) },
    { method: 'POST', re: /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/, run: (c, m) => closeOrder(c, m[1]) },
    { method: 'POST', re: /^\/v3\/pay\/partner\/transactions\/(jsapi|app|h5|native)$/, run: (c, m) => prepay(m[1] as 'jsapi', c, true) },
    { method: 'GET', re: /^\/v3\/pay\/partner\/transactions\/out-trade-no\/([^/]+)$/, run: (c, m) => queryByOutTradeNo(c, m[1], true) },
    { method: 'GET', re: /^\/v3\/pay\/partner\/transactions\/id\/([^/]+)$/, run: (c, m) => queryByTransactionId(c, m[1], true) },
    { method: 'POST', re: /^\/v3\/pay\/partner\/transactions\/out-trade-no\/([^/]+)\/close$/, run: (c, m) => closeOrder(c, m[1], true) },
    { method: 'POST', re: /^\/v3\/refund\/domestic\/refunds$/, run: (c) => createRefund(c) },
    { method: 'GET', re: /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/, run: (c, m) => queryRefund(c, m[1]) },
    { method: 'GET', re: /^\/v3\/certificates$/, run: (c) => certificates(c) },
    { method: 'GET', re: /^\/v3\/bill\/tradebill$/, run: (c) => statements.apply('trade', c.rt.m.mchid, c.query) },
    { method: 'GET', re: /^\/v3\/bill\/fundflowbill$/, run: (c) => statements.apply('fundflow', c.rt.m.mchid, c.query) },
    { method: 'GET', re: /^\/v3\/billdownload\/file$/, run: (c) => statements.download(c.rt.m.mchid, c.query) },
    ...extraRoutes,
  ];

  function reply(rt: MerchantRt, requestSerial: string | undefined, result: V3Result): PeerResponse {
    if (result.raw)
      return {
        status: result.status,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(result.raw.length) },
        body: result.raw,
      };
    const body = result.status === 204 || result.body === undefined ? '' : JSON.stringify(result.body);
    const headers: Record<string, string> = {
      'Request-ID': randomBytes(16).toString('hex').toUpperCase(),
      ...state.signedHeaders(responseSigner(rt, requestSerial), body),
    };
    if (result.status !== 204) {
      headers['Content-Type'] = 'application/json; charset=utf-8';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    return { status: result.status, headers, body: result.status === 204 ? '' : body };
  }

  function handleV3(req: PeerRequest): PeerResponse {
    const rawUrl = req.url;
    const raw = req.body;
    const method = req.method.toUpperCase();
    const u = new URL(rawUrl, 'http://sandbox.invalid');
    const requestSerial = req.headers['wechatpay-serial'];
    const auth = parseAuthorization(req.headers.authorization);
    const claimed = auth?.mchid !== undefined ? state.merchants.get(auth.mchid) : undefined;
    const replyRt = claimed ?? state.fallbackRt;

    const route = v3Routes.find((r) => r.method === method && r.re.test(u.pathname));
    if (!route) {
      const other = v3Routes.some((r) => r.re.test(u.pathname));
      return reply(
        replyRt,
        requestSerial,
        other ? err(405, 'NOT_ALLOWED', `不支持的请求方法 ${method}`) : err(404, 'NOT_FOUND', '请求的资源不存在'),
      );
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
      return reply(
        replyRt,
        requestSerial,
        signError('Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》', 'authorization format error'),
      );
    }
    for (const k of ['mchid', 'nonce_str', 'timestamp', 'serial_no', 'signature']) {
      if (!auth[k]) {
        return reply(replyRt, requestSerial, signError(`Http头Authorization中缺少${k}`, `${k} missing`));
      }
    }
    if (!claimed) {
      return reply(replyRt, requestSerial, signError('商户号不存在或未开通API v3', 'mchid not found'));
    }
    if (auth.serial_no.toUpperCase() !== claimed.m.merchant.serialHex) {
      return reply(replyRt, requestSerial, signError('商户证书序列号有误。请使用签名私钥匹配的证书序列号', 'serial_no not match'));
    }
    if (!/^\d{1,12}$/.test(auth.timestamp)) {
      return reply(replyRt, requestSerial, signError('Http头Authorization中timestamp格式错误', 'timestamp invalid'));
    }
    const message = v3RequestMessage(method, rawUrl, auth.timestamp, auth.nonce_str, raw);
    if (!rsaVerify(message, auth.signature, claimed.merchantPublicKey)) {
      return reply(replyRt, requestSerial, signError('错误的签名，验签失败', 'sign not match'));
    }

    let body: unknown;
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return reply(claimed, requestSerial, err(400, 'PARAM_ERROR', '请求体不是合法的JSON'));
      }
    }
    const m = route.re.exec(u.pathname) as RegExpExecArray;
    const params = m.map((s, i) => (i === 0 ? s : decodeURIComponent(s)));
    const result = route.run({ rt: claimed, query: u.searchParams, body }, params, req);
    state.log(method, u.pathname, result.status);
    return reply(claimed, requestSerial, result);
  }
  return handleV3;
}
