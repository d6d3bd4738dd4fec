/**
 * WeChat mini-program virtual payment (xpay) end to end, through the runtime's HTTP server against
 * the WeChat sandbox peer: wx.login → code2SessionWeixinMP (openid only; the session_key stays on
 * the server) → createPayment (signData, paySig, user signature) → the WeChat client checks both
 * signatures and pays → safe-mode encrypted push to /http/vk-pay/wxpayVirtualNotify → handler once.
 * Forged pushes are refused and write nothing (a push is trusted only after its signature and decryption check out).
 */
import { randomBytes } from 'node:crypto';
import { startTestStack, tradeNo, until, type TestStack, expectUntouched as expectUntouchedIn, CLIENT } from '../helpers/project';
import { WxClientError } from '../../tools/sandbox/wxapi';
import { encryptPushMessage, pushMsgSignature, pushSignature } from '../../uni_modules/vk-uni-pay/server/providers/wxpay-virtual/sign';

const MP = CLIENT.mp;
const PAY_TYPE = 'wxpay-virtual_mp-weixin';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

/** wx.login + code2SessionWeixinMP; returns the openid */
async function login(): Promise<string> {
  const { code, openid } = s.wxapi.login();
  const r = await s.call('vk-pay', 'code2SessionWeixinMP', [{ code }], MP);
  expect(r).toMatchObject({ errCode: 0, openid });
  return openid;
}

type Wv = Record<string, unknown>;
async function create(openid: string | undefined, wxpay_virtual: Wv, total_fee: number, extra: Record<string, unknown> = {}) {
  const no = tradeNo('V');
  const r = await s.createPayment(
    {
      provider: 'wxpay-virtual',
      data: {
        out_trade_no: no,
        total_fee,
        subject: '金币充值',
        type: 'counted',
        openid,
        wxpay_virtual,
        custom: { note: 'xpay' },
        ...extra,
      },
    },
    MP,
  );
  return { no, r };
}

async function coinOrder(openid: string, buy_quantity = 100): Promise<{ no: string; orderInfo: Record<string, any> }> {
  const { no, r } = await create(openid, { mode: 'short_series_coin', buy_quantity }, buy_quantity);
  expect(r).toMatchObject({ errCode: 0, pay_type: PAY_TYPE, out_trade_no: no, total_fee: buy_quantity });
  return { no, orderInfo: r.orderInfo };
}

const pay = (openid: string, orderInfo: Record<string, any>, over: Record<string, unknown> = {}) =>
  s.wxapi.requestVirtualPayment({
    appId: s.wxApp.appId,
    openid,
    signData: orderInfo.signData,
    paySig: orderInfo.paySig,
    signature: orderInfo.signature,
    mode: orderInfo.mode,
    ...over,
  });

async function expectUntouched(no: string) {
  await expectUntouchedIn(s, no);
  // not paid (querying an order never started at WeChat is an xpay error, never "paid")
  expect((await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no }], MP)).orderPaid).not.toBe(true);
}

async function expectPaidOnce(no: string, total_fee: number) {
  const q = await s.call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }], MP);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, status: 1, user_order_success: true });
  const calls = await s.handlerCalls(no);
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({ total_fee, custom_note: 'xpay' });
  expect(await s.order(no)).toMatchObject({ status: 1, handler_attempts: 1, notify_mode: 1 });
}

/** a push as WeChat sends it (safe mode), with knobs to forge it */
function push(
  message: Record<string, unknown>,
  o: { token?: string; aesKey?: string; appId?: string; msgSignature?: string; plain?: boolean; signature?: string } = {},
) {
  const token = o.token ?? s.wxApp.token;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = String(randomBytes(4).readUInt32BE(0));
  const q = new URLSearchParams({ signature: o.signature ?? pushSignature(token, timestamp, nonce), timestamp, nonce });
  let body = JSON.stringify(message);
  if (!o.plain) {
    const encrypt = encryptPushMessage(o.aesKey ?? s.wxApp.encodingAESKey, o.appId ?? s.wxApp.appId, body);
    q.set('encrypt_type', 'aes');
    q.set('msg_signature', o.msgSignature ?? pushMsgSignature(token, timestamp, nonce, encrypt));
    body = JSON.stringify({ ToUserName: 'gh_test', Encrypt: encrypt });
  }
  return { query: q, body };
}

async function post(p: { query: URLSearchParams; body: string }) {
  const res = await fetch(`${s.url}/http/vk-pay/wxpayVirtualNotify?${p.query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: p.body,
  });
  return { status: res.status, body: await res.text() };
}

const acked = (r: { status: number; body: string }) => r.status === 200 && JSON.parse(r.body).ErrCode === 0;

function coinPush(no: string, openid: string, price: number, over: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    ToUserName: 'gh_test',
    FromUserName: openid,
    CreateTime: now,
    MsgType: 'event',
    Event: 'xpay_coin_pay_notify',
    OpenId: openid,
    OutTradeNo: no,
    Env: 0,
    WeChatPayInfo: { MchOrderNo: `WX${now}`, TransactionId: `4200000${now}`, PaidTime: now },
    CoinInfo: { Quantity: price, OrigPrice: price, ActualPrice: price, Attach: no },
    ...over,
  };
}

describe('code2SessionWeixinMP', () => {
  test('returns the openid and never the session_key, which is stored server side', async () => {
    const { code, openid } = s.wxapi.login();
    const r = await s.call('vk-pay', 'code2SessionWeixinMP', [{ code }], MP);
    expect(r).toMatchObject({ errCode: 0, openid });
    const text = JSON.stringify(r);
    const sessionKey = s.wxapi.sessionKeyOf(openid)!;
    expect(sessionKey).toBeTruthy();
    expect(text).not.toMatch(/session_?key/i);
    expect(text).not.toContain(sessionKey);
    const stored = await s.findDocs('vk-pay-sessions', { openid });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ appid: s.wxApp.appId, openid, session_key: sessionKey });
  });

  test('an invalid or reused code is refused without leaking anything', async () => {
    const { code } = s.wxapi.login();
    expect((await s.call('vk-pay', 'code2SessionWeixinMP', [{ code }], MP)).errCode).toBe(0);
    const again = await s.call('vk-pay', 'code2SessionWeixinMP', [{ code }], MP);
    expect(again.errCode).not.toBe(0);
    expect(JSON.stringify(again)).not.toMatch(/session_?key|sandbox-secret/i);
    expect(JSON.stringify(again)).not.toContain(s.wxApp.secret);
    expect((await s.call('vk-pay', 'code2SessionWeixinMP', [{ code: 'bad code!' }], MP)).errCode).not.toBe(0);
  });
});

describe('createPayment validation', () => {
  let openid: string;
  beforeAll(async () => {
    openid = await login();
  });
  const cases: Array<[string, Wv | undefined, number, number]> = [
    ['mode missing', { buy_quantity: 100 }, 100, 1017],
    ['an unknown mode', { mode: 'short_series_diamond', buy_quantity: 100 }, 100, 1017],
    ['no wxpay_virtual at all', undefined, 100, 1017],
    ['buy_quantity 0', { mode: 'short_series_coin', buy_quantity: 0 }, 100, 1018],
    ['buy_quantity 1.5', { mode: 'short_series_coin', buy_quantity: 1.5 }, 100, 1018],
    ['buy_quantity as a string', { mode: 'short_series_coin', buy_quantity: '100' }, 100, 1018],
    ['goods mode without product_id', { mode: 'short_series_goods', buy_quantity: 1, goods_price: 100 }, 100, 1019],
    ['goods mode without goods_price', { mode: 'short_series_goods', buy_quantity: 1, product_id: 'sword' }, 100, 1019],
    [
      'goods mode with a fractional goods_price',
      { mode: 'short_series_goods', buy_quantity: 1, product_id: 'sword', goods_price: 99.5 },
      100,
      1019,
    ],
  ];
  test.each(cases)('%s', async (_n, wv, total_fee, code) => {
    const { no, r } = await create(openid, wv as Wv, total_fee);
    expect(r.errCode).toBe(code);
    expect(r.orderInfo).toBeUndefined();
    const order = await s.order(no);
    if (order) expect(order.status).toBe(0);
  });

  test('total_fee that disagrees with the coins is refused', async () => {
    const { r } = await create(openid, { mode: 'short_series_coin', buy_quantity: 150 }, 100);
    expect(r.errCode).not.toBe(0);
    expect(r.orderInfo).toBeUndefined();
  });

  test('a coin amount that is not a whole number of fen is refused (rate 1000 coins per yuan)', async () => {
    const pid = `pid-xpay-rate-${Date.now()}`;
    await s.addMerchantConfig({ _id: pid, 'wxpay-virtual': { 'mp-weixin': { ...s.config['wxpay-virtual']['mp-weixin'], rate: 1000 } } });
    const bad = await create(openid, { mode: 'short_series_coin', buy_quantity: 15 }, 1, { pid }); // 1.5 fen
    expect(bad.r.errCode).not.toBe(0);
    expect(bad.r.errMsg).toContain('fen');
    expect(bad.r.orderInfo).toBeUndefined();
    const good = await create(openid, { mode: 'short_series_coin', buy_quantity: 20 }, 2, { pid }); // 2 fen
    expect(good.r).toMatchObject({ errCode: 0, total_fee: 2 });
  });

  test('no stored session (never logged in) → 1020', async () => {
    const { r } = await create(`o_never_logged_in_${Date.now()}`, { mode: 'short_series_coin', buy_quantity: 100 }, 100);
    expect(r.errCode).toBe(1020);
    expect(r.orderInfo).toBeUndefined();
  });

  test('time_expire is refused (1013)', async () => {
    const { no, r } = await create(openid, { mode: 'short_series_coin', buy_quantity: 100 }, 100, { time_expire: Date.now() + 3600_000 });
    expect(r.errCode).toBe(1013);
    expect(await s.order(no)).toBeNull();
  });

  test('the client result carries no session_key', async () => {
    const { orderInfo } = await coinOrder(openid);
    expect(JSON.stringify(orderInfo)).not.toContain(s.wxapi.sessionKeyOf(openid)!);
    expect(JSON.stringify(orderInfo)).not.toContain(s.wxApp.appKey);
    expect(Object.keys(orderInfo).sort()).toEqual(['mode', 'paySig', 'signData', 'signature']);
  });
});

describe('pay', () => {
  test('coin mode: the WeChat client pays, the encrypted push is handled once, queryPayment paid', async () => {
    const openid = await login();
    const { no, orderInfo } = await coinOrder(openid, 100);
    expect(typeof orderInfo.signData).toBe('string');
    expect(JSON.parse(orderInfo.signData)).toMatchObject({
      offerId: s.wxApp.offerId,
      buyQuantity: 100,
      env: 0,
      currencyType: 'CNY',
      outTradeNo: no,
    });
    await pay(openid, orderInfo);
    const d = await s.wxapi.waitForDelivery(no, 15_000);
    expect(d.url).toContain('encrypt_type=aes');
    expect(JSON.parse(d.lastReply!)).toEqual({ ErrCode: 0, ErrMsg: 'success' });
    await expectPaidOnce(no, 100);
    expect(await s.order(no)).toMatchObject({ transaction_id: s.wxapi.orders.get(`${s.wxApp.appId}|${no}`)!.transaction_id, openid });
  });

  test('goods mode: xpay_goods_deliver_notify is handled once', async () => {
    const openid = await login();
    const { no, r } = await create(openid, { mode: 'short_series_goods', buy_quantity: 2, product_id: 'sword_01', goods_price: 300 }, 600);
    expect(r).toMatchObject({ errCode: 0, total_fee: 600 });
    expect(JSON.parse(r.orderInfo.signData)).toMatchObject({ productId: 'sword_01', goodsPrice: 300, buyQuantity: 2 });
    await pay(openid, r.orderInfo);
    await s.wxapi.waitForDelivery(no, 15_000);
    await expectPaidOnce(no, 600);
  });

  test('a tampered paySig is refused by the WeChat client; nothing is paid', async () => {
    const openid = await login();
    const { no, orderInfo } = await coinOrder(openid);
    const bad = orderInfo.paySig.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    await expect(pay(openid, orderInfo, { paySig: bad })).rejects.toMatchObject({ errCode: -15005 });
    await expect(pay(openid, orderInfo, { paySig: bad })).rejects.toBeInstanceOf(WxClientError);
    // signData changed after signing (cheaper quantity) is refused too
    const cheaper = orderInfo.signData.replace('"buyQuantity":100', '"buyQuantity":1');
    await expect(pay(openid, orderInfo, { signData: cheaper })).rejects.toMatchObject({ errCode: -15005 });
    expect(s.wxapi.orders.has(`${s.wxApp.appId}|${no}`)).toBe(false);
    await expectUntouched(no);
  });

  test('an order signed for one user cannot be paid as another user', async () => {
    const alice = await login();
    const bob = await login();
    const { no, orderInfo } = await coinOrder(alice);
    await expect(pay(bob, orderInfo)).rejects.toMatchObject({ errCode: -15005 });
    await expectUntouched(no);
  });

  test('duplicate pushes (sequential and 10 in parallel) run the handler once', async () => {
    const openid = await login();
    const { no, orderInfo } = await coinOrder(openid);
    await pay(openid, orderInfo);
    await s.wxapi.waitForDelivery(no, 15_000);
    const paid = s.wxapi.orders.get(`${s.wxApp.appId}|${no}`)!;
    const msg = coinPush(no, openid, 100, {
      WeChatPayInfo: { MchOrderNo: paid.wx_order_id, TransactionId: paid.transaction_id, PaidTime: paid.paid_time },
    });
    const replies = await Promise.all(Array.from({ length: 10 }, () => post(push(msg))));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(acked(await post(push(msg)))).toBe(true);
    await expectPaidOnce(no, 100);
  });

  test('duplicate pushes racing on an order paid only now run the handler once', async () => {
    const openid = await login();
    const { no, orderInfo } = await coinOrder(openid);
    // WeChat paid, but its own push is lost: the pushes below are the only ones
    s.wxapi.setPushUrl(s.wxApp.appId, ''); // no push URL configured: WeChat pushes nothing
    try {
      await pay(openid, orderInfo);
    } finally {
      s.wxapi.setPushUrl(s.wxApp.appId, `${s.url}/http/vk-pay/wxpayVirtualNotify`);
    }
    const paid = s.wxapi.orders.get(`${s.wxApp.appId}|${no}`)!;
    const msg = coinPush(no, openid, 100, {
      WeChatPayInfo: { MchOrderNo: paid.wx_order_id, TransactionId: paid.transaction_id, PaidTime: paid.paid_time },
    });
    const replies = await Promise.all(Array.from({ length: 10 }, () => post(push(msg))));
    expect(replies.some(acked)).toBe(true);
    await until(async () => acked(await post(push(msg))));
    await expectPaidOnce(no, 100);
  });
});

describe('message push URL', () => {
  test('GET echostr handshake answered with echostr; a wrong signature refused', async () => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = '486452656';
    const echostr = `echo${Date.now()}`;
    const ok = await fetch(
      `${s.url}/http/vk-pay/wxpayVirtualNotify?${new URLSearchParams({ signature: pushSignature(s.wxApp.token, timestamp, nonce), timestamp, nonce, echostr })}`,
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(echostr);
    const bad = await fetch(
      `${s.url}/http/vk-pay/wxpayVirtualNotify?${new URLSearchParams({ signature: pushSignature('wrong-token', timestamp, nonce), timestamp, nonce, echostr })}`,
    );
    expect(await bad.text()).not.toBe(echostr);
    const none = await fetch(`${s.url}/http/vk-pay/wxpayVirtualNotify?${new URLSearchParams({ timestamp, nonce, echostr })}`);
    expect(await none.text()).not.toBe(echostr);
  });

  const forged: Array<[string, (no: string, openid: string) => ReturnType<typeof push>]> = [
    ['a wrong URL signature (another token)', (no, openid) => push(coinPush(no, openid, 100), { token: 'not-the-token' })],
    ['a wrong msg_signature', (no, openid) => push(coinPush(no, openid, 100), { msgSignature: pushSignature(s.wxApp.token, '1', '2') })],
    [
      'encrypted with another EncodingAESKey',
      (no, openid) => push(coinPush(no, openid, 100), { aesKey: randomBytes(32).toString('base64').slice(0, 43) }),
    ],
    ['a push for another appid', (no, openid) => push(coinPush(no, openid, 100), { appId: 'wx9999999999999999' })],
    ['a different amount', (no, openid) => push(coinPush(no, openid, 1))],
    ['the sandbox env on a production config', (no, openid) => push(coinPush(no, openid, 100, { Env: 1 }))],
    ['a body that is not JSON', () => ({ ...push({}), body: '<xml><Encrypt>x</Encrypt></xml>' })],
  ];
  test.each(forged)('refused, nothing written: %s', async (_n, make) => {
    const openid = await login();
    const { no } = await coinOrder(openid);
    const r = await post(make(no, openid));
    expect(acked(r)).toBe(false);
    await expectUntouched(no);
  });

  // regression: non-payment pushes must be acknowledged, or WeChat redelivers them for hours
  test('a genuine non-payment push (xpay_complaint_notify) is acknowledged', async () => {
    const r = await post(
      push({ ToUserName: 'gh_test', MsgType: 'event', Event: 'xpay_complaint_notify', CreateTime: Math.floor(Date.now() / 1000) }),
    );
    expect(acked(r)).toBe(true);
  });

  test('a signed push for an unknown order is refused and creates nothing', async () => {
    const no = tradeNo('U');
    const r = await post(push(coinPush(no, 'o-x', 100)));
    expect(acked(r)).toBe(false);
    expect(await s.order(no)).toBeNull();
    expect(await s.handlerCalls(no)).toHaveLength(0);
  });

  // regression: in plaintext mode the URL signature covers only token/timestamp/nonce, never the
  // body, so a seen push URL replayed with a made-up body must not pay anything
  test('a replayed URL signature with a plaintext body (no encrypt_type) cannot pay an order', async () => {
    const openid = await login();
    const { no } = await coinOrder(openid);
    // an attacker who saw one genuine push URL keeps its signature/timestamp/nonce (they do not cover the body)
    const genuine = push({ MsgType: 'event', Event: 'user_enter_tempsession' });
    const q = new URLSearchParams({
      signature: genuine.query.get('signature')!,
      timestamp: genuine.query.get('timestamp')!,
      nonce: genuine.query.get('nonce')!,
    });
    const r = await post({ query: q, body: JSON.stringify(coinPush(no, openid, 100)) });
    expect(acked(r)).toBe(false);
    await expectUntouched(no);
  });
});

describe('notifyProvideGoods (server API with pay_sig)', () => {
  test('a delivery push that never arrived is pushed again on request: handler once', async () => {
    const openid = await login();
    const { no, orderInfo } = await coinOrder(openid);
    s.wxapi.setPushUrl(s.wxApp.appId, 'http://127.0.0.1:9/lost'); // WeChat cannot reach us
    await pay(openid, orderInfo);
    await new Promise((r) => setTimeout(r, 300));
    expect(await s.order(no)).toMatchObject({ status: 0 });
    s.wxapi.setPushUrl(s.wxApp.appId, `${s.url}/http/vk-pay/wxpayVirtualNotify`);
    const r = await s.call('test-shop', 'notifyProvideGoods', [{ out_trade_no: no }]);
    expect(r.result).toMatchObject({ code: 0, out_trade_no: no });
    expect(s.wxapi.calls.some((c) => c.path === '/xpay/notify_provide_goods' && c.errcode === 0)).toBe(true);
    await s.wxapi.waitForDelivery(no, 10_000);
    await new Promise((r2) => setTimeout(r2, 300));
    expect(await s.order(no)).toMatchObject({ status: 1, user_order_success: true });
    expect(await s.handlerCalls(no)).toHaveLength(1);
    // asking again re-pushes, and the gate still runs the handler only once
    await s.call('test-shop', 'notifyProvideGoods', [{ out_trade_no: no }]);
    await new Promise((r2) => setTimeout(r2, 300));
    expect(await s.handlerCalls(no)).toHaveLength(1);
  });

  test('only for virtual-payment orders', async () => {
    const no = `W${Date.now()}`;
    await s.createPayment(
      { provider: 'wxpay', isPC: true, data: { out_trade_no: no, total_fee: 1, subject: 's', type: 'counted' } },
      { uniPlatform: 'web' },
    );
    expect((await s.call('test-shop', 'notifyProvideGoods', [{ out_trade_no: no }])).result).toMatchObject({ code: 3005 });
  });
});
