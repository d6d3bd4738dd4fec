/** Web paths: PC / forced QR with polling, MWEB redirect and return, 公众号 JSAPI, Alipay mobile web. */
import { MESSAGES, VkPayClient } from '../../uni_modules/vk-uni-pay/js_sdk/client';
import type { PayDeps, PayOptions } from '../../uni_modules/vk-uni-pay/js_sdk/types';
import {
  ALIPAY_NAV,
  CLOSED,
  FakeBridge,
  FakeCloud,
  FakeLocation,
  FakeUni,
  PAID,
  PC_NAV,
  PHONE_NAV,
  UNPAID,
  WEIXIN_NAV,
  created,
  env,
  makeDeps,
  recorder,
} from './fakes';

const SHOP = { name: 'demo-shop', method: 'createRechargeOrder' };
const PAGE = 'http://127.0.0.1:9/#/pages/index/index?user=u1';
const CODE_URL = 'http://127.0.0.1:9/sandbox/wxpay/cashier?code=abc';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function setup(
  nav: { platform?: string; userAgent?: string },
  createResult: Record<string, unknown>,
  options: Partial<PayOptions> = {},
  extra: Partial<Omit<PayDeps, 'uni' | 'callCloud' | 'env'>> = {},
) {
  const uni = new FakeUni();
  const location = new FakeLocation(PAGE);
  const answers: Record<string, unknown>[] = [];
  const cloud = new FakeCloud()
    .on('demo-shop.createRechargeOrder', () => createResult)
    .on('vk-pay.queryPayment', () => (answers.length ? answers.shift()! : UNPAID));
  const rec = recorder();
  const client = new VkPayClient(
    makeDeps({ uni, cloud, env: env('h5', nav), location, ...extra }),
    { polling: true, ...options },
    rec.listeners,
  );
  const queries = () => cloud.callsTo('vk-pay.queryPayment').length;
  return { uni, cloud, rec, client, location, answers, queries };
}

describe('PC QR code with polling', () => {
  test('shows the QR, queries at 200 ms then every pollingTime, stops when paid', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay', item_id: 'r1' } });
    expect(t.cloud.callsTo('demo-shop.createRechargeOrder')[0].data).toEqual({ isPC: true, provider: 'wxpay', item_id: 'r1' });
    expect(t.rec.codeUrls).toEqual([CODE_URL]);
    expect(t.location.assigned).toEqual([]);
    expect(t.uni.logins).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(199);
    expect(t.queries()).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(t.queries()).toBe(1);
    await jest.advanceTimersByTimeAsync(1500);
    expect(t.queries()).toBe(2);
    t.answers.push(PAID);
    await jest.advanceTimersByTimeAsync(1500);
    expect(t.queries()).toBe(3);
    expect(t.rec.events).toEqual(['create', 'success']);
    expect(t.rec.codeUrls).toEqual([CODE_URL, '']); // the QR is cleared
    expect(t.rec.statuses).toEqual([1, 2]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(t.queries()).toBe(3);
    expect(t.client.isPolling()).toBe(false);
  });

  test('a tick is skipped while the previous query is still in flight', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    let release: (v: Record<string, unknown>) => void = () => undefined;
    t.cloud.on('vk-pay.queryPayment', () => new Promise((r) => (release = r)));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await jest.advanceTimersByTimeAsync(200 + 1500 * 3);
    expect(t.queries()).toBe(1); // three ticks passed, all skipped
    expect(t.client.pollTicks()).toBe(4);
    release(UNPAID);
    await jest.advanceTimersByTimeAsync(1500);
    expect(t.queries()).toBe(2);
  });

  test('no query while the page is hidden (pageShow false or document hidden); resumes on show', async () => {
    let hidden = false;
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }), {}, { isHidden: () => hidden });
    t.client.setPageShow(false);
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await jest.advanceTimersByTimeAsync(200 + 1500 * 4);
    expect(t.queries()).toBe(0);
    t.client.setPageShow(true);
    hidden = true;
    await jest.advanceTimersByTimeAsync(1500 * 2);
    expect(t.queries()).toBe(0);
    hidden = false;
    await jest.advanceTimersByTimeAsync(1500);
    expect(t.queries()).toBe(1);
  });

  test('gives up after 120 ticks with a timeout failure', async () => {
    const t = setup(PC_NAV, created('alipay_h5', { codeUrl: CODE_URL }), { pollingTime: 1000 });
    await t.client.createPayment({ action: SHOP, data: { provider: 'alipay' }, needAlert: false });
    await jest.advanceTimersByTimeAsync(200 + 1000 * 119);
    expect(t.queries()).toBe(120);
    expect(t.rec.events).toEqual(['create']);
    await jest.advanceTimersByTimeAsync(1000);
    expect(t.rec.events).toEqual(['create', 'fail:result']);
    expect(t.rec.fails[0]).toMatchObject({ failType: 'result', timeout: true, errMsg: MESSAGES.timeout, out_trade_no: 'T1' });
    await jest.advanceTimersByTimeAsync(10_000);
    expect(t.queries()).toBe(120);
  });

  test('an expired/closed order (status -1) ends with a clear failure', async () => {
    const t = setup(PC_NAV, created('alipay_h5', { codeUrl: CODE_URL }));
    t.answers.push(UNPAID, CLOSED);
    await t.client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    await jest.advanceTimersByTimeAsync(200 + 1500);
    expect(t.rec.events).toEqual(['create', 'fail:result']);
    expect(t.rec.fails[0]).toMatchObject({ failType: 'result', status: -1, expired: true, errMsg: MESSAGES.expired });
    expect(t.uni.modals[0].content).toContain('过期');
    expect(t.client.getStatus()).toBe(0);
    await jest.advanceTimersByTimeAsync(5000);
    expect(t.queries()).toBe(2);
  });

  test('a failing query does not stop polling', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    let n = 0;
    t.cloud.on('vk-pay.queryPayment', () => {
      n++;
      if (n === 1) throw { errCode: 'SYS_ERR', errMsg: 'timeout' };
      return PAID;
    });
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await jest.advanceTimersByTimeAsync(200);
    expect(t.rec.events).toEqual(['create']);
    await jest.advanceTimersByTimeAsync(1500);
    expect(t.rec.events).toEqual(['create', 'success']);
  });

  test('polling off: the QR is shown and nothing is queried', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }), { polling: false });
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await jest.advanceTimersByTimeAsync(10_000);
    expect(t.queries()).toBe(0);
    expect(t.rec.codeUrls).toEqual([CODE_URL]);
  });

  test('closing the QR cancels: polling stops and cancel fires', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await jest.advanceTimersByTimeAsync(200);
    t.client.cancelPayment();
    expect(t.rec.events).toEqual(['create', 'cancel']);
    expect(t.rec.codeUrls).toEqual([CODE_URL, '']);
    await jest.advanceTimersByTimeAsync(5000);
    expect(t.queries()).toBe(1);
  });

  test('a new payment supersedes the previous loop', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    t.answers.push(PAID);
    await jest.advanceTimersByTimeAsync(200);
    expect(t.rec.events).toEqual(['create', 'create', 'success']);
    await jest.advanceTimersByTimeAsync(5000);
    expect(t.rec.events.filter((e) => e === 'success')).toHaveLength(1);
  });

  test("needQRcode 'image': the server image is shown even on a phone", async () => {
    const t = setup(
      PHONE_NAV,
      created('wxpay_h5', { codeUrl: CODE_URL }, { needQRcode: 'image', qrcodeImage: 'data:image/png;base64,AAA' }),
    );
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay', needQRcode: 'image' } });
    expect(t.rec.images).toEqual(['data:image/png;base64,AAA']);
    expect(t.rec.codeUrls).toEqual([CODE_URL]);
    expect(t.location.assigned).toEqual([]);
  });

  test('forced QR for Alipay on a phone shows the QR instead of opening the cashier', async () => {
    const t = setup(PHONE_NAV, created('alipay_h5', { codeUrl: CODE_URL }, { needQRcode: true }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'alipay', needQRcode: true } });
    expect(t.rec.codeUrls).toEqual([CODE_URL]);
    expect(t.location.assigned).toEqual([]);
  });
});

describe('Alipay on a mobile browser', () => {
  test('an ordinary browser opens the Alipay app with the deep link and polls', async () => {
    const t = setup(PHONE_NAV, created('alipay_h5', { codeUrl: 'https://qr.alipay.com/bax1' }));
    t.answers.push(PAID);
    await t.client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    expect(t.rec.codeUrls).toEqual([]);
    expect(t.location.assigned).toHaveLength(1);
    expect(t.location.assigned[0]).toMatch(
      /^alipays:\/\/platformapi\/startapp\?saId=10000007&qrcode=https%3A%2F%2Fqr\.alipay\.com%2Fbax1%3F_s%3Dweb-other$/,
    );
    await jest.advanceTimersByTimeAsync(200);
    expect(t.rec.events).toEqual(['create', 'success']);
  });

  test('inside the Alipay browser the cashier URL is opened directly', async () => {
    const t = setup(ALIPAY_NAV, created('alipay_h5', { codeUrl: 'https://qr.alipay.com/bax1' }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'alipay' } });
    expect(t.location.assigned).toEqual(['https://qr.alipay.com/bax1']);
  });

  test('WeChat pay with a codeUrl on a phone still shows the QR (scan rather than long-press)', async () => {
    const t = setup(PHONE_NAV, created('wxpay_h5', { codeUrl: CODE_URL }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(t.rec.codeUrls).toEqual([CODE_URL]);
    expect(t.location.assigned).toEqual([]);
  });
});

describe('WeChat MWEB (mobile browser)', () => {
  const MWEB = 'http://127.0.0.1:9/sandbox/wxpay/mweb?prepay_id=wx9&package=1';

  test('redirects to mwebUrl with redirect_url back to this page carrying confirmShow and out_trade_no', async () => {
    const t = setup(PHONE_NAV, created('wxpay_mweb', { mwebUrl: MWEB }));
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(t.cloud.callsTo('demo-shop.createRechargeOrder')[0].data.isPC).toBe(false);
    expect(t.location.assigned).toHaveLength(1);
    const target = new URL(t.location.assigned[0]);
    expect(target.searchParams.get('prepay_id')).toBe('wx9');
    expect(target.searchParams.get('redirect_url')).toBe('http://127.0.0.1:9/#/pages/index/index?user=u1&confirmShow=true&out_trade_no=T1');
    expect(t.client.getStatus()).toBe(1);
    expect(t.queries()).toBe(0);
  });

  test('the returnUrl option replaces the current page', async () => {
    const t = setup(PHONE_NAV, created('wxpay_mweb', { mweb_url: MWEB }), { returnUrl: 'https://shop.example/#/pages/done/done' });
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(new URL(t.location.assigned[0]).searchParams.get('redirect_url')).toBe(
      'https://shop.example/#/pages/done/done?confirmShow=true&out_trade_no=T1',
    );
  });

  test('on return: the confirm dialog, then the query → success; the URL is cleaned', async () => {
    const replaced: string[] = [];
    const t = setup(PHONE_NAV, {}, {}, { replaceUrl: (u) => replaced.push(u) });
    t.answers.push(PAID);
    expect(t.client.checkReturn('http://127.0.0.1:9/#/pages/index/index?user=u1&confirmShow=true&out_trade_no=T1')).toBe(true);
    expect(t.uni.modals).toEqual([
      {
        title: MESSAGES.confirmTitle,
        content: MESSAGES.confirmContent,
        confirmText: MESSAGES.confirmOk,
        cancelText: MESSAGES.confirmCancel,
      },
    ]);
    expect(replaced).toEqual(['http://127.0.0.1:9/#/pages/index/index?user=u1']);
    expect(t.client.getStatus()).toBe(1);
    await jest.advanceTimersByTimeAsync(200);
    expect(t.rec.events).toEqual(['success']);
    expect(t.rec.successes[0].out_trade_no).toBe('T1');
  });

  test('on return, "not finished" → cancel (after one query that says unpaid)', async () => {
    const t = setup(PHONE_NAV, {});
    t.uni.modalAnswer = { confirm: false, cancel: true };
    t.client.checkReturn('http://h/#/pages/index/index?confirmShow=true&out_trade_no=T1');
    await jest.advanceTimersByTimeAsync(0);
    expect(t.rec.events).toEqual(['cancel']);
    expect(t.rec.cancels[0].out_trade_no).toBe('T1');
    expect(t.queries()).toBe(1);
  });

  test('on return, "not finished" but the money arrived → success', async () => {
    const t = setup(PHONE_NAV, {});
    t.uni.modalAnswer = { confirm: false, cancel: true };
    t.answers.push(PAID);
    t.client.checkReturn('http://h/#/pages/index/index?confirmShow=true&out_trade_no=T1');
    await jest.advanceTimersByTimeAsync(0);
    expect(t.rec.events).toEqual(['success']);
  });

  test('on return, "finished" but never paid → fail result after the few return ticks', async () => {
    const t = setup(PHONE_NAV, {}, { returnTicks: 3, pollingTime: 1000 });
    t.client.checkReturn('http://h/#/pages/index/index?confirmShow=true&out_trade_no=T1');
    await jest.advanceTimersByTimeAsync(200 + 1000 * 3);
    expect(t.queries()).toBe(3);
    expect(t.rec.events).toEqual(['fail:result']);
    expect(t.rec.fails[0].errMsg).toBe(MESSAGES.notReturnedPaid);
  });

  test('a page without the return parameters is left alone', () => {
    const t = setup(PHONE_NAV, {});
    expect(t.client.checkReturn('http://h/#/pages/index/index?user=u1')).toBe(false);
    expect(t.client.checkReturn('http://h/#/pages/index/index?confirmShow=true')).toBe(false);
    expect(t.uni.modals).toHaveLength(0);
  });
});

describe('WeChat browser (公众号 JSAPI)', () => {
  const JSAPI = { appId: 'wxa', timeStamp: '1700000000', nonceStr: 'n', package: 'prepay_id=wx3', signType: 'RSA', paySign: 's' };

  test.each([
    ['get_brand_wcpay_request:ok', ['create', 'success']],
    ['get_brand_wcpay_request:cancel', ['create', 'cancel']],
    ['get_brand_wcpay_request:fail', ['create', 'fail:request']],
  ])('%s', async (answer, events) => {
    const bridge = new FakeBridge(answer);
    const t = setup(WEIXIN_NAV, created('wxpay_h5-weixin', JSAPI), {}, { getWeixinJSBridge: async () => bridge });
    t.answers.push(PAID);
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay', openid: 'oX' } });
    expect(bridge.invoked).toEqual([{ name: 'getBrandWCPayRequest', params: JSAPI }]);
    await jest.advanceTimersByTimeAsync(200);
    expect(t.rec.events).toEqual(events);
  });

  test('no bridge → fail request', async () => {
    const t = setup(
      WEIXIN_NAV,
      created('wxpay_h5-weixin', JSAPI),
      {},
      { getWeixinJSBridge: () => Promise.reject({ errCode: 'NO_BRIDGE', errMsg: 'WeixinJSBridge not available' }) },
    );
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    expect(t.rec.events).toEqual(['create', 'fail:request']);
    expect(t.rec.fails[0].errMsg).toBe('WeixinJSBridge not available');
  });
});

describe('VksPay', () => {
  test('shows the cashier code and polls', async () => {
    const t = setup(PHONE_NAV, created('vkspay_h5', { codeUrl: 'http://127.0.0.1:9/vks/pay?o=1' }));
    t.answers.push(PAID);
    await t.client.createPayment({ action: SHOP, data: { provider: 'vkspay' } });
    expect(t.rec.codeUrls).toEqual(['http://127.0.0.1:9/vks/pay?o=1']);
    await jest.advanceTimersByTimeAsync(200);
    expect(t.rec.events).toEqual(['create', 'success']);
  });
});

describe('queryPayment()', () => {
  test('paid → success callback; not paid → fail result with an alert; closed → expired', async () => {
    const t = setup(PC_NAV, {});
    t.answers.push(PAID, UNPAID, CLOSED);
    const ok = jest.fn();
    const bad = jest.fn();
    await t.client.queryPayment({ data: { out_trade_no: 'T1' }, success: ok, fail: bad, needAlert: false });
    expect(ok).toHaveBeenCalledWith(expect.objectContaining({ orderPaid: true, out_trade_no: 'T1' }));
    const r2 = await t.client.queryPayment({ data: { out_trade_no: 'T1' }, fail: bad });
    expect(r2).toMatchObject({ failType: 'result', errMsg: MESSAGES.notPaid });
    expect(t.uni.modals.map((m) => m.content)).toEqual([MESSAGES.notPaid]);
    const r3 = await t.client.queryPayment({ data: { out_trade_no: 'T1' }, needAlert: false, title: '查询中' });
    expect(r3).toMatchObject({ expired: true, status: -1 });
    expect(bad).toHaveBeenCalledTimes(1);
    expect(t.uni.loadingShown).toBe(1);
    expect(t.uni.loadingHidden).toBe(1);
  });

  test('a manual query that finds the current QR order paid completes the flow', async () => {
    const t = setup(PC_NAV, created('wxpay_h5', { codeUrl: CODE_URL }), { polling: false });
    await t.client.createPayment({ action: SHOP, data: { provider: 'wxpay' } });
    t.answers.push(PAID);
    await t.client.queryPayment({ data: { out_trade_no: 'T1' } });
    expect(t.rec.events).toEqual(['create', 'success']);
    expect(t.client.getStatus()).toBe(2);
  });
});
