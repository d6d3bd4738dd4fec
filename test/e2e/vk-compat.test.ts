/**
 * Drop-in for vk-uni-pay projects, end to end through the local runtime, each in vk's documented shape:
 * handlers at `vk-pay/service/pay-notify/<type>.js` (vk-uni-pay docs §4), vk's notify route
 * `/vk-pay-notify/<pay_type>/<out_trade_no>` (§4), rows vk wrote (§3.1) queried, refunded and
 * query-refunded with vk's answer names (§1.3, §1.4), `original_data` kept (§3.1), and the VK framework
 * path `vk.vkPay.*` from a router service with `originalParam.context` (§0, §1.1).
 */
import * as path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { clientCall, makeTestProject, tradeNo, until, wxpayTransaction, CLIENT } from '../helpers/project';
import { startStack, type Stack } from '../../tools/stack';
import { signClientRequest } from '../../tools/local-unicloud';
import { postJson } from '../../tools/local-unicloud/client';

/** A handler in vk's folder, called `(obj, originalParam)`; records which file ran and what it got. */
const vkHandler = (tag: string) => `module.exports = async function (obj, originalParam) {
  await uniCloud.database().collection('test-handler-calls').add({
    out_trade_no: obj.data.out_trade_no, type: obj.data.type, file: '${tag}', total_fee: obj.data.total_fee,
    hasDb: !!(originalParam && originalParam.db),
  });
  return true;
};`;

/** A minimal VK router (vk-unicloud-router's dispatch): `$url` → service file, `vk.vkPay` mounted on `util.vk`. */
const ROUTER = `const vkPay = require('vk-uni-pay');
const vk = { vkPay };
exports.main = async (event, context) => {
  const { $url, data = {} } = event;
  if (typeof $url !== 'string' || /\\.\\./.test($url)) return { code: 404, msg: 'no such action' };
  const service = require('./service/' + $url);
  return service.main({ event, data, util: { vk }, originalParam: { event, context } });
};`;
/** vk's documented service for client/pay/createPayment (template/vk-unicloud-router) */
const SERVICE = `module.exports = {
  main: async (event) => {
    const { data = {}, util, originalParam } = event;
    const { vk } = util;
    return await vk.vkPay.createPayment({
      context: originalParam.context,
      provider: data.provider,
      isPC: data.isPC,
      data: { out_trade_no: data.out_trade_no, total_fee: 100, subject: '会员', type: 'vkonly' },
    });
  },
};`;

/** vk's documented service for pay/queryPayment, run in the user's own function (not vk-pay) */
const QUERY_SERVICE = `module.exports = {
  main: async ({ data = {}, util }) => util.vk.vkPay.queryPayment({ out_trade_no: data.out_trade_no, await_notify: true, await_max_time: 10 }),
};`;

/** vk's own URL化 notify function shape: `vkPay.paymentNotify({ event, context, orderPaySuccess })` */
const MY_NOTIFY = `const vkPay = require('vk-uni-pay');
exports.main = async (event, context) =>
  vkPay.paymentNotify({
    event,
    context,
    orderPaySuccess: async (obj, originalParam) => {
      await uniCloud.database().collection('test-handler-calls').add({ out_trade_no: obj.data.out_trade_no, file: 'orderPaySuccess', hasDb: !!(originalParam && originalParam.db) });
      return true;
    },
  });`;

let s: Stack;
let project: string;
const notifyDir = () => path.join(project, 'uni_modules/vk-uni-pay/uniCloud/cloudfunctions/vk-pay');

const call = (object: string, method: string, params: unknown[]) => clientCall(s, object, method, params);
const handlerCalls = async (no: string) => (await call('test-shop', 'handlerCalls', [no])).calls as Array<Record<string, any>>;
const order = async (no: string) => (await call('test-shop', 'order', [no])).order as Record<string, any>;

beforeAll(async () => {
  project = makeTestProject();
  mkdirSync(path.join(notifyDir(), 'service/pay-notify'), { recursive: true });
  writeFileSync(path.join(notifyDir(), 'service/pay-notify/vkonly.js'), vkHandler('vk'));
  writeFileSync(path.join(notifyDir(), 'service/pay-notify/both.js'), vkHandler('vk'));
  writeFileSync(path.join(notifyDir(), 'pay-notify/both.js'), vkHandler('new'));
  const router = path.join(project, 'uniCloud-aliyun/cloudfunctions/router');
  mkdirSync(path.join(router, 'service/client/pay'), { recursive: true });
  writeFileSync(path.join(router, 'index.js'), ROUTER);
  writeFileSync(path.join(router, 'service/client/pay/createPayment.js'), SERVICE);
  writeFileSync(path.join(router, 'service/client/pay/queryPayment.js'), QUERY_SERVICE);
  writeFileSync(
    path.join(router, 'package.json'),
    JSON.stringify({
      name: 'router',
      dependencies: { 'vk-uni-pay': 'file:../../../uni_modules/vk-uni-pay/uniCloud/cloudfunctions/common/vk-uni-pay' },
    }),
  );
  const myNotify = path.join(project, 'uniCloud-aliyun/cloudfunctions/my-notify');
  mkdirSync(myNotify, { recursive: true });
  writeFileSync(path.join(myNotify, 'index.js'), MY_NOTIFY);
  writeFileSync(
    path.join(myNotify, 'package.json'),
    JSON.stringify({
      name: 'my-notify',
      dependencies: { 'vk-uni-pay': 'file:../../../uni_modules/vk-uni-pay/uniCloud/cloudfunctions/common/vk-uni-pay' },
      'cloudfunction-config': { path: '/http/my-notify' },
    }),
  );
  s = await startStack({
    port: 0,
    quiet: true,
    projectDir: project,
    dataDir: path.join(project, '.data'),
    retryDelaysMs: [400, 800, 1600],
  });
}, 90_000);
afterAll(() => s?.close());

async function paidOrder(type: string): Promise<string> {
  const no = tradeNo('VK');
  const r = await call('test-shop', 'createPayment', [
    { provider: 'wxpay', isPC: true, data: { out_trade_no: no, total_fee: 100, subject: '测试', type } },
  ]);
  expect(r).toMatchObject({ errCode: 0, pay_type: 'wxpay_h5' });
  await s.wxpay.pay(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true, 20_000);
  return no;
}

test('vk-uni-pay docs §4: a handler at vk-pay/service/pay-notify/<type>.js runs as (obj, originalParam); pay-notify/ wins when both exist', async () => {
  const vkOnly = await paidOrder('vkonly');
  expect(await handlerCalls(vkOnly)).toEqual([expect.objectContaining({ file: 'vk', type: 'vkonly', total_fee: 100, hasDb: true })]);
  const both = await paidOrder('both');
  expect((await handlerCalls(both)).map((c) => c.file)).toEqual(['new']);
});

test("vk-uni-pay docs §4: vk's notify route /vk-pay-notify/<pay_type>/<out_trade_no> settles an order, original_data kept (§3.1)", async () => {
  const no = tradeNo('VK');
  await call('test-shop', 'createPayment', [
    { provider: 'wxpay', isPC: true, data: { out_trade_no: no, total_fee: 100, subject: '测试', type: 'vkonly' } },
  ]);
  const transaction = wxpayTransaction(s, no, { payer: { openid: 'o-vk' } }) as { transaction_id: string };
  const { body, headers } = s.wxpay.buildPaymentNotification(s.wxMerchant.mchid, transaction);
  const res = await fetch(`${s.url}/http/vk-pay/vk-pay-notify/wxpay_h5/${no}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body,
  });
  expect(res.status).toBe(200);
  const row = await order(no);
  expect(row).toMatchObject({ status: 1, transaction_id: transaction.transaction_id, user_order_success: true, original_data: body });
  expect(await handlerCalls(no)).toHaveLength(1);
  // a client never sees the raw notification
  const q = await call('vk-pay', 'queryPayment', [{ out_trade_no: no, pay_order_info: true }]);
  expect(q.errCode).toBe(0);
  expect(JSON.stringify(q)).not.toContain('original_data');
  expect(JSON.stringify(q)).not.toContain(body);
});

test("vk-uni-pay docs §1.6: paymentNotify({event, context, orderPaySuccess}) in the user's own URL化 function verifies and runs orderPaySuccess once", async () => {
  const no = tradeNo('PN');
  await call('test-shop', 'createPayment', [
    { provider: 'wxpay', isPC: true, data: { out_trade_no: no, total_fee: 100, subject: '测试', type: 'vkonly' } },
  ]);
  const { body, headers } = s.wxpay.buildPaymentNotification(s.wxMerchant.mchid, wxpayTransaction(s, no));
  const post = (b: string) =>
    fetch(`${s.url}/http/my-notify/vk-pay-notify/wxpay_h5/${no}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: b,
    });
  expect((await post(body.replace('"', ' "'))).status).not.toBe(200); // a changed byte: refused, nothing written
  expect(await handlerCalls(no)).toHaveLength(0);
  expect((await post(body)).status).toBe(200);
  expect((await post(body)).status).toBe(200);
  expect(await handlerCalls(no)).toEqual([expect.objectContaining({ file: 'orderPaySuccess', hasDb: true })]);
  expect(await order(no)).toMatchObject({ status: 1, user_order_success: true });
});

test('vk-uni-pay docs §3.1, §1.3, §1.4: a row as vk wrote it (no provider, vk-recorded refund) is queried, refunded and query-refunded with vk names', async () => {
  const no = await paidOrder('vkonly');
  const coll = s.runtime.database.collection('vk-pay-orders');
  const { _id, provider, ...row } = (await order(no)) as Record<string, any>;
  expect(provider).toBe('wxpay');
  // what vk-uni-pay left: no provider, a 30 fen refund it made itself, in its own fields
  await coll.where({ out_trade_no: no }).remove();
  void _id;
  await coll.add({
    ...row,
    status: 2,
    refund_fee: 30,
    refund_num: 1,
    refund_list: [{ refund_date: Date.now() - 60_000, refund_fee: 30, out_refund_no: `${no}-1`, refund_desc: 'vk 退款' }],
  });
  s.wxpay.order(no)!.refunded = 30; // the gateway knows about vk's refund too

  const q = await call('vk-pay', 'queryPayment', [{ out_trade_no: no }]);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, status: 2 });

  const vkRefund = (await call('test-shop', 'queryRefund', [{ out_trade_no: no, out_refund_no: `${no}-1` }])).result;
  expect(vkRefund).toMatchObject({ code: 0, outTradeNo: no, outRefundNo: `${no}-1`, refundFee: 30, state: 'SUCCESS' });
  expect(vkRefund.orderInfo).toMatchObject({ out_trade_no: no, total_fee: 100, refund_fee: 30 });
  // a refund neither vk nor we made stays an error
  expect((await call('test-shop', 'queryRefund', [{ out_trade_no: no, out_refund_no: `${no}-9` }])).result).toMatchObject({ code: 1021 });

  const r = (await call('test-shop', 'refund', [{ out_trade_no: no }])).result;
  expect(r).toMatchObject({ code: 0, out_refund_no: `${no}-2`, refund_fee: 70, state: 'SUCCESS' });
  expect(r).toMatchObject({ outTradeNo: no, outRefundNo: `${no}-2`, refundFee: 70, cashRefundFee: 70, transactionId: row.transaction_id });
  expect(r.refundId).toBeTruthy();
  const qr = (await call('test-shop', 'queryRefund', [{ out_trade_no: no }])).result;
  expect(qr).toMatchObject({ code: 0, outRefundNo: `${no}-2`, refundFee: 70, queryResult: { state: 'SUCCESS', refund_fee: 70 } });
  expect(qr.orderInfo).toMatchObject({ out_trade_no: no, transaction_id: row.transaction_id, status: 3, refund_fee: 100 });
});

test('vk-uni-pay docs §0, §1.1: vk.vkPay.createPayment from a VK router service with originalParam.context pays and runs the handler', async () => {
  const no = tradeNo('VR');
  const res = await fetchRouter({ $url: 'client/pay/createPayment', data: { provider: 'wxpay', isPC: true, out_trade_no: no } });
  expect(res).toMatchObject({ code: 0, out_trade_no: no, pay_type: 'wxpay_h5', platform: 'h5' });
  await s.wxpay.pay(no);
  await until(async () => (await handlerCalls(no)).length === 1, 20_000);
  expect(await order(no)).toMatchObject({ status: 1, user_order_success: true });
});

test('vk-uni-pay docs §1.2: queryPayment({await_notify:true}) in your own cloud function fulfils an order whose notification was lost', async () => {
  const no = tradeNo('VQ');
  expect(await fetchRouter({ $url: 'client/pay/createPayment', data: { provider: 'wxpay', isPC: true, out_trade_no: no } })).toMatchObject({
    code: 0,
  });
  s.wxpay.order(no)!.notify_url = 'http://127.0.0.1:9/lost'; // every notification is lost
  await s.wxpay.pay(no);
  const q = await fetchRouter({ $url: 'client/pay/queryPayment', data: { out_trade_no: no } });
  expect(q).toMatchObject({ code: 0, orderPaid: true, user_order_success: true, status: 1 });
  expect(await handlerCalls(no)).toEqual([expect.objectContaining({ file: 'vk', type: 'vkonly' })]);
  expect(await order(no)).toMatchObject({ status: 1, notify_mode: 0, user_order_success: true });
});

/** A client call of the router cloud function, as uniCloud.callFunction({name: 'router', data}) sends it. */
async function fetchRouter(data: Record<string, unknown>): Promise<any> {
  const body = {
    method: 'serverless.function.runtime.invoke',
    params: JSON.stringify({ functionTarget: 'router', functionArgs: data }),
    spaceId: s.runtime.spaceId,
    timestamp: Date.now(),
  };
  const r = await postJson(`${s.url}/unicloud/client`, body, {
    'x-serverless-sign': signClientRequest(body, s.runtime.clientSecret),
    'x-client-info': encodeURIComponent(JSON.stringify(CLIENT.web)),
    'user-agent': 'Mozilla/5.0 (Windows NT 10.0) Chrome/120',
  });
  const reply = JSON.parse(r.text);
  if (!reply.success) throw new Error(JSON.stringify(reply.error));
  return reply.data;
}
