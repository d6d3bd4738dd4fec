/**
 * Transfer (payout) states, shared by the ledger (store) and the adapter hooks (providers).
 * Ledger states: the providers' own (WeChat Pay merchant transfer, whose list is the widest), plus
 * PENDING (recorded, the provider's answer not yet in) and UNKNOWN (the answer was lost or did not
 * verify: only a verified query settles it).
 */
export type TransferState =
  'PENDING' | 'UNKNOWN' | 'ACCEPTED' | 'PROCESSING' | 'WAIT_USER_CONFIRM' | 'TRANSFERING' | 'SUCCESS' | 'FAIL' | 'CANCELING' | 'CANCELLED';

export const FINAL_TRANSFER_STATES: readonly TransferState[] = ['SUCCESS', 'FAIL', 'CANCELLED'];
