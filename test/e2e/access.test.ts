/** What a client may call on the vk-pay cloud object, over the real uniCloud client protocol. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CLIENT_METHODS, hs256Jwt, startTestStack, tradeNo, WEB_PC, type TestStack } from '../helpers/project';
import { callCloudObject, signClientRequest } from '../../tools/local-unicloud';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
  // uni-id's config: its tokenSecret signs the tokens that prove who owns an order
  mkdirSync(path.join(s.configDir, 'uni-id'), { recursive: true });
  writeFileSync(path.join(s.configDir, 'uni-id', 'config.json'), JSON.stringify({ tokenSecret: TOKEN_SECRET }));
}, 60_000);
afterAll(() => s?.close());

test.each([
  'createPayment',
  'closeOrder',
  'refund',
  'queryRefund',
  'paymentNotify',
  'wxpayVirtualNotify',
  'appleNotify',
  'transfer',
  'queryTransfer',
  'cancelTransfer',
  'transferNotify',
  'checkStatements',
])('a client cannot call %s (money moves or notifications)', async (method) => {
  const r = await s.call('vk-pay', method, [
    { out_trade_no: 'ORDER_0001', provider: 'wxpay', data: { out_trade_no: 'ORDER_0001', total_fee: 1, subject: 's', type: 'counted' } },
  ]);
  expect(r).toMatchObject({ errCode: 5001, errSubject: 'vk-pay' });
  expect(r.errMsg).toContain(method);
});

test('the error message follows the client locale', async () => {
  const r = await s.call('vk-pay', 'refund', [{ out_trade_no: 'ORDER_0001' }], { uniPlatform: 'web', locale: 'en' });
  expect(r.errMsg).toBe('refund may only be called from the cloud');
});

test('private hooks are not callable', async () => {
  const r = await callCloudObject(s.url, 'vk-pay', '_before', [], {
    clientInfo: { uniPlatform: 'web' },
    clientSecret: s.runtime.clientSecret,
    spaceId: s.runtime.spaceId,
  });
  expect(r.success).toBe(false);
});

async function paidOrder(user_id?: string): Promise<string> {
  const no = tradeNo();
  await s.createPayment({
    provider: 'wxpay',
    isPC: true,
    data: { out_trade_no: no, total_fee: 100, subject: 's', type: 'counted', openid: 'o-secret', custom: { note: 'private' }, user_id },
  });
  await s.wxpay.pay(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true);
  return no;
}

test('queryPayment shows a client who cannot prove ownership the state only (no transaction_id, amount or order)', async () => {
  const no = await paidOrder('u-owner');
  const r = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, pay_order_info: true }]);
  expect(r).toMatchObject({ errCode: 0, orderPaid: true, status: 1, user_order_success: true });
  expect(r.payOrder).toBeUndefined();
  const text = JSON.stringify(r);
  for (const leak of ['transaction_id', 'total_fee', 'o-secret', 'private', 'description', 'create_date', 'refund_fee']) {
    expect(text).not.toContain(leak);
  }
  // someone else's token (or a forged one) proves nothing
  for (const token of [uniIdToken('u-other'), uniIdToken('u-owner', 'wrong-secret'), uniIdToken('u-owner', TOKEN_SECRET, -60)]) {
    const other = await callVkPay('queryPayment', [{ out_trade_no: no, pay_order_info: true }], token);
    expect(other.data.payOrder).toBeUndefined();
    expect(JSON.stringify(other.data)).not.toContain('transaction_id');
  }
});

test("the order's owner (uni-id token uid = user_id) sees the order, without openid, IP, custom data or raw notification", async () => {
  const no = await paidOrder('u-owner');
  const r = (await callVkPay('queryPayment', [{ out_trade_no: no, pay_order_info: true }], uniIdToken('u-owner'))).data;
  expect(r).toMatchObject({ errCode: 0, orderPaid: true, payOrder: { out_trade_no: no, total_fee: 100, status: 1 } });
  expect(r.transaction_id).toBe(s.wxpay.order(no)!.transaction_id);
  const text = JSON.stringify(r);
  for (const leak of ['o-secret', 'private', 'client_ip', 'notify_info', 'handler_', 'custom', 'query_lock'])
    expect(text).not.toContain(leak);
});

test('a client cannot look an order up by transaction_id', async () => {
  const no = await paidOrder('u-owner');
  const transaction_id = s.wxpay.order(no)!.transaction_id;
  const r = await s.call('vk-pay', 'queryPayment', [{ transaction_id }]);
  expect(r).toMatchObject({ errCode: 1021 });
  expect(JSON.stringify(r)).not.toContain(no);
});

test.each([
  ['GET', '/queryPayment?out_trade_no=ORDER_0001&pay_order_info=true'],
  ['POST', '/queryPayment'],
  ['GET', '/code2SessionWeixinMP?code=x'],
  ['GET', '/verifyAppleReceipt'],
  ['GET', '/createPayment'],
])('over URL only notification routes answer: %s %s is refused', async (method, route) => {
  const no = await paidOrder();
  const res = await fetch(`${s.url}/http/vk-pay${route.replace('ORDER_0001', no)}`, { method });
  const text = await res.text();
  expect(JSON.parse(text)).toMatchObject({ errCode: 5001 });
  expect(text).not.toContain(no);
});

describe('hostile parameters get coded answers, never FunctionBizError', () => {
  test.each(CLIENT_METHODS)('%s with null, 7, "x" or true', async (method) => {
    for (const param of [null, 7, 'x', true]) {
      const r = await callVkPay(method, [param]);
      expect(r.success).toBe(true);
      expect(typeof r.data.errCode).toBe('number');
      expect(r.data.errCode).not.toBe(0);
      expect(typeof r.data.errMsg).toBe('string');
    }
  });

  test('a deeply nested clientInfo.locale', async () => {
    // built as text: JSON.stringify itself cannot nest this deep
    const depth = 20000;
    const locale = '['.repeat(depth) + '"en"' + ']'.repeat(depth);
    const functionArgs = `{"method":"queryPayment","params":[{"out_trade_no":"NOPE_000001"}],"clientInfo":{"uniPlatform":"web","locale":${locale}}}`;
    const body = {
      method: 'serverless.function.runtime.invoke',
      params: `{"functionTarget":"vk-pay","functionArgs":${functionArgs}}`,
      spaceId: s.runtime.spaceId,
      timestamp: Date.now(),
    };
    const res = await fetch(`${s.url}/unicloud/client`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-serverless-sign': signClientRequest(body, s.runtime.clientSecret) },
      body: JSON.stringify(body),
    });
    expect(await res.json()).toMatchObject({ success: true, data: { errCode: 2001 } });
  });

  test("a provider's error code does not replace ours (code2SessionAlipay with a bad code)", async () => {
    const r = await s.call('vk-pay', 'code2SessionAlipay', [{ code: 'bad-code' }], { uniPlatform: 'mp-alipay', appId: '__UNI__TEST' });
    expect(typeof r.errCode).toBe('number');
    expect(r.errCode).toBe(3001);
  });

  test.each(['wxpay_h5/%zz', 'alipay_h5/ab%E0%A4%A', 'wxpay_h5/%', 'vkspay_h5/%ZZ%'])(
    'a malformed %% escape in the notify path %s gets the failure reply',
    async (route) => {
      const res = await fetch(`${s.url}/http/vk-pay/paymentNotify/${route}`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      const text = await res.text();
      expect(text).not.toContain('FunctionBizError');
      expect(res.status).not.toBe(404); // the provider's own failure reply, not "no such route"
      if (route.startsWith('alipay')) expect(text).toBe('fail');
      if (route.startsWith('wxpay')) expect(res.status).toBeGreaterThanOrEqual(400);
    },
  );
});

const TOKEN_SECRET = 'test-uni-id-token-secret';

/** A uni-id token for `uid`, signed with `secret`, expiring in `expiresInS`. */
function uniIdToken(uid: string, secret = TOKEN_SECRET, expiresInS = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  return hs256Jwt({ uid, role: [], permission: [], iat: now, exp: now + expiresInS }, secret);
}

function callVkPay(method: string, params: unknown[], uniIdToken?: string, clientInfo = WEB_PC) {
  return callCloudObject(s.url, 'vk-pay', method, params, {
    clientInfo,
    clientSecret: s.runtime.clientSecret,
    spaceId: s.runtime.spaceId,
    uniIdToken,
  });
}
