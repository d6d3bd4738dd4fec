/**
 * vk-pay-refunds: the refund ledger, one document per out_refund_no (unique index). Inserting the
 * document is the claim on a refund number: only the caller whose insert succeeded ever asks the
 * provider to refund under it. Every state change is one conditional update on the current state,
 * and a final state (SUCCESS, FAIL) is never changed again.
 */
import type { DatabaseSource } from './db';
import { isDuplicateKeyError } from './db';

export const REFUNDS_COLLECTION = 'vk-pay-refunds';

/**
 * PENDING: claimed (amount being reserved or the provider being asked); PROCESSING: accepted by
 * the provider, final state later; UNKNOWN: the provider's answer was lost (the reservation is
 * kept until a query settles it); SUCCESS / FAIL: final.
 */
export type RefundLedgerState = 'PENDING' | 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'UNKNOWN';

export const FINAL_REFUND_STATES: readonly RefundLedgerState[] = ['SUCCESS', 'FAIL'];

export interface RefundLedgerDoc {
  _id?: string;
  out_refund_no: string;
  out_trade_no: string;
  /** integer fen */
  refund_fee: number;
  refund_desc?: string;
  state: RefundLedgerState;
  refund_id?: string;
  /** why a refund failed (provider error code and message; never a secret) */
  fail_code?: string;
  fail_msg?: string;
  create_date: number;
  update_date: number;
}

export type RefundLedgerPatch = Partial<Pick<RefundLedgerDoc, 'refund_id' | 'fail_code' | 'fail_msg'>>;

export class RefundsRepo {
  constructor(private readonly db: DatabaseSource) {}

  private coll() {
    return this.db().collection<RefundLedgerDoc>(REFUNDS_COLLECTION);
  }

  /** Claims a refund number; 'duplicate' when it is already in the ledger. */
  async insert(doc: RefundLedgerDoc): Promise<{ id: string } | 'duplicate'> {
    try {
      const { id } = await this.coll().add(doc as unknown as Record<string, unknown>);
      return { id };
    } catch (e) {
      if (isDuplicateKeyError(e)) return 'duplicate';
      throw e;
    }
  }

  async find(out_refund_no: string): Promise<RefundLedgerDoc | undefined> {
    const { data } = await this.coll().where({ out_refund_no }).limit(1).get();
    return data[0];
  }

  /** The most recent refund of an order. */
  async latest(out_trade_no: string): Promise<RefundLedgerDoc | undefined> {
    const { data } = await this.coll().where({ out_trade_no }).orderBy('create_date', 'desc').limit(1).get();
    return data[0];
  }

  /** The most recent refund of an order in one of `states`. */
  async latestIn(out_trade_no: string, states: readonly RefundLedgerState[]): Promise<RefundLedgerDoc | undefined> {
    const _ = this.db().command;
    const { data } = await this.coll()
      .where({ out_trade_no, state: _.in([...states]) })
      .orderBy('create_date', 'desc')
      .limit(1)
      .get();
    return data[0];
  }

  /** Moves a refund from one of `from` to `to`; false when it was no longer in one of `from`. */
  async transition(
    out_refund_no: string,
    from: readonly RefundLedgerState[],
    to: RefundLedgerState,
    now: number,
    patch: RefundLedgerPatch = {},
  ): Promise<boolean> {
    const _ = this.db().command;
    const set: Record<string, unknown> = { state: to, update_date: now };
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) set[k] = v;
    const { updated } = await this.coll()
      .where({ out_refund_no, state: _.in([...from]) })
      .update(set);
    return updated === 1;
  }

  /** Gives a claim back (its amount was never reserved): only while it is still PENDING. */
  async removePending(out_refund_no: string): Promise<boolean> {
    const { deleted } = await this.coll().where({ out_refund_no, state: 'PENDING' }).remove();
    return deleted === 1;
  }
}
