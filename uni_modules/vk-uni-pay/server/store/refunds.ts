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
  /** who decided the final state: the refund call's answer, a notification, a query, or the provider on its own */
  source?: RefundSource;
  create_date: number;
  update_date: number;
  // ---- the business hook (`refund-notify/<type>.js`), run once per final state under a lease
  /** true once the hook succeeded (or there is no hook for the order's type) */
  hook_done?: boolean;
  /** lease on the hook run (ms timestamp) */
  hook_lock_until?: number;
  /** token of the run holding the lease */
  hook_lease?: string;
  hook_attempts?: number;
  hook_error?: string;
}

export type RefundSource = 'answer' | 'notify' | 'query' | 'provider';

/** A hook run's claim: a token naming the run, held until `until` (ms). */
export interface HookLease {
  token: string;
  until: number;
}

export type RefundLedgerPatch = Partial<Pick<RefundLedgerDoc, 'refund_id' | 'fail_code' | 'fail_msg' | 'source' | 'hook_done'>>;

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

  /**
   * Moves a refund from one of `from` to `to`; false when it was no longer in one of `from`. With
   * `lease` (a move to a final state), the same update takes the hook lease (one round trip).
   */
  async transition(
    out_refund_no: string,
    from: readonly RefundLedgerState[],
    to: RefundLedgerState,
    now: number,
    patch: RefundLedgerPatch = {},
    lease?: HookLease,
  ): Promise<boolean> {
    const _ = this.db().command;
    const set: Record<string, unknown> = { state: to, update_date: now };
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) set[k] = v;
    if (lease) Object.assign(set, { hook_lock_until: lease.until, hook_lease: lease.token, hook_attempts: _.inc(1) });
    const { updated } = await this.coll()
      .where({ out_refund_no, state: _.in([...from]) })
      .update(set);
    return updated === 1;
  }

  /**
   * Takes the lease on running the hook of a final refund whose hook has not succeeded and whose
   * previous lease (if any) has expired. Returns the refund when this caller won.
   */
  async claimHook(out_refund_no: string, now: number, lease: HookLease): Promise<RefundLedgerDoc | undefined> {
    const _ = this.db().command;
    const { doc } = await this.coll()
      .where({
        out_refund_no,
        state: _.in([...FINAL_REFUND_STATES]),
        hook_done: _.neq(true),
        hook_lock_until: _.or(_.exists(false), _.lt(now)),
      })
      .updateAndReturn({ hook_lock_until: lease.until, hook_lease: lease.token, hook_attempts: _.inc(1) });
    return doc ?? undefined;
  }

  /**
   * Records a hook run's outcome: a success from any run; a failure only while this run still holds
   * the lease (a stale run never overwrites a newer outcome). False when nothing was recorded.
   */
  async finishHook(out_refund_no: string, token: string, ok: boolean, error: string | undefined, retryAfter: number): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.coll()
      .where(ok ? { out_refund_no, hook_done: _.neq(true) } : { out_refund_no, hook_lease: token, hook_done: _.neq(true) })
      .update({ hook_done: ok, hook_lock_until: ok ? 0 : retryAfter, hook_error: ok ? '' : (error ?? 'failed').slice(0, 500) });
    return updated === 1;
  }

  /**
   * Refunds that need the reconciliation: still open (PENDING / UNKNOWN / PROCESSING) and not
   * touched since `olderThan`, or final with a hook that has not succeeded and is free to run again.
   */
  async due(now: number, olderThan: number, limit: number): Promise<RefundLedgerDoc[]> {
    const _ = this.db().command;
    const [open, hooks] = await Promise.all([
      this.coll()
        .where({ state: _.in(['PENDING', 'UNKNOWN', 'PROCESSING']), update_date: _.lt(olderThan) })
        .orderBy('update_date', 'asc')
        .limit(limit)
        .get(),
      this.coll()
        .where({ state: _.in([...FINAL_REFUND_STATES]), hook_done: _.neq(true), hook_lock_until: _.or(_.exists(false), _.lt(now)) })
        .orderBy('update_date', 'asc')
        .limit(limit)
        .get(),
    ]);
    return [...open.data, ...hooks.data].slice(0, limit);
  }

  /** Gives a claim back (its amount was never reserved): only while it is still PENDING. */
  async removePending(out_refund_no: string): Promise<boolean> {
    const { deleted } = await this.coll().where({ out_refund_no, state: 'PENDING' }).remove();
    return deleted === 1;
  }
}
