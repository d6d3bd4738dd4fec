/** Mini program and App paths: uni.requestPayment, requestVirtualPayment, openid, Apple IAP. */
import { VkPayClient, IAP_CACHE_KEY } from '../../uni_modules/vk-uni-pay/js_sdk/client';
import type { PayOptions } from '../../uni_modules/vk-uni-pay/js_sdk/types';
import { FakeCloud, FakeIapChannel, FakeLocation, FakeUni, PAID, created, env, makeDeps, recorder, withoutVirtual } from './fakes';

const SHOP = { name: 'demo-shop', method: 'createRechargeOrder' };
const WX_MP_INFO = { timeStamp: '1700000000', nonceStr: 'n', package: 'prepay_id=wx1', signType: 'RSA', paySign: 's' };

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function setup(platform: string, createResult: Record<string, unknown>, options: Partial<PayOptions> = {}) {
  const uni = new FakeUni();
  const cloud = new FakeCloud()
    .on('demo-shop.createRechargeOrder', () => createResult)
    .on('vk-pay.queryPayment', () => PAID)
    .on('vk-pay.code2SessionWeixinMP', (d) => ({ errCode: 0, openid: `wx-openid-for-${String(d.code)}` }))
    .on('vk-pay.code2SessionAlipay', (d) => ({ errCode: 0, openid: `ali-openid-for-${String(d.code)}` }));
  const rec = recorder();
  const client = new VkPayClient(makeDeps({ uni, cloud, env: env(platform) }), options, rec.listeners);
  return { uni, cloud, rec, client };
}

describe('mp-weixin: uni.requestPayment', () => {
  test('success → server confirms → success event with the order', async () => {
    const { uni, cloud, rec, client } = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO));
    await client.createPayment({ action: SHOP, data: { item_id: 'r1', provider: 'wxpay' } });
    expect(uni.payments).toEqual([{ provider: 'wxpay', ...WX_MP_INFO }]);
    expect(rec.events).toEqual(['create']);
    expect(client.getStatus()).toBe(1);
    await jest.advanceTimersByTimeAsync(200);
    expect(rec.events).toEqual(['create', 'success']);
    expect(rec.successes[0]).toMatchObject({ out_trade_no: 'T1', orderPaid: true, provider: 'wxpay', pay_type: 'wxpay_mp-weixin' });
    expect(cloud.callsTo('vk-pay.queryPayment')[0].data).toEqual({ out_trade_no: 'T1', await_notify: false, pay_order_info: true });
    expect(rec.statuses).toEqual([1, 2]);
    // the openid came from uni.login + code2Session and was sent with isPC false
    expect(uni.logins).toEqual([{ provider: 'weixin' }]);
    expect(cloud.callsTo('demo-shop.createRechargeOrder')[0].data).toEqual({
      item_id: 'r1',
      provider: 'wxpay',
      isPC: false,
      openid: 'wx-openid-for-code-1',
    });
    expect(client.isPolling()).toBe(false);
  });

  test('fast path: SDK success without awaitNotify/payOrderInfo fires success without a query', async () => {
    const { cloud, rec, client } = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO), { payOrderInfo: false, awaitNotify: false });
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(rec.events).toEqual(['create', 'success']);
    expect(cloud.callsTo('vk-pay.queryPayment')).toHaveLength(0);
  });

  test('cancel → cancel event, not fail; per-call callbacks run too', async () => {
    const { uni, rec, client } = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO));
    uni.onPay = (o) => o.fail?.({ errMsg: 'requestPayment:fail cancel' });
    const perCall: string[] = [];
    await client.createPayment({
      action: SHOP,
      data: { provider: 'wxpay' },
      cancel: () => perCall.push('cancel'),
      fail: () => perCall.push('fail'),
    });
    expect(rec.events).toEqual(['create', 'cancel']);
    expect(rec.cancels[0]).toEqual({ errMsg: 'requestPayment:fail cancel', out_trade_no: 'T1' });
    expect(perCall).toEqual(['cancel']);
    expect(uni.modals).toHaveLength(0); // no alert for a cancel
    expect(client.getStatus()).toBe(0);
  });

  test('SDK failure → fail with failType request and an alert', async () => {
    const { uni, rec, client } = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO));
    uni.onPay = (o) => o.fail?.({ errMsg: 'requestPayment:fail 签名错误', errCode: -1 });
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(rec.events).toEqual(['create', 'fail:request']);
    expect(rec.fails[0]).toMatchObject({ failType: 'request', errMsg: 'requestPayment:fail 签名错误', errCode: -1, out_trade_no: 'T1' });
    expect(uni.modals).toEqual([{ title: '提示', content: 'requestPayment:fail 签名错误', showCancel: false }]);
  });

  test('needAlert:false suppresses the alert', async () => {
    const { uni, rec, client } = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO));
    uni.onPay = (o) => o.fail?.({ errMsg: 'requestPayment:fail x' });
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay' }, needAlert: false });
    expect(rec.events).toEqual(['create', 'fail:request']);
    expect(uni.modals).toHaveLength(0);
  });

  test('server refuses to create → fail with failType create and the server error', async () => {
    const { uni, cloud, rec, client } = setup('mp-weixin', {});
    cloud.on('demo-shop.createRechargeOrder', () => {
      throw { errCode: 'vk-pay-invalid-item', errMsg: '商品不存在' };
    });
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(rec.events).toEqual(['fail:create']);
    expect(rec.fails[0]).toMatchObject({ failType: 'create', errCode: 'vk-pay-invalid-item', errMsg: '商品不存在' });
    expect(uni.payments).toHaveLength(0);
    expect(uni.loadingShown).toBe(uni.loadingHidden);
  });

  test('create() returning false stops the flow before paying', async () => {
    const { uni, rec, client } = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO));
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay' }, create: () => false });
    expect(rec.events).toEqual(['create']);
    expect(uni.payments).toHaveLength(0);
    expect(client.getStatus()).toBe(0);
  });

  test('awaitNotify: a paid order without handler result is re-queried with await_notify', async () => {
    const { cloud, rec, client } = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO), { awaitNotify: true });
    cloud.on('vk-pay.queryPayment', (d) =>
      d.await_notify ? { ...PAID, user_order_success: true } : { ...PAID, user_order_success: undefined, status: 1 },
    );
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await jest.advanceTimersByTimeAsync(200);
    expect(cloud.callsTo('vk-pay.queryPayment').map((c) => c.data.await_notify)).toEqual([false, true]);
    expect(rec.successes[0].user_order_success).toBe(true);
  });
});

describe('openid', () => {
  test('cached per client instance; a second client (another user session) logs in again', async () => {
    const a = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO));
    expect(await a.client.getOpenid()).toBe('wx-openid-for-code-1');
    expect(await a.client.getOpenid()).toBe('wx-openid-for-code-1');
    await a.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(a.uni.logins).toHaveLength(1);
    expect(a.cloud.callsTo('vk-pay.code2SessionWeixinMP')).toHaveLength(1);

    const b = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO));
    b.uni.loginCode = () => 'other-user';
    expect(await b.client.getOpenid()).toBe('wx-openid-for-other-user');
    a.client.clearOpenid();
    expect(await a.client.getOpenid()).toBe('wx-openid-for-code-2');
  });

  test('concurrent calls share one login', async () => {
    const { uni, client } = setup('mp-weixin', {});
    const [x, y] = await Promise.all([client.getOpenid(), client.getOpenid()]);
    expect(x).toBe(y);
    expect(uni.logins).toHaveLength(1);
  });

  test('mp-alipay uses the alipay login and code2SessionAlipay', async () => {
    const { uni, cloud, client } = setup('mp-alipay', {});
    expect(await client.getOpenid()).toBe('ali-openid-for-code-1');
    expect(uni.logins).toEqual([{ provider: 'alipay' }]);
    expect(cloud.callsTo('vk-pay.code2SessionAlipay')[0].data).toEqual({ code: 'code-1' });
  });

  test('H5 and App have no mini program login', async () => {
    for (const p of ['h5', 'app']) {
      const { uni, client } = setup(p, {});
      expect(await client.getOpenid()).toBeUndefined();
      expect(uni.logins).toHaveLength(0);
    }
  });

  test('a failed login fails the payment with failType create and can be retried', async () => {
    const { uni, cloud, rec, client } = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO));
    uni.loginFails = true;
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(rec.events).toEqual(['fail:create']);
    expect(cloud.callsTo('demo-shop.createRechargeOrder')).toHaveLength(0);
    uni.loginFails = false;
    expect(await client.getOpenid()).toBe('wx-openid-for-code-1');
  });

  test('autoGetOpenid false or an explicit openid skips the login', async () => {
    const a = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO), { autoGetOpenid: false, payOrderInfo: false });
    await a.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    const b = setup('mp-weixin', created('wxpay_mp-weixin', WX_MP_INFO), { payOrderInfo: false });
    await b.client.createPayment({ action: SHOP, data: { provider: 'wxpay', openid: 'given' } });
    expect(a.uni.logins.length + b.uni.logins.length).toBe(0);
    expect(b.cloud.callsTo('demo-shop.createRechargeOrder')[0].data.openid).toBe('given');
  });
});

test('needQRcode in a mini program shows the QR code instead of requestPayment', async () => {
  const { uni, rec, client } = setup('mp-weixin', created('douyin_mp-weixin', { codeUrl: 'http://gw/qr/1' }, { needQRcode: true }), {
    polling: true,
  });
  await client.createPayment({ action: SHOP, data: { provider: 'wxpay', needQRcode: true } });
  expect(uni.payments).toHaveLength(0);
  expect(rec.codeUrls).toEqual(['http://gw/qr/1']);
  await jest.advanceTimersByTimeAsync(200);
  expect(rec.events).toEqual(['create', 'success']);
});

describe('mp-alipay', () => {
  test('orderInfo trade_no is passed; 9000 → confirmed success', async () => {
    const { uni, rec, client } = setup('mp-alipay', created('alipay_mp-alipay', { trade_no: '2024ALI' }));
    uni.onPay = (o) => o.success?.({ resultCode: '9000' });
    await client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    expect(uni.payments).toEqual([{ provider: 'alipay', orderInfo: '2024ALI' }]);
    await jest.advanceTimersByTimeAsync(200);
    expect(rec.events).toEqual(['create', 'success']);
  });

  test('resultCode 6001 is a cancel, 4000 a failure', async () => {
    const a = setup('mp-alipay', created('alipay_mp-alipay', '2024ALI'));
    a.uni.onPay = (o) => o.success?.({ resultCode: '6001' });
    await a.client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    expect(a.uni.payments[0]).toEqual({ provider: 'alipay', orderInfo: '2024ALI' });
    expect(a.rec.events).toEqual(['create', 'cancel']);
    const b = setup('mp-alipay', created('alipay_mp-alipay', '2024ALI'));
    b.uni.onPay = (o) => o.success?.({ resultCode: '4000' });
    await b.client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    expect(b.rec.events).toEqual(['create', 'fail:request']);
  });
});

describe('App', () => {
  const APP_WX = {
    appid: 'wxa',
    partnerid: '1900',
    prepayid: 'wx2',
    package: 'Sign=WXPay',
    noncestr: 'n',
    timestamp: '1700000000',
    sign: 's',
  };

  test('wxpay: requestPayment with provider and the orderInfo object', async () => {
    const { uni, rec, client } = setup('app', created('wxpay_app-plus', APP_WX));
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(uni.payments).toEqual([{ provider: 'wxpay', orderInfo: APP_WX }]);
    expect(uni.logins).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(200);
    expect(rec.events).toEqual(['create', 'success']);
  });

  test('alipay: requestPayment with the signed order string; cancel detected', async () => {
    const { uni, rec, client } = setup('app', created('alipay_app-plus', 'app_id=1&biz_content=x&sign=y'));
    uni.onPay = (o) => o.fail?.({ errMsg: 'requestPayment:fail [paymentAlipay:62001]user cancel' });
    await client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    expect(uni.payments).toEqual([{ provider: 'alipay', orderInfo: 'app_id=1&biz_content=x&sign=y' }]);
    expect(rec.events).toEqual(['create', 'cancel']);
  });

  test('alipayAppPayToH5Pay: the 当面付 URL opens in the Alipay app through plus, then polls', async () => {
    const uni = new FakeUni();
    const cloud = new FakeCloud()
      .on('demo-shop.createRechargeOrder', () => created('alipay_h5', { codeUrl: 'https://qr.alipay.com/x' }))
      .on('vk-pay.queryPayment', () => PAID);
    const opened: string[] = [];
    const rec = recorder();
    const client = new VkPayClient(
      makeDeps({ uni, cloud, env: env('app'), plus: { runtime: { openURL: (u) => opened.push(u) } }, location: new FakeLocation('x') }),
      { polling: true },
      rec.listeners,
    );
    await client.createPayment({ action: SHOP, data: { provider: 'alipay', alipayAppPayToH5Pay: true } });
    expect(opened).toEqual(['https://qr.alipay.com/x']);
    expect(rec.codeUrls).toEqual([]); // no QR shown to oneself
    expect(uni.payments).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(200);
    expect(rec.events).toEqual(['create', 'success']);
  });
});

describe('wxpay-virtual (mp-weixin)', () => {
  const VIRTUAL = { signData: '{"offerId":"1"}', mode: 'short_series_coin', paySig: 'ps', signature: 'sg' };

  test('requestVirtualPayment gets the four fields, success is confirmed', async () => {
    const { uni, rec, client } = setup('mp-weixin', created('wxpay-virtual_mp-weixin', VIRTUAL));
    await client.createPayment({ action: SHOP, data: { provider: 'wxpay-virtual' } });
    expect(uni.virtualPayments).toEqual([VIRTUAL]);
    expect(uni.payments).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(200);
    expect(rec.events).toEqual(['create', 'success']);
  });

  test('cancel and missing API', async () => {
    const a = setup('mp-weixin', created('wxpay-virtual_mp-weixin', VIRTUAL));
    a.uni.onVirtualPay = (o) => o.fail?.({ errMsg: 'requestVirtualPayment:fail cancel', errCode: -2 });
    await a.client.createPayment({ action: SHOP, data: { provider: 'wxpay-virtual' } });
    expect(a.rec.events).toEqual(['create', 'cancel']);
    const b = setup('mp-weixin', created('wxpay-virtual_mp-weixin', VIRTUAL));
    withoutVirtual(b.uni);
    await b.client.createPayment({ action: SHOP, data: { provider: 'wxpay-virtual' } });
    expect(b.rec.events).toEqual(['create', 'fail:request']);
  });
});

describe('Apple IAP', () => {
  function iapSetup() {
    const uni = new FakeUni();
    const channel = new FakeIapChannel();
    const cloud = new FakeCloud()
      .on('demo-shop.createGoodsOrder', () => created('appleiap_app-plus', { out_trade_no: 'T1' }))
      .on('vk-pay.queryPayment', () => PAID)
      .on('vk-pay.verifyAppleReceipt', (d) => ({ errCode: 0, orderPaid: true, out_trade_no: d.out_trade_no }))
      .on('vk-pay.verifyAppleTransaction', (d) => ({ errCode: 0, orderPaid: true, out_trade_no: d.out_trade_no }));
    const rec = recorder();
    const client = new VkPayClient(makeDeps({ uni, cloud, env: env('app'), getIapChannel: async () => channel }), {}, rec.listeners);
    return { uni, channel, cloud, rec, client };
  }
  const ACTION = { name: 'demo-shop', method: 'createGoodsOrder' };
  const TX = {
    transactionState: '1',
    transactionIdentifier: 'apple-tx-1',
    transactionReceipt: 'MIIR',
    payment: { productid: 'coin_6', username: 'T1' },
  };

  test('purchase → server verification → finishTransaction → confirmed success', async () => {
    const { uni, channel, cloud, rec, client } = iapSetup();
    let cacheDuringVerify: unknown;
    cloud.on('vk-pay.verifyAppleReceipt', (d) => {
      cacheDuringVerify = uni.getStorageSync(IAP_CACHE_KEY);
      return { errCode: 0, orderPaid: true, out_trade_no: d.out_trade_no };
    });
    uni.onPay = (o) => o.success?.(TX);
    await client.createPayment({ action: ACTION, data: { provider: 'appleiap', productid: 'coin_6', goods_id: 'g1' } });
    await jest.advanceTimersByTimeAsync(0);
    // the client never sends an amount; the product title is informational
    expect(cloud.callsTo('demo-shop.createGoodsOrder')[0].data).toEqual({
      isPC: false,
      provider: 'appleiap',
      productid: 'coin_6',
      goods_id: 'g1',
      subject: '60 coins',
    });
    expect(uni.payments).toEqual([
      { provider: 'appleiap', orderInfo: { productid: 'coin_6', username: 'T1', quantity: 1, manualFinishTransaction: true } },
    ]);
    expect(cacheDuringVerify).toMatchObject({ 'apple-tx-1': { out_trade_no: 'T1', productid: 'coin_6' } });
    expect(cloud.callsTo('vk-pay.verifyAppleReceipt')[0].data).toEqual({
      out_trade_no: 'T1',
      transaction_receipt: 'MIIR',
      transaction_identifier: 'apple-tx-1',
    });
    expect(channel.finished.map((t) => t.transactionIdentifier)).toEqual(['apple-tx-1']);
    expect(uni.getStorageSync(IAP_CACHE_KEY)).toEqual({});
    await jest.advanceTimersByTimeAsync(200);
    expect(rec.events).toEqual(['create', 'success']);
  });

  test('a StoreKit 2 signed transaction is verified with verifyAppleTransaction', async () => {
    const { uni, cloud, client } = iapSetup();
    uni.onPay = (o) => o.success?.({ ...TX, signedTransaction: 'eyJ.jws.sig' });
    await client.createPayment({ action: ACTION, data: { provider: 'appleiap', productid: 'coin_6' } });
    await jest.advanceTimersByTimeAsync(0);
    expect(cloud.callsTo('vk-pay.verifyAppleTransaction')[0].data).toEqual({ out_trade_no: 'T1', signedTransaction: 'eyJ.jws.sig' });
    expect(cloud.callsTo('vk-pay.verifyAppleReceipt')).toHaveLength(0);
  });

  test('errCode 2 is a cancel; an unknown product fails before creating the order', async () => {
    const a = iapSetup();
    a.uni.onPay = (o) => o.fail?.({ errCode: 2, errMsg: 'requestPayment:fail' });
    await a.client.createPayment({ action: ACTION, data: { provider: 'appleiap', productid: 'coin_6' } });
    expect(a.rec.events).toEqual(['create', 'cancel']);
    const b = iapSetup();
    await b.client.createPayment({ action: ACTION, data: { provider: 'appleiap', productid: 'nope' } });
    expect(b.rec.events).toEqual(['fail:request']);
    expect(b.cloud.callsTo('demo-shop.createGoodsOrder')).toHaveLength(0);
  });

  test('a failed verification keeps the transaction unfinished and cached; restore recovers it', async () => {
    const { uni, channel, cloud, rec, client } = iapSetup();
    cloud.on('vk-pay.verifyAppleReceipt', () => {
      throw { errCode: 'SYS_ERR', errMsg: 'network down' };
    });
    uni.onPay = (o) => o.success?.({ ...TX, payment: { productid: 'coin_6' } });
    await client.createPayment({ action: ACTION, data: { provider: 'appleiap', productid: 'coin_6' } });
    await jest.advanceTimersByTimeAsync(0);
    expect(rec.events).toEqual(['create', 'fail:result']);
    expect(channel.finished).toHaveLength(0);
    expect(uni.getStorageSync(IAP_CACHE_KEY)).toMatchObject({ 'apple-tx-1': { out_trade_no: 'T1' } });

    // later: the network is back; restore verifies (out_trade_no from the cache) and finishes
    cloud.on('vk-pay.verifyAppleReceipt', (d) => ({ errCode: 0, orderPaid: true, out_trade_no: d.out_trade_no }));
    channel.restoreAnswer = [
      { ...TX, payment: { productid: 'coin_6' } },
      { transactionState: '2', transactionIdentifier: 'apple-tx-failed' },
      { transactionState: '3', transactionIdentifier: 'apple-tx-unknown' },
    ];
    const report = await client.appleiapRestore();
    expect(report.restored).toEqual(['T1']);
    expect(report.finishedFailed).toEqual(['apple-tx-failed']);
    expect(report.errors).toEqual([{ transactionIdentifier: 'apple-tx-unknown', errMsg: 'no out_trade_no for this transaction' }]);
    expect(channel.finished.map((t) => t.transactionIdentifier)).toEqual(['apple-tx-1', 'apple-tx-failed']);
    expect(cloud.callsTo('vk-pay.verifyAppleReceipt')).toHaveLength(2);
    expect(uni.getStorageSync(IAP_CACHE_KEY)).toEqual({});
  });

  test('restore without IAP support rejects', async () => {
    const client = new VkPayClient(makeDeps({ uni: new FakeUni(), cloud: new FakeCloud(), env: env('h5') }));
    await expect(client.appleiapRestore()).rejects.toMatchObject({ errCode: 'NO_IAP' });
  });
});
