/** WeChat Pay adapter details that need no gateway: v2 notification verification. */
import { wxpayAdapter } from '../../uni_modules/vk-uni-pay/server/providers/wxpay';
import { signV2, toXml } from '../../uni_modules/vk-uni-pay/server/providers/wxpay/crypto';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';

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
