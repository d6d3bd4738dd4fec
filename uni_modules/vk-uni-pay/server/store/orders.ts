/**
 * vk-pay-orders. Idempotency lives here: every state transition is ONE conditional update, so it
 * holds across concurrent notifications, instances and active queries (never process memory).
 */
import type { DatabaseSource } from './db';
import { isDuplicateKeyError } from './db';
import { ORDER_STATUS, PAID_STATUSES, refundStatus, type DuplicatePayment, type PayOrder, type RefundRecord } from '../core/order';

export const ORDERS_COLLECTION = 'vk-pay-orders';

/** A handler run's claim: a token naming the run, held until `until` (ms). */
export interface HandlerLease {
  token: string;
  until: number;
}

/**
 * Rows vk-uni-pay wrote have no `provider` (it is the pay_type's prefix) and may lack the refund
 * counters; read them as our rows so they can be queried and refunded. Nothing is written back.
 */
export function fromVkRow(row: PayOrder | undefined): PayOrder | undefined {
  if (!row || (row.provider && row.refund_list)) return row;
  const payType = String(row.pay_type ?? '');
  return {
    ...row,
    provider: row.provider ?? (payType.slice(0, payType.indexOf('_')) as PayOrder['provider']),
    refund_fee: row.refund_fee ?? 0,
    refund_num: row.refund_num ?? row.refund_list?.length ?? 0,
    refund_list: row.refund_list ?? [],
  };
}

export class OrdersRepo {
  constructor(private readonly db: DatabaseSource) {}

  private coll() {
    return this.db().collection<PayOrder>(ORDERS_COLLECTION);
  }

  /** Inserts a new order; 'duplicate' when the out_trade_no exists (unique index). */
  async insert(order: PayOrder): Promise<{ id: string } | 'duplicate'> {
    try {
      const { id } = await this.coll().add(order as unknown as Record<string, unknown>);
      return { id };
    } catch (e) {
      if (isDuplicateKeyError(e)) return 'duplicate';
      throw e;
    }
  }

  async findByOutTradeNo(out_trade_no: string): Promise<PayOrder | undefined> {
    const { data } = await this.coll().where({ out_trade_no }).limit(1).get();
    return fromVkRow(data[0]);
  }

  async findByTransactionId(transaction_id: string): Promise<PayOrder | undefined> {
    const { data } = await this.coll().where({ transaction_id }).limit(1).get();
    return fromVkRow(data[0]);
  }

  /**
   * Changes an order only while it is unpaid and has this amount. The counter always changes, so
   * `updated` is 1 whenever the order matched (uniCloud reports 0 for an update that changes nothing).
   */
  async updateUnpaid(out_trade_no: string, total_fee: number, patch: Partial<PayOrder>): Promise<boolean> {
    const { updated } = await this.coll()
      .where({ out_trade_no, status: ORDER_STATUS.UNPAID, total_fee })
      .update({ ...patch, update_count: this.db().command.inc(1) } as Record<string, unknown>);
    return updated === 1;
  }

  /**
   * The → paid gate: the order for exactly one caller per order, undefined for every other. A closed
   * order is accepted too: the provider's verified word that the money arrived outranks our closing
   * it (e.g. on expiry). With `lease`, the same update takes the handler lease (one round trip).
   */
  async markPaid(out_trade_no: string, patch: Partial<PayOrder>, lease?: HandlerLease): Promise<PayOrder | undefined> {
    const _ = this.db().command;
    const { doc } = await this.coll()
      .where({ out_trade_no, status: _.in([ORDER_STATUS.UNPAID, ORDER_STATUS.CLOSED]) })
      .updateAndReturn({
        ...patch,
        status: ORDER_STATUS.PAID,
        ...(lease ? { handler_lock_until: lease.until, handler_lease: lease.token, handler_attempts: _.inc(1) } : {}),
      } as Record<string, unknown>);
    return doc ?? undefined;
  }

  /**
   * Takes the lease on running the user's handler: only for a paid order whose handler has not
   * succeeded and whose previous lease (if any) has expired. Returns the order when this caller won;
   * the lease token then names this run, and only this run may record a failure.
   */
  async claimHandler(out_trade_no: string, now: number, lease: HandlerLease): Promise<PayOrder | undefined> {
    const _ = this.db().command;
    const { doc } = await this.coll()
      .where({
        out_trade_no,
        status: _.in(PAID_STATUSES),
        user_order_success: _.neq(true),
        handler_lock_until: _.lt(now),
      })
      .updateAndReturn({ handler_lock_until: lease.until, handler_lease: lease.token, handler_attempts: _.inc(1) });
    return doc ?? undefined;
  }

  /**
   * Records a handler run's outcome, one conditional update. A success counts whichever run it
   * came from (the handler has then succeeded once); a failure only while this run still holds the
   * lease, so a stale run never overwrites a newer outcome. `retryAfter` keeps a failed handler from
   * being re-run at once. False when nothing was recorded.
   */
  async finishHandler(out_trade_no: string, token: string, ok: boolean, error: string | undefined, retryAfter: number): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.coll()
      .where(
        ok ? { out_trade_no, user_order_success: _.neq(true) } : { out_trade_no, handler_lease: token, user_order_success: _.neq(true) },
      )
      .update({
        user_order_success: ok,
        handler_lock_until: ok ? 0 : retryAfter,
        handler_error: ok ? '' : (error ?? 'failed').slice(0, 500),
      });
    return updated === 1;
  }

  /**
   * Claims the one provider query of an unpaid order allowed in flight: true for one caller until
   * `holdMs` passes or the holder releases it. `slackMs` lets the caller in that much before the
   * gate's time (server code, which the clients' minimum interval does not hold back).
   */
  async claimQuery(out_trade_no: string, now: number, holdMs: number, slackMs = 0): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.coll()
      .where({ out_trade_no, status: ORDER_STATUS.UNPAID, query_lock_until: _.or(_.exists(false), _.lt(now + slackMs)) })
      .update({ query_lock_until: now + holdMs });
    return updated === 1;
  }

  /** Ends a provider query; the next may start at `nextAt` (the clients' minimum interval). */
  async releaseQuery(out_trade_no: string, nextAt: number): Promise<void> {
    await this.coll().where({ out_trade_no }).update({ query_lock_until: nextAt });
  }

  /**
   * A second, different payment for an order already paid by another transaction: kept on the order
   * (once per transaction) so the merchant can refund it.
   */
  async recordDuplicatePayment(out_trade_no: string, entry: DuplicatePayment): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.coll()
      .where({
        out_trade_no,
        transaction_id: _.neq(entry.transaction_id),
        'duplicate_payments.transaction_id': _.neq(entry.transaction_id),
      })
      .update({ duplicate_payments: _.push(entry) });
    return updated === 1;
  }

  /** Unpaid → closed (expired or closed at the provider). */
  async markClosed(out_trade_no: string, now: number): Promise<boolean> {
    const { updated } = await this.coll()
      .where({ out_trade_no, status: ORDER_STATUS.UNPAID })
      .update({ status: ORDER_STATUS.CLOSED, cancel_date: now });
    return updated === 1;
  }

  /**
   * Reserves a refund amount with one conditional update on the snapshot's refund_fee (confirmed)
   * and refund_reserved (in flight): the caller checked refund_fee + refund_reserved + amount ≤
   * total_fee on that snapshot, so any concurrent change makes this return false (re-read, retry).
   * The status is untouched: it follows confirmed refunds only.
   */
  async reserveRefund(order: PayOrder, record: RefundRecord): Promise<boolean> {
    const _ = this.db().command;
    const { updated } = await this.coll()
      .where({
        out_trade_no: order.out_trade_no,
        status: _.in(PAID_STATUSES),
        refund_fee: order.refund_fee,
        refund_reserved: order.refund_reserved === undefined ? _.exists(false) : order.refund_reserved,
        'refund_list.out_refund_no': _.neq(record.out_refund_no),
      })
      .update({
        refund_reserved: (order.refund_reserved ?? 0) + record.refund_fee,
        refund_num: _.inc(1),
        refund_list: _.push({ ...record, reserved: true }),
      });
    return updated === 1;
  }

  /**
   * Changes one refund_list record (state, refund_id) and moves its money: SUCCESS turns a
   * reserved amount into a confirmed one (refund_reserved → refund_fee), FAIL releases it. The
   * status is recomputed from refund_fee (1 / 2 / 3). A final record never changes again, so an
   * amount moves at most once. Records written before refund_reserved existed (no `reserved`)
   * were counted in refund_fee already: their SUCCESS moves nothing, their FAIL gives it back.
   * ONE conditional update, guarded by refund_fee, refund_reserved, refund_num and refund_version:
   * any concurrent reservation or change makes it return 'conflict' (re-read the order and retry).
   */
  async updateRefundRecord(
    order: PayOrder,
    out_refund_no: string,
    change: { state: RefundRecord['state']; refund_id?: string },
  ): Promise<'updated' | 'unchanged' | 'missing' | 'conflict'> {
    const _ = this.db().command;
    const list = order.refund_list ?? [];
    const current = list.find((r) => r.out_refund_no === out_refund_no);
    if (!current) return 'missing';
    if (current.state === 'FAIL' || (current.state === 'SUCCESS' && change.state !== 'SUCCESS')) return 'unchanged';
    const refund_id = change.refund_id ?? current.refund_id;
    if (current.state === change.state && current.refund_id === refund_id) return 'unchanged';
    const next = list.map((r) =>
      r.out_refund_no === out_refund_no ? { ...r, state: change.state, ...(refund_id ? { refund_id } : {}) } : r,
    );
    const version = order.refund_version;
    const patch: Record<string, unknown> = { refund_list: _.set(next), refund_version: (version ?? 0) + 1 };
    const settles = current.state !== 'SUCCESS' && (change.state === 'SUCCESS' || change.state === 'FAIL');
    if (settles) {
      let refunded = order.refund_fee;
      let reserved = order.refund_reserved ?? 0;
      if (current.reserved) {
        reserved -= current.refund_fee;
        if (change.state === 'SUCCESS') refunded += current.refund_fee;
      } else if (change.state === 'FAIL') refunded -= current.refund_fee;
      patch.refund_fee = refunded;
      patch.refund_reserved = Math.max(reserved, 0);
      patch.status = refundStatus(refunded, order.total_fee);
    }
    const { updated } = await this.coll()
      .where({
        out_trade_no: order.out_trade_no,
        status: _.in(PAID_STATUSES),
        refund_fee: order.refund_fee,
        refund_reserved: order.refund_reserved === undefined ? _.exists(false) : order.refund_reserved,
        refund_num: order.refund_num,
        refund_version: version === undefined ? _.exists(false) : version,
      })
      .update(patch);
    return updated === 1 ? 'updated' : 'conflict';
  }
}
