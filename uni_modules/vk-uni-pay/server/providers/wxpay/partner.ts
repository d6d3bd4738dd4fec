/**
 * WeChat Pay service-provider (服务商) mode, API v3: the service provider (the node's `appId` /
 * `mchId`, as vk-uni-pay configures it) places and manages orders for a sub-merchant (特约商户,
 * `sub_mchid`, optionally with its app `sub_appid`). Everything is signed with the service
 * provider's keys; only the ids and paths differ from the direct-merchant API. See
 * docs/partner.md for the facts and their sources.
 */
import { PayError } from '../../core/errors';
import type { PrepareCreateInput, PrepareCreateResult, ProviderContext } from '../types';
import type { WxpayNodeConfig } from './config';

/** The ids an order is created with and kept on (order fields of the same names). */
export interface WxpayPartnerIds {
  sp_appid: string;
  sp_mchid: string;
  sub_mchid: string;
  /** the sub-merchant's app; when set, the payer's openid is an openid under it (payer.sub_openid) */
  sub_appid?: string;
}

const MCHID = /^[0-9]{1,32}$/;
const APPID = /^[0-9A-Za-z_-]{1,32}$/;

function checked(field: string, v: unknown, re: RegExp): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !re.test(v)) throw new PayError('FIELD_INVALID', { field, reason: 'a WeChat Pay id' });
  return v;
}

/**
 * The partner ids of a new order: `data.sub_mchid` / `data.sub_appid` of the call, or else the
 * node's default sub-merchant `subMchId` / `subAppId` (vk-uni-pay config keys). Undefined: the node
 * pays as a direct merchant. A call's own sub_mchid never borrows the default sub-merchant's app.
 */
export function resolvePartner(config: WxpayNodeConfig, data: { sub_mchid?: unknown; sub_appid?: unknown }): WxpayPartnerIds | undefined {
  const callMch = checked('sub_mchid', data.sub_mchid, MCHID);
  const callApp = checked('sub_appid', data.sub_appid, APPID);
  const sub_mchid = callMch ?? checked('subMchId', config.subMchId, MCHID);
  if (!sub_mchid) {
    if (callApp) throw new PayError('FIELD_INVALID', { field: 'sub_mchid', reason: 'required with sub_appid (服务商模式)' });
    return undefined;
  }
  const sub_appid = callMch ? callApp : (callApp ?? checked('subAppId', config.subAppId, APPID));
  if (!config.appId) throw new PayError('CONFIG_FIELD_MISSING', { node: 'wxpay', field: 'appId' });
  if (!config.mchId) throw new PayError('CONFIG_FIELD_MISSING', { node: 'wxpay', field: 'mchId' });
  return { sp_appid: config.appId, sp_mchid: config.mchId, sub_mchid, ...(sub_appid ? { sub_appid } : {}) };
}

/** createPayment: the sub-merchant the order is made for, kept on the order before anything is sent */
export async function wxpayPrepareCreate(input: PrepareCreateInput, ctx: ProviderContext<WxpayNodeConfig>): Promise<PrepareCreateResult> {
  const p = resolvePartner(ctx.config, input.extra);
  return p ? { orderFields: { ...p } } : {};
}

/** The partner ids an existing order was created with (stored on the order), or undefined for a direct order. */
export function storedPartner(ids: Record<string, unknown> | undefined): WxpayPartnerIds | undefined {
  if (!ids || typeof ids.sub_mchid !== 'string' || !ids.sub_mchid) return undefined;
  if (typeof ids.sp_mchid !== 'string' || typeof ids.sp_appid !== 'string') return undefined;
  const p: WxpayPartnerIds = { sp_appid: ids.sp_appid, sp_mchid: ids.sp_mchid, sub_mchid: ids.sub_mchid };
  if (typeof ids.sub_appid === 'string' && ids.sub_appid) p.sub_appid = ids.sub_appid;
  return p;
}

/** prepay endpoint per scene (https://pay.weixin.qq.com/doc/v3/partner/4012523579 and its APP/H5/Native siblings) */
export const PARTNER_ENDPOINT: Record<string, string> = {
  'mp-weixin': '/v3/pay/partner/transactions/jsapi',
  'h5-weixin': '/v3/pay/partner/transactions/jsapi',
  'app-plus': '/v3/pay/partner/transactions/app',
  h5: '/v3/pay/partner/transactions/native',
  mweb: '/v3/pay/partner/transactions/h5',
};

/** the ids of a partner prepay body; the payer is the openid under sub_appid when there is one, else under sp_appid */
export function partnerPrepayFields(p: WxpayPartnerIds, openid: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { sp_appid: p.sp_appid, sp_mchid: p.sp_mchid };
  if (p.sub_appid) out.sub_appid = p.sub_appid;
  out.sub_mchid = p.sub_mchid;
  if (openid !== undefined) out.payer = p.sub_appid ? { sub_openid: openid } : { sp_openid: openid };
  return out;
}

/** the app that starts the payment on the client: the sub-merchant's when set (its openid was used) */
export const clientAppId = (p: WxpayPartnerIds) => p.sub_appid ?? p.sp_appid;

const no = (out_trade_no: string) => encodeURIComponent(out_trade_no);

export function partnerQueryPath(out_trade_no: string, p: WxpayPartnerIds): string {
  return `/v3/pay/partner/transactions/out-trade-no/${no(out_trade_no)}?sp_mchid=${p.sp_mchid}&sub_mchid=${p.sub_mchid}`;
}

export function partnerClose(out_trade_no: string, p: WxpayPartnerIds): { path: string; body: Record<string, string> } {
  return {
    path: `/v3/pay/partner/transactions/out-trade-no/${no(out_trade_no)}/close`,
    body: { sp_mchid: p.sp_mchid, sub_mchid: p.sub_mchid },
  };
}

/** refund query of a sub-merchant's refund (`?sub_mchid=`) */
export function partnerRefundQueryPath(out_refund_no: string, p: WxpayPartnerIds): string {
  return `/v3/refund/domestic/refunds/${encodeURIComponent(out_refund_no)}?sub_mchid=${p.sub_mchid}`;
}

/**
 * The ids a verified partner Transaction (notification or query) carries, in the direct shape the
 * service compares: appid/mchid are the service provider's, openid the payer's under whichever app.
 */
export function partnerTransactionIds(t: Record<string, any>): {
  appid?: string;
  mchid?: string;
  openid?: string;
  partner: Record<string, string>;
} {
  const partner: Record<string, string> = {};
  if (typeof t.sub_mchid === 'string') partner.sub_mchid = t.sub_mchid;
  if (typeof t.sub_appid === 'string') partner.sub_appid = t.sub_appid;
  return { appid: t.sp_appid, mchid: t.sp_mchid, openid: t.payer?.sub_openid ?? t.payer?.sp_openid, partner };
}

/** API v2: the sub-merchant of every call (统一下单, 查单, 关单 take `sub_mch_id`, and `sub_appid` when the order has one) */
export function partnerV2Params(p: WxpayPartnerIds | undefined): Record<string, string> {
  if (!p) return {};
  return { sub_mch_id: p.sub_mchid, ...(p.sub_appid ? { sub_appid: p.sub_appid } : {}) };
}

/** API v2 notification / query fields: `sub_mch_id`, `sub_appid`, and the payer's `sub_openid` or `openid` */
export function partnerV2Ids(f: Record<string, string>): { openid?: string; partner?: Record<string, string> } {
  const openid = f.sub_openid || f.openid || undefined;
  if (!f.sub_mch_id) return { openid };
  return { openid, partner: { sub_mchid: f.sub_mch_id, ...(f.sub_appid ? { sub_appid: f.sub_appid } : {}) } };
}
