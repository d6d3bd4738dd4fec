/**
 * WeChat Pay sandbox, API v2 (XML; MD5 and HMAC-SHA256), with wechatpay-axios-plugin's v2 client.
 */
import { Hash, Transformer, Wechatpay } from 'wechatpay-axios-plugin';
import {
  createWxpayMerchant,
  startWxpaySandbox,
  v2Sign,
  parseXml,
  toXml,
  type WxpaySandbox,
  type WxpaySandboxMerchant,
} from '../../tools/sandbox/wxpay';
import { rawRequest, startNotifyReceiver } from '../../tools/sandbox/wxpay/testkit';

let m: WxpaySandboxMerchant;
let sandbox: WxpaySandbox;
let rx: Awaited<ReturnType<typeof startNotifyReceiver>>;
let clock = 0;
const ACK = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
let answers: Array<{ status: number; body?: string }> = [];

function v2client(secret = m.apiV2Key): any {
  return new Wechatpay({
    mchid: m.mchid,
    serial: m.merchant.serialHex,
    privateKey: m.merchant.keyPem,
    certs: { [m.platform.serialHex]: m.platform.certPem },
    secret,
    baseURL: `${sandbox.url}/`,
  });
}

function unified(no: string, extra: Record<string, string> = {}) {
  return {
    appid: m.appids[0],
    mch_id: m.mchid,
    body: '沙箱-v2商品',
    out_trade_no: no,
    total_fee: '101',
    spbill_create_ip: '127.0.0.1',
    notify_url: `${rx.url}/v2notify`,
    trade_type: 'NATIVE',
    ...extra,
  };
}

async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e: any) {
    if (!e.response) throw e;
    return e.response.data;
  }
  throw new Error('expected failure');
}

beforeAll(async () => {
  m = await createWxpayMerchant({ mchid: '1900000401', appids: ['wxd930ea5d5a258f4f'] });
  sandbox = await startWxpaySandbox({ merchants: [m], quiet: true, retryDelaysMs: [50, 50], now: () => Date.now() + clock });
  rx = await startNotifyReceiver((_n, i) => answers[i] ?? { status: 200, body: ACK });
});

afterAll(async () => {
  await sandbox.close();
  await rx.close();
});

beforeEach(() => {
  answers = [];
  rx.received.length = 0;
  clock = 0;
});

test('v2 sign matches the official test vector (MD5 and HMAC-SHA256)', () => {
  const params = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
  const key = '192006250b4c09247ec02edce69f6a2d';
  expect(v2Sign(params, key)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  expect(v2Sign(params, key, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  expect(v2Sign(params, key, 'HMAC-SHA256')).toBe('6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6');
  // empty values and `sign` are excluded
  expect(v2Sign({ ...params, attach: '', sign: 'X' }, key)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
});

test('XML round trip with CDATA and entities', () => {
  const xml = toXml({ a: 'x]]>y', n: 12, s: '中文 <b>&' });
  expect(xml).toBe('<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a><n>12</n><s><![CDATA[中文 <b>&]]></s></xml>');
  expect(parseXml(xml)).toEqual({ a: 'x]]>y', n: '12', s: '中文 <b>&' });
  expect(parseXml('<?xml version="1.0"?>\n<xml>\n  <k>a&amp;b</k>\n  <e/>\n</xml>')).toEqual({ k: 'a&b', e: '' });
  expect(parseXml('<xml><a>1</b></xml>')).toBeUndefined();
});

test('unifiedorder NATIVE with MD5 and JSAPI with HMAC-SHA256; responses signed with the same type', async () => {
  const wx = v2client();
  const md5 = await wx.v2.pay.unifiedorder.post(unified('V2_NATIVE_01'));
  expect(md5.data).toMatchObject({
    return_code: 'SUCCESS',
    result_code: 'SUCCESS',
    trade_type: 'NATIVE',
    appid: m.appids[0],
    mch_id: m.mchid,
  });
  expect(md5.data.code_url).toMatch(new RegExp(`^${sandbox.url}/cashier/`));
  expect(md5.data.sign).toHaveLength(32);
  expect(Hash.sign('MD5', md5.data, m.apiV2Key)).toBe(md5.data.sign);

  const hmac = await wx.v2.pay.unifiedorder.post(
    unified('V2_JSAPI_01', { trade_type: 'JSAPI', openid: 'oV2Payer', sign_type: 'HMAC-SHA256' }),
  );
  expect(hmac.data.prepay_id).toMatch(/^wx\d{14}/);
  expect(hmac.data.sign).toHaveLength(64);
  expect(Hash.sign('HMAC-SHA256', hmac.data, m.apiV2Key)).toBe(hmac.data.sign);
  expect(sandbox.order('V2_JSAPI_01')).toMatchObject({ protocol: 'v2', sign_type: 'HMAC-SHA256', openid: 'oV2Payer', total: 101 });

  const mweb = await wx.v2.pay.unifiedorder.post(unified('V2_MWEB_01', { trade_type: 'MWEB' }));
  expect(mweb.data.mweb_url).toMatch(/\?h5=1$/);
  const app = await wx.v2.pay.unifiedorder.post(unified('V2_APP_01', { trade_type: 'APP' }));
  expect(app.data.prepay_id).toBeTruthy();
  const same = await wx.v2.pay.unifiedorder.post(unified('V2_APP_01', { trade_type: 'APP' }));
  expect(same.data.prepay_id).toBe(app.data.prepay_id);
  const used = await failure(wx.v2.pay.unifiedorder.post(unified('V2_APP_01', { trade_type: 'APP', total_fee: '102' })));
  expect(used).toMatchObject({ result_code: 'FAIL', err_code: 'OUT_TRADE_NO_USED' });
});

test('bad sign, unbound appid, missing openid', async () => {
  const bad = await failure(v2client('x'.repeat(32)).v2.pay.unifiedorder.post(unified('V2_BAD_0001')));
  expect(bad).toEqual({ return_code: 'FAIL', return_msg: '签名错误' });
  expect(sandbox.order('V2_BAD_0001')).toBeUndefined();
  const appid = await failure(v2client().v2.pay.unifiedorder.post(unified('V2_BAD_0002', { appid: 'wx0000000000000000' })));
  expect(appid).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'APPID_MCHID_NOT_MATCH' });
  const openid = await failure(v2client().v2.pay.unifiedorder.post(unified('V2_BAD_0003', { trade_type: 'JSAPI' })));
  expect(openid).toMatchObject({ return_code: 'FAIL', return_msg: 'JSAPI支付必须传openid' });
  // hand-built request: sign over the raw fields, tampered after signing
  const fields: Record<string, string> = { ...unified('V2_BAD_0004'), nonce_str: 'abc123' };
  fields.sign = v2Sign(fields, m.apiV2Key);
  const ok = await rawRequest(`${sandbox.url}/pay/unifiedorder`, 'POST', toXml(fields), { 'Content-Type': 'text/xml' });
  expect(parseXml(ok.body)?.result_code).toBe('SUCCESS');
  const tampered = await rawRequest(`${sandbox.url}/pay/unifiedorder`, 'POST', toXml({ ...fields, out_trade_no: 'V2_BAD_0005' }), {
    'Content-Type': 'text/xml',
  });
  expect(parseXml(tampered.body)).toEqual({ return_code: 'FAIL', return_msg: '签名错误' });
});

test('orderquery before and after payment, v2 notification delivered and acknowledged', async () => {
  const wx = v2client();
  await wx.v2.pay.unifiedorder.post(unified('V2_QUERY_01', { sign_type: 'HMAC-SHA256', attach: 'att' }));
  const before = await wx.v2.pay.orderquery.post({
    appid: m.appids[0],
    mch_id: m.mchid,
    out_trade_no: 'V2_QUERY_01',
    sign_type: 'HMAC-SHA256',
  });
  expect(before.data).toMatchObject({ result_code: 'SUCCESS', trade_state: 'NOTPAY', out_trade_no: 'V2_QUERY_01' });
  expect(before.data.transaction_id).toBeUndefined();

  await sandbox.pay('V2_QUERY_01', { openid: 'oV2Query' });
  await sandbox.waitForDelivery('V2_QUERY_01', (d) => d.acknowledged);
  expect(rx.received).toHaveLength(1);
  const n = rx.received[0];
  expect(n.url).toBe('/v2notify');
  expect(n.headers['content-type']).toMatch(/xml/);
  const data = Transformer.toObject(n.body) as Record<string, string>;
  expect(data).toMatchObject({
    return_code: 'SUCCESS',
    result_code: 'SUCCESS',
    appid: m.appids[0],
    mch_id: m.mchid,
    out_trade_no: 'V2_QUERY_01',
    total_fee: '101',
    cash_fee: '101',
    fee_type: 'CNY',
    trade_type: 'NATIVE',
    openid: 'oV2Query',
    attach: 'att',
    sign_type: 'HMAC-SHA256',
  });
  expect(data.sign).toBe(Hash.sign('HMAC-SHA256', data, m.apiV2Key));
  expect(data.sign).toBe(v2Sign(data, m.apiV2Key, 'HMAC-SHA256'));
  const stored = sandbox.order('V2_QUERY_01')!;
  expect(data.transaction_id).toBe(stored.transaction_id);
  const bj = new Date(stored.success_time! + 8 * 3600_000).toISOString();
  expect(data.time_end).toBe(bj.slice(0, 19).replace(/[-T:]/g, ''));

  const after = await wx.v2.pay.orderquery.post({ appid: m.appids[0], mch_id: m.mchid, transaction_id: stored.transaction_id });
  expect(after.data).toMatchObject({
    trade_state: 'SUCCESS',
    transaction_id: stored.transaction_id,
    time_end: data.time_end,
    total_fee: '101',
    openid: 'oV2Query',
  });
  expect(after.data.sign).toHaveLength(32);
  const nf = await failure(wx.v2.pay.orderquery.post({ appid: m.appids[0], mch_id: m.mchid, out_trade_no: 'V2_NOPE_001' }));
  expect(nf).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
  const paidClose = await failure(wx.v2.pay.closeorder.post({ appid: m.appids[0], mch_id: m.mchid, out_trade_no: 'V2_QUERY_01' }));
  expect(paidClose.err_code).toBe('ORDERPAID');
});

test('v2 notification is retried until return_code SUCCESS (MD5 sign)', async () => {
  answers = [
    { status: 200, body: '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>' },
    { status: 200, body: ACK },
  ];
  await v2client().v2.pay.unifiedorder.post(unified('V2_RETRY_01', { trade_type: 'APP' }));
  await sandbox.pay('V2_RETRY_01');
  await sandbox.waitForDelivery('V2_RETRY_01', (d) => d.acknowledged, 5000);
  await new Promise((r) => setTimeout(r, 150));
  expect(sandbox.deliveries.filter((d) => d.out_trade_no === 'V2_RETRY_01').map((d) => [d.attempt, d.acknowledged, d.protocol])).toEqual([
    [1, false, 'v2'],
    [2, true, 'v2'],
  ]);
  const data = Transformer.toObject(rx.received[1].body) as Record<string, string>;
  expect(data.sign_type).toBeUndefined();
  expect(data.sign).toBe(Hash.sign('MD5', data, m.apiV2Key));
});

test('closeorder and v2 time_expire (yyyyMMddHHmmss Beijing)', async () => {
  const wx = v2client();
  await wx.v2.pay.unifiedorder.post(unified('V2_CLOSE_01'));
  const closed = await wx.v2.pay.closeorder.post({ appid: m.appids[0], mch_id: m.mchid, out_trade_no: 'V2_CLOSE_01' });
  expect(closed.data).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS' });
  expect(sandbox.order('V2_CLOSE_01')?.trade_state).toBe('CLOSED');
  const again = await failure(wx.v2.pay.closeorder.post({ appid: m.appids[0], mch_id: m.mchid, out_trade_no: 'V2_CLOSE_01' }));
  expect(again.err_code).toBe('ORDERCLOSED');

  const expireMs = Math.floor(Date.now() / 1000) * 1000 + 120_000;
  const compact = new Date(expireMs + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
  await wx.v2.pay.unifiedorder.post(unified('V2_EXPIRE_01', { time_expire: compact }));
  expect(sandbox.order('V2_EXPIRE_01')?.time_expire).toBe(expireMs);
  clock = 121_000;
  const q = await wx.v2.pay.orderquery.post({ appid: m.appids[0], mch_id: m.mchid, out_trade_no: 'V2_EXPIRE_01' });
  expect(q.data.trade_state).toBe('CLOSED');
  await expect(sandbox.pay('V2_EXPIRE_01')).rejects.toThrow(/ORDER_EXPIRED/);
});
