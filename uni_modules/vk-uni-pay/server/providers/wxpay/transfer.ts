/**
 * WeChat Pay merchant transfer, user-confirm mode (商家转账, API v3; docs/transfers.md):
 * POST /v3/fund-app/mch-transfer/transfer-bills, query by out_bill_no / transfer_bill_no, cancel
 * before the user confirms, and the MCHTRANSFER.BILL.FINISHED notification.
 */
import { PayError } from '../../core/errors';
import { isGatewayFailure } from '../gateway';
import type { ProviderContext, RawHttpRequest } from '../types';
import type { CheckedTransfer, TransferAnswer, TransferHooks } from '../transfer-types';
import { isV2, type WxpayNodeConfig } from './config';
import { encryptSensitive } from './crypto';
import { WxpayV3Client, verifiedNotification } from './v3';

type Ctx = ProviderContext<WxpayNodeConfig>;

const BILLS = '/v3/fund-app/mch-transfer/transfer-bills';
/** from this amount (2,000 yuan) the payee's real name is required */
export const WXPAY_NAME_THRESHOLD_FEN = 200_000;
/** the smallest transfer (0.1 yuan) */
export const WXPAY_TRANSFER_MIN_FEN = 10;
const REMARK_MAX = 32;
const STATES = new Set(['ACCEPTED', 'PROCESSING', 'WAIT_USER_CONFIRM', 'TRANSFERING', 'SUCCESS', 'FAIL', 'CANCELING', 'CANCELLED']);

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function field(name: string, reason: string): never {
  throw new PayError('FIELD_INVALID', { field: name, reason });
}

function v3Only(ctx: Ctx): WxpayV3Client {
  if (isV2(ctx.config)) throw new PayError('OPERATION_UNSUPPORTED', { provider: 'wxpay v2', operation: 'transfer (API v3 only)' });
  return new WxpayV3Client(ctx.config, ctx);
}

function checkTransfer(p: Record<string, unknown>, ctx: Ctx): CheckedTransfer {
  const amount = p.transfer_amount as number;
  if (!str(p.openid) || p.openid.length > 64) field('openid', 'the payee openid is required');
  const appid = p.appid ?? ctx.config.appId;
  if (!str(appid)) field('appid', 'required (or appId in the config node)');
  if (!str(p.transfer_remark) || [...p.transfer_remark].length > REMARK_MAX) field('transfer_remark', `1-${REMARK_MAX} characters`);
  const scene = p.transfer_scene_id === undefined ? '1000' : String(p.transfer_scene_id);
  if (!/^\d{1,16}$/.test(scene)) field('transfer_scene_id', 'digits, e.g. 1000 (现金营销)');
  const infos = p.transfer_scene_report_infos;
  if (
    infos !== undefined &&
    (!Array.isArray(infos) || !infos.every((i) => i && typeof i === 'object' && str(i.info_type) && str(i.info_content)))
  )
    field('transfer_scene_report_infos', 'an array of {info_type, info_content}');
  if (p.user_recv_perception !== undefined && !str(p.user_recv_perception)) field('user_recv_perception', 'a string');
  if (p.user_name !== undefined && (!str(p.user_name) || p.user_name.length > 100)) field('user_name', 'the payee real name');
  if (amount >= WXPAY_NAME_THRESHOLD_FEN && !str(p.user_name))
    throw new PayError('TRANSFER_NAME_REQUIRED', { threshold: WXPAY_NAME_THRESHOLD_FEN, provider: 'wxpay', field: 'user_name' });
  const request: Record<string, unknown> = {
    appid,
    transfer_scene_id: scene,
    openid: p.openid,
    transfer_amount: amount,
    transfer_remark: p.transfer_remark,
    ...(p.user_recv_perception ? { user_recv_perception: p.user_recv_perception } : {}),
    ...(infos
      ? {
          transfer_scene_report_infos: (infos as Array<Record<string, string>>).map((i) => ({
            info_type: i.info_type,
            info_content: i.info_content,
          })),
        }
      : {}),
    ...(p.user_name ? { user_name: p.user_name } : {}),
  };
  return { request, payee: p.openid as string, appid: appid as string };
}

/** The bill as the ledger reads it; `opts` adds what only the create answer gives the client. */
function answer(d: Record<string, any>, ctx: Ctx, client?: { appid: string; openid: string }): TransferAnswer {
  if (!STATES.has(d.state) || !str(d.out_bill_no)) throw new PayError('GATEWAY_RESPONSE_INVALID');
  const amount = d.transfer_amount;
  return {
    state: d.state,
    out_bill_no: d.out_bill_no,
    ...(str(d.transfer_bill_no) ? { transfer_bill_no: d.transfer_bill_no } : {}),
    ...(Number.isSafeInteger(amount) ? { transfer_amount: amount } : {}),
    ...(str(d.fail_reason) ? { fail_reason: d.fail_reason } : {}),
    ...(str(d.mch_id) || str(d.mchid) ? { mch_id: d.mch_id ?? d.mchid } : {}),
    ...(str(d.create_time) ? { create_time: d.create_time } : {}),
    ...(str(d.update_time) ? { update_time: d.update_time } : {}),
    ...(client && d.state === 'WAIT_USER_CONFIRM' && str(d.package_info)
      ? { client_options: { mchId: ctx.config.mchId, appId: client.appid, package: d.package_info, openId: client.openid } }
      : {}),
    raw: d,
  };
}

async function transfer(t: CheckedTransfer & { out_bill_no: string; notify_url?: string }, ctx: Ctx): Promise<TransferAnswer> {
  const client = v3Only(ctx);
  const { user_name, ...rest } = t.request;
  const body: Record<string, unknown> = { ...rest, out_bill_no: t.out_bill_no, ...(t.notify_url ? { notify_url: t.notify_url } : {}) };
  let serial: string | undefined;
  if (str(user_name)) {
    const key = await client.encryptionKey();
    body.user_name = encryptSensitive(user_name, key.key);
    serial = key.serial;
  }
  const { data } = await client.request('POST', BILLS, body, { serial });
  return answer(data, ctx, { appid: String(t.request.appid), openid: t.payee });
}

async function queryTransfer(q: { out_bill_no?: string; transfer_bill_no?: string }, ctx: Ctx): Promise<TransferAnswer | 'NOT_FOUND'> {
  const path = q.out_bill_no
    ? `${BILLS}/out-bill-no/${encodeURIComponent(q.out_bill_no)}`
    : `${BILLS}/transfer-bill-no/${encodeURIComponent(q.transfer_bill_no ?? '')}`;
  try {
    const { data } = await v3Only(ctx).request('GET', path);
    return answer(data, ctx);
  } catch (e) {
    if (isGatewayFailure(e) && e.verified && e.httpStatus === 404) return 'NOT_FOUND';
    throw e;
  }
}

async function cancelTransfer(q: { out_bill_no: string }, ctx: Ctx): Promise<TransferAnswer> {
  const { data } = await v3Only(ctx).request('POST', `${BILLS}/out-bill-no/${encodeURIComponent(q.out_bill_no)}/cancel`);
  return answer(data, ctx);
}

async function verifyTransferNotify(req: RawHttpRequest, ctx: Ctx): Promise<TransferAnswer> {
  const { outer, plain } = await verifiedNotification(req, ctx);
  if (outer.event_type !== 'MCHTRANSFER.BILL.FINISHED') throw new PayError('NOTIFY_MALFORMED', {}, { event_type: outer.event_type });
  const a = answer(plain, ctx);
  if (a.state !== 'SUCCESS' && a.state !== 'FAIL' && a.state !== 'CANCELLED')
    throw new PayError('NOTIFY_MALFORMED', {}, { state: a.state });
  return a;
}

export const wxpayTransferHooks: TransferHooks<WxpayNodeConfig> = {
  transferRules: { minFen: WXPAY_TRANSFER_MIN_FEN },
  checkTransfer,
  transfer,
  queryTransfer,
  cancelTransfer,
  verifyTransferNotify,
};
