/**
 * The coin (代币) side of the WeChat sandbox peer: per-user coin accounts and the four coin APIs
 * (`/xpay/query_user_balance`, `currency_pay`, `cancel_currency_pay`, `present_currency`).
 * The caller (index.ts) has checked the access_token and `pay_sig`; here the user-state APIs check
 * `signature` = HMAC-SHA256(session_key, body) as WeChat does, and repeated operations answer
 * 268490004 (the earlier operation succeeded), as the API documents.
 */
import { userSignature } from '../../../uni_modules/vk-uni-pay/server/providers/wxpay-virtual/sign';

interface Wallet {
  balance: number;
  present_balance: number;
  sum_save: number;
  sum_present: number;
  sum_cost: number;
}

interface Spend {
  openid: string;
  amount: number;
  /** coins given back by cancel_currency_pay */
  cancelled: number;
}

const ORDER_ID = /^(?!_)[0-9A-Za-z_\-|*@]{8,32}$/;
const USER_STATE = new Set(['/xpay/query_user_balance', '/xpay/currency_pay', '/xpay/cancel_currency_pay']);
export const COIN_PATHS = new Set([...USER_STATE, '/xpay/present_currency']);

export type CoinAnswer = Record<string, unknown> & { errcode: number; errmsg: string };

export function coinLedger() {
  const wallets = new Map<string, Wallet>(); // `${appId}|${env}|${openid}`
  const spends = new Map<string, Spend>(); // `${appId}|${env}|${order_id}`
  const cancels = new Set<string>();
  const presents = new Set<string>();

  const wallet = (appId: string, env: number, openid: string): Wallet => {
    const k = `${appId}|${env}|${openid}`;
    let w = wallets.get(k);
    if (!w) wallets.set(k, (w = { balance: 0, present_balance: 0, sum_save: 0, sum_present: 0, sum_cost: 0 }));
    return w;
  };
  const fail = (errcode: number, errmsg: string): CoinAnswer => ({ errcode, errmsg });
  const ok = (o: Record<string, unknown> = {}): CoinAnswer => ({ errcode: 0, errmsg: 'ok', ...o });
  const positive = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

  function handle(
    appId: string,
    path: string,
    b: Record<string, any>,
    raw: string,
    signature: string | undefined,
    sessionKey: string | undefined,
  ): CoinAnswer {
    const env = b.env === 1 ? 1 : 0;
    if (typeof b.openid !== 'string' || !b.openid) return fail(268490001, 'openid error');
    if (USER_STATE.has(path)) {
      if (!sessionKey) return fail(268490009, 'session_key not exist or expired');
      if (signature !== userSignature(sessionKey, raw)) return fail(268490003, 'signature error');
      if (typeof b.user_ip !== 'string' || !b.user_ip) return fail(268490002, 'user_ip required');
    }
    const w = wallet(appId, env, b.openid);
    if (path === '/xpay/query_user_balance') {
      return ok({
        balance: w.balance,
        present_balance: w.present_balance,
        sum_save: w.sum_save,
        sum_present: w.sum_present,
        sum_balance: w.sum_save + w.sum_present,
        sum_cost: w.sum_cost,
        first_save_flag: w.sum_save === 0,
      });
    }
    if (typeof b.order_id !== 'string' || !ORDER_ID.test(b.order_id)) return fail(268490002, 'order_id invalid');
    if (!positive(b.amount)) return fail(268490002, 'amount invalid');
    const key = `${appId}|${env}|${b.order_id}`;
    if (path === '/xpay/currency_pay') {
      if (spends.has(key)) return fail(268490004, 'repeated operation');
      if (b.amount > w.balance) return fail(268490006, 'balance not enough');
      // present coins are spent first, as the API reports in used_present_amount
      const used = Math.min(w.present_balance, b.amount);
      w.balance -= b.amount;
      w.present_balance -= used;
      w.sum_cost += b.amount;
      spends.set(key, { openid: b.openid, amount: b.amount, cancelled: 0 });
      return ok({ order_id: b.order_id, balance: w.balance, used_present_amount: used });
    }
    if (path === '/xpay/cancel_currency_pay') {
      if (cancels.has(key)) return fail(268490004, 'repeated operation');
      const spend = spends.get(`${appId}|${env}|${b.pay_order_id}`);
      if (!spend || spend.openid !== b.openid) return fail(268490002, 'pay_order_id not exist');
      if (spend.cancelled >= spend.amount) return fail(268490005, 'order already refunded');
      if (b.amount > spend.amount - spend.cancelled) return fail(268490006, 'amount not enough');
      spend.cancelled += b.amount;
      w.balance += b.amount;
      w.sum_cost -= b.amount;
      cancels.add(key);
      return ok({ order_id: b.order_id });
    }
    // present_currency
    if (presents.has(key)) return fail(268490004, 'repeated operation');
    presents.add(key);
    w.balance += b.amount;
    w.present_balance += b.amount;
    w.sum_present += b.amount;
    return ok({ balance: w.balance, order_id: b.order_id, present_balance: w.present_balance });
  }

  return {
    handle,
    /** coins bought with a paid short_series_coin order */
    credit(appId: string, env: number, openid: string, coins: number) {
      const w = wallet(appId, env, openid);
      w.balance += coins;
      w.sum_save += coins;
    },
    wallet: (appId: string, openid: string, env = 0): Readonly<Wallet> => wallet(appId, env, openid),
  };
}
