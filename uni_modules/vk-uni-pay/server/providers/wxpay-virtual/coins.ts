/**
 * WeChat virtual payment coin (代币) APIs, as vk-uni-pay's getWxpayVirtualManager() exposes them
 * (docs/codepay.md §3; https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/industry/virtual-payment.html):
 * - /xpay/query_user_balance, /xpay/currency_pay, /xpay/cancel_currency_pay: `pay_sig` (AppKey over
 *   uri + '&' + body) and the user-state `signature` (session_key over the body);
 * - /xpay/present_currency: `pay_sig` only.
 * 268490004 "repeated operation" means the same operation already succeeded: it is answered as a
 * success (`duplicate: true`), with the balance read again where the session allows.
 */
import { PayError } from '../../core/errors';
import { isGatewayFailure } from '../gateway';
import type { ProviderContext } from '../types';
import type { CoinOperation } from '../hooks';
import { envOf, need, xpayRequest, type WxpayVirtualConfig } from './api';

type Ctx = ProviderContext<WxpayVirtualConfig>;

/** xpay order numbers: 8–32 of [0-9A-Za-z_-|*@], not starting with `_` */
const ORDER_ID = /^(?!_)[0-9A-Za-z_\-|*@]{8,32}$/;
const IP = /^[0-9A-Fa-f:.]{2,45}$/;
const DUPLICATE = '268490004';

export interface UserBalance {
  balance: number;
  presentBalance: number;
  sumSave: number;
  sumPresent: number;
  sumBalance: number;
  sumCost: number;
  firstSaveFlag: boolean;
}

export interface CoinUser {
  openid: string;
  userIp: string;
  /** the user's live session_key (server-side only) */
  sessionKey: string;
}

function field<T>(ok: boolean, value: T, name: string, reason: string): T {
  if (!ok) throw new PayError('FIELD_INVALID', { field: name, reason });
  return value;
}

export const coinAmount = (v: unknown, name = 'amount'): number =>
  field(typeof v === 'number' && Number.isSafeInteger(v) && v > 0, v as number, name, 'a positive integer number of coins');
export const coinOrderId = (v: unknown, name: string): string =>
  field(typeof v === 'string' && ORDER_ID.test(v), v as string, name, '8–32 characters of 0-9 A-Z a-z _ - | * @, not starting with _');
export const userIp = (v: unknown): string => field(typeof v === 'string' && IP.test(v), v as string, 'userIp', 'the user IP address');
const deviceType = (v: unknown): number =>
  v === undefined ? 1 : field(v === 1 || v === 2, v as number, 'deviceType', '1 (Android) or 2 (iOS)');

/** documented refusals the caller can act on, as coded errors (the rest keep the provider's errcode) */
const REFUSALS: Record<string, 'SESSION_KEY_MISSING' | 'COIN_BALANCE_NOT_ENOUGH' | 'COIN_ALREADY_REFUNDED'> = {
  '268490009': 'SESSION_KEY_MISSING',
  '268490006': 'COIN_BALANCE_NOT_ENOUGH',
  '268490005': 'COIN_ALREADY_REFUNDED',
};

function mapRefusal(e: unknown): never {
  const key = isGatewayFailure(e) && e.verified ? REFUSALS[e.providerCode ?? ''] : undefined;
  if (key) throw new PayError(key, {}, { providerCode: (e as { providerCode?: string }).providerCode });
  throw e;
}

async function isDuplicate<T>(run: () => Promise<T>): Promise<{ duplicate: true } | { duplicate: false; value: T }> {
  try {
    return { duplicate: false, value: await run() };
  } catch (e) {
    if (isGatewayFailure(e) && e.verified && e.providerCode === DUPLICATE) return { duplicate: true };
    return mapRefusal(e);
  }
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export async function queryUserBalance(user: CoinUser, ctx: Ctx): Promise<UserBalance> {
  const d = await xpayRequest(
    'query_user_balance',
    { openid: user.openid, env: envOf(ctx.config), user_ip: user.userIp },
    ctx,
    user.sessionKey,
  ).catch(mapRefusal);
  if (typeof d.balance !== 'number') throw new PayError('GATEWAY_RESPONSE_INVALID');
  return {
    balance: d.balance,
    presentBalance: num(d.present_balance),
    sumSave: num(d.sum_save),
    sumPresent: num(d.sum_present),
    sumBalance: num(d.sum_balance),
    sumCost: num(d.sum_cost),
    firstSaveFlag: d.first_save_flag === true,
  };
}

export interface CurrencyPayInput extends CoinUser {
  amount: number;
  outTradeNo: string;
  /** JSON text of `[{productid, unit_price, quantity}]` as the merchant describes the spend */
  payitem: string;
  remark?: string;
  deviceType?: number;
}

export async function currencyPay(p: CurrencyPayInput, ctx: Ctx) {
  const body = {
    openid: p.openid,
    env: envOf(ctx.config),
    user_ip: p.userIp,
    amount: p.amount,
    order_id: p.outTradeNo,
    payitem: p.payitem,
    remark: p.remark ?? '',
    device_type: deviceType(p.deviceType),
  };
  const r = await isDuplicate(() => xpayRequest('currency_pay', body, ctx, p.sessionKey));
  if (!r.duplicate) return { outTradeNo: p.outTradeNo, balance: num(r.value.balance), usedPresentAmount: num(r.value.used_present_amount) };
  // spent before (a retry): the balance now
  return { outTradeNo: p.outTradeNo, balance: (await queryUserBalance(p, ctx)).balance, duplicate: true as const };
}

export interface CancelCurrencyPayInput extends CoinUser {
  amount: number;
  /** the currencyPay order being refunded */
  outTradeNo: string;
  /** this refund's own number */
  outRefundNo: string;
  deviceType?: number;
}

export async function cancelCurrencyPay(p: CancelCurrencyPayInput, ctx: Ctx) {
  const body = {
    openid: p.openid,
    env: envOf(ctx.config),
    user_ip: p.userIp,
    pay_order_id: p.outTradeNo,
    order_id: p.outRefundNo,
    amount: p.amount,
    device_type: deviceType(p.deviceType),
  };
  const r = await isDuplicate(() => xpayRequest('cancel_currency_pay', body, ctx, p.sessionKey));
  return { outTradeNo: p.outTradeNo, outRefundNo: p.outRefundNo, ...(r.duplicate ? { duplicate: true as const } : {}) };
}

export interface PresentCurrencyInput {
  openid: string;
  amount: number;
  outTradeNo: string;
  deviceType?: number;
}

export async function presentCurrency(p: PresentCurrencyInput, ctx: Ctx) {
  const body = {
    openid: p.openid,
    env: envOf(ctx.config),
    order_id: p.outTradeNo,
    amount: p.amount,
    device_type: deviceType(p.deviceType),
  };
  const r = await isDuplicate(() => xpayRequest('present_currency', body, ctx));
  if (r.duplicate) return { outTradeNo: p.outTradeNo, duplicate: true as const };
  return { outTradeNo: p.outTradeNo, balance: num(r.value.balance), presentBalance: num(r.value.present_balance) };
}

const text = (v: unknown, name: string): string =>
  field(typeof v === 'string' && v.length > 0 && v.length <= 128, v as string, name, 'required');

/**
 * The adapter's `coins` hook: vk-uni-pay's parameters checked, the user's session_key from the
 * server-side store (or from server code that passes `sessionKey`), then the API call.
 */
export async function coinsHook(
  op: CoinOperation,
  params: Record<string, unknown>,
  ctx: Ctx,
  lookups: { sessionKey(appid: string, openid: string): Promise<string | undefined> },
): Promise<Record<string, unknown>> {
  const p = params ?? {};
  const openid = text(p.openid, 'openid');
  const deviceType = p.deviceType as number | undefined;
  if (op === 'presentCurrency')
    return presentCurrency({ openid, amount: coinAmount(p.amount), outTradeNo: coinOrderId(p.outTradeNo, 'outTradeNo'), deviceType }, ctx);
  const ip = userIp(p.userIp);
  const stored =
    typeof p.sessionKey === 'string' && p.sessionKey ? p.sessionKey : await lookups.sessionKey(need(ctx.config, 'appId'), openid);
  if (!stored) throw new PayError('SESSION_KEY_MISSING');
  const user: CoinUser = { openid, userIp: ip, sessionKey: stored };
  if (op === 'queryUserBalance') return { ...(await queryUserBalance(user, ctx)) };
  const amount = coinAmount(p.amount);
  const outTradeNo = coinOrderId(p.outTradeNo, 'outTradeNo');
  if (op === 'currencyPay') {
    const payitem = typeof p.payitem === 'string' ? p.payitem : JSON.stringify(p.payitem ?? []);
    return currencyPay(
      { ...user, amount, outTradeNo, payitem, remark: typeof p.remark === 'string' ? p.remark : undefined, deviceType },
      ctx,
    );
  }
  return cancelCurrencyPay({ ...user, amount, outTradeNo, outRefundNo: coinOrderId(p.outRefundNo, 'outRefundNo'), deviceType }, ctx);
}
