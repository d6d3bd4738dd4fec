/**
 * queryAccountBalance and the virtual coin manager (getWxpayVirtualManager) end to end: server code
 * (a business cloud object) through the built common module, the Alipay and WeChat API sandboxes
 * checking every signature; clients of vk-pay get the access error for both.
 */
import { CLIENT, startTestStack, tradeNo, type TestStack } from '../helpers/project';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const balance = async (params: Record<string, unknown>) => (await s.call('test-shop', 'queryAccountBalance', [params])).result;
const coins = async (op: string, params: Record<string, unknown>) => (await s.call('test-shop', 'coins', [op, params])).result;

async function login(): Promise<string> {
  const { code, openid } = s.wxapi.login();
  expect(await s.call('vk-pay', 'code2SessionWeixinMP', [{ code }], CLIENT.mp)).toMatchObject({ errCode: 0, openid });
  return openid;
}

describe('queryAccountBalance', () => {
  test('Alipay: vk camelCase fields in yuan, from the verified answer; a bar-code payment raises it', async () => {
    const before = await balance({ provider: 'alipay', platform: 'h5' });
    expect(before).toMatchObject({ code: 0, availableAmount: expect.any(Number), freezeAmount: 0 });
    const no = tradeNo('BAL');
    const paid = await s.createPayment({
      provider: 'alipay',
      data: { out_trade_no: no, total_fee: 1234, subject: '余额', type: 'counted', auth_code: '281234567890120000' },
    });
    expect(paid).toMatchObject({ errCode: 0, codepay_state: 'PAID' });
    const after = await balance({ provider: 'alipay', platform: 'h5' });
    expect(Math.round((after.availableAmount - before.availableAmount) * 100)).toBe(1234);
    expect(s.alipay.requests.filter((r) => r.method === 'alipay.data.bill.balance.query').length).toBeGreaterThanOrEqual(2);
  });

  test.each([
    [{ provider: 'wxpay', platform: 'h5' }, 3005],
    [{ provider: 'paypal', platform: 'h5' }, 1001],
    [{ provider: 'alipay' }, 1021],
    [{ provider: 'alipay', platform: '../x' }, 1021],
    [{ provider: 'alipay', platform: 'mp-toutiao' }, 103], // an alipay node the stack does not configure,
  ])('%j → coded error %i, no gateway call', async (params, code) => {
    const calls = s.alipay.requests.length;
    expect(await balance(params)).toMatchObject({ code });
    expect(s.alipay.requests.length).toBe(calls);
  });

  test('a client of vk-pay cannot read the balance or move coins (server-only rows)', async () => {
    expect(await s.call('vk-pay', 'queryAccountBalance', [{ provider: 'alipay', platform: 'h5' }], CLIENT.web)).toMatchObject({
      errCode: 5001,
    });
    expect(await s.call('vk-pay', 'virtualCoins', [{ op: 'presentCurrency', params: {} }], CLIENT.mp)).toMatchObject({ errCode: 5001 });
  });
});

describe('getWxpayVirtualManager', () => {
  test('present → spend → cancel → balance with the stored session_key; repeats answer as done; no session_key in any answer', async () => {
    const openid = await login();
    const gift = tradeNo('GIFT');
    expect(await coins('presentCurrency', { openid, amount: 80, outTradeNo: gift, deviceType: 1 })).toMatchObject({
      code: 0,
      balance: 80,
      presentBalance: 80,
    });
    expect(await coins('presentCurrency', { openid, amount: 80, outTradeNo: gift })).toMatchObject({ code: 0, duplicate: true });

    const spend = tradeNo('SPEND');
    const pay = {
      openid,
      userIp: '10.1.2.3',
      amount: 30,
      outTradeNo: spend,
      payitem: JSON.stringify([{ productid: 'ep', unit_price: 30, quantity: 1 }]),
    };
    expect(await coins('currencyPay', pay)).toMatchObject({ code: 0, balance: 50, usedPresentAmount: 30 });
    expect(await coins('currencyPay', pay)).toMatchObject({ code: 0, duplicate: true, balance: 50 });
    const back = tradeNo('BACK');
    expect(
      await coins('cancelCurrencyPay', { openid, userIp: '10.1.2.3', amount: 30, outTradeNo: spend, outRefundNo: back }),
    ).toMatchObject({
      code: 0,
      outRefundNo: back,
    });
    const b = await coins('queryUserBalance', { openid, userIp: '10.1.2.3' });
    expect(b).toMatchObject({ code: 0, balance: 80, presentBalance: 50, sumPresent: 80, firstSaveFlag: true });
    const key = s.wxapi.sessionKeyOf(openid)!;
    for (const r of [b]) expect(JSON.stringify(r)).not.toContain(key);
    // the sandbox checked the user signature of every user-state call
    expect(s.wxapi.calls.filter((c) => c.path === '/xpay/currency_pay').map((c) => c.errcode)).toEqual(
      expect.arrayContaining([0, 268490004]),
    );
  });

  test('coded refusals: no stored session (1020), too few coins (2111), a refunded spend (2112), bad input (1021) before any call', async () => {
    expect(await coins('queryUserBalance', { openid: 'o-never-logged-in', userIp: '10.1.2.3' })).toMatchObject({ code: 1020 });
    const openid = await login();
    const pay = { openid, userIp: '10.1.2.3', amount: 5, outTradeNo: tradeNo('SPEND'), payitem: '[]' };
    expect(await coins('currencyPay', pay)).toMatchObject({ code: 2111 });
    await coins('presentCurrency', { openid, amount: 5, outTradeNo: tradeNo('GIFT') });
    expect(await coins('currencyPay', pay)).toMatchObject({ code: 0, balance: 0 });
    const cancel = { openid, userIp: '10.1.2.3', amount: 5, outTradeNo: pay.outTradeNo };
    expect(await coins('cancelCurrencyPay', { ...cancel, outRefundNo: tradeNo('BACK') })).toMatchObject({ code: 0 });
    expect(await coins('cancelCurrencyPay', { ...cancel, outRefundNo: tradeNo('BACK') })).toMatchObject({ code: 2112 });
    const before = s.wxapi.calls.length;
    for (const bad of [
      { ...pay, amount: 0 },
      { ...pay, amount: 1.5 },
      { ...pay, outTradeNo: '_bad' },
      { ...pay, userIp: undefined },
      { ...pay, openid: '' },
    ])
      expect(await coins('currencyPay', bad)).toMatchObject({ code: 1021 });
    expect(await coins('spendEverything', pay)).toMatchObject({ code: 1021 });
    expect(s.wxapi.calls.length).toBe(before);
  });
});
