/**
 * vk-pay-apple-transactions: in-app purchase transactions bound to the order they paid. The unique
 * index on transaction_id makes one transaction pay at most one order, even for concurrent calls.
 */
import type { DatabaseSource } from './db';
import { isDuplicateKeyError } from './db';

export const PURCHASES_COLLECTION = 'vk-pay-apple-transactions';

export interface PurchaseBinding {
  transaction_id: string;
  original_transaction_id: string;
  out_trade_no: string;
  product_id: string;
  environment: string;
  create_date: number;
}

export class PurchasesRepo {
  constructor(private readonly db: DatabaseSource) {}

  private coll() {
    return this.db().collection(PURCHASES_COLLECTION);
  }

  /**
   * Binds a transaction to an order: 'bound' (also when this order presents its own transaction
   * again, a harmless retry), or 'taken' when the transaction already paid another order.
   */
  async bind(binding: PurchaseBinding): Promise<'bound' | 'taken'> {
    try {
      await this.coll().add({ ...binding });
      return 'bound';
    } catch (e) {
      if (!isDuplicateKeyError(e)) throw e;
      return (await this.orderOf(binding.transaction_id)) === binding.out_trade_no ? 'bound' : 'taken';
    }
  }

  /** The out_trade_no a transaction paid. */
  async orderOf(transaction_id: string): Promise<string | undefined> {
    const { data } = await this.coll().where({ transaction_id }).limit(1).get();
    return (data[0] as { out_trade_no?: string } | undefined)?.out_trade_no;
  }
}
