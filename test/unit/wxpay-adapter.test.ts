/** WeChat Pay adapter details that need no gateway: v2 notification verification. */
import { wxpayAdapter } from '../../uni_modules/vk-uni-pay/server/providers/wxpay';
import { signV2, toXml } from '../../uni_modules/vk-uni-pay/server/providers/wxpay/crypto';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { createCipheriv, createHash } from 'node:crypto';

const KEY = '192006250b4c09247ec02edce69f6a2d';
const config = { appId: 'wxd930ea5d5a258f4f', mchId: '10000100', version: 2 as const, key: KEY, signType: 'HMAC-SHA256' as const };
const ctx = {
  config,
  http: {
    request: async () => {
      throw new Error('no HTTP expected');
    },
  },
  clock: { now: () => Date.now() },
  cache: memoryCache(),
};

function v2Notify(signType: 'MD5' | 'HMAC-SHA256', claim?: string) {
  const p: Record<string, unknown> = {
    return_code: 'SUCCESS',
    result_code: 'SUCCESS',
    appid: config.appId,
    mch_id: config.mchId,
    nonce_str: 'n0nce',
    out_trade_no: 'ORDER_V2_0001',
    transaction_id: '4200000001',
    total_fee: 100,
    openid: 'o1',
    time_end: '20261127190000',
    trade_type: 'NATIVE',
    ...(claim ? { sign_type: claim } : {}),
  };
  p.sign = signV2(p, KEY, signType);
  return { method: 'POST', path: '/paymentNotify/wxpay_h5/ORDER_V2_0001', headers: {}, query: {}, body: Buffer.from(toXml(p)) };
}

test('a v2 notification signed with the configured HMAC-SHA256 is accepted', async () => {
  const e = await wxpayAdapter.verifyNotify(v2Notify('HMAC-SHA256', 'HMAC-SHA256'), ctx);
  expect(e).toMatchObject({ kind: 'payment', out_trade_no: 'ORDER_V2_0001', total_fee: 100, paid: true, mchid: '10000100' });
  expect(e.kind === 'payment' && e.pay_date).toBe(Date.UTC(2026, 10, 27, 11, 0, 0));
});

test.each([
  ['MD5 claimed as MD5', 'MD5', 'MD5'],
  ['MD5 with no sign_type', 'MD5', undefined],
])('a v2 notification whose sign type is not the configured one is refused (%s)', async (_n, signType, claim) => {
  await expect(wxpayAdapter.verifyNotify(v2Notify(signType as 'MD5', claim), ctx)).rejects.toMatchObject({
    key: 'NOTIFY_SIGNATURE_INVALID',
  });
});

test('the reply acknowledges with HTTP 200 + XML SUCCESS and asks for a retry with HTTP 500', () => {
  expect(wxpayAdapter.notifyReply(true)).toMatchObject({
    statusCode: 200,
    body: expect.stringContaining('<return_code><![CDATA[SUCCESS]]></return_code>'),
  });
  expect(wxpayAdapter.notifyReply(false, 'x]]>y')).toMatchObject({ statusCode: 500, body: expect.stringContaining('<![CDATA[FAIL]]>') });
  expect(wxpayAdapter.notifyReply(false, 'x]]>y').body).not.toContain('x]]>y');
});

/** a v2 refund notification: `req_info` = AES-256-ECB(md5(key) hex) of the refund's XML (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16) */
function v2RefundNotify(refund_status: string, key = KEY) {
  const inner = toXml({
    out_trade_no: 'ORDER_V2_0001',
    transaction_id: '4200000001',
    out_refund_no: 'ORDER_V2_0001-1',
    refund_id: '50000001',
    total_fee: 100,
    refund_fee: 40,
    refund_status,
  })
    .replace(/^<xml>/, '<root>')
    .replace(/<\/xml>$/, '</root>');
  const c = createCipheriv('aes-256-ecb', Buffer.from(createHash('md5').update(key).digest('hex')), null);
  const req_info = Buffer.concat([c.update(inner, 'utf8'), c.final()]).toString('base64');
  const body = toXml({ return_code: 'SUCCESS', appid: config.appId, mch_id: config.mchId, nonce_str: 'n', req_info });
  return { method: 'POST', path: '/paymentNotify/wxpay_h5/ORDER_V2_0001', headers: {}, query: {}, body: Buffer.from(body) };
}

test.each([
  ['SUCCESS', 'SUCCESS'],
  ['CHANGE', 'FAIL'],
  ['REFUNDCLOSE', 'FAIL'],
])("a v2 refund notification %s is the refund's final state %s", async (status, state) => {
  await expect(wxpayAdapter.verifyNotify(v2RefundNotify(status), ctx)).resolves.toMatchObject({
    kind: 'refund',
    out_trade_no: 'ORDER_V2_0001',
    out_refund_no: 'ORDER_V2_0001-1',
    refund_fee: 40,
    refund_id: '50000001',
    state,
    info: { mchid: config.mchId },
  });
});

test('a v2 refund notification encrypted with another key is refused', async () => {
  await expect(wxpayAdapter.verifyNotify(v2RefundNotify('SUCCESS', KEY.replace('1', '3')), ctx)).rejects.toMatchObject({
    key: 'NOTIFY_DECRYPT_FAILED',
  });
});
