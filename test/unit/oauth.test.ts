/**
 * OAuth code → user id helpers against scripted transports: Alipay `alipay.system.oauth.token`
 * (request shape and signature, response verification, tokens kept inside) and the WeChat
 * official-account `/sns/oauth2/access_token` (URL, errcode mapping, tokens kept inside).
 */
import { alipayOauthToken, type AlipayNodeConfig } from '../../uni_modules/vk-uni-pay/server/providers/alipay';
import { officialAccountOpenid, type WxpayNodeConfig } from '../../uni_modules/vk-uni-pay/server/providers/wxpay';
import type { ProviderContext } from '../../uni_modules/vk-uni-pay/server/providers/types';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { createAlipayApp, type AlipaySandboxApp } from '../../tools/sandbox/alipay';
import { rsa2Sign, rsa2Verify, signString } from '../../tools/sandbox/alipay/crypto';

// 2026-01-01 16:30:05 UTC = 2026-01-02 00:30:05 Beijing
const FIXED = Date.UTC(2026, 0, 1, 16, 30, 5);

function scripted(reply: (req: HttpRequest) => HttpResponse | Promise<HttpResponse>): HttpTransport & { calls: HttpRequest[] } {
  const calls: HttpRequest[] = [];
  return {
    calls,
    async request(req) {
      calls.push(req);
      return reply(req);
    },
  };
}
const ok = (body: string, status = 200): HttpResponse => ({
  status,
  headers: { 'content-type': 'text/html;charset=utf-8' },
  body: Buffer.from(body, 'utf8'),
});

async function payError(p: Promise<unknown>) {
  const e = await p.then(
    () => undefined,
    (err) => err,
  );
  expect(e).toBeDefined();
  expect(e.name).toBe('PayError');
  return e;
}

function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const seg of text.split('&')) {
    if (!seg) continue;
    const i = seg.indexOf('=');
    out[decodeURIComponent(seg.slice(0, i))] = decodeURIComponent(seg.slice(i + 1));
  }
  return out;
}

describe('alipayOauthToken', () => {
  let app: AlipaySandboxApp;
  let forger: AlipaySandboxApp; // a key pair that is not Alipay's
  beforeAll(async () => {
    [app, forger] = await Promise.all([createAlipayApp(), createAlipayApp()]);
  });

  const config = (): AlipayNodeConfig => ({
    appId: app.appId,
    privateKey: app.appPrivateKeyPem,
    alipayPublicKey: app.alipayPublicKeyPem,
    gateway: 'http://127.0.0.1:9/gateway.do',
  });
  const ctxWith = (http: HttpTransport): ProviderContext<AlipayNodeConfig> => ({
    config: config(),
    http,
    clock: { now: () => FIXED },
    cache: memoryCache(),
  });

  const TOKENS = { access_token: 'authusrB-ACCESS-secret-0001', refresh_token: 'authusrB-REFRESH-secret-0002' };
  const successInner = (ids: Record<string, string>) => JSON.stringify({ ...TOKENS, expires_in: 1296000, re_expires_in: 2592000, ...ids });
  const respond = (key: string, inner: string, signWith: string | null) =>
    signWith === null ? `{"${key}":${inner}}` : `{"${key}":${inner},"sign":"${rsa2Sign(inner, signWith)}"}`;
  const KEY = 'alipay_system_oauth_token_response';

  test('request: grant_type and code are signed top-level params, no biz_content; returns only the ids', async () => {
    const http = scripted(() =>
      ok(respond(KEY, successInner({ user_id: '2088102150477652', open_id: '074a1CcTG1Lelx' }), app.alipayPrivateKeyPem)),
    );
    const r = await alipayOauthToken('4b203fe6c11548bcabd8da5bb087a83b', ctxWith(http));
    expect(r).toEqual({ user_id: '2088102150477652', open_id: '074a1CcTG1Lelx' });
    expect(Object.keys(r).sort()).toEqual(['open_id', 'user_id']);
    expect(JSON.stringify(r)).not.toContain('secret');

    expect(http.calls).toHaveLength(1);
    const req = http.calls[0];
    expect(req.method).toBe('POST');
    const u = new URL(req.url);
    const params = { ...parseForm(u.search.slice(1)), ...parseForm(String(req.body ?? '')) };
    expect(params.method).toBe('alipay.system.oauth.token');
    expect(params.grant_type).toBe('authorization_code');
    expect(params.code).toBe('4b203fe6c11548bcabd8da5bb087a83b');
    expect(params).not.toHaveProperty('biz_content');
    expect(params.timestamp).toBe('2026-01-02 00:30:05');
    expect(params.app_id).toBe(app.appId);
    // the merchant signature covers grant_type and code
    expect(rsa2Verify(signString(params, false), params.sign, app.appPublicKeyPem)).toBe(true);
    const tampered = { ...params, code: 'another-code' };
    expect(rsa2Verify(signString(tampered, false), params.sign, app.appPublicKeyPem)).toBe(false);
  });

  test('a success that also carries code 10000 is accepted; user_id alone or open_id alone is enough', async () => {
    const withCode = JSON.stringify({ code: '10000', msg: 'Success', ...TOKENS, user_id: '2088000000000009' });
    expect(await alipayOauthToken('c1', ctxWith(scripted(() => ok(respond(KEY, withCode, app.alipayPrivateKeyPem)))))).toEqual({
      user_id: '2088000000000009',
    });
    const openOnly = successInner({ open_id: '0abcDEF' });
    expect(await alipayOauthToken('c2', ctxWith(scripted(() => ok(respond(KEY, openOnly, app.alipayPrivateKeyPem)))))).toEqual({
      open_id: '0abcDEF',
    });
  });

  test('signed error_response (bad code) → GATEWAY_ERROR with the sub_code', async () => {
    const inner = JSON.stringify({ code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.code-invalid', sub_msg: '授权码code无效' });
    const e = await payError(
      alipayOauthToken('used-code', ctxWith(scripted(() => ok(respond('error_response', inner, app.alipayPrivateKeyPem))))),
    );
    expect(e.key).toBe('GATEWAY_ERROR');
    expect(e.msgEn).toContain('isv.code-invalid');
    expect(e.detail).toMatchObject({ providerCode: 'isv.code-invalid', verified: true, retryable: false });
  });

  test('unsigned error_response → GATEWAY_ERROR (verified: false)', async () => {
    const inner = JSON.stringify({ code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' });
    const e = await payError(alipayOauthToken('c', ctxWith(scripted(() => ok(respond('error_response', inner, null))))));
    expect(e.key).toBe('GATEWAY_ERROR');
    expect(e.detail).toMatchObject({ verified: false, retryable: true });
    expect(e.msgEn).toContain('isv.invalid-app-id');
  });

  test('forged responses are refused: unsigned success, wrong key, altered ids, missing ids', async () => {
    const inner = successInner({ user_id: '2088102150477652' });
    for (const body of [
      respond(KEY, inner, null), // no sign at all
      respond(KEY, inner, forger.alipayPrivateKeyPem), // signed by someone else
      respond(KEY, inner, app.alipayPrivateKeyPem).replace('2088102150477652', '2088999999999999'), // ids altered after signing
    ]) {
      const e = await payError(alipayOauthToken('c', ctxWith(scripted(() => ok(body)))));
      expect(e.key).toBe('GATEWAY_RESPONSE_UNVERIFIED');
    }
    // a correctly signed answer without ids is not a login
    const noIds = JSON.stringify({ ...TOKENS, expires_in: 1 });
    expect((await payError(alipayOauthToken('c', ctxWith(scripted(() => ok(respond(KEY, noIds, app.alipayPrivateKeyPem))))))).key).toBe(
      'GATEWAY_RESPONSE_INVALID',
    );
    // a response for another method is not accepted
    expect(
      (
        await payError(
          alipayOauthToken('c', ctxWith(scripted(() => ok(respond('alipay_trade_query_response', inner, app.alipayPrivateKeyPem))))),
        )
      ).key,
    ).toBe('GATEWAY_RESPONSE_INVALID');
  });

  test('code format is checked before any request', async () => {
    const http = scripted(() => {
      throw new Error('no request expected');
    });
    for (const bad of [
      '',
      'a b',
      'x&grant_type=refresh_token',
      'x'.repeat(129),
      '码',
      undefined as unknown as string,
      42 as unknown as string,
    ]) {
      const e = await payError(alipayOauthToken(bad, ctxWith(http)));
      expect(e.key).toBe('FIELD_INVALID');
    }
    expect(http.calls).toHaveLength(0);
  });

  test('transport failure / 5xx → GATEWAY_UNREACHABLE', async () => {
    const down = scripted(() => {
      throw new Error('ECONNREFUSED');
    });
    expect((await payError(alipayOauthToken('c', ctxWith(down)))).key).toBe('GATEWAY_UNREACHABLE');
    expect((await payError(alipayOauthToken('c', ctxWith(scripted(() => ok('oops', 502)))))).key).toBe('GATEWAY_UNREACHABLE');
  });
});

describe('officialAccountOpenid', () => {
  const baseConfig: WxpayNodeConfig = {
    appId: 'wx0a1b2c3d4e5f6a7b',
    mchId: '1900000109',
    secret: 'oa-secret-123',
    apiBase: 'http://127.0.0.1:9/',
  };
  const ctxWith = (http: HttpTransport, over: Partial<WxpayNodeConfig> = {}): ProviderContext<WxpayNodeConfig> => ({
    config: { ...baseConfig, ...over },
    http,
    clock: { now: () => FIXED },
    cache: memoryCache(),
  });
  const json = (o: unknown, status = 200): HttpResponse => ({
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(o)),
  });
  const ANSWER = {
    access_token: 'WEB-ACCESS-secret',
    expires_in: 7200,
    refresh_token: 'WEB-REFRESH-secret',
    openid: 'oOpenid123',
    scope: 'snsapi_base',
  };

  test('GET <apiBase>/sns/oauth2/access_token with appid, secret, code, grant_type; returns only openid (+unionid)', async () => {
    const http = scripted(() => json({ ...ANSWER, unionid: 'uUnion1' }));
    const r = await officialAccountOpenid('061abcDEF-_x', ctxWith(http));
    expect(r).toEqual({ openid: 'oOpenid123', unionid: 'uUnion1' });
    expect(JSON.stringify(r)).not.toContain('secret');
    const req = http.calls[0];
    expect(req.method).toBe('GET');
    const u = new URL(req.url);
    expect(`${u.origin}${u.pathname}`).toBe('http://127.0.0.1:9/sns/oauth2/access_token');
    expect(Object.fromEntries(u.searchParams)).toEqual({
      appid: baseConfig.appId,
      secret: 'oa-secret-123',
      code: '061abcDEF-_x',
      grant_type: 'authorization_code',
    });

    const noUnion = await officialAccountOpenid('c', ctxWith(scripted(() => json(ANSWER))));
    expect(noUnion).toEqual({ openid: 'oOpenid123' });
    expect(Object.keys(noUnion)).toEqual(['openid']);
  });

  test('apiBase defaults to https://api.weixin.qq.com (not the merchant gateway)', async () => {
    const http = scripted(() => json(ANSWER));
    await officialAccountOpenid('c', ctxWith(http, { apiBase: undefined, gateway: 'http://127.0.0.1:8/mch' }));
    expect(http.calls[0].url.startsWith('https://api.weixin.qq.com/sns/oauth2/access_token?')).toBe(true);
  });

  test('errcode ≠ 0 → GATEWAY_ERROR with errcode and errmsg', async () => {
    for (const [errcode, errmsg] of [
      [40029, 'invalid code'],
      [40163, 'code been used'],
      [40125, 'invalid appsecret'],
    ] as const) {
      const e = await payError(officialAccountOpenid('c', ctxWith(scripted(() => json({ errcode, errmsg })))));
      expect(e.key).toBe('GATEWAY_ERROR');
      expect(e.msgEn).toContain(String(errcode));
      expect(e.msgEn).toContain(errmsg);
      expect(e.detail).toMatchObject({ errcode });
      expect(e.msgEn).not.toContain('oa-secret-123');
    }
  });

  test('malformed answers, HTTP errors, unreachable', async () => {
    expect((await payError(officialAccountOpenid('c', ctxWith(scripted(() => json({ access_token: 'x' })))))).key).toBe(
      'GATEWAY_RESPONSE_INVALID',
    );
    expect((await payError(officialAccountOpenid('c', ctxWith(scripted(() => ok('<html>')))))).key).toBe('GATEWAY_RESPONSE_INVALID');
    expect((await payError(officialAccountOpenid('c', ctxWith(scripted(() => json({}, 503)))))).key).toBe('GATEWAY_ERROR');
    const down = scripted(() => {
      throw new Error('ECONNREFUSED');
    });
    expect((await payError(officialAccountOpenid('c', ctxWith(down)))).key).toBe('GATEWAY_UNREACHABLE');
  });

  test('code format and config are checked before any request', async () => {
    const http = scripted(() => {
      throw new Error('no request expected');
    });
    for (const bad of ['', 'a&secret=x', 'x'.repeat(129), null as unknown as string]) {
      expect((await payError(officialAccountOpenid(bad, ctxWith(http)))).key).toBe('FIELD_INVALID');
    }
    const e = await payError(officialAccountOpenid('c', ctxWith(http, { secret: undefined })));
    expect(e.key).toBe('CONFIG_FIELD_MISSING');
    expect(e.msgEn).toContain('secret');
    expect(http.calls).toHaveLength(0);
  });
});
