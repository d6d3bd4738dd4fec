/**
 * createPayment refusals end to end: each with its code and a zh-Hans and an en message, nothing
 * stored and nothing sent to the gateway.
 */
import { startTestStack, tradeNo, type TestStack, CLIENT } from '../helpers/project';
import type { ClientInfo } from '../../types/unicloud-server';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const MP = CLIENT.mp;
const APP = CLIENT.app;
const OPENID = 'oTestOpenid0000000000000002';
const CJK = /[\u4e00-\u9fff]/;

function data(over: Record<string, unknown> = {}) {
  return { out_trade_no: tradeNo('E'), total_fee: 100, subject: '测试订单', type: 'counted', openid: OPENID, ...over };
}

async function expectRefused(options: Record<string, unknown>, ci: ClientInfo, code: number, zh: RegExp, en: RegExp) {
  const r = await s.createPaymentRaw(options, ci);
  expect(r).toMatchObject({ code });
  expect(r.msg).toMatch(CJK);
  expect(r.msg).toMatch(zh);
  expect(r.msg_en).toMatch(en);
  expect(r.msg_en).not.toMatch(CJK);
  expect(r.orderInfo).toBeUndefined();
  const no = (options.data as Record<string, unknown> | undefined)?.out_trade_no;
  if (typeof no === 'string' && /^[0-9A-Za-z_\-|*]{6,32}$/.test(no)) {
    expect(await s.order(no)).toBeNull();
    expect(s.wxpay.order(no)).toBeUndefined();
  }
  return r;
}

test('openid missing in the mini program → 1006', async () => {
  await expectRefused({ provider: 'wxpay', data: data({ openid: undefined }) }, MP, 1006, /openid/, /needs data\.openid/);
});

test.each([
  ['too short', 'abc12'],
  ['too long', 'A'.repeat(33)],
  ['a space', 'ABC 123456'],
  ['a slash', 'ABC/123456'],
  ['not a string', 12345678],
])('out_trade_no %s → 1005', async (_n, no) => {
  await expectRefused({ provider: 'wxpay', data: data({ out_trade_no: no }) }, MP, 1005, /out_trade_no/, /out_trade_no is required/);
});

test.each([
  ['0', 0],
  ['1.5', 1.5],
  ["'100' (a string)", '100'],
  ['-1', -1],
  ['missing', undefined],
])('total_fee %s → 1003', async (_n, fee) => {
  await expectRefused({ provider: 'wxpay', data: data({ total_fee: fee }) }, MP, 1003, /正整数/, /positive integer/);
});

test.each([
  ['total_fee', { total_fee: 1 }],
  ['amount', { amount: { total: 1, currency: 'CNY' } }],
  ['notify_url', { notify_url: 'http://127.0.0.1:9/evil' }],
  ['out_trade_no', { out_trade_no: 'OTHER123456' }],
  ['total_amount (Alipay)', { total_amount: '0.01' }],
])('other overriding %s → 1011', async (key, other) => {
  const r = await expectRefused({ provider: 'wxpay', data: data({ other }) }, MP, 1011, /other/, /protected fields/);
  expect(r.msg_en).toContain(Object.keys(other)[0]);
});

test.each([['out_trade_no'], ['total_fee'], ['status'], ['user_order_success'], ['type']])(
  'custom key %s colliding with an order field → 1009',
  async (key) => {
    const r = await expectRefused(
      { provider: 'wxpay', data: data({ custom: { [key]: 'x', fine: 1 } }) },
      MP,
      1009,
      /custom/,
      /custom must be an object/,
    );
    expect(r.msg).toContain(key);
  },
);

test.each([['paypal'], [''], [undefined], ['WXPAY']])('unknown provider %p → 1001', async (provider) => {
  await expectRefused({ provider, data: data() }, APP, 1001, /provider/, /Invalid provider/);
});

test('subject and type are required (1004, 1002)', async () => {
  await expectRefused({ provider: 'wxpay', data: data({ subject: '' }) }, MP, 1004, /subject/, /subject/);
  await expectRefused({ provider: 'wxpay', data: data({ type: '../x' }) }, MP, 1002, /type/, /type/);
});

test('an English-speaking caller still gets the code and both messages', async () => {
  const r = await s.createPaymentRaw({ provider: 'wxpay', data: data({ total_fee: 0 }) }, { ...MP, locale: 'en' });
  expect(r.code).toBe(1003);
  expect(r.msg_en).toMatch(/positive integer/);
});

test('a refusal by validation never reaches the gateway, a valid call right after does', async () => {
  const d = data();
  await expectRefused({ provider: 'wxpay', data: { ...d, total_fee: 1.5 } }, MP, 1003, /正整数/, /positive integer/);
  const ok = await s.createPayment({ provider: 'wxpay', data: d }, MP);
  expect(ok).toMatchObject({ errCode: 0, pay_type: 'wxpay_mp-weixin', total_fee: 100 });
  expect(s.wxpay.order(d.out_trade_no)!.total).toBe(100);
});

describe('notifyUrl without the current space', () => {
  let s2: TestStack;
  beforeAll(async () => {
    s2 = await startTestStack({ configOverrides: { notifyUrl: { 'some-other-space': 'http://127.0.0.1:9/http/vk-pay' } } });
  }, 60_000);
  afterAll(() => s2?.close());

  test('→ 101 naming the space, nothing stored or sent', async () => {
    const d = data();
    const r = await s2.createPaymentRaw({ provider: 'wxpay', data: d }, MP);
    expect(r.code).toBe(101);
    expect(r.msg).toContain('local-space');
    expect(r.msg).toMatch(CJK);
    expect(r.msg_en).toMatch(/notifyUrl/);
    expect(await s2.order(d.out_trade_no)).toBeNull();
    expect(s2.wxpay.order(d.out_trade_no)).toBeUndefined();
  });
});
