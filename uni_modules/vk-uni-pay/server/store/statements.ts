/**
 * vk-pay-statements: one document per statement checked (provider, account, day; unique `key`),
 * replaced by a later run of the same statement. Also the reads the comparison needs from
 * vk-pay-orders and vk-pay-refunds (paged, batched), so those repositories stay as they are.
 */
import type { Database } from '../../../../types/unicloud-server';
import type { PayOrder } from '../core/order';
import type { Comparison, Discrepancy } from '../core/statement';
import { isDuplicateKeyError, type DatabaseSource } from './db';
import { fromVkRow, ORDERS_COLLECTION } from './orders';
import { REFUNDS_COLLECTION, type RefundLedgerDoc } from './refunds';

export const STATEMENTS_COLLECTION = 'vk-pay-statements';

/** at most this many discrepancies are stored per statement (the counts are always complete) */
export const MAX_STORED_DISCREPANCIES = 2000;

export type StatementStatus = 'ok' | 'mismatch' | 'error';

export interface StatementDoc {
  _id?: string;
  /** `<provider>|<account>|<bill_date>` */
  key: string;
  provider: string;
  /** the merchant the statement belongs to (WeChat mchId, Alipay appId) */
  account: string;
  pid?: string;
  bill_date: string;
  /** ok: everything matched; mismatch: discrepancies listed; error: not downloaded or not readable (retried by the daily run) */
  status: StatementStatus;
  counts?: Comparison['counts'];
  discrepancies: Discrepancy[];
  /** discrepancies beyond MAX_STORED_DISCREPANCIES, not stored */
  discrepancies_dropped?: number;
  /** the provider's own summary rows */
  summary?: Record<string, string>;
  extra?: Record<string, Record<string, string>>;
  error?: { code: number; msg: string; providerCode?: string };
  /** the discrepancies as CSV (UTF-8 with BOM) */
  csv: string;
  create_date: number;
  update_date: number;
}

const PAGE = 500;

/** what one run has and another may not: removed when a run without them replaces one with them */
const OPTIONAL_FIELDS = ['pid', 'counts', 'discrepancies_dropped', 'summary', 'extra', 'error'] as const;

async function pages<T>(fetch: (skip: number) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let skip = 0; ; skip += PAGE) {
    const data = await fetch(skip);
    out.push(...data);
    if (data.length < PAGE) return out;
  }
}

async function batches<T>(values: string[], fetch: (batch: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  const unique = [...new Set(values)];
  for (let i = 0; i < unique.length; i += PAGE) out.push(...(await fetch(unique.slice(i, i + PAGE))));
  return out;
}

export class StatementsRepo {
  constructor(private readonly db: DatabaseSource) {}

  private coll(db: Database = this.db()) {
    return db.collection<StatementDoc>(STATEMENTS_COLLECTION);
  }

  async find(key: string): Promise<StatementDoc | undefined> {
    const { data } = await this.coll().where({ key }).limit(1).get();
    return data[0];
  }

  /** Stores a run, replacing an earlier run of the same statement (fields it lacks are removed; the first insert wins the key). */
  async save(doc: Omit<StatementDoc, 'create_date'>, now: number): Promise<void> {
    const _ = this.db().command;
    const { key, ...rest } = doc;
    const replace: Record<string, unknown> = { ...rest, update_date: now };
    for (const f of OPTIONAL_FIELDS) if (!(f in rest)) replace[f] = _.remove();
    const update = () => this.coll().where({ key }).update(replace);
    if ((await update()).updated) return;
    try {
      await this.coll().add({ ...doc, create_date: now, update_date: now } as unknown as Record<string, unknown>);
    } catch (e) {
      if (!isDuplicateKeyError(e)) throw e;
      await update();
    }
  }

  /** Orders paid in [start, end) (any provider; the service filters). */
  async ordersPaidBetween(start: number, end: number): Promise<PayOrder[]> {
    const db = this.db();
    const _ = db.command;
    const rows = await pages((skip) =>
      db
        .collection<PayOrder>(ORDERS_COLLECTION)
        .where({ pay_date: _.and(_.gte(start), _.lt(end)) })
        .orderBy('pay_date', 'asc')
        .skip(skip)
        .limit(PAGE)
        .get()
        .then((r) => r.data),
    );
    return rows.map((r) => fromVkRow(r) as PayOrder);
  }

  async ordersByOutTradeNo(outTradeNos: string[]): Promise<PayOrder[]> {
    const db = this.db();
    const rows = await batches(outTradeNos, (batch) =>
      db
        .collection<PayOrder>(ORDERS_COLLECTION)
        .where({ out_trade_no: db.command.in(batch) })
        .limit(PAGE)
        .get()
        .then((r) => r.data),
    );
    return rows.map((r) => fromVkRow(r) as PayOrder);
  }

  /** Ledger rows created in [start, end). */
  async refundsCreatedBetween(start: number, end: number): Promise<RefundLedgerDoc[]> {
    const db = this.db();
    const _ = db.command;
    return pages((skip) =>
      db
        .collection<RefundLedgerDoc>(REFUNDS_COLLECTION)
        .where({ create_date: _.and(_.gte(start), _.lt(end)) })
        .orderBy('create_date', 'asc')
        .skip(skip)
        .limit(PAGE)
        .get()
        .then((r) => r.data),
    );
  }

  async refundsByOutRefundNo(outRefundNos: string[]): Promise<RefundLedgerDoc[]> {
    const db = this.db();
    return batches(outRefundNos, (batch) =>
      db
        .collection<RefundLedgerDoc>(REFUNDS_COLLECTION)
        .where({ out_refund_no: db.command.in(batch) })
        .limit(PAGE)
        .get()
        .then((r) => r.data),
    );
  }
}
