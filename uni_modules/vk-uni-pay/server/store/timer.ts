/**
 * What the reconciliation timer reads and claims. Every claim is ONE conditional update that also
 * schedules the item's next look (backoff), so two timer runs at once never work on the same item
 * and an item that keeps failing is looked at less and less often.
 */
import type { DatabaseSource } from './db';
import { ORDERS_COLLECTION, fromVkRow } from './orders';
import { REFUNDS_COLLECTION, type RefundLedgerDoc, type RefundLedgerState } from './refunds';
import { ORDER_STATUS, PAID_STATUSES, type PayOrder } from '../core/order';

/** An item's next look: `next_at` (ms) and how many looks it has had. */
export interface CheckSchedule {
  next_at: number;
  attempts: number;
}

export class TimerRepo {
  constructor(private readonly db: DatabaseSource) {}

  private orders() {
    return this.db().collection<PayOrder>(ORDERS_COLLECTION);
  }

  private refunds() {
    return this.db().collection<RefundLedgerDoc>(REFUNDS_COLLECTION);
  }

  /** due: never looked at, or its next look has come */
  private due(now: number) {
    const _ = this.db().command;
    return _.or(_.exists(false), _.lte(now));
  }

  /** Unpaid orders created in [createdFrom, createdTo] whose time_expire (if any) is after `now` and whose next look is due. */
  async pendingOrders(now: number, createdFrom: number, createdTo: number, limit: number): Promise<PayOrder[]> {
    const _ = this.db().command;
    const { data } = await this.orders()
      .where({
        status: ORDER_STATUS.UNPAID,
        create_date: _.and(_.gte(createdFrom), _.lte(createdTo)),
        time_expire: _.or(_.exists(false), _.gt(now)),
        reconcile_next_at: this.due(now),
      })
      .orderBy('create_date', 'asc')
      .limit(limit)
      .get();
    return data.map((o) => fromVkRow(o)!);
  }

  /** Unpaid orders whose time_expire has passed and whose next look is due. */
  async expiredOrders(now: number, limit: number): Promise<PayOrder[]> {
    const _ = this.db().command;
    const { data } = await this.orders()
      .where({ status: ORDER_STATUS.UNPAID, time_expire: _.lte(now), reconcile_next_at: this.due(now) })
      .orderBy('time_expire', 'asc')
      .limit(limit)
      .get();
    return data.map((o) => fromVkRow(o)!);
  }

  /**
   * The timer's claim on asking the provider about an unpaid order: takes the order's query gate
   * (the one provider query in flight, shared with queryPayment) and schedules the next look, in
   * one conditional update. False when a query is in flight or it is no longer due. `slackMs`: the
   * clients' minimum interval between queries does not hold the timer back (server code).
   */
  async claimOrderCheck(out_trade_no: string, now: number, holdMs: number, slackMs: number, next: CheckSchedule): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.orders()
      .where({
        out_trade_no,
        status: ORDER_STATUS.UNPAID,
        reconcile_next_at: this.due(now),
        query_lock_until: _.or(_.exists(false), _.lt(now + slackMs)),
      })
      .update({ query_lock_until: now + holdMs, reconcile_next_at: next.next_at, reconcile_attempts: next.attempts });
    return updated === 1;
  }

  /** Paid orders paid before `paidBefore` whose handler has not succeeded, lease free and next re-run due. */
  async unfinishedHandlers(now: number, paidBefore: number, limit: number): Promise<PayOrder[]> {
    const _ = this.db().command;
    const { data } = await this.orders()
      .where({
        status: _.in(PAID_STATUSES),
        user_order_success: _.neq(true),
        notify_date: _.lte(paidBefore),
        handler_lock_until: _.lt(now),
        handler_retry_at: this.due(now),
      })
      .orderBy('notify_date', 'asc')
      .limit(limit)
      .get();
    return data.map((o) => fromVkRow(o)!);
  }

  /** After a failed re-run: the timer leaves this handler alone until `next_at` (provider retries and queries are not held back). */
  async deferHandler(out_trade_no: string, next_at: number): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.orders()
      .where({ out_trade_no, user_order_success: _.neq(true) })
      .update({ handler_retry_at: next_at });
    return updated === 1;
  }

  /** Ledger refunds in one of `states`, last changed before `changedBefore`, next look due. */
  async openRefunds(now: number, states: readonly RefundLedgerState[], changedBefore: number, limit: number): Promise<RefundLedgerDoc[]> {
    const _ = this.db().command;
    const { data } = await this.refunds()
      .where({ state: _.in([...states]), update_date: _.lte(changedBefore), check_next_at: this.due(now) })
      .orderBy('update_date', 'asc')
      .limit(limit)
      .get();
    return data;
  }

  /** The timer's claim on querying one refund, with its next look scheduled (one conditional update). */
  async claimRefundCheck(out_refund_no: string, now: number, states: readonly RefundLedgerState[], next: CheckSchedule): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.refunds()
      .where({ out_refund_no, state: _.in([...states]), check_next_at: this.due(now) })
      .update({ check_next_at: next.next_at, check_attempts: next.attempts });
    return updated === 1;
  }

  /** Closed orders created before `createdBefore` (vk-uni-pay's autoDeleteExpiredOrders). */
  async closedOrders(createdBefore: number, limit: number): Promise<PayOrder[]> {
    const _ = this.db().command;
    const { data } = await this.orders()
      .where({ status: ORDER_STATUS.CLOSED, create_date: _.lt(createdBefore) })
      .orderBy('create_date', 'asc')
      .limit(limit)
      .get();
    return data;
  }

  /** Deletes one order while it is still closed (a payment that arrived after closing keeps it). */
  async deleteClosed(out_trade_no: string): Promise<boolean> {
    const { deleted } = await this.orders().where({ out_trade_no, status: ORDER_STATUS.CLOSED }).remove();
    return deleted === 1;
  }
}
