/**
 * The transfer (payout) part of the adapter contract: optional hooks a provider implements when it
 * can pay money out (catalog capability `transfer`). Services call these hooks only; they never
 * test a provider's name. Facts per provider: docs/transfers.md.
 */
import type { ProviderContext, RawHttpRequest } from './types';

import type { TransferState } from '../core/transfer';

export { FINAL_TRANSFER_STATES, type TransferState } from '../core/transfer';

/** A checked transfer request: what is sent to the provider, and what the ledger keeps of it. */
export interface CheckedTransfer {
  /** the provider request fields (may hold the payee's name: hashed into the fingerprint, never stored) */
  request: Record<string, unknown>;
  /** who is paid (openid, Alipay identity): kept in the ledger and handed to pay-notify/transfer.js */
  payee: string;
  /** the app the payee belongs to (WeChat appid), when the provider has one */
  appid?: string;
}

/** A provider's verified word on a transfer, in ledger terms. */
export interface TransferAnswer {
  state: Exclude<TransferState, 'PENDING' | 'UNKNOWN'>;
  out_bill_no: string;
  transfer_bill_no?: string;
  /** integer fen, when the answer carries it (checked against the ledger) */
  transfer_amount?: number;
  fail_reason?: string;
  /** WAIT_USER_CONFIRM: what the client passes to uni.requestMerchantTransfer / WeixinJSBridge */
  client_options?: Record<string, unknown>;
  /** merchant id the answer names (checked against the config) */
  mch_id?: string;
  /** provider times, as sent */
  create_time?: string;
  update_time?: string;
  /** the provider's own fields (vk-uni-pay's `result`), without secrets */
  raw: Record<string, unknown>;
}

export interface TransferRules {
  /** smallest amount in fen the provider pays out */
  minFen: number;
}

export interface TransferHooks<C = Record<string, any>> {
  /** capability `transfer`: the provider's amount rules (coded errors come before anything is written) */
  transferRules?: TransferRules;
  /** validates the caller's vk-uni-pay parameters (pure; throws PayError) */
  checkTransfer?(params: Record<string, unknown>, ctx: ProviderContext<C>): CheckedTransfer;
  /** asks the provider to pay; `notify_url` when the provider notifies final states */
  transfer?(t: CheckedTransfer & { out_bill_no: string; notify_url?: string }, ctx: ProviderContext<C>): Promise<TransferAnswer>;
  /** the provider's record of a transfer; 'NOT_FOUND' only on the provider's own verified word */
  queryTransfer?(q: { out_bill_no?: string; transfer_bill_no?: string }, ctx: ProviderContext<C>): Promise<TransferAnswer | 'NOT_FOUND'>;
  /** cancels before the payee confirmed (answer: CANCELING or CANCELLED) */
  cancelTransfer?(q: { out_bill_no: string }, ctx: ProviderContext<C>): Promise<TransferAnswer>;
  /** verifies a final-state notification over the raw bytes; throws PayError (NOTIFY_*) otherwise */
  verifyTransferNotify?(req: RawHttpRequest, ctx: ProviderContext<C>): Promise<TransferAnswer>;
}
