/**
 * The counter's provider calls against the loopback sandboxes, signatures real on both sides:
 * WeChat Pay v3 codepay + reverse, Alipay trade.pay (bar_code) + trade.cancel + balance query, and the
 * WeChat virtual-payment coin APIs whose `pay_sig` and user `signature` the sandbox checks.
 */
import { startWxpaySandbox, createWxpayMerchant, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { startAlipaySandbox, createAlipayApp, type AlipaySandbox, type AlipaySandboxApp } from '../../tools/sandbox/alipay';
import { alipayNodeConfig, loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { startWxApiSandbox, type WxApiSandbox } from '../../tools/sandbox/wxapi';
import { sandboxWxApp } from '../../tools/stack';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { wxpayCancelCodepay, wxpayCodepay } from '../../uni_modules/vk-uni-pay/server/providers/wxpay/codepay';
import { wxpayAdapter } from '../../uni_modules/vk-uni-pay/server/providers/wxpay';
import { alipayCancelCodepay, alipayCodepay } from '../../uni_modules/vk-uni-pay/server/providers/alipay/codepay';
import { alipayQueryBalance } from '../../uni_modules/vk-uni-pay/server/providers/alipay/balance';
import { alipayAdapter } from '../../uni_modules/vk-uni-pay/server/providers/alipay';
import * as coins from '../../uni_modules/vk-uni-pay/server/providers/wxpay-virtual/coins';
import type { CodepayInput } from '../../uni_modules/vk-uni-pay/server/providers/hooks';
import type { HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';

const APPID = 'wx9000000000000009';
let wx: WxpaySandbox;
let merchant: WxpaySandboxMerchant;
let ali: AlipaySandbox;
let aliApp: AlipaySandboxApp;
let wxapi: WxApiSandbox;
const wxApp = sandboxWxApp();

beforeAll(async () => {
  merchant = await createWxpayMerchant({ appids: [APPID] });
  aliApp = await createAlipayApp();
  [wx, ali, wxapi] = await Promise.all([
    startWxpaySandbox({ merchants: [merchant], quiet: true }),
    startAlipaySandbox({ apps: [aliApp], quiet: true }),
    startWxApiSandbox({ apps: [wxApp] }),
  ]);
}, 30_000);
afterAll(async () => {
  await Promise.all([wx?.close(), ali?.close(), wxapi?.close()]);
});

let seq = 0;
const no = (p: string) => `${p}${Date.now()}${++seq}`;
const ctxOf = <C>(config: C, http: HttpTransport = loopbackTransport()) => ({
  config,
  http,
  clock: { now: () => Date.now() },
  cache: memoryCache(),
});
const wxCtx = (over: Record<string, unknown> = {}) =>
  ctxOf({
    appId: APPID,
    mchId: merchant.mchid,
    v3Key: merchant.apiV3Key,
    appCertContent: merchant.merchant.certPem,
    appPrivateKeyContent: merchant.merchant.keyPem,
    gateway: wx.url,
    ...over,
  } as any);
const aliCtx = () => ctxOf(alipayNodeConfig(aliApp, ali) as any);
const input = (auth_code: string, over: Partial<CodepayInput> = {}): CodepayInput => ({
  out_trade_no: no('CP'),
  total_fee: 1234,
  subject: '收银台',
  auth_code,
  client_ip: '10.0.0.8',
  notify_url: 'http://127.0.0.1:9/notify',
  other: {},
  extra: { store_id: 'S001' },
  ...over,
});

describe('WeChat Pay v3 codepay', () => {
  test('a code paid at once: PAID with the transaction, the amount and the payer', async () => {
    const i = input('134567890123450000');
    const a = await wxpayCodepay(i, wxCtx());
    expect(a).toMatchObject({ state: 'PAID', total_fee: 1234, transaction_id: expect.stringMatching(/^4200/) });
    expect(wx.order(i.out_trade_no)).toMatchObject({ trade_type: 'MICROPAY', trade_state: 'SUCCESS' });
    expect(wx.order(i.out_trade_no)!.request).toMatchObject({
      payer: { auth_code: i.auth_code },
      scene_info: { device_ip: '10.0.0.8', store_info: { id: 'S001' } },
    });
  });

  test('a buyer typing the password: WAITING (202 USERPAYING), the query says PAYING, then PAID once the buyer confirms', async () => {
    const i = input('134567890123451111');
    expect(await wxpayCodepay(i, wxCtx())).toMatchObject({ state: 'WAITING' });
    expect(await wxpayAdapter.queryOrder({ out_trade_no: i.out_trade_no }, wxCtx())).toMatchObject({ state: 'PAYING' });
    await wx.pay(i.out_trade_no);
    expect(await wxpayAdapter.queryOrder({ out_trade_no: i.out_trade_no }, wxCtx())).toMatchObject({ state: 'PAID', total_fee: 1234 });
  });

  test('a refusal (balance too low) is FAILED with the provider code', async () => {
    expect(await wxpayCodepay(input('134567890123452222'), wxCtx())).toMatchObject({ state: 'FAILED', reason: { code: 'NOT_ENOUGH' } });
  });

  test('reverse closes a waiting trade (REVOKED); a paid one is refunded; an unknown number needs no reverse', async () => {
    const waiting = input('134567890123451111');
    await wxpayCodepay(waiting, wxCtx());
    expect(await wxpayCancelCodepay({ out_trade_no: waiting.out_trade_no }, wxCtx())).toMatchObject({ cancelled: true });
    expect(wx.order(waiting.out_trade_no)).toMatchObject({ trade_state: 'REVOKED', refunded: 0 });
    await expect(wx.pay(waiting.out_trade_no)).rejects.toThrow(/ORDER_CLOSED/);

    const paid = input('134567890123450000');
    await wxpayCodepay(paid, wxCtx());
    await wxpayCancelCodepay({ out_trade_no: paid.out_trade_no }, wxCtx());
    expect(wx.order(paid.out_trade_no)).toMatchObject({ trade_state: 'REVOKED', refunded: 1234 });

    expect(await wxpayCancelCodepay({ out_trade_no: no('NONE') }, wxCtx())).toMatchObject({ cancelled: true });
  });

  test('the sandbox checks the request signature: signed with another key, no trade is made (and nothing is trusted: WAITING)', async () => {
    const other = await createWxpayMerchant();
    const i = input('134567890123450000');
    expect(await wxpayCodepay(i, wxCtx({ appPrivateKeyContent: other.merchant.keyPem }))).toMatchObject({ state: 'WAITING' });
    expect(wx.order(i.out_trade_no)).toBeUndefined();
  });

  test('an answer whose signature does not verify proves nothing: WAITING (a query decides), never PAID', async () => {
    const tamper: HttpTransport = {
      async request(req) {
        const res = await loopbackTransport().request(req as any);
        if (!req.url.includes('/codepay')) return res;
        return { ...res, body: Buffer.from(res.body.toString().replace('"SUCCESS"', '"SUCCESS" ')) };
      },
    };
    expect(await wxpayCodepay(input('134567890123450000'), { ...wxCtx(), http: tamper })).toMatchObject({ state: 'WAITING' });
  });

  test('a v2 node is refused before any call (its reverse needs the .p12 certificate)', async () => {
    const http = { request: jest.fn() };
    await expect(wxpayCodepay(input('134567890123450000'), { ...wxCtx({ version: 2, key: 'k'.repeat(32) }), http })).rejects.toMatchObject({
      key: 'OPERATION_UNSUPPORTED',
    });
    expect(http.request).not.toHaveBeenCalled();
  });
});

describe('Alipay bar-code pay, cancel and balance', () => {
  test('paid at once (10000), waiting (10003) until the buyer confirms, refused (40004 with its sub_code)', async () => {
    const paid = input('281234567890120000');
    expect(await alipayCodepay(paid, aliCtx())).toMatchObject({ state: 'PAID', total_fee: 1234, transaction_id: expect.any(String) });
    const req = ali.requests.find((r) => r.method === 'alipay.trade.pay' && r.biz.out_trade_no === paid.out_trade_no)!;
    expect(req.biz).toMatchObject({
      scene: 'bar_code',
      auth_code: paid.auth_code,
      total_amount: '12.34',
      product_code: 'FACE_TO_FACE_PAYMENT',
    });

    const waiting = input('281234567890121111');
    expect(await alipayCodepay(waiting, aliCtx())).toMatchObject({ state: 'WAITING' });
    expect(await alipayAdapter.queryOrder({ out_trade_no: waiting.out_trade_no }, aliCtx())).toMatchObject({ state: 'NOTPAY' });
    await ali.pay(waiting.out_trade_no);
    expect(await alipayAdapter.queryOrder({ out_trade_no: waiting.out_trade_no }, aliCtx())).toMatchObject({ state: 'PAID' });

    expect(await alipayCodepay(input('281234567890122222'), aliCtx())).toMatchObject({
      state: 'FAILED',
      reason: { code: 'ACQ.BUYER_BALANCE_NOT_ENOUGH' },
    });
  });

  test('cancel closes an unpaid trade, refunds a paid one, and an unknown number needs no cancel', async () => {
    const waiting = input('281234567890121111');
    await alipayCodepay(waiting, aliCtx());
    expect(await alipayCancelCodepay({ out_trade_no: waiting.out_trade_no }, aliCtx())).toEqual(
      expect.objectContaining({ cancelled: true, refunded: false }),
    );
    expect(ali.order(waiting.out_trade_no)).toMatchObject({ trade_status: 'TRADE_CLOSED', refunded_fen: 0 });

    const paid = input('281234567890120000');
    await alipayCodepay(paid, aliCtx());
    expect(await alipayCancelCodepay({ out_trade_no: paid.out_trade_no }, aliCtx())).toMatchObject({ cancelled: true, refunded: true });
    expect(ali.order(paid.out_trade_no)).toMatchObject({ trade_status: 'TRADE_CLOSED', refunded_fen: 1234 });

    expect(await alipayCancelCodepay({ out_trade_no: no('NONE') }, aliCtx())).toMatchObject({ cancelled: true });
  });

  test('the account balance comes back in fen from the verified yuan strings', async () => {
    const before = await alipayQueryBalance(aliCtx());
    await alipayCodepay(input('281234567890120000', { total_fee: 501 }), aliCtx());
    const after = await alipayQueryBalance(aliCtx());
    expect(after.availableAmount - before.availableAmount).toBe(501);
    expect(after).toMatchObject({ freezeAmount: 0, totalAmount: after.availableAmount });
  });
});

describe('WeChat virtual-payment coins', () => {
  const vctx = () =>
    ctxOf({
      appId: wxApp.appId,
      secret: wxApp.secret,
      appKey: wxApp.appKey,
      sandboxAppKey: wxApp.sandboxAppKey,
      offerId: wxApp.offerId,
      apiBase: wxapi.url,
    } as any);
  async function user() {
    const { code, openid } = wxapi.login();
    await fetch(
      `${wxapi.url}/sns/jscode2session?appid=${wxApp.appId}&secret=${wxApp.secret}&js_code=${code}&grant_type=authorization_code`,
    );
    return { openid, userIp: '10.0.0.9', sessionKey: wxapi.sessionKeyOf(openid)! };
  }

  test('present → balance → spend → cancel; repeated operations answer as done (268490004), not as errors', async () => {
    const u = await user();
    const gift = no('GIFT');
    expect(await coins.presentCurrency({ openid: u.openid, amount: 50, outTradeNo: gift }, vctx())).toMatchObject({
      balance: 50,
      presentBalance: 50,
    });
    expect(await coins.presentCurrency({ openid: u.openid, amount: 50, outTradeNo: gift }, vctx())).toMatchObject({ duplicate: true });
    expect(await coins.queryUserBalance(u, vctx())).toMatchObject({ balance: 50, presentBalance: 50, sumPresent: 50, firstSaveFlag: true });

    const spend = no('SPEND');
    const p = { ...u, amount: 30, outTradeNo: spend, payitem: JSON.stringify([{ productid: 'ep1', unit_price: 30, quantity: 1 }]) };
    expect(await coins.currencyPay(p, vctx())).toMatchObject({ balance: 20, usedPresentAmount: 30 });
    expect(await coins.currencyPay(p, vctx())).toMatchObject({ duplicate: true, balance: 20 });
    expect(wxapi.coins.wallet(wxApp.appId, u.openid).sum_cost).toBe(30);

    const c = { ...u, amount: 30, outTradeNo: spend, outRefundNo: no('BACK') };
    expect(await coins.cancelCurrencyPay(c, vctx())).toMatchObject({ outRefundNo: c.outRefundNo });
    expect(await coins.cancelCurrencyPay(c, vctx())).toMatchObject({ duplicate: true });
    expect((await coins.queryUserBalance(u, vctx())).balance).toBe(50);
  });

  test('coded refusals: too few coins, a refund of a refunded spend, an expired session', async () => {
    const u = await user();
    const p = { ...u, amount: 1, outTradeNo: no('SPEND'), payitem: '[]' };
    await expect(coins.currencyPay(p, vctx())).rejects.toMatchObject({ key: 'COIN_BALANCE_NOT_ENOUGH' });
    await expect(coins.queryUserBalance({ ...u, openid: 'o-never-logged-in' }, vctx())).rejects.toMatchObject({
      key: 'SESSION_KEY_MISSING',
    });
  });

  test('the sandbox checks both signatures: a wrong session_key or AppKey is a verified 268490003', async () => {
    const u = await user();
    await expect(coins.queryUserBalance({ ...u, sessionKey: 'bm90IHRoZSBrZXk=' }, vctx())).rejects.toMatchObject({
      providerCode: '268490003',
      verified: true,
    });
    const wrongKey = { ...vctx(), config: { ...vctx().config, appKey: 'x'.repeat(32) } };
    await expect(coins.presentCurrency({ openid: u.openid, amount: 1, outTradeNo: no('GIFT') }, wrongKey)).rejects.toMatchObject({
      providerCode: '268490003',
    });
  });
});
