import { startVksPaySandbox, VksPaySandbox } from '../../tools/sandbox/vkspay';
import { startLoopbackServer, nodeTransport, LoopbackServer } from '../../tools/sandbox/loopback';
import { vkspayAdapter, vksPaySign, VksPayConfig } from '../../uni_modules/vk-uni-pay/server/providers/vkspay';
import type { CreateOrderInput, NotifyEvent, ProviderContext } from '../../uni_modules/vk-uni-pay/server/providers/types';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';

const MCH = { mchId: 'M2001', key: 'k-' + Math.random().toString(36).slice(2) };
let vks: VksPaySandbox;
let plugin: LoopbackServer;
let ctx: ProviderContext<VksPayConfig>;
const hints: NotifyEvent[] = [];

beforeAll(async () => {
  vks = await startVksPaySandbox({ merchants: [MCH, { mchId: 'M2002', key: 'other', base64Notify: true }] });
  ctx = { config: { ...MCH, gateway: vks.url }, http: nodeTransport(), clock: { now: () => Date.now() }, cache: memoryCache() };
  plugin = await startLoopbackServer(async (req) => {
    try {
      const ev = await vkspayAdapter.verifyNotify(
        { method: req.method, path: req.path, headers: req.headers, query: req.query, body: req.body },
        ctx,
      );
      hints.push(ev);
      const r = vkspayAdapter.notifyReply(true);
      return { status: r.statusCode, headers: r.headers, body: r.body };
    } catch (e) {
      const r = vkspayAdapter.notifyReply(false, String(e));
      return { status: r.statusCode, headers: r.headers, body: r.body };
    }
  });
});
afterAll(async () => {
  await vks.close();
  await plugin.close();
});

const input = (out_trade_no: string, total_fee: number, extra: Record<string, unknown> = {}): CreateOrderInput => ({
  payType: 'vkspay_h5',
  platformKey: 'h5',
  out_trade_no,
  total_fee,
  subject: '测试商品',
  notify_url: `${plugin.url}/vk-pay-notify/vkspay`,
  client_ip: '127.0.0.1',
  needQRcode: true,
  other: {},
  extra,
});
const no = () => `VKS${Date.now()}${Math.floor(Math.random() * 1e6)}`;

test('webpay → cashier #pay-btn → hint → orderquery confirms PAID with the amount', async () => {
  const out = no();
  const r = await vkspayAdapter.createOrder(
    input(out, 1999, { provider_pay_method: 'wxpay', return_url: 'https://shop.test/return' }),
    ctx,
  );
  const codeUrl = (r.orderInfo as { codeUrl: string }).codeUrl;
  expect(r.codeUrl).toBe(codeUrl);
  expect(r.orderInfo).toMatchObject({ out_trade_no: out, mwebUrl: codeUrl });
  // the amount reached the gateway as 19.99 yuan
  expect(vks.orders.get(`${MCH.mchId}|${out}`)?.total_fee).toBe(1999);

  expect((await vkspayAdapter.queryOrder({ out_trade_no: out }, ctx)).state).toBe('NOTPAY');

  const page = await fetch(codeUrl).then((x) => x.text());
  expect(page).toContain('id="pay-btn"');
  expect(page).toContain('id="cancel-btn"');
  const action = /action="([^"]+\/pay)"/.exec(page)![1];
  const after = await fetch(new URL(action, codeUrl), { method: 'POST' }).then((x) => x.text());
  expect(after).toContain('支付成功');

  const d = await vks.waitForDelivery(out);
  expect(d.acked).toBe(true);
  expect(hints).toContainEqual({ kind: 'hint', out_trade_no: out });
  const q = await vkspayAdapter.queryOrder({ out_trade_no: out }, ctx);
  expect(q).toMatchObject({ state: 'PAID', out_trade_no: out, total_fee: 1999 });

  const rf = await vkspayAdapter.refund!({ out_trade_no: out, out_refund_no: `R${out}`, total_fee: 1999, refund_fee: 999 }, ctx);
  expect(rf).toMatchObject({ state: 'SUCCESS', refund_id: `R${out}`, refund_fee: 999 });
  await expect(
    vkspayAdapter.refund!({ out_trade_no: out, out_refund_no: `R2${out}`, total_fee: 1999, refund_fee: 1001 }, ctx),
  ).rejects.toMatchObject({ key: 'GATEWAY_ERROR' });
  await expect(vkspayAdapter.queryRefund!({ out_trade_no: out, out_refund_no: `R${out}` }, ctx)).resolves.toMatchObject({
    state: 'SUCCESS',
    refund_fee: 999,
  });
});

test('forged hint for an unpaid order: the plugin acknowledges, orderquery says not paid', async () => {
  const out = no();
  await vkspayAdapter.createOrder(input(out, 100), ctx);
  const res = await vks.notify(out, { trade_status: 'SUCCESS' });
  expect(JSON.parse(res.body)).toEqual({ code: 'SUCCESS', msg: 'SUCCESS' });
  expect(hints).toContainEqual({ kind: 'hint', out_trade_no: out });
  expect((await vkspayAdapter.queryOrder({ out_trade_no: out }, ctx)).state).toBe('NOTPAY');
  // a hint for an order that does not exist at all
  await vks.notify('NOSUCHORDER1', {}, `${plugin.url}/vk-pay-notify/vkspay`);
  expect((await vkspayAdapter.queryOrder({ out_trade_no: 'NOSUCHORDER1' }, ctx)).state).toBe('NOTPAY');
});

test('the peer checks the MD5 sign on every call', async () => {
  const wrong = { ...ctx, config: { ...ctx.config, key: 'not-the-key' } };
  await expect(vkspayAdapter.createOrder(input(no(), 100), wrong)).rejects.toMatchObject({
    key: 'GATEWAY_ERROR',
    msgEn: expect.stringContaining('sign error'),
  });
  // a signed body altered after signing is refused too
  const body: Record<string, string | number> = {
    method: 'orderquery',
    merchantno: MCH.mchId,
    signaturenonce: '12345678',
    timestamp: Math.floor(Date.now() / 1000),
    version: '2.0',
    out_trade_no: 'X1',
  };
  body.sign = vksPaySign(body, MCH.key);
  body.out_trade_no = 'X2';
  const res = await nodeTransport().request({ method: 'POST', url: `${vks.url}/api`, body: JSON.stringify(body) });
  expect(JSON.parse(res.body.toString())).toMatchObject({ return_code: 'FAIL', return_msg: 'sign error' });
  expect(vks.calls.filter((c) => c.return_code === 'FAIL').length).toBeGreaterThanOrEqual(2);
});

test('micropay with a WeChat payment code', async () => {
  const out = no();
  const r = await vkspayAdapter.createOrder(input(out, 50, { auth_code: '134567890123456789' }), ctx);
  expect(r.orderInfo).toMatchObject({ micropay: true, paid: true });
  await expect(vkspayAdapter.createOrder(input(no(), 50, { auth_code: '999' }), ctx)).rejects.toMatchObject({ key: 'FIELD_INVALID' });
  expect((await vkspayAdapter.queryOrder({ out_trade_no: out }, ctx)).state).toBe('PAID');
});

test('time_expire is refused', async () => {
  await expect(vkspayAdapter.createOrder({ ...input(no(), 50), time_expire: Date.now() + 600_000 }, ctx)).rejects.toMatchObject({
    key: 'TIME_EXPIRE_UNSUPPORTED',
  });
});
