/**
 * WeChat Pay sandbox, service-provider (服务商) routes, driven by hand-signed requests: the service
 * provider signs, each order belongs to a bound sub-merchant and is found only with it; the
 * notification carries sp_/sub_ ids.
 */
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { decryptResource, signedV3Request, startNotifyReceiver, verifyWechatpay } from '../../tools/sandbox/wxpay/testkit';

const SUB = { sub_mchid: '1900009001', appids: ['wxsub0000000000001'] };
const OTHER_SUB = { sub_mchid: '1900009002', appids: ['wxsub0000000000002'] };

let sp: WxpaySandboxMerchant;
let sandbox: WxpaySandbox;
let receiver: Awaited<ReturnType<typeof startNotifyReceiver>>;

const call = (method: string, path: string, body?: unknown) =>
  signedV3Request(
    sandbox.url,
    { mchid: sp.mchid, serial: sp.merchant.serialHex, privateKeyPem: sp.merchant.keyPem },
    method,
    path,
    body === undefined ? undefined : JSON.stringify(body),
  );

function jsapiBody(no: string, extra: Record<string, unknown> = {}) {
  return {
    sp_appid: sp.appids[0],
    sp_mchid: sp.mchid,
    sub_appid: SUB.appids[0],
    sub_mchid: SUB.sub_mchid,
    description: '服务商沙箱',
    out_trade_no: no,
    notify_url: `${receiver.url}/notify`,
    amount: { total: 300, currency: 'CNY' },
    payer: { sub_openid: 'o_sub_user_1' },
    ...extra,
  };
}

beforeAll(async () => {
  sp = await createWxpayMerchant({ mchid: '1900000900', appids: ['wxsp00000000000001'], subMerchants: [SUB, OTHER_SUB] });
  receiver = await startNotifyReceiver();
  sandbox = await startWxpaySandbox({ merchants: [sp], quiet: true, retryDelaysMs: [200] });
});

afterAll(async () => {
  await sandbox.close();
  await receiver.close();
});

test('jsapi prepay → pay → partner notification with sp_/sub_ ids and payer.sub_openid, signed and encrypted', async () => {
  const res = await call('POST', '/v3/pay/partner/transactions/jsapi', jsapiBody('SPJSAPI001'));
  expect(res.status).toBe(200);
  expect(verifyWechatpay(res.headers, res.body, sp.platform.certPem)).toBe(true);
  expect(JSON.parse(res.body).prepay_id).toMatch(/^wx/);
  await sandbox.pay('SPJSAPI001');
  await sandbox.waitForDelivery('SPJSAPI001', (d) => d.acknowledged);
  const n = receiver.received.find((r) => r.body.includes('TRANSACTION.SUCCESS'))!;
  expect(verifyWechatpay(n.headers, n.body, sp.platform.certPem)).toBe(true);
  const plain = JSON.parse(decryptResource(sp.apiV3Key, JSON.parse(n.body).resource));
  expect(plain).toMatchObject({
    sp_appid: sp.appids[0],
    sp_mchid: sp.mchid,
    sub_appid: SUB.appids[0],
    sub_mchid: SUB.sub_mchid,
    out_trade_no: 'SPJSAPI001',
    trade_state: 'SUCCESS',
    payer: { sub_openid: 'o_sub_user_1' },
    amount: { total: 300 },
  });
  expect(plain.appid).toBeUndefined();
  expect(plain.mchid).toBeUndefined();
});

test('query and close need the sub-merchant that owns the order; the direct routes do not see it', async () => {
  expect((await call('POST', '/v3/pay/partner/transactions/native', { ...jsapiBody('SPNATIVE01'), payer: undefined })).status).toBe(200);
  const q = (sub: string) => call('GET', `/v3/pay/partner/transactions/out-trade-no/SPNATIVE01?sp_mchid=${sp.mchid}&sub_mchid=${sub}`);
  const own = await q(SUB.sub_mchid);
  expect(own.status).toBe(200);
  expect(JSON.parse(own.body)).toMatchObject({ sub_mchid: SUB.sub_mchid, trade_state: 'NOTPAY', trade_type: 'NATIVE' });
  expect((await q(OTHER_SUB.sub_mchid)).status).toBe(404);
  expect((await q('1999999999')).status).toBe(400); // not bound to this service provider
  expect((await call('GET', `/v3/pay/transactions/out-trade-no/SPNATIVE01?mchid=${sp.mchid}`)).status).toBe(404);
  const close = (sub: string) =>
    call('POST', '/v3/pay/partner/transactions/out-trade-no/SPNATIVE01/close', { sp_mchid: sp.mchid, sub_mchid: sub });
  expect((await close(OTHER_SUB.sub_mchid)).status).toBe(404);
  expect((await close(SUB.sub_mchid)).status).toBe(204);
  expect(sandbox.order('SPNATIVE01')?.trade_state).toBe('CLOSED');
});

test('refund names the sub-merchant; its query needs ?sub_mchid=', async () => {
  await call('POST', '/v3/pay/partner/transactions/app', { ...jsapiBody('SPAPP00001'), payer: undefined });
  await sandbox.pay('SPAPP00001');
  const body = { out_trade_no: 'SPAPP00001', out_refund_no: 'SPAPP00001-1', amount: { refund: 100, total: 300, currency: 'CNY' } };
  expect((await call('POST', '/v3/refund/domestic/refunds', body)).status).toBe(404); // no sub_mchid: not the direct merchant's order
  expect((await call('POST', '/v3/refund/domestic/refunds', { ...body, sub_mchid: OTHER_SUB.sub_mchid })).status).toBe(404);
  const ok = await call('POST', '/v3/refund/domestic/refunds', { ...body, sub_mchid: SUB.sub_mchid });
  expect(ok.status).toBe(200);
  expect(JSON.parse(ok.body)).toMatchObject({ status: 'SUCCESS', amount: { refund: 100 } });
  expect((await call('GET', '/v3/refund/domestic/refunds/SPAPP00001-1')).status).toBe(404);
  expect((await call('GET', `/v3/refund/domestic/refunds/SPAPP00001-1?sub_mchid=${SUB.sub_mchid}`)).status).toBe(200);
});

test('refusals: sp_mchid other than the signer, unbound sub_mchid, sub_appid of another sub-merchant, sub_openid without sub_appid', async () => {
  const post = (b: Record<string, unknown>) => call('POST', '/v3/pay/partner/transactions/jsapi', b);
  const code = async (b: Record<string, unknown>) => JSON.parse((await post(b)).body).code;
  expect(await code(jsapiBody('SPBAD00001', { sp_mchid: '1900000901' }))).toBe('PARAM_ERROR');
  expect(await code(jsapiBody('SPBAD00002', { sub_mchid: '1999999999' }))).toBe('INVALID_REQUEST');
  expect(await code(jsapiBody('SPBAD00003', { sub_appid: OTHER_SUB.appids[0] }))).toBe('APPID_MCHID_NOT_MATCH');
  expect(await code(jsapiBody('SPBAD00004', { sub_appid: undefined }))).toBe('PARAM_ERROR');
  expect(await code(jsapiBody('SPBAD00005', { payer: {} }))).toBe('PARAM_ERROR');
  // sp_openid (openid under the service provider's app) needs no sub_appid
  expect((await post(jsapiBody('SPSPOPEN01', { sub_appid: undefined, payer: { sp_openid: 'o_sp_user' } }))).status).toBe(200);
});
