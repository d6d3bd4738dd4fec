/**
 * OAuth code → ids against the loopback peers: `alipay.system.oauth.token` on the Alipay sandbox
 * (key and cert mode, the official SDK as a second client, tampering in transit) and the WeChat
 * official-account `/sns/oauth2/access_token` on the wxapi sandbox.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import { alipayOauthToken, type AlipayNodeConfig } from '../../uni_modules/vk-uni-pay/server/providers/alipay';
import { officialAccountOpenid, type WxpayNodeConfig } from '../../uni_modules/vk-uni-pay/server/providers/wxpay';
import type { ProviderContext } from '../../uni_modules/vk-uni-pay/server/providers/types';
import type { HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox, type AlipaySandboxApp } from '../../tools/sandbox/alipay';
import { alipayNodeConfig, loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { startWxApiSandbox, type WxApiSandbox } from '../../tools/sandbox/wxapi';
import { nodeTransport } from '../../tools/sandbox/loopback';

/** the PayError `p` rejects with (fails the test when it resolves) */
const payError = (p: Promise<unknown>): Promise<any> =>
  p.then(
    (v) => {
      throw new Error(`expected a PayError, got ${JSON.stringify(v)}`);
    },
    (e) => {
      expect(e).toMatchObject({ name: 'PayError' });
      return e;
    },
  );

/** a transport that keeps every response body (to prove tokens reached us but were not returned) */
function recording(inner: HttpTransport): HttpTransport & { bodies: string[] } {
  const bodies: string[] = [];
  return {
    bodies,
    async request(req) {
      const res = await inner.request(req);
      bodies.push(res.body.toString('utf8'));
      return res;
    },
  };
}

describe('alipay.system.oauth.token on the Alipay sandbox', () => {
  let keyApp: AlipaySandboxApp;
  let certApp: AlipaySandboxApp;
  let otherApp: AlipaySandboxApp;
  let sb: AlipaySandbox;

  beforeAll(async () => {
    [keyApp, certApp, otherApp] = await Promise.all([createAlipayApp(), createAlipayApp({ certMode: true }), createAlipayApp()]);
    sb = await startAlipaySandbox({ apps: [keyApp, certApp, otherApp], quiet: true, retryDelaysMs: [] });
  });
  afterAll(() => sb.close());

  const ctxFor = (
    app: AlipaySandboxApp,
    extra: Record<string, unknown> = {},
    transport: HttpTransport = loopbackTransport(),
  ): ProviderContext<AlipayNodeConfig> => ({
    config: alipayNodeConfig(app, sb, extra) as unknown as AlipayNodeConfig,
    http: transport,
    clock: { now: () => Date.now() },
    cache: memoryCache(),
  });

  test('key mode: a code the sandbox issued → user_id and open_id; tokens stay inside', async () => {
    const issued = sb.issueAuthCode();
    const rec = recording(loopbackTransport());
    const r = await alipayOauthToken(issued.code, ctxFor(keyApp, {}, rec));
    expect(r).toEqual({ user_id: issued.user_id, open_id: issued.open_id });
    expect(Object.keys(r).sort()).toEqual(['open_id', 'user_id']);

    // the gateway did send tokens; none of them is in what we return
    const req = sb.requests[sb.requests.length - 1];
    expect(req.method).toBe('alipay.system.oauth.token');
    expect(req.params.grant_type).toBe('authorization_code');
    expect(req.params.code).toBe(issued.code);
    expect(req.params).not.toHaveProperty('biz_content');
    const raw = JSON.parse(rec.bodies[0]).alipay_system_oauth_token_response;
    expect(raw.access_token).toEqual(expect.any(String));
    expect(raw.refresh_token).toEqual(expect.any(String));
    expect(JSON.stringify(r)).not.toContain(raw.access_token);
    expect(JSON.stringify(r)).not.toContain(raw.refresh_token);
  });

  test('codes are single use: the second exchange → GATEWAY_ERROR isv.code-invalid (signed error_response)', async () => {
    const { code, user_id } = sb.issueAuthCode({ user_id: '2088000011112222', open_id: '0fixedOpenId' });
    expect(await alipayOauthToken(code, ctxFor(keyApp))).toEqual({ user_id, open_id: '0fixedOpenId' });
    const e = await payError(alipayOauthToken(code, ctxFor(keyApp)));
    expect(e.key).toBe('GATEWAY_ERROR');
    expect(e.detail).toMatchObject({ providerCode: 'isv.code-invalid', verified: true, retryable: false });
    const last = sb.requests[sb.requests.length - 1].response;
    expect(last.startsWith('{"error_response":')).toBe(true);
    expect(last).toContain('"sign":"');
  });

  test('unknown codes and codes issued to another app are refused', async () => {
    expect((await payError(alipayOauthToken('never-issued-code', ctxFor(keyApp)))).detail).toMatchObject({
      providerCode: 'isv.code-invalid',
    });
    const forOther = sb.issueAuthCode({ appId: otherApp.appId });
    expect((await payError(alipayOauthToken(forOther.code, ctxFor(keyApp)))).detail).toMatchObject({ providerCode: 'isv.code-invalid' });
    // the refused attempt did not burn the code for its own app
    expect(await alipayOauthToken(forOther.code, ctxFor(otherApp))).toEqual({ user_id: forOther.user_id, open_id: forOther.open_id });
  });

  test('cert mode works the same way', async () => {
    const issued = sb.issueAuthCode({ appId: certApp.appId });
    expect(await alipayOauthToken(issued.code, ctxFor(certApp))).toEqual({ user_id: issued.user_id, open_id: issued.open_id });
    const req = sb.requests[sb.requests.length - 1];
    expect(req.params.app_cert_sn).toEqual(expect.any(String));
    expect(sb.requests[sb.requests.length - 1].response).toContain('"alipay_cert_sn":"');
  });

  test('a wrong app private key is refused by the gateway (isv.invalid-signature); the code stays usable', async () => {
    const { code, user_id } = sb.issueAuthCode();
    const e = await payError(alipayOauthToken(code, ctxFor(keyApp, { privateKey: otherApp.appPrivateKeyPem })));
    expect(e.key).toBe('GATEWAY_ERROR');
    expect(e.detail).toMatchObject({ providerCode: 'isv.invalid-signature' });
    expect((await alipayOauthToken(code, ctxFor(keyApp))).user_id).toBe(user_id);
  });

  test('the wrong Alipay public key (or a forged gateway) → GATEWAY_RESPONSE_UNVERIFIED', async () => {
    const { code } = sb.issueAuthCode();
    const e = await payError(alipayOauthToken(code, ctxFor(keyApp, { alipayPublicKey: otherApp.alipayPublicKeyPem })));
    expect(e.key).toBe('GATEWAY_RESPONSE_UNVERIFIED');
  });

  test('tampering in transit: altered user_id or stripped sign → refused', async () => {
    const proxies: Array<{ rewrite: (s: string) => string; key: string }> = [
      { rewrite: (s) => s.replace(/"user_id":"2088\d+"/, '"user_id":"2088999999999999"'), key: 'GATEWAY_RESPONSE_UNVERIFIED' },
      { rewrite: (s) => s.replace(/,"sign":"[^"]*"/, ''), key: 'GATEWAY_RESPONSE_UNVERIFIED' },
    ];
    for (const p of proxies) {
      const { code } = sb.issueAuthCode();
      const server = http.createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const r = await fetch(sb.url + req.url, {
          method: req.method,
          headers: { 'content-type': String(req.headers['content-type'] || '') },
          body: chunks.length ? Buffer.concat(chunks) : undefined,
        });
        const text = await r.text();
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(p.rewrite(text));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const gateway = `http://127.0.0.1:${(server.address() as any).port}/gateway.do`;
        const e = await payError(alipayOauthToken(code, ctxFor(keyApp, { gateway })));
        expect(e.key).toBe(p.key);
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    }
  });

  test('the official alipay-sdk (exec, validateSign) gets the same answers from the sandbox', async () => {
    const sdk = new AlipaySdk({ ...(alipayNodeConfig(keyApp, sb) as any), keyType: 'PKCS8' });
    const issued = sb.issueAuthCode();
    const ok = await sdk.exec('alipay.system.oauth.token', { grantType: 'authorization_code', code: issued.code }, { validateSign: true });
    expect(ok).toMatchObject({ userId: issued.user_id, openId: issued.open_id, accessToken: expect.any(String) });
    // the SDK's sign-string heuristic only finds `<method>_response`, not `error_response`, so the
    // refusal is read without its validateSign (gateway.ts verifies error_response itself)
    const again = await sdk.exec('alipay.system.oauth.token', { grantType: 'authorization_code', code: issued.code });
    expect(again).toMatchObject({ code: '40002', subCode: 'isv.code-invalid' });
  });
});

describe('公众号 /sns/oauth2/access_token on the wxapi sandbox', () => {
  const oa = {
    appId: 'wx5566778899aabbcc',
    secret: 'oa-secret-' + randomBytes(6).toString('hex'),
    appKey: 'k',
    sandboxAppKey: 'k',
    offerId: '1',
    token: 't',
    encodingAESKey: randomBytes(32).toString('base64').slice(0, 43),
  };
  const other = { ...oa, appId: 'wx00000000000000ff', secret: 'other-secret' };
  let wx: WxApiSandbox;

  beforeAll(async () => {
    wx = await startWxApiSandbox({ apps: [oa, other] });
  });
  afterAll(() => wx.close());

  const ctxFor = (over: Partial<WxpayNodeConfig> = {}, transport: HttpTransport = nodeTransport()): ProviderContext<WxpayNodeConfig> => ({
    config: { appId: oa.appId, mchId: '1900000109', secret: oa.secret, apiBase: wx.url, ...over },
    http: transport,
    clock: { now: () => Date.now() },
    cache: memoryCache(),
  });

  test('a code from the OAuth redirect → openid (+unionid); the web access_token stays inside', async () => {
    const { code, openid } = wx.oauthLogin();
    const rec = recording(nodeTransport());
    const r = await officialAccountOpenid(code, ctxFor({}, rec));
    expect(r).toEqual({ openid, unionid: `u_${openid}` });
    const raw = JSON.parse(rec.bodies[0]);
    expect(raw.access_token).toEqual(expect.any(String));
    expect(raw.scope).toBe('snsapi_base');
    expect(JSON.stringify(r)).not.toContain(raw.access_token);
    expect(JSON.stringify(r)).not.toContain(raw.refresh_token);
    expect(Object.keys(r).sort()).toEqual(['openid', 'unionid']);
  });

  test('codes are single use (40163), unknown codes are 40029', async () => {
    const { code } = wx.oauthLogin('oFixedOpenid');
    expect((await officialAccountOpenid(code, ctxFor())).openid).toBe('oFixedOpenid');
    const e = await payError(officialAccountOpenid(code, ctxFor()));
    expect(e.key).toBe('GATEWAY_ERROR');
    expect(e.detail).toMatchObject({ errcode: 40163 });
    expect((await payError(officialAccountOpenid('nope', ctxFor()))).detail).toMatchObject({ errcode: 40029 });
  });

  test('wrong secret (40125) and unknown appid (40013) are refused without consuming the code', async () => {
    const { code, openid } = wx.oauthLogin();
    const e = await payError(officialAccountOpenid(code, ctxFor({ secret: 'wrong-secret' })));
    expect(e.key).toBe('GATEWAY_ERROR');
    expect(e.detail).toMatchObject({ errcode: 40125 });
    expect(e.msgEn).not.toContain('wrong-secret');
    expect((await payError(officialAccountOpenid(code, ctxFor({ appId: 'wx_unknown_app' })))).detail).toMatchObject({ errcode: 40013 });
    expect((await officialAccountOpenid(code, ctxFor())).openid).toBe(openid);
  });

  test('codes are bound to their app, and mini-program wx.login codes are not OAuth codes', async () => {
    const forOther = wx.oauthLogin(undefined, other.appId);
    expect((await payError(officialAccountOpenid(forOther.code, ctxFor()))).detail).toMatchObject({ errcode: 40029 });
    expect((await officialAccountOpenid(forOther.code, ctxFor({ appId: other.appId, secret: other.secret }))).openid).toBe(forOther.openid);
    const mp = wx.login();
    expect((await payError(officialAccountOpenid(mp.code, ctxFor()))).detail).toMatchObject({ errcode: 40029 });
  });
});
