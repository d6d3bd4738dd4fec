/**
 * WeChat Pay sandbox, API v3, driven by an independent client (wechatpay-axios-plugin) that signs
 * requests and verifies the sandbox's response signatures; plus hand-signed raw requests.
 */
import { createDecipheriv, X509Certificate } from 'node:crypto';
import { Wechatpay } from 'wechatpay-axios-plugin';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { signedV3Request, verifyWechatpay } from '../../tools/sandbox/wxpay/testkit';

type Client = any;

let clock = 0; // ms added to the real clock
let platformM: WxpaySandboxMerchant;
let pubkeyM: WxpaySandboxMerchant;
let migratingM: WxpaySandboxMerchant;
let sandbox: WxpaySandbox;

function client(m: WxpaySandboxMerchant, trust: 'platform' | 'pubkey' | 'both', privateKey = m.merchant.keyPem): Client {
  const certs: Record<string, string> = {};
  if (trust !== 'pubkey') certs[m.platform.serialHex] = m.platform.certPem;
  if (trust !== 'platform') certs[m.publicKeyId] = m.publicKey.publicKeyPem;
  return new Wechatpay({ mchid: m.mchid, serial: m.merchant.serialHex, privateKey, certs, secret: m.apiV2Key, baseURL: `${sandbox.url}/` });
}

function nativeOrder(m: WxpaySandboxMerchant, no: string, extra: Record<string, unknown> = {}) {
  return {
    appid: m.appids[0],
    mchid: m.mchid,
    description: '沙箱测试商品',
    out_trade_no: no,
    notify_url: 'http://127.0.0.1:9/notify',
    amount: { total: 1999, currency: 'CNY' },
    ...extra,
  };
}

async function failure(p: Promise<unknown>): Promise<{ status: number; data: any; headers: any }> {
  try {
    await p;
  } catch (e: any) {
    if (!e.response) throw e;
    return { status: e.response.status, data: e.response.data, headers: e.response.headers };
  }
  throw new Error('expected the request to fail');
}

beforeAll(async () => {
  [platformM, pubkeyM, migratingM] = await Promise.all([
    createWxpayMerchant({ mchid: '1900000101', appids: ['wx1111111111111111', 'wx2222222222222222'], signMode: 'platform-cert' }),
    createWxpayMerchant({ mchid: '1900000102', signMode: 'public-key' }),
    createWxpayMerchant({ mchid: '1900000103', signMode: 'migrating' }),
  ]);
  sandbox = await startWxpaySandbox({ merchants: [platformM, pubkeyM, migratingM], quiet: true, now: () => Date.now() + clock });
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(() => {
  clock = 0;
});

describe('merchant fixtures', () => {
  test('keys, serials and ids look like WeChat ones', () => {
    expect(platformM.merchant.serialHex).toMatch(/^[0-9A-F]{40}$/);
    expect(platformM.platform.serialHex).toMatch(/^[0-9A-F]{40}$/);
    expect(platformM.publicKeyId).toMatch(/^PUB_KEY_ID_011900000101\d{16}$/);
    expect(platformM.apiV3Key).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(platformM.apiV2Key).toHaveLength(32);
    expect(pubkeyM.appids[0]).toMatch(/^wx[0-9a-f]{16}$/);
  });
});

describe('signed requests and responses', () => {
  test('platform-cert mode: native prepay accepted and response verified by the client', async () => {
    const wx = client(platformM, 'platform');
    const res = await wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'NATIVE_0001'));
    expect(res.status).toBe(200);
    expect(res.data.code_url).toMatch(new RegExp(`^${sandbox.url}/cashier/[0-9A-Za-z]+$`));
    expect(res.headers['wechatpay-serial']).toBe(platformM.platform.serialHex);
    expect(res.headers['wechatpay-signature-type']).toBe('WECHATPAY2-SHA256-RSA2048');
    expect(res.headers['request-id']).toBeTruthy();
  });

  test('platform-cert mode: a client trusting only a public key rejects the response', async () => {
    const wx = client(platformM, 'pubkey');
    await expect(wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'NATIVE_0002'))).rejects.toThrow(/serial/i);
  });

  test('public-key mode: responses signed with the public key pair under PUB_KEY_ID', async () => {
    const wx = client(pubkeyM, 'pubkey');
    const res = await wx.v3.pay.transactions.jsapi.post({
      ...nativeOrder(pubkeyM, 'JSAPI_0001'),
      payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    });
    expect(res.data.prepay_id).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
    expect(res.headers['wechatpay-serial']).toBe(pubkeyM.publicKeyId);
    const platformOnly = client(pubkeyM, 'platform');
    await expect(
      platformOnly.v3.pay.transactions.jsapi.post({ ...nativeOrder(pubkeyM, 'JSAPI_0002'), payer: { openid: 'o1' } }),
    ).rejects.toThrow();
  });

  test('migrating mode: public key only when the request names PUB_KEY_ID in Wechatpay-Serial', async () => {
    const wx = client(migratingM, 'both');
    const a = await wx.v3.pay.transactions.app.post(nativeOrder(migratingM, 'APP_00001'));
    expect(a.headers['wechatpay-serial']).toBe(migratingM.platform.serialHex);
    const b = await wx.v3.pay.transactions.app.post(nativeOrder(migratingM, 'APP_00002'), {
      headers: { 'Wechatpay-Serial': migratingM.publicKeyId },
    });
    expect(b.headers['wechatpay-serial']).toBe(migratingM.publicKeyId);
    expect(b.data.prepay_id).toBeTruthy();
  });

  test('a wrong merchant key → 401 SIGN_ERROR, signed', async () => {
    const other = await createWxpayMerchant({ mchid: '1900000199' });
    const wx = client(platformM, 'platform', other.merchant.keyPem);
    const f = await failure(wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'NATIVE_0003')));
    expect(f.status).toBe(401);
    expect(f.data.code).toBe('SIGN_ERROR');
    expect(f.data.detail).toMatchObject({ field: 'signature', location: 'authorization', detail: { issue: 'sign not match' } });
    expect(f.data.detail.sign_information).toMatchObject({ method: 'POST', url: '/v3/pay/transactions/native' });
    expect(f.data.detail.sign_information.truncated_sign_message).toBe('POST\n/v3/pay/transactions/native\n');
    expect(sandbox.order('NATIVE_0003', platformM.mchid)).toBeUndefined();
  });

  test('raw hand-signed request: tampered body, unknown serial, unknown mchid → 401; errors carry a valid signature', async () => {
    const cred = { mchid: platformM.mchid, serial: platformM.merchant.serialHex, privateKeyPem: platformM.merchant.keyPem };
    const body = JSON.stringify(nativeOrder(platformM, 'RAW_000001'));
    const ok = await signedV3Request(sandbox.url, cred, 'POST', '/v3/pay/transactions/native', body);
    expect(ok.status).toBe(200);
    expect(verifyWechatpay(ok.headers, ok.body, platformM.platform.certPem)).toBe(true);
    expect(verifyWechatpay(ok.headers, ok.body.replace('cashier', 'cashieR'), platformM.platform.certPem)).toBe(false);

    const tampered = await signedV3Request(sandbox.url, cred, 'POST', '/v3/pay/transactions/native', body, {
      tamperBody: body.replace('1999', '1'),
    });
    expect(tampered.status).toBe(401);
    expect(JSON.parse(tampered.body).code).toBe('SIGN_ERROR');
    expect(verifyWechatpay(tampered.headers, tampered.body, platformM.platform.certPem)).toBe(true);

    const badSerial = await signedV3Request(
      sandbox.url,
      { ...cred, serial: '1234567890ABCDEF' },
      'POST',
      '/v3/pay/transactions/native',
      body,
    );
    expect(badSerial.status).toBe(401);
    const badMch = await signedV3Request(sandbox.url, { ...cred, mchid: '1999999999' }, 'POST', '/v3/pay/transactions/native', body);
    expect(badMch.status).toBe(401);
    const noAuth = await fetch(`${sandbox.url}/v3/pay/transactions/native`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json' },
    });
    expect(noAuth.status).toBe(401);
    expect(((await noAuth.json()) as { code: string }).code).toBe('SIGN_ERROR');
  });
});

describe('prepay validation and idempotency', () => {
  test('appid not bound → 400 APPID_MCHID_NOT_MATCH; second bound appid accepted', async () => {
    const wx = client(platformM, 'platform');
    const f = await failure(wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'NATIVE_0010', { appid: 'wx9999999999999999' })));
    expect(f.status).toBe(400);
    expect(f.data.code).toBe('APPID_MCHID_NOT_MATCH');
    const ok = await wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'NATIVE_0011', { appid: 'wx2222222222222222' }));
    expect(ok.status).toBe(200);
  });

  test('required fields, amounts, currency, body/header mchid mismatch → 400 PARAM_ERROR', async () => {
    const wx = client(platformM, 'platform');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ amount: { total: 0 } }, 'amount/total'],
      [{ amount: { total: 1.5 } }, 'amount/total'],
      [{ amount: { total: '100' } }, 'amount/total'],
      [{ amount: { total: 100, currency: 'USD' } }, 'amount/currency'],
      [{ description: undefined }, 'description'],
      [{ notify_url: undefined }, 'notify_url'],
      [{ out_trade_no: 'abc' }, 'out_trade_no'],
      [{ mchid: pubkeyM.mchid }, 'mchid'],
      [{ time_expire: '2030-01-01 10:00:00' }, 'time_expire'],
    ];
    for (const [patch, field] of cases) {
      const f = await failure(wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'NATIVE_0020', patch)));
      expect([f.status, f.data.code]).toEqual([400, 'PARAM_ERROR']);
      expect(typeof f.data.message).toBe('string');
      expect(JSON.stringify(f.data)).toContain(field);
    }
    const j = await failure(wx.v3.pay.transactions.jsapi.post(nativeOrder(platformM, 'JSAPI_0020')));
    expect(j.data.code).toBe('PARAM_ERROR');
    expect(j.data.message).toContain('/body/payer');
    const j2 = await failure(wx.v3.pay.transactions.jsapi.post({ ...nativeOrder(platformM, 'JSAPI_0020'), payer: {} }));
    expect(j2.data.message).toContain('/body/payer/openid');
    const h = await failure(
      wx.v3.pay.transactions.h5.post({ ...nativeOrder(platformM, 'H5_000020'), scene_info: { payer_client_ip: '127.0.0.1' } }),
    );
    expect(h.data.message).toContain('h5_info');
    expect(sandbox.order('NATIVE_0020', platformM.mchid)).toBeUndefined();
  });

  test('h5 → h5_url on the cashier with h5=1', async () => {
    const wx = client(platformM, 'platform');
    const res = await wx.v3.pay.transactions.h5.post({
      ...nativeOrder(platformM, 'H5_000001'),
      scene_info: { payer_client_ip: '127.0.0.1', h5_info: { type: 'Wap' } },
    });
    expect(res.data.h5_url).toMatch(new RegExp(`^${sandbox.url}/cashier/[0-9A-Za-z]+\\?h5=1$`));
  });

  test('same out_trade_no: identical params → same answer, different → INVALID_REQUEST, paid → ORDERPAID', async () => {
    const wx = client(platformM, 'platform');
    const body = { ...nativeOrder(platformM, 'JSAPI_0030'), payer: { openid: 'oPayer0030' } };
    const a = await wx.v3.pay.transactions.jsapi.post(body);
    const b = await wx.v3.pay.transactions.jsapi.post(body);
    expect(b.data.prepay_id).toBe(a.data.prepay_id);
    const diff = await failure(wx.v3.pay.transactions.jsapi.post({ ...body, amount: { total: 2000, currency: 'CNY' } }));
    expect([diff.status, diff.data.code]).toEqual([400, 'INVALID_REQUEST']);
    const otherType = await failure(wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'JSAPI_0030')));
    expect(otherType.data.code).toBe('INVALID_REQUEST');
    await sandbox.pay('JSAPI_0030');
    const paid = await failure(wx.v3.pay.transactions.jsapi.post(body));
    expect([paid.status, paid.data.code]).toEqual([400, 'ORDERPAID']);
  });
});

describe('query, close, refund', () => {
  test('query before and after pay(); query by transaction id', async () => {
    const wx = client(platformM, 'platform');
    await wx.v3.pay.transactions.jsapi.post({
      ...nativeOrder(platformM, 'QUERY_0001', { attach: '{"k":1}' }),
      payer: { openid: 'oQueryPayer' },
    });
    const before = await wx.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: platformM.mchid },
      out_trade_no: 'QUERY_0001',
    });
    expect(before.data).toMatchObject({
      appid: platformM.appids[0],
      mchid: platformM.mchid,
      out_trade_no: 'QUERY_0001',
      trade_type: 'JSAPI',
      trade_state: 'NOTPAY',
      attach: '{"k":1}',
    });
    expect(before.data.amount.total).toBe(1999);
    for (const k of ['transaction_id', 'success_time', 'payer']) expect(before.data).not.toHaveProperty(k);

    await sandbox.pay('QUERY_0001', { mchid: platformM.mchid });
    const after = await wx.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: platformM.mchid },
      out_trade_no: 'QUERY_0001',
    });
    expect(after.data).toMatchObject({
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      payer: { openid: 'oQueryPayer' },
      amount: { total: 1999, payer_total: 1999, currency: 'CNY', payer_currency: 'CNY' },
    });
    expect(after.data.transaction_id).toMatch(/^\d{28}$/);
    expect(after.data.success_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    const successMs = Date.parse(after.data.success_time);
    expect(Math.abs(successMs - Date.now())).toBeLessThan(5000);

    const byId = await wx.v3.pay.transactions.id.$transaction_id$.get({
      params: { mchid: platformM.mchid },
      transaction_id: after.data.transaction_id,
    });
    expect(byId.data.out_trade_no).toBe('QUERY_0001');
    const missingOrder = await failure(
      wx.v3.pay.transactions.outTradeNo.$out_trade_no$.get({ params: { mchid: platformM.mchid }, out_trade_no: 'NO_SUCH_ORDER' }),
    );
    expect([missingOrder.status, missingOrder.data.code]).toEqual([404, 'ORDER_NOT_EXIST']);
    const noMchid = await failure(wx.v3.pay.transactions.outTradeNo.$out_trade_no$.get({ out_trade_no: 'QUERY_0001' }));
    expect([noMchid.status, noMchid.data.code]).toEqual([400, 'PARAM_ERROR']);
  });

  test('close → 204 (signed empty body); closed order cannot be paid; paid order cannot be closed', async () => {
    const wx = client(platformM, 'platform');
    await wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'CLOSE_0001'));
    const res = await wx.v3.pay.transactions.outTradeNo.$out_trade_no$.close.post(
      { mchid: platformM.mchid },
      { out_trade_no: 'CLOSE_0001' },
    );
    expect(res.status).toBe(204); // the client verified the signature over "ts\nnonce\n\n"
    expect(sandbox.order('CLOSE_0001')?.trade_state).toBe('CLOSED');
    await expect(sandbox.pay('CLOSE_0001')).rejects.toThrow(/ORDER_CLOSED/);
    const q = await wx.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: platformM.mchid },
      out_trade_no: 'CLOSE_0001',
    });
    expect(q.data.trade_state).toBe('CLOSED');
    const repost = await failure(wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'CLOSE_0001')));
    expect(repost.data.code).toBe('ORDER_CLOSED');

    await wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'CLOSE_0002'));
    await sandbox.pay('CLOSE_0002');
    const f = await failure(
      wx.v3.pay.transactions.outTradeNo.$out_trade_no$.close.post({ mchid: platformM.mchid }, { out_trade_no: 'CLOSE_0002' }),
    );
    expect([f.status, f.data.code]).toEqual([400, 'ORDERPAID']);
  });

  test('refunds: partial, idempotent, over-refund rejected, query', async () => {
    const wx = client(pubkeyM, 'pubkey');
    await wx.v3.pay.transactions.native.post(nativeOrder(pubkeyM, 'REFUND_0001'));
    const early = await failure(
      wx.v3.refund.domestic.refunds.post({
        out_trade_no: 'REFUND_0001',
        out_refund_no: 'R0',
        amount: { refund: 1, total: 1999, currency: 'CNY' },
      }),
    );
    expect(early.status).toBe(400);
    await sandbox.pay('REFUND_0001');
    const r1body = {
      out_trade_no: 'REFUND_0001',
      out_refund_no: 'R1',
      reason: '不想要了',
      amount: { refund: 1000, total: 1999, currency: 'CNY' },
    };
    const r1 = await wx.v3.refund.domestic.refunds.post(r1body);
    expect(r1.data).toMatchObject({
      out_refund_no: 'R1',
      out_trade_no: 'REFUND_0001',
      status: 'SUCCESS',
      amount: { refund: 1000, total: 1999, currency: 'CNY' },
    });
    expect(r1.data.refund_id).toMatch(/^\d{32}$/);
    const again = await wx.v3.refund.domestic.refunds.post(r1body);
    expect(again.data.refund_id).toBe(r1.data.refund_id);
    const over = await failure(
      wx.v3.refund.domestic.refunds.post({
        out_trade_no: 'REFUND_0001',
        out_refund_no: 'R2',
        amount: { refund: 1000, total: 1999, currency: 'CNY' },
      }),
    );
    expect(over.status).toBeGreaterThanOrEqual(400);
    expect(over.data.code).toBe('NOT_ENOUGH');
    const rest = await wx.v3.refund.domestic.refunds.post({
      transaction_id: r1.data.transaction_id,
      out_refund_no: 'R3',
      amount: { refund: 999, total: 1999, currency: 'CNY' },
    });
    expect(rest.data.status).toBe('SUCCESS');
    expect(sandbox.order('REFUND_0001')?.refunded).toBe(1999);
    const q = await wx.v3.refund.domestic.refunds.$out_refund_no$.get({ out_refund_no: 'R3' });
    expect(q.data).toMatchObject({ out_refund_no: 'R3', amount: { refund: 999 } });
    const nf = await failure(wx.v3.refund.domestic.refunds.$out_refund_no$.get({ out_refund_no: 'R404' }));
    expect(nf.status).toBe(404);
    const tq = await wx.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: pubkeyM.mchid },
      out_trade_no: 'REFUND_0001',
    });
    expect(tq.data.trade_state).toBe('REFUND');
  });
});

describe('certificates and expiry', () => {
  test('GET /v3/certificates decrypts (node crypto) to the platform certificate', async () => {
    const wx = client(platformM, 'platform');
    const res = await wx.v3.certificates.get();
    expect(res.data.data).toHaveLength(1);
    const item = res.data.data[0];
    expect(item.serial_no).toBe(platformM.platform.serialHex);
    expect(item.effective_time).toMatch(/\+08:00$/);
    expect(item.expire_time).toMatch(/\+08:00$/);
    const ec = item.encrypt_certificate;
    expect(ec).toMatchObject({ algorithm: 'AEAD_AES_256_GCM', associated_data: 'certificate' });
    expect(Buffer.from(ec.nonce).length).toBe(12);
    const raw = Buffer.from(ec.ciphertext, 'base64');
    const d = createDecipheriv('aes-256-gcm', Buffer.from(platformM.apiV3Key), Buffer.from(ec.nonce));
    d.setAAD(Buffer.from('certificate'));
    d.setAuthTag(raw.subarray(raw.length - 16));
    const pem = Buffer.concat([d.update(raw.subarray(0, raw.length - 16)), d.final()]).toString('utf8');
    expect(pem).toBe(platformM.platform.certPem);
    expect(new X509Certificate(pem).serialNumber.toUpperCase()).toBe(item.serial_no);
    const wrongKey = createDecipheriv('aes-256-gcm', Buffer.from(pubkeyM.apiV3Key), Buffer.from(ec.nonce));
    wrongKey.setAAD(Buffer.from('certificate'));
    wrongKey.setAuthTag(raw.subarray(raw.length - 16));
    wrongKey.update(raw.subarray(0, raw.length - 16));
    expect(() => wrongKey.final()).toThrow();
  });

  test('time_expire (RFC 3339 with offset) honoured: after it the order is CLOSED and cannot be paid', async () => {
    const wx = client(platformM, 'platform');
    const expireMs = Math.floor(Date.now() / 1000) * 1000 + 60_000;
    // written in UTC+08:00 and in Z form
    const bj = new Date(expireMs + 8 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+08:00');
    await wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'EXPIRE_0001', { time_expire: bj }));
    await wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'EXPIRE_0002', { time_expire: new Date(expireMs).toISOString() }));
    expect(sandbox.order('EXPIRE_0001')?.time_expire).toBe(expireMs);
    expect(sandbox.order('EXPIRE_0002')?.time_expire).toBe(expireMs);
    expect(sandbox.order('EXPIRE_0001')?.trade_state).toBe('NOTPAY');
    clock = 61_000; // within the client's ±300 s window
    const q = await wx.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: platformM.mchid },
      out_trade_no: 'EXPIRE_0001',
    });
    expect(q.data.trade_state).toBe('CLOSED');
    await expect(sandbox.pay('EXPIRE_0002')).rejects.toThrow(/ORDER_EXPIRED/);
    expect(sandbox.order('EXPIRE_0002')?.expired).toBe(true);
    const past = await failure(wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'EXPIRE_0003', { time_expire: bj })));
    expect(past.data.code).toBe('PARAM_ERROR');
  });

  test('the response timestamp follows the sandbox clock (a skewed gateway is rejected by the client)', async () => {
    const wx = client(platformM, 'platform');
    clock = 400_000;
    await expect(wx.v3.pay.transactions.native.post(nativeOrder(platformM, 'SKEW_00001'))).rejects.toThrow(/offset|±/);
  });
});
