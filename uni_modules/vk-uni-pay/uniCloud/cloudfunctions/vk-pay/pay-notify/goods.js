// pay-notify/goods.js — runs once per paid order whose type is "goods": deliver the goods.
// Same idempotency pattern as recharge.js: one conditional update keyed by out_trade_no.
module.exports = async function (obj) {
  const { data } = obj;
  const db = uniCloud.database();
  const _ = db.command;
  if (!data.user_id || !data.goods_id) return false;
  const accounts = db.collection('demo-accounts');
  try {
    await accounts.add({ _id: data.user_id, balance: 0, credited: [], goods: [] });
  } catch (e) {
    if (!/E11000|duplicate/i.test(String(e && e.message))) throw e;
  }
  const { updated } = await accounts
    .where({ _id: data.user_id, credited: _.nin([data.out_trade_no]) })
    .update({ goods: _.push({ goods_id: data.goods_id, out_trade_no: data.out_trade_no }), credited: _.push(data.out_trade_no) });
  if (updated === 1) return true;
  // nothing updated: success only if an earlier run already delivered this order
  const { data: now } = await accounts.doc(data.user_id).get();
  return !!now[0] && now[0].credited.includes(data.out_trade_no);
};
