/**
 * vk-pay-orders. Idempotency lives here: every state transition is ONE conditional update, so it
 * holds across concurrent notifications, instances and active queries (never process memory).
 */
import type { DatabaseSource } from './db';
import { isDuplicateKeyError } from './db';
import { ORDER_STATUS, PAID_STATUSES, type PayOrder, type RefundRecord } from '../core/order';

export const ORDERS_COLLECTION = 'vk-pay-orders';

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
    return data[0];
  }

  async findByTransactionId(transaction_id: string): Promise<PayOrder | undefined> {
    const { data } = await this.coll().where({ transaction_id }).limit(1).get();
    return data[0];
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

  /** The 0 → 1 gate. True for exactly one caller per order. */
  async markPaid(out_trade_no: string, patch: Partial<PayOrder>): Promise<boolean> {
    const { updated } = await this.coll()
      .where({ out_trade_no, status: ORDER_STATUS.UNPAID })
      .update({ ...patch, status: ORDER_STATUS.PAID } as Record<string, unknown>);
    return updated === 1;
  }

  /**
   * Takes the lease on running the user's handler: only for a paid order whose handler has not
   * succeeded and whose previous lease (if any) has expired. Returns the order when this caller won.
   */
  async claimHandler(out_trade_no: string, now: number, leaseMs: number): Promise<PayOrder | undefined> {
    const _ = this.db().command;
    const { doc } = await this.coll()
      .where({
        out_trade_no,
        status: _.in(PAID_STATUSES),
        user_order_success: _.neq(true),
        handler_lock_until: _.lt(now),
      })
      .updateAndReturn({ handler_lock_until: now + leaseMs, handler_attempts: _.inc(1) });
    return doc ?? undefined;
  }

  /** Records the handler's outcome; `retryAfter` keeps a failed handler from being re-run at once. */
  async finishHandler(out_trade_no: string, ok: boolean, error: string | undefined, retryAfter: number): Promise<void> {
    await this.coll()
      .where({ out_trade_no })
      .update({ user_order_success: ok, handler_lock_until: retryAfter, handler_error: ok ? '' : (error ?? 'failed').slice(0, 500) });
  }

  /** Unpaid → closed (expired or closed at the provider). */
  async markClosed(out_trade_no: string, now: number): Promise<boolean> {
    const { updated } = await this.coll()
      .where({ out_trade_no, status: ORDER_STATUS.UNPAID })
      .update({ status: ORDER_STATUS.CLOSED, cancel_date: now });
    return updated === 1;
  }

  /**
   * Reserves a refund amount with one conditional update: refund_fee + amount ≤ total_fee, the
   * out_refund_no not yet recorded. Returns false when another refund got there first.
   */
  async reserveRefund(order: PayOrder, record: RefundRecord): Promise<boolean> {
    const _ = this.db().command;
    const refunded = order.refund_fee + record.refund_fee;
    const { updated } = await this.coll()
      .where({
        out_trade_no: order.out_trade_no,
        status: _.in(PAID_STATUSES),
        refund_fee: order.refund_fee,
        'refund_list.out_refund_no': _.neq(record.out_refund_no),
      })
      .update({
        refund_fee: refunded,
        refund_num: _.inc(1),
        refund_list: _.push(record),
        status: refunded >= order.total_fee ? ORDER_STATUS.REFUNDED : ORDER_STATUS.PART_REFUNDED,
      });
    return updated === 1;
  }
}
