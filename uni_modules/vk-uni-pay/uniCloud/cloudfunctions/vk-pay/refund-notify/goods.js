// refund-notify/goods.js — runs once per FINAL state of each refund of an order whose type is "goods".
// obj.data   = the order, as pay-notify/goods.js receives it (custom flattened in; refund_fee already
//              counts this refund when it succeeded)
// obj.refund = { out_refund_no, out_trade_no, refund_fee (fen), state: 'SUCCESS' | 'FAIL', refund_id,
//                refund_desc, fail_code, fail_msg, source: 'answer' | 'notify' | 'query' | 'provider' }
// Return true when done; return false or throw to have it run again later (lease + retry, like pay-notify).
//
// A refunded goods order puts the goods back in stock. Idempotent: ONE conditional update keyed by
// out_refund_no both restocks and records the refund, so a retry after a crash never restocks twice.
module.exports = async function (obj) {
  const { data, refund } = obj;
  if (refund.state !== 'SUCCESS') return true; // nothing left the shop: nothing to undo
  if (!data.user_id || !data.goods_id) return true; // not one of ours
  const db = uniCloud.database();
  const _ = db.command;
  const accounts = db.collection('demo-accounts');
  const { updated } = await accounts
    .where({ _id: data.user_id, restocked: _.nin([refund.out_refund_no]) })
    .update({ goods: _.pull({ out_trade_no: data.out_trade_no }), restocked: _.push(refund.out_refund_no) });
  if (updated === 1) return true;
  // nothing updated: done only if an earlier run already restocked this refund
  const { data: now } = await accounts.doc(data.user_id).get();
  return !now[0] || (now[0].restocked || []).includes(refund.out_refund_no);
};
