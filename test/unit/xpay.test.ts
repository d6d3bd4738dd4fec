import {
  userSignature,
  virtualPaySig,
  apiPaySig,
  pushSignature,
  pushMsgSignature,
  encryptPushMessage,
  decryptPushMessage,
  buildSignData,
  virtualAmountFen,
  wxpayVirtualAdapter,
  xpayOrderState,
  WxpayVirtualConfig,
} from '../../uni_modules/vk-uni-pay/server/providers/wxpay-virtual';
import type { CreateOrderInput, ProviderContext, RawHttpRequest } from '../../uni_modules/vk-uni-pay/server/providers/types';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { PayError } from '../../uni_modules/vk-uni-pay/server/core/errors';

const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const APPID = 'wx1234567890abcdef';

function errKey(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PayError);
    return (e as PayError).key;
  }
  throw new Error('expected a PayError');
}
async function rejKey(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PayError);
    return (e as PayError).key;
  }
  throw new Error('expected a rejection');
}

describe('xpay signatures (vectors from the official documentation)', () => {
  test('user signature: mini-game doc vector (session_key used as its base64 text)', () => {
    expect(userSignature('o0q0otL8aEzpcZL/FT9WsQ==', '{"foo":"bar"}')).toBe(
      '654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b',
    );
  });

  test('paySig = HMAC-SHA256(AppKey, "requestVirtualPayment&" + signData) (vector computed with Python hmac)', () => {
    const sd = '{"offerId":"1450000001","buyQuantity":300,"env":0,"currencyType":"CNY","outTradeNo":"VKORDER0001","attach":"VKORDER0001"}';
    expect(virtualPaySig('AppKey-prod-0123456789', sd)).toBe('7317558ae9bbf1bf2072062f02ea4ed75cd974fefc8e27c5d971ffb391bafd5f');
    // one byte more whitespace in signData → another signature
    expect(virtualPaySig('AppKey-prod-0123456789', sd.replace(':300', ': 300'))).not.toBe(
      '7317558ae9bbf1bf2072062f02ea4ed75cd974fefc8e27c5d971ffb391bafd5f',
    );
  });

  test('server API pay_sig = HMAC-SHA256(AppKey, uri + "&" + body)', () => {
    expect(apiPaySig('AppKey-prod-0123456789', '/xpay/query_order', '{"openid":"oUser1","env":0,"order_id":"VKORDER0001"}')).toBe(
      '9be9913428ddf824e2fdba6353b14cbe051138f03895f7aa15c7446e6fa2c6fe',
    );
  });

  test('push URL signature: sha1(sort([token, timestamp, nonce])) vector', () => {
    expect(pushSignature('AAAAA', '1714037059', '486452656')).toBe('899cf89e464efb63f54ddac96b0a0a235f53aa78');
  });

  test('AES push encryption matches an openssl-computed ciphertext and round-trips', () => {
    const msg = '{"Event":"xpay_coin_pay_notify"}';
    const expected =
      'gdMKu9O/zqaXEdvZuG7ST/+Gxt5sXUYJBDPGP+jWaXEhXjjIJdaJ7gbvFeuOrR8AabLYYwkEfnkIaZ89jcgIbWmu2wzA0hBz+ck4HBzqdNTbUeK3QRGP52Jrv1NyI2H+';
    expect(encryptPushMessage(AES_KEY, APPID, msg, Buffer.alloc(16, 'R'))).toBe(expected);
    expect(pushMsgSignature('tok', '1714037059', '486452656', expected)).toBe('157d9a407ce3544ca5e36d4a8b04df89a2ee3c7b');
    expect(decryptPushMessage(AES_KEY, expected)).toEqual({ message: msg, appId: APPID });
    const random = encryptPushMessage(AES_KEY, APPID, 'x'.repeat(1000));
    expect(decryptPushMessage(AES_KEY, random)).toEqual({ message: 'x'.repeat(1000), appId: APPID });
  });

  test('tampered ciphertext or another key fails to decrypt', () => {
    const enc = encryptPushMessage(AES_KEY, APPID, '{"a":1}', Buffer.alloc(16, 7)); // fixed: deterministic garbage
    const buf = Buffer.from(enc, 'base64');
    buf[buf.length - 1] ^= 0x01; // breaks the padding block
    expect(errKey(() => decryptPushMessage(AES_KEY, buf.toString('base64')))).toBe('NOTIFY_DECRYPT_FAILED');
    expect(errKey(() => decryptPushMessage('Z' + AES_KEY.slice(1), enc))).toBe('NOTIFY_DECRYPT_FAILED');
    expect(errKey(() => decryptPushMessage('short', enc))).toBe('CONFIG_KEY_INVALID');
  });
});

describe('signData and amounts', () => {
  test('signData is byte-exact, fixed key order, goods fields only in goods mode', () => {
    expect(buildSignData({ offerId: '1450000001', buyQuantity: 300, env: 0, outTradeNo: 'VKORDER0001', attach: 'VKORDER0001' })).toBe(
      '{"offerId":"1450000001","buyQuantity":300,"env":0,"currencyType":"CNY","outTradeNo":"VKORDER0001","attach":"VKORDER0001"}',
    );
    expect(
      buildSignData({
        offerId: 'o',
        buyQuantity: 2,
        env: 1,
        productId: 'sword',
        goodsPrice: 600,
        outTradeNo: 'VKORDER0002',
        attach: 'a"b',
      }),
    ).toBe(
      '{"offerId":"o","buyQuantity":2,"env":1,"currencyType":"CNY","productId":"sword","goodsPrice":600,"outTradeNo":"VKORDER0002","attach":"a\\"b"}',
    );
  });

  test('coin mode: rate (coins per yuan) must give whole fen', () => {
    expect(virtualAmountFen({ mode: 'short_series_coin', buy_quantity: 300 }, {}).total_fee).toBe(300);
    expect(virtualAmountFen({ mode: 'short_series_coin', buy_quantity: 30 }, { rate: 10 }).total_fee).toBe(300);
    expect(virtualAmountFen({ mode: 'short_series_coin', buy_quantity: 30 }, { rate: 1000 }).total_fee).toBe(3);
    expect(errKey(() => virtualAmountFen({ mode: 'short_series_coin', buy_quantity: 7 }, { rate: 1000 }))).toBe('FIELD_INVALID');
    expect(errKey(() => virtualAmountFen({ mode: 'short_series_coin', buy_quantity: 1 }, { rate: 0 }))).toBe('CONFIG_FIELD_MISSING');
  });

  test('goods mode and input validation', () => {
    expect(virtualAmountFen({ mode: 'short_series_goods', buy_quantity: 3, product_id: 'sword', goods_price: 600 }, {}).total_fee).toBe(
      1800,
    );
    expect(errKey(() => virtualAmountFen({ mode: 'short_series_goods', buy_quantity: 3, goods_price: 600 }, {}))).toBe(
      'VIRTUAL_GOODS_INVALID',
    );
    expect(errKey(() => virtualAmountFen({ mode: 'short_series_goods', buy_quantity: 3, product_id: 'x', goods_price: 6.5 }, {}))).toBe(
      'VIRTUAL_GOODS_INVALID',
    );
    expect(errKey(() => virtualAmountFen({ mode: 'coin', buy_quantity: 3 }, {}))).toBe('VIRTUAL_MODE_INVALID');
    expect(errKey(() => virtualAmountFen(undefined, {}))).toBe('VIRTUAL_MODE_INVALID');
    expect(errKey(() => virtualAmountFen({ mode: 'short_series_coin', buy_quantity: 0 }, {}))).toBe('VIRTUAL_QUANTITY_INVALID');
    expect(errKey(() => virtualAmountFen({ mode: 'short_series_coin', buy_quantity: '3' }, {}))).toBe('VIRTUAL_QUANTITY_INVALID');
  });

  test('query_order status mapping', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 99].map(xpayOrderState)).toEqual([
      'NOTPAY',
      'NOTPAY',
      'PAID',
      'PAID',
      'PAID',
      'REFUND',
      'CLOSED',
      'PAID',
      'REFUND',
      'ERROR',
    ]);
  });
});

describe('adapter (offline)', () => {
  const config: WxpayVirtualConfig = {
    appId: APPID,
    secret: 's',
    offerId: '1450000001',
    appKey: 'AppKey-prod-0123456789',
    sandboxAppKey: 'AppKey-sbx',
    token: 'tok',
    encodingAESKey: AES_KEY,
  };
  const ctx = (over: Partial<WxpayVirtualConfig> = {}): ProviderContext<WxpayVirtualConfig> => ({
    config: { ...config, ...over },
    http: { request: () => Promise.reject(new Error('no HTTP expected')) },
    clock: { now: () => Date.now() },
    cache: memoryCache(),
  });
  const input = (extra: Record<string, unknown>, over: Partial<CreateOrderInput> = {}): CreateOrderInput => ({
    payType: 'wxpay-virtual_mp-weixin',
    platformKey: 'mp-weixin',
    out_trade_no: 'VKORDER0001',
    total_fee: 300,
    subject: 'coins',
    openid: 'oUser1',
    notify_url: 'x',
    client_ip: '1.1.1.1',
    needQRcode: false,
    other: {},
    extra,
    ...over,
  });

  test('createOrder: paySig and signature over the returned signData; session_key never returned', async () => {
    const sk = 'o0q0otL8aEzpcZL/FT9WsQ==';
    const r = await wxpayVirtualAdapter.createOrder(
      input({ wxpay_virtual: { mode: 'short_series_coin', buy_quantity: 300 }, session_key: sk }),
      ctx(),
    );
    const oi = r.orderInfo as Record<string, string>;
    expect(oi.signData).toBe(
      '{"offerId":"1450000001","buyQuantity":300,"env":0,"currencyType":"CNY","outTradeNo":"VKORDER0001","attach":"VKORDER0001"}',
    );
    expect(oi.paySig).toBe('7317558ae9bbf1bf2072062f02ea4ed75cd974fefc8e27c5d971ffb391bafd5f');
    expect(oi.signature).toBe(userSignature(sk, oi.signData));
    expect(oi.mode).toBe('short_series_coin');
    expect(JSON.stringify(r)).not.toContain(sk);
    // sandbox: env 1 and the sandbox AppKey
    const s = (
      await wxpayVirtualAdapter.createOrder(
        input({ wxpay_virtual: { mode: 'short_series_coin', buy_quantity: 300 }, session_key: sk }),
        ctx({ sandbox: true }),
      )
    ).orderInfo as Record<string, string>;
    expect(JSON.parse(s.signData).env).toBe(1);
    expect(s.paySig).toBe(virtualPaySig('AppKey-sbx', s.signData));
  });

  test('createOrder refuses amount mismatch, missing session_key, bad out_trade_no, time_expire', async () => {
    const wv = { mode: 'short_series_coin', buy_quantity: 300 };
    expect(await rejKey(wxpayVirtualAdapter.createOrder(input({ wxpay_virtual: wv, session_key: 'k' }, { total_fee: 301 }), ctx()))).toBe(
      'FIELD_INVALID',
    );
    expect(await rejKey(wxpayVirtualAdapter.createOrder(input({ wxpay_virtual: wv }), ctx()))).toBe('SESSION_KEY_MISSING');
    expect(
      await rejKey(wxpayVirtualAdapter.createOrder(input({ wxpay_virtual: wv, session_key: 'k' }, { out_trade_no: '_short' }), ctx())),
    ).toBe('FIELD_INVALID');
    expect(
      await rejKey(
        wxpayVirtualAdapter.createOrder(input({ wxpay_virtual: wv, session_key: 'k' }, { time_expire: Date.now() + 600_000 }), ctx()),
      ),
    ).toBe('TIME_EXPIRE_UNSUPPORTED');
    expect(await rejKey(wxpayVirtualAdapter.createOrder(input({ wxpay_virtual: wv, session_key: 'k' }), ctx({ appKey: '' })))).toBe(
      'CONFIG_FIELD_MISSING',
    );
  });

  const push = (message: object, opts: { appId?: string; token?: string; tamper?: boolean; plain?: boolean } = {}): RawHttpRequest => {
    const timestamp = '1714037059';
    const nonce = '486452656';
    const token = opts.token ?? 'tok';
    const query: Record<string, string> = { signature: pushSignature(token, timestamp, nonce), timestamp, nonce };
    if (opts.plain) return { method: 'POST', path: '/', headers: {}, query, body: Buffer.from(JSON.stringify(message)) };
    let enc = encryptPushMessage(AES_KEY, opts.appId ?? APPID, JSON.stringify(message));
    query.encrypt_type = 'aes';
    query.msg_signature = pushMsgSignature(token, timestamp, nonce, enc);
    if (opts.tamper) enc = encryptPushMessage(AES_KEY, APPID, JSON.stringify({ ...message, OutTradeNo: 'OTHER00001' }));
    return { method: 'POST', path: '/', headers: {}, query, body: Buffer.from(JSON.stringify({ ToUserName: 'gh_x', Encrypt: enc })) };
  };
  const goods = {
    Event: 'xpay_goods_deliver_notify',
    MsgType: 'event',
    OpenId: 'oUser1',
    OutTradeNo: 'VKORDER0002',
    Env: 0,
    WeChatPayInfo: { MchOrderNo: 'WX1', TransactionId: '4200001', PaidTime: 1714037000 },
    GoodsInfo: { ProductId: 'sword', Quantity: 2, OrigPrice: 1200, ActualPrice: 1200, Attach: 'a' },
  };

  test('encrypted deliver push → payment event', async () => {
    const ev = await wxpayVirtualAdapter.verifyNotify(push(goods), ctx());
    expect(ev).toMatchObject({
      kind: 'payment',
      out_trade_no: 'VKORDER0002',
      transaction_id: '4200001',
      total_fee: 1200,
      paid: true,
      openid: 'oUser1',
      pay_date: 1714037000000,
      appid: APPID,
    });
  });

  test('wrong appid, tampered Encrypt, wrong token, wrong Env are refused', async () => {
    expect(await rejKey(wxpayVirtualAdapter.verifyNotify(push(goods, { appId: 'wxOTHERAPP000000' }), ctx()))).toBe('NOTIFY_MISMATCH');
    expect(await rejKey(wxpayVirtualAdapter.verifyNotify(push(goods, { tamper: true }), ctx()))).toBe('NOTIFY_SIGNATURE_INVALID');
    expect(await rejKey(wxpayVirtualAdapter.verifyNotify(push(goods, { token: 'other' }), ctx()))).toBe('NOTIFY_SIGNATURE_INVALID');
    expect(await rejKey(wxpayVirtualAdapter.verifyNotify(push({ ...goods, Env: 1 }), ctx()))).toBe('NOTIFY_MISMATCH');
  });

  test('plaintext push, refund push, other events, echostr challenge, replies', async () => {
    const coin = {
      ...goods,
      Event: 'xpay_coin_pay_notify',
      GoodsInfo: undefined,
      CoinInfo: { Quantity: 300, OrigPrice: 300, ActualPrice: 300 },
    };
    // safe mode configured: a plaintext push (its body is not covered by any signature) is refused
    await expect(wxpayVirtualAdapter.verifyNotify(push(coin, { plain: true }), ctx())).rejects.toMatchObject({
      key: 'NOTIFY_SIGNATURE_INVALID',
    });
    // plaintext mode: only a hint, which the service must confirm with query_order
    const plainCtx = { ...ctx(), config: { ...ctx().config, encodingAESKey: undefined } };
    await expect(wxpayVirtualAdapter.verifyNotify(push(coin, { plain: true }), plainCtx)).resolves.toEqual({
      kind: 'hint',
      out_trade_no: coin.OutTradeNo,
    });
    await expect(
      wxpayVirtualAdapter.verifyNotify(
        push({ Event: 'xpay_refund_notify', MchOrderId: 'VKORDER0002', MchRefundId: 'R0000001', RefundFee: 100, RetCode: 0 }),
        ctx(),
      ),
    ).resolves.toMatchObject({ kind: 'refund', out_trade_no: 'VKORDER0002', out_refund_no: 'R0000001', refund_fee: 100, state: 'SUCCESS' });
    // a failed refund is a final state too (before: ignored, and the refund stayed PROCESSING)
    await expect(
      wxpayVirtualAdapter.verifyNotify(
        push({ Event: 'xpay_refund_notify', MchOrderId: 'VKORDER0002', MchRefundId: 'R0000002', RefundFee: 100, RetCode: 1 }),
        ctx(),
      ),
    ).resolves.toMatchObject({ kind: 'refund', out_refund_no: 'R0000002', state: 'FAIL', info: { refund_status: 'RetCode 1' } });
    await expect(wxpayVirtualAdapter.verifyNotify(push({ Event: 'xpay_complaint_notify' }), ctx())).resolves.toMatchObject({
      kind: 'ignore',
    });
    const challenge = await wxpayVirtualAdapter.verifyNotify(
      {
        method: 'GET',
        path: '/',
        headers: {},
        body: Buffer.alloc(0),
        query: { signature: pushSignature('tok', '1', '2'), timestamp: '1', nonce: '2', echostr: 'hello123' },
      },
      ctx(),
    );
    expect(challenge).toMatchObject({ kind: 'challenge', reply: { statusCode: 200, body: 'hello123' } });
    expect(
      await rejKey(
        wxpayVirtualAdapter.verifyNotify(
          {
            method: 'GET',
            path: '/',
            headers: {},
            body: Buffer.alloc(0),
            query: { signature: 'bad', timestamp: '1', nonce: '2', echostr: 'x' },
          },
          ctx(),
        ),
      ),
    ).toBe('NOTIFY_SIGNATURE_INVALID');
    expect(JSON.parse(wxpayVirtualAdapter.notifyReply(true).body)).toEqual({ ErrCode: 0, ErrMsg: 'success' });
    expect(JSON.parse(wxpayVirtualAdapter.notifyReply(false).body).ErrCode).not.toBe(0);
  });
});
