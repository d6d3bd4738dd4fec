/**
 * Shapes of the optional adapter hooks for money at the counter and balances (issue 12): codepay
 * (付款码, the merchant scans the buyer's code), its cancel at the deadline, and the merchant
 * account balance. Declared on ProviderAdapter in types.ts; services never test a provider's name.
 */

/** createPayment with `data.auth_code`: what the adapter needs to charge the buyer's code. */
export interface CodepayInput {
  out_trade_no: string;
  /** integer fen */
  total_fee: number;
  subject: string;
  body?: string;
  /** the buyer's payment code, already checked against the provider's format */
  auth_code: string;
  client_ip: string;
  /** providers that notify a codepay trade later (Alipay) send it here; WeChat codepay sends none */
  notify_url: string;
  /** 13-digit ms timestamp */
  time_expire?: number;
  /** provider extras from `data.other`, already stripped of protected keys */
  other: Record<string, unknown>;
  /** provider specific input (store_id, app_auth_token, ...) */
  extra: Record<string, unknown>;
}

/**
 * The provider's verified word on a codepay request:
 * - PAID: the money is taken (settle the order);
 * - WAITING: the buyer must confirm (password) or the outcome is not known yet: query until the deadline;
 * - FAILED: refused for good (code not valid, balance too low, ...): `reason` says why.
 */
export interface CodepayAnswer {
  state: 'PAID' | 'WAITING' | 'FAILED';
  transaction_id?: string;
  /** integer fen the provider charged for the order */
  total_fee?: number;
  pay_date?: number;
  openid?: string;
  reason?: { code: string; message?: string };
  raw: unknown;
}

/** Cancel (WeChat: reverse, Alipay: trade.cancel) a codepay trade so the buyer is not charged later. */
export interface CodepayCancelResult {
  /** the trade is closed at the provider: nothing is or will be charged (money taken meanwhile was returned) */
  cancelled: boolean;
  /** the provider had taken the money and gave it back (Alipay `action: refund`) */
  refunded?: boolean;
  raw: unknown;
}

/**
 * A merchant account balance, integer fen, under vk-uni-pay's field names (queryAccountBalance
 * answers them in yuan). Providers fill the fields they report.
 */
export interface AccountBalance {
  availableAmount: number;
  freezeAmount: number;
  totalAmount?: number;
  onlineAmount?: number;
  withdrawableAmount?: number;
}
