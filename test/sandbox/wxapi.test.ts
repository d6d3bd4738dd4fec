import { randomBytes } from 'node:crypto';
import { startWxApiSandbox, WxApiSandbox, WxClientError } from '../../tools/sandbox/wxapi';
import { startLoopbackServer, nodeTransport, LoopbackServer } from '../../tools/sandbox/loopback';
import {
  wxpayVirtualAdapter,
  code2Session,
  notifyProvideGoods,
  apiPaySig,
  WxpayVirtualConfig,
} from '../../uni_modules/vk-uni-pay/server/providers/wxpay-virtual';
import type { CreateOrderInput, NotifyEvent, ProviderContext } from '../../uni_modules/vk-uni-pay/server/providers/types';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { PayError } from '../../uni_modules/vk-uni-pay/server/core/errors';

const app = {
  appId: 'wx00112233445566aa',
  secret: 'app-secret-xyz',
  appKey: 'appkey-prod-' + randomBytes(8).toString('hex'),
  sandboxAppKey: 'appkey-sbx-' + randomBytes(8).toString('hex'),
  offerId: '1450012345',
  token: 'pushToken' + randomBytes(4).toString('hex'),
  encodingAESKey: randomBytes(32).toString('base64').slice(0, 43),
};

let wx: WxApiSandbox;
let plugin: LoopbackServer;
const events: NotifyEvent[] = [];
let failNextPushes = 0;
let ctx: ProviderContext<WxpayVirtualConfig>;

beforeAll(async () => {
  wx = await startWxApiSandbox({ apps: [app] });
  ctx = {
    config: { ...app, sandbox: true, rate: 100, apiBase: wx.url },
    http: nodeTransport(),
    clock: { now: () => Date.now() },
    cache: memoryCache(),
  };
  // the plugin's message-push route, backed by the adapter
  plugin = await startLoopbackServer(async (req) => {
    try {
      const ev = await wxpayVirtualAdapter.verifyNotify(
        { method: req.method, path: req.path, headers: req.headers, query: req.query, body: req.body },
        ctx,
      );
      if (failNextPushes > 0) {
        failNextPushes--;
        const r = wxpayVirtualAdapter.notifyReply(false, 'busy');
        return { status: r.statusCode, headers: r.headers, body: r.body };
      }
      events.push(ev);
      const r = ev.kind === 'challenge' ? ev.reply : wxpayVirtualAdapter.notifyReply(true);
      return { status: r.statusCode, headers: r.headers, body: r.body };
    } catch (e) {
      const r = wxpayVirtualAdapter.notifyReply(false, (e as PayError).key);
      return { status: r.statusCode, headers: r.headers, body: r.body };
    }
  });
  wx.setPushUrl(app.appId, `${plugin.url}/vk-pay-notify/wxpay-virtual`);
});
afterAll(async () => {
  await wx.close();
  await plugin.close();
});

const base = (out_trade_no: string, total_fee: number, openid: string, extra: Record<string, unknown>): CreateOrderInput => ({
  payType: 'wxpay-virtual_mp-weixin',
  platformKey: 'mp-weixin',
  out_trade_no,
  total_fee,
  subject: 'x',
  openid,
  notify_url: 'n',
  client_ip: '127.0.0.1',
  needQRcode: false,
  other: {},
  extra,
});
const orderNo = () => `VK${Date.now()}${randomBytes(3).toString('hex')}`;

test('code2Session → createOrder → requestVirtualPayment → encrypted push verified by verifyNotify → query_order PAID', async () => {
  const { code, openid } = wx.login();
  const s = await code2Session(code, ctx);
  expect(s.openid).toBe(openid);
  expect(s.session_key).toBe(wx.sessionKeyOf(openid));
  // codes are single use
  await expect(code2Session(code, ctx)).rejects.toMatchObject({ key: 'GATEWAY_ERROR' });

  const out = orderNo();
  const r = await wxpayVirtualAdapter.createOrder(
    base(out, 1800, openid, {
      wxpay_virtual: { mode: 'short_series_goods', buy_quantity: 3, product_id: 'sword', goods_price: 600 },
      session_key: s.session_key,
    }),
    ctx,
  );
  const oi = r.orderInfo as { signData: string; paySig: string; signature: string; mode: string };
  failNextPushes = 1; // first push refused → peer retries
  await wx.requestVirtualPayment({ appId: app.appId, openid, ...oi });
  const d = await wx.waitForDelivery(out);
  expect(d.attempts).toBe(2);
  expect(d.url).toContain('encrypt_type=aes');
  const ev = events.find((e) => e.kind === 'payment' && e.out_trade_no === out);
  expect(ev).toMatchObject({ kind: 'payment', total_fee: 1800, paid: true, openid, appid: app.appId });

  const q = await wxpayVirtualAdapter.queryOrder({ out_trade_no: out, openid } as { out_trade_no: string }, ctx);
  expect(q).toMatchObject({ state: 'PAID', out_trade_no: out, total_fee: 1800 });

  // refund → PROCESSING, then the refund push arrives
  const rf = await wxpayVirtualAdapter.refund!(
    { out_trade_no: out, out_refund_no: `R${out}`.slice(0, 32), total_fee: 1800, refund_fee: 600, openid } as never,
    ctx,
  );
  expect(rf).toMatchObject({ state: 'PROCESSING', refund_fee: 600 });
  await wx.waitForDelivery(`refund:R${out}`.slice(0, 39));
  expect(events.some((e) => e.kind === 'refund' && e.out_trade_no === out && e.refund_fee === 600)).toBe(true);

  await notifyProvideGoods({ out_trade_no: out }, ctx);
});

test('coin top-up with the wrong session_key or a tampered signData is refused by the client', async () => {
  const { code, openid } = wx.login();
  const s = await code2Session(code, ctx);
  const out = orderNo();
  const oi = (
    await wxpayVirtualAdapter.createOrder(
      base(out, 300, openid, { wxpay_virtual: { mode: 'short_series_coin', buy_quantity: 300 }, session_key: s.session_key }),
      ctx,
    )
  ).orderInfo as { signData: string; paySig: string; signature: string; mode: string };
  const forged = oi.signData.replace('"buyQuantity":300', '"buyQuantity":30000');
  await expect(wx.requestVirtualPayment({ appId: app.appId, openid, ...oi, signData: forged })).rejects.toMatchObject({ errCode: -15005 });
  const other = wx.login();
  await code2Session(other.code, ctx);
  await expect(wx.requestVirtualPayment({ appId: app.appId, openid: other.openid, ...oi })).rejects.toBeInstanceOf(WxClientError);
  expect(wx.orders.has(`${app.appId}|${out}`)).toBe(false);
  // the genuine one passes and is delivered as a coin push
  await wx.requestVirtualPayment({ appId: app.appId, openid, ...oi });
  await wx.waitForDelivery(out);
  expect(events.find((e) => e.kind === 'payment' && e.out_trade_no === out)).toMatchObject({
    total_fee: 300,
    info: { event: 'xpay_coin_pay_notify' },
  });
});

test('bad pay_sig is refused by the peer (268490003) and unknown orders are errors, not PAID', async () => {
  const token = (await ctx.cache.get<string>(`wxpay-virtual:access_token:${app.appId}`))!;
  expect(token).toBeTruthy();
  const body = JSON.stringify({ env: 1, order_id: 'VKNOPE0001' });
  const http = nodeTransport();
  const bad = await http.request({
    method: 'POST',
    url: `${wx.url}/xpay/query_order?access_token=${token}&pay_sig=${apiPaySig('wrong-key', '/xpay/query_order', body)}`,
    body,
  });
  expect(JSON.parse(bad.body.toString()).errcode).toBe(268490003);
  // signing with the production AppKey for an env=1 body is also a bad signature
  const prodKey = await http.request({
    method: 'POST',
    url: `${wx.url}/xpay/query_order?access_token=${token}&pay_sig=${apiPaySig(app.appKey, '/xpay/query_order', body)}`,
    body,
  });
  expect(JSON.parse(prodKey.body.toString()).errcode).toBe(268490003);
  const good = await http.request({
    method: 'POST',
    url: `${wx.url}/xpay/query_order?access_token=${token}&pay_sig=${apiPaySig(app.sandboxAppKey, '/xpay/query_order', body)}`,
    body,
  });
  expect(JSON.parse(good.body.toString()).errcode).toBe(268490002);
  await expect(wxpayVirtualAdapter.queryOrder({ out_trade_no: 'VKNOPE0001' }, ctx)).rejects.toMatchObject({ key: 'GATEWAY_ERROR' });
  // the adapter with a wrong AppKey is refused the same way
  await expect(
    wxpayVirtualAdapter.queryOrder({ out_trade_no: 'VKNOPE0001' }, { ...ctx, config: { ...ctx.config, sandboxAppKey: 'wrong' } }),
  ).rejects.toMatchObject({ detail: { errcode: 268490003 } });
});

test('an expired access token is refreshed once', async () => {
  await ctx.cache.set(`wxpay-virtual:access_token:${app.appId}`, 'AT_stale', 60_000);
  await expect(wxpayVirtualAdapter.queryOrder({ out_trade_no: 'VKNOPE0001' }, ctx)).rejects.toMatchObject({
    detail: { errcode: 268490002 },
  });
  expect(await ctx.cache.get(`wxpay-virtual:access_token:${app.appId}`)).not.toBe('AT_stale');
});
