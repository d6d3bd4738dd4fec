// pay-notify/transfer.js — runs once per transfer (withdrawal) that reached a final state:
// data.state is SUCCESS, FAIL or CANCELLED (data: provider, out_bill_no, transfer_bill_no, state, fail_reason,
// transfer_amount, transfer_remark, openid, appid, mch_id, create_time, update_time, platform, pid).
// Return true when done; return false or throw to have it retried.
//
// Make it idempotent: ONE conditional update keyed by out_bill_no. A withdrawal that FAILED or was
// CANCELLED must give the money back to the user's balance exactly once; this demo only records the outcome.
module.exports = async function (obj) {
  const { data } = obj;
  const db = uniCloud.database();
  try {
    await db.collection('demo-withdrawals').add({ _id: data.out_bill_no, state: data.state, transfer_amount: data.transfer_amount });
  } catch (e) {
    if (!/E11000|duplicate/i.test(String(e && e.message))) throw e; // recorded by an earlier run
  }
  return true;
};
