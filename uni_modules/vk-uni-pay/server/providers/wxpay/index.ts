/**
 * WeChat Pay adapter: one pipeline per scene (build payload → sign → send → verify → parse), v3 by
 * default and v2 when the node says `version: 2`. Scenes (vk-uni-pay pay types):
 * mp-weixin / h5-weixin → JSAPI, app-plus → APP, h5 → NATIVE (QR), mweb → H5 (MWEB).
 */
import { PayError } from '../../core/errors';
import { parseProviderTime, toCompactShanghai, toRfc3339Shanghai } from '../../core/time';
import type {
  CreateOrderInput,
  CreateOrderResult,
  NotifyEvent,
  ProviderAdapter,
  ProviderContext,
  QueryOrderResult,
  RawHttpRequest,
  RefundInput,
  RefundResult,
  TradeState,
} from '../types';
import type { IntegratedResponse } from '../../../../../types/unicloud-server';
import { isV2, type WxpayNodeConfig } from './config';
import { WxpayV3Client, merchantState, verifiedNotification } from './v3';
import { isGatewayFailure } from '../gateway';
import { WxpayV2Client, v2Key, v2SignType } from './v2';
import { decryptRefundReqInfo, nonceStr, parseXml, signLines, signV2, verifyV2 } from './crypto';
import { diagnoseWxpay } from './doctor';
import {
  PARTNER_ENDPOINT,
  clientAppId,
  partnerClose,
  partnerPrepayFields,
  partnerQueryPath,
  partnerRefundQueryPath,
  partnerTransactionIds,
  partnerV2Ids,
  storedPartner,
  wxpayPrepareCreate,
} from './partner';
import { wxpayTransferHooks } from './transfer';
import { wxpayCancelCodepay, wxpayCodepay } from './codepay';
import type { LoginIds, PlatformKey } from '../types';
import { DEFAULT_API_BASE, code2Session, officialAccountOpenid } from '../wechat-api';
import { downloadWxpayStatement, wxpayStatementAccount } from './statement';

type Ctx = ProviderContext<WxpayNodeConfig>;

const V3_ENDPOINT: Record<string, string> = {
  'mp-weixin': '/v3/pay/transactions/jsapi',
  'h5-weixin': '/v3/pay/transactions/jsapi',
  'app-plus': '/v3/pay/transactions/app',
  h5: '/v3/pay/transactions/native',
  mweb: '/v3/pay/transactions/h5',
};
const V2_TRADE_TYPE: Record<string, string> = { 'mp-weixin': 'JSAPI', 'h5-weixin': 'JSAPI', 'app-plus': 'APP', h5: 'NATIVE', mweb: 'MWEB' };

const TRADE_STATE: Record<string, TradeState> = {
  SUCCESS: 'PAID',
  NOTPAY: 'NOTPAY',
  CLOSED: 'CLOSED',
  REVOKED: 'CLOSED',
  REFUND: 'REFUND',
  USERPAYING: 'PAYING',
  PAYERROR: 'ERROR',
};

/** v3 renames h5_info.wap_url/wap_name (vk-uni-pay config) to app_url/app_name. */
function v3H5Info(config: WxpayNodeConfig): Record<string, string> {
  const info = config.sceneInfo?.h5_info ?? {};
  const { wap_url, wap_name, ...rest } = info;
  return { type: 'Wap', ...rest, ...(wap_url ? { app_url: wap_url } : {}), ...(wap_name ? { app_name: wap_name } : {}) };
}

function unixSeconds(ctx: Ctx): string {
  return String(Math.floor(ctx.clock.now() / 1000));
}

async function createV3(input: CreateOrderInput, ctx: Ctx): Promise<CreateOrderResult> {
  const config = ctx.config;
  const key = input.platformKey;
  const jsapi = key === 'mp-weixin' || key === 'h5-weixin';
  // service-provider mode: the order's sp_/sub_ ids instead of appid/mchid, the payer under the right app
  const partner = storedPartner(ctx.partner);
  const body: Record<string, unknown> = {
    ...input.other,
    ...(partner ? partnerPrepayFields(partner, jsapi ? input.openid : undefined) : { appid: config.appId, mchid: config.mchId }),
    description: input.subject,
    out_trade_no: input.out_trade_no,
    notify_url: input.notify_url,
    amount: { total: input.total_fee, currency: 'CNY' },
  };
  if (input.time_expire) body.time_expire = toRfc3339Shanghai(input.time_expire);
  if (jsapi && !partner) body.payer = { openid: input.openid };
  if (key === 'mweb') {
    const extra = (input.other.scene_info as Record<string, unknown>) ?? {};
    body.scene_info = { ...extra, payer_client_ip: input.client_ip, h5_info: v3H5Info(config) };
  }
  const { data } = await new WxpayV3Client(config, ctx).request('POST', (partner ? PARTNER_ENDPOINT : V3_ENDPOINT)[key], body);
  const signer = merchantState(config).signer;
  if (key === 'h5') {
    if (!data.code_url) throw new PayError('GATEWAY_RESPONSE_INVALID');
    return { orderInfo: { codeUrl: data.code_url }, codeUrl: data.code_url };
  }
  if (key === 'mweb') {
    if (!data.h5_url) throw new PayError('GATEWAY_RESPONSE_INVALID');
    return { orderInfo: { mwebUrl: data.h5_url } };
  }
  if (!data.prepay_id) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const timeStamp = unixSeconds(ctx);
  const nonce = nonceStr();
  // the app that starts the payment; a sub-merchant's payment names the sub-merchant as partnerid
  const appId = partner ? clientAppId(partner) : config.appId;
  let orderInfo: Record<string, unknown>;
  if (key === 'app-plus') {
    // APP signs the bare prepay_id as its 4th line (not the package)
    const sign = signLines(signer, [appId, timeStamp, nonce, data.prepay_id]);
    orderInfo = {
      appid: appId,
      partnerid: partner ? partner.sub_mchid : config.mchId,
      prepayid: data.prepay_id,
      package: 'Sign=WXPay',
      noncestr: nonce,
      timestamp: timeStamp,
      sign,
    };
  } else {
    const pkg = `prepay_id=${data.prepay_id}`;
    const paySign = signLines(signer, [appId, timeStamp, nonce, pkg]);
    orderInfo = { appId, timeStamp, nonceStr: nonce, package: pkg, signType: 'RSA', paySign };
  }
  return { orderInfo };
}

async function createV2(input: CreateOrderInput, ctx: Ctx): Promise<CreateOrderResult> {
  const config = ctx.config;
  const key = input.platformKey;
  const params: Record<string, unknown> = {
    ...input.other,
    body: input.subject,
    out_trade_no: input.out_trade_no,
    total_fee: input.total_fee,
    spbill_create_ip: input.client_ip,
    notify_url: input.notify_url,
    trade_type: V2_TRADE_TYPE[key],
  };
  if (input.time_expire) params.time_expire = toCompactShanghai(input.time_expire);
  const partner = storedPartner(ctx.partner);
  // service provider: an openid under the sub-merchant's app is its sub_openid
  if (V2_TRADE_TYPE[key] === 'JSAPI') params[partner?.sub_appid ? 'sub_openid' : 'openid'] = input.openid;
  if (key === 'h5') params.product_id = input.out_trade_no;
  if (key === 'mweb') params.scene_info = JSON.stringify({ h5_info: { type: 'Wap', ...(config.sceneInfo?.h5_info ?? {}) } });
  const answer = await new WxpayV2Client(config, ctx).request('/pay/unifiedorder', params);
  if (key === 'h5') return { orderInfo: { codeUrl: answer.code_url }, codeUrl: answer.code_url };
  if (key === 'mweb') return { orderInfo: { mwebUrl: answer.mweb_url } };
  const timeStamp = unixSeconds(ctx);
  const nonce = nonceStr();
  const signType = v2SignType(config);
  const appId = partner ? clientAppId(partner) : config.appId;
  if (key === 'app-plus') {
    const info: Record<string, unknown> = {
      appid: appId,
      partnerid: partner ? partner.sub_mchid : config.mchId,
      prepayid: answer.prepay_id,
      package: 'Sign=WXPay',
      noncestr: nonce,
      timestamp: timeStamp,
    };
    return { orderInfo: { ...info, sign: signV2(info, v2Key(config), signType) } };
  }
  const info: Record<string, unknown> = {
    appId,
    timeStamp,
    nonceStr: nonce,
    package: `prepay_id=${answer.prepay_id}`,
    signType,
  };
  return { orderInfo: { ...info, paySign: signV2(info, v2Key(config), signType) } };
}

async function queryOrder(q: { out_trade_no: string }, ctx: Ctx): Promise<QueryOrderResult> {
  const config = ctx.config;
  if (isV2(config)) {
    let a: Record<string, string>;
    try {
      a = await new WxpayV2Client(config, ctx).request('/pay/orderquery', { out_trade_no: q.out_trade_no });
    } catch (e) {
      if (isGatewayFailure(e) && e.verified && e.providerCode === 'ORDERNOTEXIST')
        return { state: 'NOT_FOUND', out_trade_no: q.out_trade_no, raw: e.detail };
      throw e;
    }
    return {
      state: TRADE_STATE[a.trade_state] ?? 'ERROR',
      out_trade_no: q.out_trade_no,
      transaction_id: a.transaction_id || undefined,
      total_fee: a.total_fee ? Number(a.total_fee) : undefined,
      pay_date: parseProviderTime(a.time_end),
      openid: partnerV2Ids(a).openid,
      raw: a,
    };
  }
  const partner = storedPartner(ctx.partner);
  try {
    const { data } = await new WxpayV3Client(config, ctx).request(
      'GET',
      partner
        ? partnerQueryPath(q.out_trade_no, partner)
        : `/v3/pay/transactions/out-trade-no/${encodeURIComponent(q.out_trade_no)}?mchid=${config.mchId}`,
    );
    return {
      state: TRADE_STATE[data.trade_state] ?? 'ERROR',
      out_trade_no: q.out_trade_no,
      transaction_id: data.transaction_id,
      total_fee: data.amount?.total,
      pay_date: parseProviderTime(data.success_time),
      openid: partner ? partnerTransactionIds(data).openid : data.payer?.openid,
      raw: data,
    };
  } catch (e) {
    if (isGatewayFailure(e) && e.verified && e.httpStatus === 404)
      return { state: 'NOT_FOUND', out_trade_no: q.out_trade_no, raw: e.detail };
    throw e;
  }
}

async function closeOrder(q: { out_trade_no: string }, ctx: Ctx) {
  const config = ctx.config;
  if (isV2(config)) {
    const raw = await new WxpayV2Client(config, ctx).request('/pay/closeorder', { out_trade_no: q.out_trade_no });
    return { closed: true, raw };
  }
  const partner = storedPartner(ctx.partner);
  const close = partner
    ? partnerClose(q.out_trade_no, partner)
    : { path: `/v3/pay/transactions/out-trade-no/${encodeURIComponent(q.out_trade_no)}/close`, body: { mchid: config.mchId } };
  const { status } = await new WxpayV3Client(config, ctx).request('POST', close.path, close.body);
  return { closed: status === 204 || status === 200, raw: { status } };
}

const REFUND_STATE: Record<string, RefundResult['state']> = {
  SUCCESS: 'SUCCESS',
  PROCESSING: 'PROCESSING',
  CLOSED: 'FAIL',
  ABNORMAL: 'FAIL',
};

async function refund(input: RefundInput, ctx: Ctx): Promise<RefundResult> {
  if (isV2(ctx.config))
    throw new PayError('OPERATION_UNSUPPORTED', {
      provider: 'wxpay v2',
      operation: 'refund (WeChat Pay v2 needs the .p12 client certificate `pfx`, which Node 18+ cannot load; configure version 3)',
    });
  const partner = storedPartner(ctx.partner);
  const body: Record<string, unknown> = {
    ...(partner ? { sub_mchid: partner.sub_mchid } : {}),
    out_trade_no: input.out_trade_no,
    out_refund_no: input.out_refund_no,
    amount: { refund: input.refund_fee, total: input.total_fee, currency: 'CNY' },
  };
  if (input.refund_desc) body.reason = input.refund_desc;
  if (input.notify_url) body.notify_url = input.notify_url;
  const { data } = await new WxpayV3Client(ctx.config, ctx).request('POST', '/v3/refund/domestic/refunds', body);
  return {
    state: REFUND_STATE[data.status] ?? 'PROCESSING',
    refund_id: data.refund_id,
    refund_fee: data.amount?.refund ?? input.refund_fee,
    raw: data,
  };
}

async function queryRefund(q: { out_trade_no: string; out_refund_no: string }, ctx: Ctx): Promise<RefundResult> {
  if (isV2(ctx.config)) throw new PayError('OPERATION_UNSUPPORTED', { provider: 'wxpay v2', operation: 'queryRefund' });
  const partner = storedPartner(ctx.partner);
  const { data } = await new WxpayV3Client(ctx.config, ctx).request(
    'GET',
    partner ? partnerRefundQueryPath(q.out_refund_no, partner) : `/v3/refund/domestic/refunds/${encodeURIComponent(q.out_refund_no)}`,
  );
  return { state: REFUND_STATE[data.status] ?? 'PROCESSING', refund_id: data.refund_id, refund_fee: data.amount?.refund ?? 0, raw: data };
}

async function verifyNotifyV3(req: RawHttpRequest, ctx: Ctx): Promise<NotifyEvent> {
  const { outer, plain } = await verifiedNotification(req, ctx);
  if (outer.event_type === 'TRANSACTION.SUCCESS') {
    if (typeof plain.out_trade_no !== 'string' || !Number.isSafeInteger(plain.amount?.total)) throw new PayError('NOTIFY_MALFORMED');
    // a service provider's notification names sp_/sub_ ids (the service matches sub_mchid with the order)
    const ids =
      plain.sp_mchid !== undefined ? partnerTransactionIds(plain) : { appid: plain.appid, mchid: plain.mchid, openid: plain.payer?.openid };
    return {
      kind: 'payment',
      out_trade_no: plain.out_trade_no,
      transaction_id: plain.transaction_id,
      total_fee: plain.amount.total,
      paid: plain.trade_state === 'SUCCESS',
      ...ids,
      pay_date: parseProviderTime(plain.success_time),
      info: {
        event_id: outer.id,
        trade_type: plain.trade_type,
        trade_state: plain.trade_state,
        bank_type: plain.bank_type,
        success_time: plain.success_time,
        amount: plain.amount,
      },
    };
  }
  if (outer.event_type.startsWith('REFUND.')) return refundEvent(plain, plain.refund_status, plain.amount?.refund);
  return { kind: 'ignore', reason: outer.event_type };
}

/**
 * Refund notifications (v3 `REFUND.SUCCESS` / `REFUND.ABNORMAL` / `REFUND.CLOSED`,
 * https://pay.weixin.qq.com/doc/v3/merchant/4012791865; v2 `req_info` with refund_status SUCCESS /
 * CHANGE / REFUNDCLOSE, https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16): each is a
 * final state. ABNORMAL / CHANGE (the buyer's account cannot take the money) and CLOSED end the
 * refund without money returned: FAIL here, the reservation is released.
 */
const REFUND_NOTICE_STATE: Record<string, 'SUCCESS' | 'FAIL'> = {
  SUCCESS: 'SUCCESS',
  ABNORMAL: 'FAIL',
  CLOSED: 'FAIL',
  CHANGE: 'FAIL',
  REFUNDCLOSE: 'FAIL',
};

function refundEvent(r: Record<string, any>, status: unknown, refund_fee: unknown): NotifyEvent {
  if (typeof r.out_trade_no !== 'string' || typeof r.out_refund_no !== 'string') throw new PayError('NOTIFY_MALFORMED');
  const state = REFUND_NOTICE_STATE[String(status)];
  return {
    kind: 'refund',
    out_trade_no: r.out_trade_no,
    out_refund_no: r.out_refund_no,
    ...(Number.isSafeInteger(refund_fee) ? { refund_fee: refund_fee as number } : {}),
    ...(state ? { state } : {}),
    ...(r.refund_id ? { refund_id: String(r.refund_id) } : {}),
    info: {
      refund_status: status,
      refund_id: r.refund_id,
      success_time: r.success_time,
      user_received_account: r.user_received_account,
      ...(r.mchid || r.mch_id ? { mchid: r.mchid ?? r.mch_id } : {}),
    },
  };
}

async function verifyNotifyV2(req: RawHttpRequest, ctx: Ctx): Promise<NotifyEvent> {
  const config = ctx.config;
  const params = parseXml(req.body.toString('utf8'));
  if (params.req_info) {
    // refund notifications carry no signature: authenticity comes from decrypting with the API key
    const r = parseXml(
      decryptRefundReqInfo(params.req_info, v2Key(config))
        .replace(/^<root>/, '<xml>')
        .replace(/<\/root>$/, '</xml>'),
    );
    return refundEvent({ ...r, mch_id: params.mch_id }, r.refund_status, Number(r.refund_fee));
  }
  // verified with the configured sign type, whatever the message claims
  if (!verifyV2(params, v2Key(config), v2SignType(config))) throw new PayError('NOTIFY_SIGNATURE_INVALID');
  if (params.return_code !== 'SUCCESS') return { kind: 'ignore', reason: `return_code ${params.return_code}` };
  const total = Number(params.total_fee);
  if (!params.out_trade_no || !Number.isSafeInteger(total)) throw new PayError('NOTIFY_MALFORMED');
  return {
    kind: 'payment',
    out_trade_no: params.out_trade_no,
    transaction_id: params.transaction_id,
    total_fee: total,
    paid: params.result_code === 'SUCCESS',
    appid: params.appid,
    mchid: params.mch_id,
    // service provider: sub_mch_id / sub_appid (matched with the order) and the payer under either app
    ...partnerV2Ids(params),
    pay_date: parseProviderTime(params.time_end),
    info: { trade_type: params.trade_type, bank_type: params.bank_type, time_end: params.time_end, cash_fee: params.cash_fee },
  };
}

/** A v2 notification is XML; anything else is answered as v3 (JSON signed in `Wechatpay-*` headers). */
function isV3Notification(req: RawHttpRequest): boolean {
  return !req.body.toString('utf8').trimStart().startsWith('<');
}

/**
 * The reply each protocol documents:
 * - API v3 (https://pay.weixin.qq.com/doc/v3/merchant/4012791861): success is HTTP 200/204 without
 *   a body; failure is 4xx/5xx with `{"code":"FAIL","message":"…"}` (WeChat retries);
 * - API v2 (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_7): XML `return_code`
 *   SUCCESS / FAIL (HTTP 200 / 500).
 * Without the request (no protocol known) the v2 XML is answered, which v3 also reads right on success.
 */
function notifyReply(ok: boolean, message?: string, req?: RawHttpRequest): IntegratedResponse {
  if (req && isV3Notification(req)) {
    if (ok) return { mpserverlessComposedResponse: true, statusCode: 200, headers: {}, body: '' };
    return {
      mpserverlessComposedResponse: true,
      statusCode: 500,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ code: 'FAIL', message: message || 'FAIL' }),
    };
  }
  const code = ok ? 'SUCCESS' : 'FAIL';
  const msg = ok ? 'OK' : (message || 'FAIL').replace(/]]>/g, '');
  return {
    mpserverlessComposedResponse: true,
    statusCode: ok ? 200 : 500,
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body: `<xml><return_code><![CDATA[${code}]]></return_code><return_msg><![CDATA[${msg}]]></return_msg></xml>`,
  };
}

/** Mini-program login (wx.login code) or official-account OAuth (JSAPI in the WeChat browser), on api.weixin.qq.com. */
async function login(code: string, platformKey: PlatformKey, ctx: ProviderContext<WxpayNodeConfig>): Promise<LoginIds> {
  if (platformKey === 'h5-weixin') return officialAccountOpenid(code, ctx);
  return code2Session(code, ctx, (ctx.config.apiBase || DEFAULT_API_BASE).replace(/\/+$/, ''), `wxpay.${platformKey}`);
}

export const wxpayAdapter: ProviderAdapter<WxpayNodeConfig> = {
  provider: 'wxpay',
  diagnose: diagnoseWxpay,
  prepareCreate: wxpayPrepareCreate,
  statementAccount: wxpayStatementAccount,
  downloadStatement: (billDate, ctx) => downloadWxpayStatement(ctx, billDate),
  createOrder: (input, ctx) => (isV2(ctx.config) ? createV2(input, ctx) : createV3(input, ctx)),
  queryOrder,
  closeOrder,
  refund,
  queryRefund,
  verifyNotify: (req, ctx) => (isV2(ctx.config) ? verifyNotifyV2(req, ctx) : verifyNotifyV3(req, ctx)),
  notifyReply,
  login,
  ...wxpayTransferHooks,
  codepay: wxpayCodepay,
  cancelCodepay: wxpayCancelCodepay,
};

export default wxpayAdapter;
export type { WxpayNodeConfig };
export { officialAccountOpenid, type OfficialAccountIds } from '../wechat-api';
export const adapter = wxpayAdapter;
