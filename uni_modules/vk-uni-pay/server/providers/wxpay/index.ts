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
import { WxpayV3Client, merchantState, safeJson } from './v3';
import { isGatewayFailure } from '../gateway';
import { WxpayV2Client, v2Key, v2SignType } from './v2';
import { decryptRefundReqInfo, decryptResource, nonceStr, parseXml, signLines, signV2, verifyV2 } from './crypto';
import { diagnoseWxpay } from './doctor';
import type { LoginIds, PlatformKey } from '../types';
import { DEFAULT_API_BASE, code2Session, officialAccountOpenid } from '../wechat-api';

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
  const body: Record<string, unknown> = {
    ...input.other,
    appid: config.appId,
    mchid: config.mchId,
    description: input.subject,
    out_trade_no: input.out_trade_no,
    notify_url: input.notify_url,
    amount: { total: input.total_fee, currency: 'CNY' },
  };
  if (input.time_expire) body.time_expire = toRfc3339Shanghai(input.time_expire);
  if (key === 'mp-weixin' || key === 'h5-weixin') body.payer = { openid: input.openid };
  if (key === 'mweb') {
    const extra = (input.other.scene_info as Record<string, unknown>) ?? {};
    body.scene_info = { ...extra, payer_client_ip: input.client_ip, h5_info: v3H5Info(config) };
  }
  const { data } = await new WxpayV3Client(config, ctx).request('POST', V3_ENDPOINT[key], body);
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
  let orderInfo: Record<string, unknown>;
  if (key === 'app-plus') {
    // APP signs the bare prepay_id as its 4th line (not the package)
    const sign = signLines(signer, [config.appId, timeStamp, nonce, data.prepay_id]);
    orderInfo = {
      appid: config.appId,
      partnerid: config.mchId,
      prepayid: data.prepay_id,
      package: 'Sign=WXPay',
      noncestr: nonce,
      timestamp: timeStamp,
      sign,
    };
  } else {
    const pkg = `prepay_id=${data.prepay_id}`;
    const paySign = signLines(signer, [config.appId, timeStamp, nonce, pkg]);
    orderInfo = { appId: config.appId, timeStamp, nonceStr: nonce, package: pkg, signType: 'RSA', paySign };
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
  if (V2_TRADE_TYPE[key] === 'JSAPI') params.openid = input.openid;
  if (key === 'h5') params.product_id = input.out_trade_no;
  if (key === 'mweb') params.scene_info = JSON.stringify({ h5_info: { type: 'Wap', ...(config.sceneInfo?.h5_info ?? {}) } });
  const answer = await new WxpayV2Client(config, ctx).request('/pay/unifiedorder', params);
  if (key === 'h5') return { orderInfo: { codeUrl: answer.code_url }, codeUrl: answer.code_url };
  if (key === 'mweb') return { orderInfo: { mwebUrl: answer.mweb_url } };
  const timeStamp = unixSeconds(ctx);
  const nonce = nonceStr();
  const signType = v2SignType(config);
  if (key === 'app-plus') {
    const info: Record<string, unknown> = {
      appid: config.appId,
      partnerid: config.mchId,
      prepayid: answer.prepay_id,
      package: 'Sign=WXPay',
      noncestr: nonce,
      timestamp: timeStamp,
    };
    return { orderInfo: { ...info, sign: signV2(info, v2Key(config), signType) } };
  }
  const info: Record<string, unknown> = {
    appId: config.appId,
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
      openid: a.openid || undefined,
      raw: a,
    };
  }
  try {
    const { data } = await new WxpayV3Client(config, ctx).request(
      'GET',
      `/v3/pay/transactions/out-trade-no/${encodeURIComponent(q.out_trade_no)}?mchid=${config.mchId}`,
    );
    return {
      state: TRADE_STATE[data.trade_state] ?? 'ERROR',
      out_trade_no: q.out_trade_no,
      transaction_id: data.transaction_id,
      total_fee: data.amount?.total,
      pay_date: parseProviderTime(data.success_time),
      openid: data.payer?.openid,
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
  const { status } = await new WxpayV3Client(config, ctx).request(
    'POST',
    `/v3/pay/transactions/out-trade-no/${encodeURIComponent(q.out_trade_no)}/close`,
    { mchid: config.mchId },
  );
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
  const body: Record<string, unknown> = {
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
  const { data } = await new WxpayV3Client(ctx.config, ctx).request(
    'GET',
    `/v3/refund/domestic/refunds/${encodeURIComponent(q.out_refund_no)}`,
  );
  return { state: REFUND_STATE[data.status] ?? 'PROCESSING', refund_id: data.refund_id, refund_fee: data.amount?.refund ?? 0, raw: data };
}

async function verifyNotifyV3(req: RawHttpRequest, ctx: Ctx): Promise<NotifyEvent> {
  const config = ctx.config;
  await new WxpayV3Client(config, ctx).verify(req.headers, req.body, 'notify');
  const outer = safeJson(req.body);
  if (!outer?.resource || typeof outer.event_type !== 'string') throw new PayError('NOTIFY_MALFORMED');
  if (!config.v3Key) throw new PayError('CONFIG_FIELD_MISSING', { node: 'wxpay', field: 'v3Key' });
  const plain = safeJson(decryptResource(outer.resource, config.v3Key));
  if (!plain) throw new PayError('NOTIFY_MALFORMED');
  if (outer.event_type === 'TRANSACTION.SUCCESS') {
    if (typeof plain.out_trade_no !== 'string' || !Number.isSafeInteger(plain.amount?.total)) throw new PayError('NOTIFY_MALFORMED');
    return {
      kind: 'payment',
      out_trade_no: plain.out_trade_no,
      transaction_id: plain.transaction_id,
      total_fee: plain.amount.total,
      paid: plain.trade_state === 'SUCCESS',
      appid: plain.appid,
      mchid: plain.mchid,
      openid: plain.payer?.openid,
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
  if (outer.event_type.startsWith('REFUND.')) {
    return {
      kind: 'refund',
      out_trade_no: plain.out_trade_no,
      out_refund_no: plain.out_refund_no,
      refund_fee: plain.amount?.refund,
      info: { refund_status: plain.refund_status, refund_id: plain.refund_id },
    };
  }
  return { kind: 'ignore', reason: outer.event_type };
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
    return {
      kind: 'refund',
      out_trade_no: r.out_trade_no,
      out_refund_no: r.out_refund_no,
      refund_fee: Number(r.refund_fee),
      info: { refund_status: r.refund_status },
    };
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
    openid: params.openid,
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
  createOrder: (input, ctx) => (isV2(ctx.config) ? createV2(input, ctx) : createV3(input, ctx)),
  queryOrder,
  closeOrder,
  refund,
  queryRefund,
  verifyNotify: (req, ctx) => (isV2(ctx.config) ? verifyNotifyV2(req, ctx) : verifyNotifyV3(req, ctx)),
  notifyReply,
  login,
};

export default wxpayAdapter;
export type { WxpayNodeConfig };
export { officialAccountOpenid, type OfficialAccountIds } from '../wechat-api';
export const adapter = wxpayAdapter;
