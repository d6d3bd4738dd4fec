/**
 * WeChat Pay sandbox, service-provider (服务商) mode: the ids of `/v3/pay/partner/transactions/...`
 * requests and the partner shape of a Transaction. The service provider signs every request with its
 * own merchant key (`sp_mchid` is the Authorization mchid); each order belongs to a sub-merchant
 * (`sub_mchid`) bound to it, and is found only with that sub-merchant. Facts:
 * https://pay.weixin.qq.com/doc/v3/partner/4012523579 (JSAPI prepay),
 * https://pay.weixin.qq.com/docs/partner/apis/partner-query-order/partner-jsons/partner-query-by-out-trade-no.html (query).
 */
import { err, get, invalid, missing, type Ctx, type V3Result } from './v3-common';
import { isObj, type Json, type SandboxOrder, type SandboxPartner } from './state';

export interface PartnerPrepay {
  appid: string;
  openid?: string;
  partner: SandboxPartner;
}

function stringField(b: Json, path: string, required: boolean): V3Result | undefined {
  const v = get(b, path);
  if (v === undefined || v === null || v === '') return required ? missing(path) : undefined;
  return typeof v === 'string' ? undefined : invalid(path, v, '应为字符串');
}

/** sp ids against the signing merchant, and the sub-merchant's binding to it */
export function checkSubMerchant(ctx: Ctx, sub_mchid: unknown, sub_appid?: unknown): V3Result | undefined {
  const sub = ctx.rt.m.subMerchants?.find((s) => s.sub_mchid === sub_mchid);
  if (!sub) return err(400, 'INVALID_REQUEST', '特约商户号与服务商商户号不存在绑定关系');
  if (sub_appid !== undefined && !sub.appids.includes(sub_appid as string))
    return err(400, 'APPID_MCHID_NOT_MATCH', 'sub_appid和sub_mchid不匹配');
  return undefined;
}

/** The ids of a partner prepay body, checked; or the error the gateway answers. */
export function partnerPrepay(ctx: Ctx, kind: string): PartnerPrepay | V3Result {
  const b = ctx.body as Json;
  for (const p of ['sp_appid', 'sp_mchid', 'sub_mchid']) {
    const e = stringField(b, p, true);
    if (e) return e;
  }
  const e = stringField(b, 'sub_appid', false);
  if (e) return e;
  if (b.sp_mchid !== ctx.rt.m.mchid)
    return err(400, 'PARAM_ERROR', '请求体中的sp_mchid与请求头Authorization中的商户号不一致', { field: '/sp_mchid', location: 'body' });
  if (!ctx.rt.m.appids.includes(b.sp_appid as string)) return err(400, 'APPID_MCHID_NOT_MATCH', 'sp_appid和sp_mchid不匹配');
  const subErr = checkSubMerchant(ctx, b.sub_mchid, b.sub_appid === '' ? undefined : b.sub_appid);
  if (subErr) return subErr;
  const partner: SandboxPartner = { sub_mchid: b.sub_mchid as string, openid_kind: 'sp' };
  if (typeof b.sub_appid === 'string' && b.sub_appid) partner.sub_appid = b.sub_appid;
  let openid: string | undefined;
  if (kind === 'jsapi') {
    if (!isObj(b.payer)) return missing('payer');
    const typeErr = stringField(b, 'payer.sp_openid', false) ?? stringField(b, 'payer.sub_openid', false);
    if (typeErr) return typeErr;
    const subOpenid = get(b, 'payer.sub_openid') as string | undefined;
    const spOpenid = get(b, 'payer.sp_openid') as string | undefined;
    if (!subOpenid && !spOpenid) return missing('payer.sp_openid');
    // a sub_openid is an openid under sub_appid: it cannot be read without it
    if (subOpenid && !partner.sub_appid)
      return err(400, 'PARAM_ERROR', '传入sub_openid时sub_appid必填', { field: '/sub_appid', location: 'body' });
    openid = subOpenid || spOpenid;
    partner.openid_kind = subOpenid ? 'sub' : 'sp';
  }
  return { appid: b.sp_appid as string, openid, partner };
}

/**
 * The sub-merchant named by a partner query (`?sp_mchid=&sub_mchid=`) or close (body), checked;
 * or the error the gateway answers.
 */
export function partnerOrderKey(ctx: Ctx, from: 'query' | 'body'): { sub_mchid: string } | V3Result {
  const read = (k: string) => (from === 'query' ? (ctx.query.get(k) ?? undefined) : (get(ctx.body, k) as string | undefined));
  for (const k of ['sp_mchid', 'sub_mchid']) {
    if (!read(k))
      return err(400, 'PARAM_ERROR', `输入源“/${from}/${k}”映射到值字段必填性规则校验失败，此字段为必填项`, { field: k, location: from });
  }
  if (read('sp_mchid') !== ctx.rt.m.mchid)
    return err(400, 'PARAM_ERROR', 'sp_mchid与请求头Authorization中的商户号不一致', { field: 'sp_mchid', location: from });
  const subErr = checkSubMerchant(ctx, read('sub_mchid'));
  if (subErr) return subErr;
  return { sub_mchid: read('sub_mchid') as string };
}

/** Whether an order may be seen through this route: partner routes see only that sub-merchant's orders, direct routes none of them. */
export function visibleTo(o: SandboxOrder | undefined, sub_mchid: string | undefined): SandboxOrder | undefined {
  if (!o) return undefined;
  return (o.partner?.sub_mchid ?? undefined) === sub_mchid ? o : undefined;
}

/** The Transaction of a partner order: sp_/sub_ ids instead of appid/mchid, payer.sp_openid or payer.sub_openid. */
export function partnerTransaction(o: SandboxOrder & { partner: SandboxPartner }, direct: Json): Json {
  const { appid, mchid, payer, ...rest } = direct;
  const out: Json = { sp_appid: appid, sp_mchid: mchid };
  if (o.partner.sub_appid) out.sub_appid = o.partner.sub_appid;
  out.sub_mchid = o.partner.sub_mchid;
  Object.assign(out, rest);
  if (payer) out.payer = o.partner.openid_kind === 'sub' ? { sub_openid: o.openid } : { sp_openid: o.openid };
  return out;
}

/**
 * API v2 (服务商 统一下单, https://pay.weixin.qq.com/doc/v2/partner/4011941134): `sub_mch_id` (and
 * `sub_appid`) next to the service provider's `appid` / `mch_id`; JSAPI payer `openid` (under appid)
 * or `sub_openid` (under sub_appid). The error text, or the partner of the order.
 */
export function partnerV2(ctx: Pick<Ctx, 'rt'>, p: Record<string, string>): string | SandboxPartner | undefined {
  if (!p.sub_mch_id) return p.sub_appid || p.sub_openid ? '缺少参数sub_mch_id' : undefined;
  const sub = ctx.rt.m.subMerchants?.find((x) => x.sub_mchid === p.sub_mch_id);
  if (!sub) return 'sub_mch_id与mch_id不匹配';
  if (p.sub_appid && !sub.appids.includes(p.sub_appid)) return 'sub_appid和sub_mch_id不匹配';
  if (p.sub_openid && !p.sub_appid) return '传入sub_openid时sub_appid必填';
  return { sub_mchid: p.sub_mch_id, ...(p.sub_appid ? { sub_appid: p.sub_appid } : {}), openid_kind: p.sub_openid ? 'sub' : 'sp' };
}

/** v2 answer and notification fields of a partner order */
export function partnerV2Fields(o: SandboxOrder, paid: boolean): Record<string, string | undefined> {
  if (!o.partner) return { openid: paid ? o.openid : undefined };
  const sub = o.partner.openid_kind === 'sub';
  return {
    sub_mch_id: o.partner.sub_mchid,
    sub_appid: o.partner.sub_appid,
    openid: paid && !sub ? o.openid : undefined,
    sub_openid: paid && sub ? o.openid : undefined,
  };
}
