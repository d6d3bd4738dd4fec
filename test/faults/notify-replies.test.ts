/**
 * Notification replies per protocol (issue 8 §2): status and body for the acknowledgement and for
 * every kind of refusal. WeChat Pay v3: 200 without a body / 500 with `{"code":"FAIL","message"}`;
 * v2: XML return_code SUCCESS / FAIL; Alipay `success` / `fail`; Apple status only; virtual
 * payment message push `{"ErrCode":…}`; VksPay `{"code":"SUCCESS"|"FAIL"}`.
 */
import { randomBytes } from 'node:crypto';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { WX_APPIDS } from '../../tools/stack';
import { paymentNotify } from '../../uni_modules/vk-uni-pay/server/services/notify';
import { createPayment } from '../../uni_modules/vk-uni-pay/server/services/create-payment';
import { loadAdapter } from '../../uni_modules/vk-uni-pay/server/providers/registry';
import { signV2, toXml } from '../../uni_modules/vk-uni-pay/server/providers/wxpay/crypto';
import type { RawHttpRequest } from '../../uni_modules/vk-uni-pay/server/providers/types';
import { startEnv, wxpayNode } from './harness';

let env: Awaited<ReturnType<typeof startEnv>>;
let wx: WxpaySandbox;
let m: WxpaySandboxMerchant;
let seq = 0;

const node = (version: 2 | 3) => wxpayNode(m, version, wx.url);

beforeAll(async () => {
  env = await startEnv();
  m = await createWxpayMerchant({ appids: Object.values(WX_APPIDS), signMode: 'public-key' });
  wx = await startWxpaySandbox({ merchants: [m], port: 0, retryDelaysMs: [], quiet: true });
}, 60_000);

afterAll(async () => {
  await wx?.close();
  await env?.close();
});

async function order(version: 2 | 3): Promise<string> {
  env.setConfig({ notifyUrl: { 'local-space': 'http://127.0.0.1:9/http/vk-pay' }, wxpay: { h5: node(version) } });
  const no = `NR${version}${Date.now().toString(36)}${seq++}`;
  await createPayment(env.deps, {
    provider: 'wxpay',
    context: { uniPlatform: 'web' },
    isPC: true,
    needQRcode: true,
    data: { out_trade_no: no, total_fee: 100, subject: '通知应答', type: 'goods' },
  });
  return no;
}

const post = (no: string, headers: Record<string, string>, body: string): RawHttpRequest => ({
  method: 'POST',
  path: `/paymentNotify/wxpay_h5/${no}`,
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
  query: {},
  body: Buffer.from(body),
});

function v3Notification(no: string, over: Record<string, unknown> = {}) {
  return wx.buildPaymentNotification(m.mchid, {
    appid: WX_APPIDS.oa,
    mchid: m.mchid,
    out_trade_no: no,
    transaction_id: `42000${Date.now()}${seq++}`,
    trade_type: 'NATIVE',
    trade_state: 'SUCCESS',
    success_time: new Date().toISOString(),
    amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
    payer: { openid: 'o-payer' },
    ...over,
  });
}

describe('WeChat Pay v3: 200 without a body, or 500 with {"code":"FAIL","message"} for every refusal', () => {
  const FAIL_V3 = { statusCode: 500, headers: { 'content-type': 'application/json; charset=utf-8' } };
  const refusals: Array<[string, (no: string) => RawHttpRequest]> = [
    ['unknown order', () => post('NRUNKNOWN0001', ...pair(v3Notification('NRUNKNOWN0001')))],
    ['bad signature (body changed)', (no) => post(no, v3Notification(no).headers, v3Notification(no).body.replace('"', ' "'))],
    [
      'unknown serial',
      (no) => post(no, { ...v3Notification(no).headers, 'Wechatpay-Serial': 'PUB_KEY_ID_0000000000000000' }, v3Notification(no).body),
    ],
    [
      'stale timestamp',
      (no) => {
        const n = v3Notification(no);
        return post(no, wx.signNotification(m.mchid, n.body, { timestamp: Math.floor(Date.now() / 1000) - 3600 }), n.body);
      },
    ],
    [
      'signature probe',
      (no) => post(no, { ...v3Notification(no).headers, 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/abc' }, v3Notification(no).body),
    ],
    ['headers missing', (no) => post(no, { 'content-type': 'application/json' }, v3Notification(no).body)],
    ['amount differs', (no) => post(no, ...pair(v3Notification(no, { amount: { total: 99, payer_total: 99, currency: 'CNY' } })))],
  ];

  test.each(refusals)('%s', async (_kind, build) => {
    const no = await order(3);
    const r = await paymentNotify(env.deps, build(no));
    expect(r).toMatchObject(FAIL_V3);
    expect(JSON.parse(String(r.body))).toEqual({ code: 'FAIL', message: expect.any(String) });
    expect((await env.order(no))!.status).toBe(0);
  });

  test('a genuine notification is acknowledged with 200 and no body', async () => {
    const no = await order(3);
    const r = await paymentNotify(env.deps, post(no, ...pair(v3Notification(no))));
    expect(r).toMatchObject({ statusCode: 200, body: '' });
    expect((await env.order(no))!.status).toBe(1);
  });
});

describe('WeChat Pay v2: XML return_code for the acknowledgement and every refusal', () => {
  function v2Notification(no: string, over: Record<string, unknown> = {}, key = m.apiV2Key): string {
    const p: Record<string, unknown> = {
      appid: WX_APPIDS.oa,
      mch_id: m.mchid,
      nonce_str: randomBytes(8).toString('hex'),
      result_code: 'SUCCESS',
      return_code: 'SUCCESS',
      out_trade_no: no,
      transaction_id: `42000${Date.now()}${seq++}`,
      total_fee: 100,
      cash_fee: 100,
      trade_type: 'NATIVE',
      time_end: '20260101120000',
      openid: 'o-payer',
      ...over,
    };
    p.sign = signV2(p, key, 'MD5');
    return toXml(p);
  }
  const xml = (code: string) => expect.stringContaining(`<return_code><![CDATA[${code}]]></return_code>`);
  const refusals: Array<[string, (no: string) => string]> = [
    ['signed with another key', (no) => v2Notification(no, {}, 'k'.repeat(32))],
    ['amount differs', (no) => v2Notification(no, { total_fee: 99 })],
    ['appid differs', (no) => v2Notification(no, { appid: 'wx_other' })],
    ['broken XML', () => '<xml><return_code>SUCC'],
  ];

  test.each(refusals)('%s', async (_kind, build) => {
    const no = await order(2);
    const r = await paymentNotify(env.deps, post(no, { 'content-type': 'text/xml' }, build(no)));
    expect(r).toMatchObject({ statusCode: 500, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: xml('FAIL') });
    expect((await env.order(no))!.status).toBe(0);
  });

  test('a genuine notification is acknowledged with 200 XML SUCCESS', async () => {
    const no = await order(2);
    const r = await paymentNotify(env.deps, post(no, { 'content-type': 'text/xml' }, v2Notification(no)));
    expect(r).toMatchObject({ statusCode: 200, body: xml('SUCCESS') });
    expect((await env.order(no))!.status).toBe(1);
  });
});

describe('the other providers answer in their documented format', () => {
  test.each([
    ['alipay', true, 200, 'success'],
    ['alipay', false, 200, 'fail'],
    ['appleiap', true, 200, undefined],
    ['appleiap', false, 500, undefined],
    ['wxpay-virtual', true, 200, { ErrCode: 0, ErrMsg: 'success' }],
    ['wxpay-virtual', false, 200, { ErrCode: 1, ErrMsg: 'FAIL' }],
    ['vkspay', true, 200, { code: 'SUCCESS', msg: 'SUCCESS' }],
    ['vkspay', false, 200, { code: 'FAIL', msg: 'FAIL' }],
  ] as const)('%s ok=%s → %i %j', (provider, ok, status, body) => {
    const r = loadAdapter(provider).notifyReply(ok, 'FAIL');
    expect(r.statusCode).toBe(status);
    if (typeof body === 'string') expect(r.body).toBe(body);
    else if (body) expect(JSON.parse(String(r.body))).toEqual(body);
  });
});

function pair(n: { body: string; headers: Record<string, string> }): [Record<string, string>, string] {
  return [n.headers, n.body];
}
