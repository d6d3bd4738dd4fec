// pay-notify/recharge.js — runs once per paid order whose type is "recharge".
// data = the vk-pay-orders row with `custom` flattened in (out_trade_no, total_fee, user_id, recharge_balance, ...).
// Return true when done; return false or throw to have it retried (the provider is told to resend).
//
// Make it idempotent yourself too: ONE conditional update that both credits the balance and records
// the out_trade_no, so a retry after a crash can never credit twice.
module.exports = async function (obj) {
  const { data } = obj;
  const db = uniCloud.database();
  const _ = db.command;
  if (!data.user_id || !Number.isSafeInteger(data.recharge_balance) || data.recharge_balance <= 0) return false;
  const accounts = db.collection('demo-accounts');
  const { data: found } = await accounts.doc(data.user_id).get();
  if (!found.length) {
    try {
      await accounts.add({ _id: data.user_id, balance: 0, credited: [], goods: [] });
    } catch (e) {
      if (!/E11000|duplicate/i.test(String(e && e.message))) throw e; // created concurrently: fine
    }
  }
  const { updated } = await accounts
    .where({ _id: data.user_id, credited: _.nin([data.out_trade_no]) })
    .update({ balance: _.inc(data.recharge_balance), credited: _.push(data.out_trade_no) });
  if (updated === 0) {
    // already credited by an earlier run of this handler
    const { data: now } = await accounts.doc(data.user_id).get();
    return !!now[0] && now[0].credited.includes(data.out_trade_no);
  }
  return true;
};
