/**
 * WeChat Pay sandbox, API v2 routes (flat XML, sign_type MD5 | HMAC-SHA256 with the apiV2Key):
 * POST /pay/unifiedorder, /pay/orderquery, /pay/closeorder. Errors are answered with HTTP 200.
 */
import { timingSafeEqual } from 'node:crypto';
import { partnerV2, partnerV2Fields, visibleTo } from './partner';
import { compactBeijing, nonceStr, parseCompactBeijing, parseXml, toXml, v2Sign, type V2SignType } from './protocol';
import {
  isHttpUrl,
  OUT_TRADE_NO_RE,
  stable,
  TRADE_STATE_DESC,
  type MerchantRt,
  type SandboxOrder,
  type WxpayState,
  type WxTradeType,
} from './state';

export const V2_PATHS = ['/pay/unifiedorder', '/pay/orderquery', '/pay/closeorder'];

function eqStr(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

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

/** the XML answer to one v2 call (path is one of V2_PATHS) */
export function handleV2(state: WxpayState, path: string, raw: Buffer): string {
  const p = parseXml(raw.toString('utf8'));
  if (!p) return v2Fail('XML格式错误');
  if (!p.mch_id) return v2Fail('缺少参数mch_id');
  const rt = state.merchants.get(p.mch_id);
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
    const partner = partnerV2({ rt }, p);
    if (typeof partner === 'string') return fail('PARAM_ERROR', partner);
    if (tradeType === 'JSAPI' && !p.openid && !p.sub_openid) return v2Fail('JSAPI支付必须传openid');
    if (!/^[1-9]\d{0,15}$/.test(p.total_fee) || !Number.isSafeInteger(Number(p.total_fee))) return v2Fail('total_fee参数格式错误');
    if (p.fee_type && p.fee_type !== 'CNY') return v2Fail('fee_type参数格式错误');
    if (!OUT_TRADE_NO_RE.test(p.out_trade_no)) return v2Fail('out_trade_no参数格式错误');
    if (!isHttpUrl(p.notify_url)) return v2Fail('notify_url参数格式错误');
    let timeExpire: number | undefined;
    if (p.time_expire) {
      timeExpire = parseCompactBeijing(p.time_expire);
      if (timeExpire === undefined) return v2Fail('time_expire参数格式错误');
      if (timeExpire <= state.now()) return fail('PARAM_ERROR', 'time_expire时间过短，刷卡至少1分钟，其他5分钟');
    }
    const signedParams: Record<string, string> = { ...p };
    for (const k of ['sign', 'nonce_str', 'sign_type']) delete signedParams[k];
    const placed = state.placeOrder(
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
        openid: p.sub_openid || p.openid || undefined,
        time_expire: timeExpire,
        sign_type: signType,
        device_info: p.device_info || undefined,
        request: p,
        ...(partner ? { partner } : {}),
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
      o = state.byTransaction(p.transaction_id, rt.m.mchid);
      if (o) state.refresh(o);
    } else {
      o = state.findOrder(p.out_trade_no, rt.m.mchid);
    }
    // a sub-merchant's order is found only with its sub_mch_id
    o = visibleTo(o, p.sub_mch_id || undefined);
    if (!o) return fail('ORDERNOTEXIST', '此交易订单号不存在');
    const paid = o.transaction_id !== undefined;
    return reply({
      result_code: 'SUCCESS',
      device_info: o.device_info,
      ...partnerV2Fields(o, paid),
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
  const o = visibleTo(state.findOrder(p.out_trade_no, rt.m.mchid), p.sub_mch_id || undefined);
  if (!o) return fail('ORDERNOTEXIST', '订单不存在');
  if (o.trade_state === 'SUCCESS' || o.trade_state === 'REFUND') return fail('ORDERPAID', '订单已支付，不能发起关单');
  if (o.trade_state === 'CLOSED' && !o.expired) return fail('ORDERCLOSED', '订单已关闭，无法重复关闭');
  o.trade_state = 'CLOSED';
  return reply({ result_code: 'SUCCESS', result_msg: 'OK' });
}
