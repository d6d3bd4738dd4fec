/**
 * The refund bookkeeping in the database, step by step with stale snapshots (what a concurrent
 * instance would hold): OrdersRepo.updateRefundRecord's guard and the ledger's state transitions.
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT } from '../../tools/stack';
import { OrdersRepo } from '../../uni_modules/vk-uni-pay/server/store/orders';
import { RefundsRepo, type RefundLedgerDoc } from '../../uni_modules/vk-uni-pay/server/store/refunds';
import { ORDER_STATUS, type PayOrder, type RefundRecord } from '../../uni_modules/vk-uni-pay/server/core/order';

let dir: string;
let db: ReturnType<typeof createDatabase>;
let orders: OrdersRepo;
let refunds: RefundsRepo;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vkpay-refund-store-'));
  db = createDatabase({ file: path.join(dir, 'db.sqlite'), indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')] });
  orders = new OrdersRepo(() => db);
  refunds = new RefundsRepo(() => db);
});
afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
async function paid(total_fee: number): Promise<string> {
  const out_trade_no = `ST${Date.now()}${seq++}`;
  const order: PayOrder = {
    out_trade_no,
    total_fee,
    status: ORDER_STATUS.PAID,
    provider: 'wxpay',
    pay_type: 'wxpay_h5',
    platform: 'h5',
    uni_platform: 'web',
    type: 'goods',
    description: 't',
    client_ip: '127.0.0.1',
    custom: {},
    notify_url: '',
    notify_path: '',
    create_date: 1,
    refund_fee: 0,
    refund_num: 0,
    refund_list: [],
    stat_data: {},
    handler_lock_until: 0,
    handler_attempts: 0,
  };
  expect(await orders.insert(order)).not.toBe('duplicate');
  return out_trade_no;
}
const get = async (no: string) => (await orders.findByOutTradeNo(no))!;
const rec = (out_refund_no: string, refund_fee: number): RefundRecord => ({
  out_refund_no,
  refund_fee,
  refund_date: 1,
  state: 'PROCESSING',
});

test('a release from a stale snapshot (a reservation happened since) is refused and changes nothing', async () => {
  const no = await paid(1000);
  expect(await orders.reserveRefund(await get(no), rec('A', 100))).toBe(true);
  const stale = await get(no);
  expect(await orders.reserveRefund(await get(no), rec('B', 200))).toBe(true);
  expect(await orders.updateRefundRecord(stale, 'A', { state: 'FAIL' })).toBe('conflict');
  expect(await get(no)).toMatchObject({
    refund_fee: 0,
    refund_reserved: 300,
    status: 1,
    refund_list: [expect.objectContaining({ out_refund_no: 'A', state: 'PROCESSING' }), expect.objectContaining({ out_refund_no: 'B' })],
  });
  expect(await orders.updateRefundRecord(await get(no), 'A', { state: 'FAIL' })).toBe('updated');
  expect(await get(no)).toMatchObject({ refund_fee: 0, refund_reserved: 200, status: 1, refund_num: 2 });
});

test('two releases of the same record from one snapshot release it once', async () => {
  const no = await paid(500);
  expect(await orders.reserveRefund(await get(no), rec('A', 500))).toBe(true);
  // in flight: reserved, not refunded (status follows confirmed refunds only)
  expect(await get(no)).toMatchObject({ status: 1, refund_fee: 0, refund_reserved: 500 });
  const snap = await get(no);
  expect(await orders.updateRefundRecord(snap, 'A', { state: 'FAIL' })).toBe('updated');
  expect(await orders.updateRefundRecord(snap, 'A', { state: 'FAIL' })).toBe('conflict');
  expect(await orders.updateRefundRecord(await get(no), 'A', { state: 'FAIL' })).toBe('unchanged');
  // a failed record is never revived
  expect(await orders.updateRefundRecord(await get(no), 'A', { state: 'SUCCESS' })).toBe('unchanged');
  expect(await get(no)).toMatchObject({ status: 1, refund_fee: 0, refund_reserved: 0 });
  expect(await orders.updateRefundRecord(await get(no), 'Z', { state: 'FAIL' })).toBe('missing');
});

test('a mark and a release from the same snapshot: the second is refused (no lost update)', async () => {
  const no = await paid(1000);
  await orders.reserveRefund(await get(no), rec('A', 100));
  await orders.reserveRefund(await get(no), rec('B', 200));
  const snap = await get(no);
  expect(await orders.updateRefundRecord(snap, 'A', { state: 'SUCCESS', refund_id: 'r-A' })).toBe('updated');
  expect(await orders.updateRefundRecord(snap, 'B', { state: 'FAIL' })).toBe('conflict');
  expect(await orders.updateRefundRecord(await get(no), 'B', { state: 'FAIL' })).toBe('updated');
  const o = await get(no);
  expect(o).toMatchObject({ refund_fee: 100, refund_reserved: 0, status: 2 });
  expect(o.refund_list).toEqual([
    expect.objectContaining({ out_refund_no: 'A', state: 'SUCCESS', refund_id: 'r-A' }),
    expect.objectContaining({ out_refund_no: 'B', state: 'FAIL' }),
  ]);
  // the released number cannot be reserved again
  expect(await orders.reserveRefund(await get(no), rec('B', 200))).toBe(false);
});

test('the ledger: one document per number, transitions only from the expected states, finals stay', async () => {
  const doc: RefundLedgerDoc = {
    out_refund_no: `L${Date.now()}`,
    out_trade_no: 'T1',
    refund_fee: 10,
    state: 'PENDING',
    create_date: 1,
    update_date: 1,
  };
  expect(await refunds.insert(doc)).toHaveProperty('id');
  expect(await refunds.insert({ ...doc, refund_fee: 20 })).toBe('duplicate');
  expect(await refunds.transition(doc.out_refund_no, ['PROCESSING'], 'SUCCESS', 2)).toBe(false);
  expect(await refunds.transition(doc.out_refund_no, ['PENDING'], 'UNKNOWN', 2)).toBe(true);
  expect(await refunds.removePending(doc.out_refund_no)).toBe(false);
  expect(await refunds.transition(doc.out_refund_no, ['PENDING', 'UNKNOWN', 'PROCESSING'], 'SUCCESS', 3, { refund_id: 'R9' })).toBe(true);
  expect(await refunds.transition(doc.out_refund_no, ['PENDING', 'UNKNOWN', 'PROCESSING'], 'FAIL', 4)).toBe(false);
  expect(await refunds.find(doc.out_refund_no)).toMatchObject({ state: 'SUCCESS', refund_id: 'R9', refund_fee: 10, update_date: 3 });
  const other = { ...doc, out_refund_no: `${doc.out_refund_no}b`, create_date: 5 };
  await refunds.insert(other);
  expect((await refunds.latest('T1'))?.out_refund_no).toBe(other.out_refund_no);
  expect(await refunds.removePending(other.out_refund_no)).toBe(true);
  expect(await refunds.find(other.out_refund_no)).toBeUndefined();
});

test('SUCCESS moves a reserved amount to refund_fee once; the status follows confirmed refunds only', async () => {
  const no = await paid(300);
  await orders.reserveRefund(await get(no), rec('A', 100));
  await orders.reserveRefund(await get(no), rec('B', 200));
  expect(await get(no)).toMatchObject({ status: 1, refund_fee: 0, refund_reserved: 300 });
  expect(await orders.updateRefundRecord(await get(no), 'A', { state: 'PROCESSING', refund_id: 'r-A' })).toBe('updated');
  expect(await get(no)).toMatchObject({ status: 1, refund_fee: 0, refund_reserved: 300 });
  expect(await orders.updateRefundRecord(await get(no), 'A', { state: 'SUCCESS' })).toBe('updated');
  expect(await get(no)).toMatchObject({ status: 2, refund_fee: 100, refund_reserved: 200 });
  // a repeat moves nothing; a SUCCESS never turns into a FAIL
  expect(await orders.updateRefundRecord(await get(no), 'A', { state: 'SUCCESS' })).toBe('unchanged');
  expect(await orders.updateRefundRecord(await get(no), 'A', { state: 'FAIL' })).toBe('unchanged');
  expect(await orders.updateRefundRecord(await get(no), 'B', { state: 'SUCCESS' })).toBe('updated');
  expect(await get(no)).toMatchObject({ status: 3, refund_fee: 300, refund_reserved: 0 });
});

test('a record of an older version (counted in refund_fee, no `reserved`): SUCCESS moves nothing, FAIL gives it back', async () => {
  const no = await paid(1000);
  await orders.updateRefundRecord(await get(no), 'none', { state: 'FAIL' });
  // as the previous version wrote it: refund_fee already counted, status 2, no refund_reserved
  await db
    .collection('vk-pay-orders')
    .where({ out_trade_no: no })
    .update({
      refund_fee: 400,
      status: ORDER_STATUS.PART_REFUNDED,
      refund_num: 2,
      refund_list: [rec('old-1', 100), rec('old-2', 300)],
    });
  expect(await orders.updateRefundRecord(await get(no), 'old-1', { state: 'SUCCESS' })).toBe('updated');
  expect(await get(no)).toMatchObject({ refund_fee: 400, status: 2 });
  expect(await orders.updateRefundRecord(await get(no), 'old-2', { state: 'FAIL' })).toBe('updated');
  expect(await get(no)).toMatchObject({ refund_fee: 100, refund_reserved: 0, status: 2 });
  // and a new reservation works on such a row (refund_reserved absent until now)
  expect(await orders.reserveRefund(await get(no), rec('new', 900))).toBe(true);
  expect(await get(no)).toMatchObject({ refund_fee: 100, refund_reserved: 900 });
});

test('the hook lease: taken with the final transition, once; a stale run never records over a newer one', async () => {
  const no = `H${Date.now()}`;
  await refunds.insert({ out_refund_no: no, out_trade_no: 'T2', refund_fee: 5, state: 'PROCESSING', create_date: 1, update_date: 1 });
  // not final: no hook may run
  expect(await refunds.claimHook(no, 10, { token: 'x', until: 20 })).toBeUndefined();
  expect(await refunds.transition(no, ['PROCESSING'], 'SUCCESS', 10, {}, { token: 'first', until: 100 })).toBe(true);
  expect(await refunds.find(no)).toMatchObject({ hook_lease: 'first', hook_lock_until: 100, hook_attempts: 1 });
  // while the lease holds nobody else runs it
  expect(await refunds.claimHook(no, 50, { token: 'second', until: 150 })).toBeUndefined();
  // after it expired a second run takes over; the first run's late failure is not recorded
  expect(await refunds.claimHook(no, 101, { token: 'second', until: 200 })).toMatchObject({ hook_lease: 'second', hook_attempts: 2 });
  expect(await refunds.finishHook(no, 'first', false, 'late', 300)).toBe(false);
  expect(await refunds.finishHook(no, 'second', true, undefined, 300)).toBe(true);
  expect(await refunds.find(no)).toMatchObject({ hook_done: true, hook_error: '' });
  expect(await refunds.claimHook(no, 1000, { token: 'third', until: 1100 })).toBeUndefined();
  expect((await refunds.due(1000, 1000, 10)).map((d) => d.out_refund_no)).not.toContain(no);
});
