/**
 * Merchant account balance: alipay.data.bill.balance.query
 * (docs/codepay.md §2). The answer carries
 * `total_amount`, `available_amount` and `freeze_amount` as yuan strings; they come back as fen.
 */
import { yuanToFen } from '../../core/money';
import type { ProviderContext } from '../types';
import type { AccountBalance } from '../hooks';
import type { AlipayNodeConfig } from './config';
import { callAlipay } from './gateway';

function fen(v: unknown): number {
  const n = yuanToFen(v);
  if (n === undefined) throw new Error('not an amount');
  return n;
}

export function alipayQueryBalance(ctx: ProviderContext<AlipayNodeConfig>): Promise<AccountBalance> {
  const token = ctx.config.appAuthToken;
  return callAlipay(ctx, {
    method: 'alipay.data.bill.balance.query',
    biz: {},
    common: token ? { app_auth_token: token } : {},
    // a verified answer without exact amounts is GATEWAY_RESPONSE_INVALID
    parse: (d) => ({
      availableAmount: fen(d.available_amount),
      freezeAmount: fen(d.freeze_amount ?? '0'),
      ...(d.total_amount !== undefined ? { totalAmount: fen(d.total_amount) } : {}),
    }),
  });
}
