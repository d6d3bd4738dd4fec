// refund-notify/recharge.js — runs once per FINAL state of each refund of an order whose type is "recharge".
// obj.data = the order (custom flattened in: user_id, recharge_balance, ...); obj.refund = the refund
// (out_refund_no, refund_fee in fen, state 'SUCCESS' | 'FAIL', ...). See refund-notify/goods.js.
// Return true when done; return false or throw to have it run again later.
//
// The money went back to the payer: take back the balance it bought, in proportion to the refund
// (a partial refund of a 100-yuan recharge takes back its share). ONE conditional update keyed by
// out_refund_no, so a retry never takes back twice. The balance may go negative if it was spent:
// that is the business's call — here it is recorded as it is.
module.exports = async function (obj) {
  const { data, refund } = obj;
  if (refund.state !== 'SUCCESS') return true; // the refund failed: the balance stays
  if (!data.user_id || !Number.isSafeInteger(data.recharge_balance) || data.total_fee <= 0) return true;
  const takeBack = Math.floor((data.recharge_balance * refund.refund_fee) / data.total_fee);
  const db = uniCloud.database();
  const _ = db.command;
  const accounts = db.collection('demo-accounts');
  const { updated } = await accounts
    .where({ _id: data.user_id, refunded: _.nin([refund.out_refund_no]) })
    .update({ balance: _.inc(-takeBack), refunded: _.push(refund.out_refund_no) });
  if (updated === 1) return true;
  const { data: now } = await accounts.doc(data.user_id).get();
  return !now[0] || (now[0].refunded || []).includes(refund.out_refund_no);
};
