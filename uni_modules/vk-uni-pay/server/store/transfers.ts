/**
 * vk-pay-transfers: the transfer (payout) ledger, one document per merchant and out_bill_no
 * (unique `bill_key`). Inserting the document is the claim on the number, made before any
 * provider is asked. Every state change is one conditional update on the current state; a final
 * state (SUCCESS, FAIL, CANCELLED) never changes again, and the update that makes a transfer final
 * also takes the lease on its `pay-notify/transfer.js` run.
 */
import type { DatabaseSource } from './db';
import { isDuplicateKeyError } from './db';
import type { HandlerLease } from './orders';
import { FINAL_TRANSFER_STATES, type TransferState } from '../core/transfer';

export const TRANSFERS_COLLECTION = 'vk-pay-transfers';

export const OPEN_TRANSFER_STATES: readonly TransferState[] = [
  'PENDING',
  'UNKNOWN',
  'ACCEPTED',
  'PROCESSING',
  'WAIT_USER_CONFIRM',
  'TRANSFERING',
  'CANCELING',
];

export interface TransferDoc {
  _id?: string;
  /** `<provider>|<pid>|<out_bill_no>`: unique */
  bill_key: string;
  out_bill_no: string;
  provider: string;
  /** merchant (vk-pay-config _id); '' for uni-pay/config.js */
  pid: string;
  /** config node under the provider (vk-uni-pay default `transfer`) */
  platform: string;
  /** integer fen */
  transfer_amount: number;
  transfer_remark: string;
  payee: string;
  appid?: string;
  /** sha256 of the provider request (a retry must send the same) */
  fingerprint: string;
  state: TransferState;
  transfer_bill_no?: string;
  fail_reason?: string;
  client_options?: Record<string, unknown>;
  mch_id?: string;
  provider_create_time?: string;
  provider_update_time?: string;
  create_date: number;
  update_date: number;
  handler_lock_until?: number;
  handler_lease?: string;
  handler_attempts?: number;
  handler_success?: boolean;
  handler_error?: string;
}

export type TransferPatch = Partial<
  Pick<TransferDoc, 'transfer_bill_no' | 'fail_reason' | 'client_options' | 'mch_id' | 'provider_create_time' | 'provider_update_time'>
>;

export const billKey = (provider: string, pid: string, out_bill_no: string) => `${provider}|${pid}|${out_bill_no}`;

export class TransfersRepo {
  constructor(private readonly db: DatabaseSource) {}

  private coll() {
    return this.db().collection<TransferDoc>(TRANSFERS_COLLECTION);
  }

  /** Claims an out_bill_no; 'duplicate' when the merchant already has it. */
  async insert(doc: TransferDoc): Promise<{ id: string } | 'duplicate'> {
    try {
      const { id } = await this.coll().add(doc as unknown as Record<string, unknown>);
      return { id };
    } catch (e) {
      if (isDuplicateKeyError(e)) return 'duplicate';
      throw e;
    }
  }

  async find(bill_key: string): Promise<TransferDoc | undefined> {
    const { data } = await this.coll().where({ bill_key }).limit(1).get();
    return data[0];
  }

  async findByTransferBillNo(provider: string, pid: string, transfer_bill_no: string): Promise<TransferDoc | undefined> {
    const { data } = await this.coll().where({ provider, pid, transfer_bill_no }).limit(1).get();
    return data[0];
  }

  /**
   * Moves a transfer from one of `from` to `to` (never out of a final state). With `lease` (a move
   * to a final state where the handlers live) the same update takes the handler lease. Returns the
   * updated document, or undefined when the transfer was no longer in one of `from`.
   */
  async transition(
    bill_key: string,
    from: readonly TransferState[],
    to: TransferState,
    now: number,
    patch: TransferPatch = {},
    lease?: HandlerLease,
  ): Promise<TransferDoc | undefined> {
    const _ = this.db().command;
    const open = from.filter((s) => !FINAL_TRANSFER_STATES.includes(s));
    const set: Record<string, unknown> = { state: to, update_date: now };
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) set[k] = v;
    if (lease) Object.assign(set, { handler_lock_until: lease.until, handler_lease: lease.token, handler_attempts: _.inc(1) });
    const { doc } = await this.coll()
      .where({ bill_key, state: _.in([...open]) })
      .updateAndReturn(set);
    return doc ?? undefined;
  }

  /** Takes the handler lease of a final transfer whose handler has not succeeded and whose previous lease ended. */
  async claimHandler(bill_key: string, now: number, lease: HandlerLease): Promise<TransferDoc | undefined> {
    const _ = this.db().command;
    const { doc } = await this.coll()
      .where({
        bill_key,
        state: _.in([...FINAL_TRANSFER_STATES]),
        handler_success: _.neq(true),
        handler_lock_until: _.or(_.exists(false), _.lt(now)),
      })
      .updateAndReturn({ handler_lock_until: lease.until, handler_lease: lease.token, handler_attempts: _.inc(1) });
    return doc ?? undefined;
  }

  /** Records a handler run: a success from any run; a failure only while `token` still holds the lease. */
  async finishHandler(bill_key: string, token: string, ok: boolean, error: string | undefined, retryAfter: number): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.coll()
      .where(ok ? { bill_key, handler_success: _.neq(true) } : { bill_key, handler_lease: token, handler_success: _.neq(true) })
      .update({ handler_success: ok, handler_lock_until: ok ? 0 : retryAfter, handler_error: ok ? '' : (error ?? 'failed').slice(0, 500) });
    return updated === 1;
  }

  /** Gives a number back that the provider never received (refused before sending): only while PENDING. */
  async removeUnsent(bill_key: string): Promise<boolean> {
    const { deleted } = await this.coll().where({ bill_key, state: 'PENDING' }).remove();
    return deleted === 1;
  }

  /**
   * What the reconciliation timer settles: open transfers last changed before `before`, and final
   * ones whose handler has not succeeded and whose lease ended (oldest first).
   */
  async unsettled(now: number, before: number, limit: number): Promise<TransferDoc[]> {
    const _ = this.db().command;
    const open = await this.coll()
      .where({ state: _.in([...OPEN_TRANSFER_STATES]), update_date: _.lt(before) })
      .orderBy('update_date', 'asc')
      .limit(limit)
      .get();
    const handlers = await this.coll()
      .where({
        state: _.in([...FINAL_TRANSFER_STATES]),
        handler_success: _.neq(true),
        handler_lock_until: _.or(_.exists(false), _.lt(now)),
      })
      .orderBy('update_date', 'asc')
      .limit(limit)
      .get();
    return [...open.data, ...handlers.data];
  }
}
