import http from 'http';
import type { AddressInfo } from 'net';
import { callCloudObject, signClientRequest, startRuntime, type RuntimeHandle } from '../../tools/local-unicloud';
import { createFixture, type Fixture } from './fixtures/project';

let fx: Fixture;
let rt: RuntimeHandle;

beforeAll(async () => {
  fx = createFixture();
  rt = await startRuntime({ projectDir: fx.projectDir, dataDir: fx.dataDir, configDir: fx.configDir, port: 0, quiet: true });
});

afterAll(async () => {
  await rt?.close();
  fx?.cleanup();
});

interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

function raw(method: string, url: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const opts = () => ({ clientSecret: rt.clientSecret, spaceId: rt.spaceId });

describe('cloud object pipeline (client protocol)', () => {
  test('this built-ins, live params, client info, no exported methods on this', async () => {
    const r = await callCloudObject(rt.url, 'demo-co', 'echo', ['rewrite-me', { k: 1 }], {
      ...opts(),
      clientInfo: { uniPlatform: 'web', appId: '__UNI__X', clientIP: '6.6.6.6', source: 'function' as any },
      uniIdToken: 'tok123',
      forwardedFor: '203.0.113.9, 10.0.0.1',
      userAgent: 'jest-agent/1.0',
    });
    expect(r.httpStatus).toBe(200);
    expect(r.success).toBe(true);
    const d = r.data;
    expect(d.a).toBe('rewritten'); // _before rewrote getParams()[0] and the method saw it
    expect(d.b).toEqual({ k: 1 });
    expect(d.sameArray).toBe(true);
    expect(d.paramsLength).toBe(2);
    expect(d.methodName).toBe('echo');
    expect(d.hasEchoOnThis).toBe('undefined');
    expect(d.beforeRan).toBe(true);
    expect(d.token).toBe('tok123');
    expect(d.httpInfo).toBeNull();
    expect(d.clientInfo).toMatchObject({
      uniPlatform: 'web',
      appId: '__UNI__X',
      clientIP: '203.0.113.9',
      userAgent: 'jest-agent/1.0',
      source: 'client',
    });
    expect(d.clientInfo.requestId).toBe(d.requestId);
    expect(typeof d.requestId).toBe('string');
    expect(d.requestId.length).toBeGreaterThan(8);
    expect(d.cloudInfo).toEqual({
      provider: 'aliyun',
      spaceId: 'local-space',
      useOldSpaceId: false,
      functionName: 'demo-co',
      functionType: 'cloudobject',
      runtimeEnv: 'local',
    });
  });

  test('getParams returns the live array (mutations visible to the runtime-owned array)', async () => {
    const params: unknown[] = ['x'];
    const n = await rt.callObject('demo-co', 'mutateParams', params);
    expect(n).toBe(2);
    expect(params).toEqual(['x', 'added']);
  });

  test('wrong or missing sign is refused with SIGN_ERROR / 400', async () => {
    const bad = await callCloudObject(rt.url, 'demo-co', 'text', [], { ...opts(), sign: 'deadbeef' });
    expect(bad.httpStatus).toBe(400);
    expect(bad.success).toBe(false);
    expect(bad.error!.code).toBe('SIGN_ERROR');
    const wrongSecret = await callCloudObject(rt.url, 'demo-co', 'text', [], { ...opts(), clientSecret: 'other' });
    expect(wrongSecret.error!.code).toBe('SIGN_ERROR');
    const body = {
      method: 'serverless.function.runtime.invoke',
      params: JSON.stringify({ functionTarget: 'demo-co', functionArgs: { method: 'text', params: [] } }),
      spaceId: 'local-space',
      timestamp: Date.now(),
    };
    const missing = await raw('POST', rt.url + '/unicloud/client', JSON.stringify(body), { 'content-type': 'application/json' });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body.toString()).error.code).toBe('SIGN_ERROR');
    const ok = await raw('POST', rt.url + '/unicloud/client', JSON.stringify(body), {
      'content-type': 'application/json',
      'x-serverless-sign': signClientRequest(body, 'local-secret'),
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.toString())).toEqual({ success: true, data: 'plain text' });
  });

  test('signClientRequest matches the uni-cloud client algorithm', () => {
    // sorted keys, falsy values skipped, hex HMAC-MD5
    const crypto = require('crypto');
    const expected = crypto.createHmac('md5', 's3').update('a=1&b=x&c=3').digest('hex');
    expect(signClientRequest({ c: 3, b: 'x', a: 1, empty: '', zero: 0 }, 's3')).toBe(expected);
  });

  test('anonymousAuthorize answers with an access token', async () => {
    const body = { method: 'serverless.auth.user.anonymousAuthorize', params: '{}', spaceId: 'local-space', timestamp: Date.now() };
    const r = await raw('POST', rt.url + '/unicloud/client', JSON.stringify(body), {
      'content-type': 'application/json',
      'x-serverless-sign': signClientRequest(body, rt.clientSecret),
    });
    expect(JSON.parse(r.body.toString())).toMatchObject({ success: true, data: { accessToken: 'local' } });
  });

  test('_before throws → method skipped, _after still runs and its return replaces the error', async () => {
    await rt.callObject('demo-co', 'getCalls', []);
    const r = await callCloudObject(rt.url, 'demo-co', 'failBefore', [], opts());
    expect(r).toMatchObject({ success: true, data: { recovered: 'before failed' } });
  });

  test('_after return value becomes the result; thrown {errCode} becomes a returned error', async () => {
    expect(await rt.callObject('demo-co', 'wrapped', [21])).toEqual({ wrapped: 42 });
    const r = await callCloudObject(rt.url, 'demo-co', 'bizError', [], opts());
    expect(r).toMatchObject({ success: true, data: { errCode: 'demo-biz-failed', errMsg: 'business failed', errSubject: 'demo' } });
  });

  test('thrown error → FunctionBizError with the message', async () => {
    const r = await callCloudObject(rt.url, 'demo-co', 'boom', [], opts());
    expect(r.success).toBe(false);
    expect(r.error).toEqual({ code: 'FunctionBizError', message: 'kaboom' });
    await expect(rt.callObject('demo-co', 'boom', [])).rejects.toMatchObject({ code: 'FunctionBizError', message: 'kaboom' });
  });

  test('returned Error instance is JSON-serialised: message/stack dropped, own fields kept', async () => {
    const r = await callCloudObject(rt.url, 'demo-co', 'returnError', [], opts());
    expect(r.data).toEqual({ errCode: 'E_RET', errMsg: 'returned error' });
  });

  test('undefined return → success without data', async () => {
    const r = await callCloudObject(rt.url, 'demo-co', 'nothing', [], opts());
    expect(r.success).toBe(true);
    expect('data' in r).toBe(false);
  });

  test('private, hook and unknown methods are refused', async () => {
    for (const m of ['_private', '_before', '_timing', 'nope', 'toString', 'constructor']) {
      const r = await callCloudObject(rt.url, 'demo-co', m, [], opts());
      expect(r.success).toBe(false);
      expect(r.error!.code).toBe('METHOD_NOT_FOUND');
    }
    await expect(rt.callObject('demo-co', '_private', [])).rejects.toMatchObject({ code: 'METHOD_NOT_FOUND' });
    const nf = await callCloudObject(rt.url, 'no-such-co', 'x', [], opts());
    expect(nf.error!.code).toBe('FUNCTION_NOT_FOUND');
  });

  test('timeout from cloudfunction-config is enforced', async () => {
    const t0 = Date.now();
    const r = await callCloudObject(rt.url, 'demo-co', 'slow', [], opts());
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(r.success).toBe(false);
    expect(r.error!.code).toBe('FunctionTimeout');
  });

  test('_timing runs without _before/_after, with source timing', async () => {
    await rt.callObject('demo-co', 'getCalls', []);
    const r = await raw('POST', rt.url + '/__runtime/timing/demo-co');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ ok: true });
    const log = await rt.database.collection('timing_log').get();
    expect(log.data).toHaveLength(1);
    expect(log.data[0]).toMatchObject({ source: 'timing', beforeRan: false, param: { Type: 'Timer', triggerName: 'TIMER_LATEST' } });
    expect(await rt.callObject('demo-co', 'getCalls', [])).toEqual(['getCalls']); // _before never saw _timing
  });

  test('require(<common module>) resolves to the common module, loaded once (warm)', async () => {
    const a = (await rt.callObject('demo-co', 'useCommon', ['bob'])) as any;
    const b = (await rt.callObject('demo-co', 'useCommon', ['amy'])) as any;
    expect(a.hello).toBe('hello bob');
    expect(b.hello).toBe('hello amy');
    expect(b.count).toBe(a.count + 1);
    expect(b.sameInstance).toBe(true);
  });

  test("require('uni-config-center') is the runtime's own, rooted at configDir", async () => {
    const r = (await rt.callObject('demo-co', 'useConfig', [])) as any;
    expect(r.all).toEqual({ a: 1, nested: { x: 1, y: 2 }, list: [{ name: 'first' }] });
    expect(r.y).toBe(2);
    expect(r.list0).toBe('first');
    expect(r.missing).toBe('fb');
    expect(r.js).toEqual({ fromJs: true, appId: 'wx-local' });
    expect(r.missingJs).toBe(true);
    expect(r.hasJson).toBe(true);
    expect(r.hasNope).toBe(false);
    expect(r.resolved).toBe(`${fx.configDir}/my-plugin/config.js`);
    expect(r.cached).toBe(true);
  });

  test('global uniCloud: database, request list, httpclient', async () => {
    const d = (await rt.callObject('demo-co', 'dbWork', [5])) as any;
    expect(d.id).toMatch(/^[0-9a-f]{24}$/);
    expect(d.data).toEqual([{ _id: d.id, v: 5 }]);
    expect(await rt.callObject('demo-co', 'inflight', [])).toEqual({ listed: true, infos: true, cloud: 'demo-co' });
    const r = (await rt.callObject('demo-co', 'fetchUrl', [rt.url + '/__runtime/health'])) as any;
    expect(r).toEqual({ status: 200, data: { ok: true } });
  });

  test('classic function gets functionArgs as event', async () => {
    const body = {
      method: 'serverless.function.runtime.invoke',
      params: JSON.stringify({ functionTarget: 'plain-fn', functionArgs: { x: 1, clientInfo: { uniPlatform: 'web' } } }),
      spaceId: 'local-space',
      timestamp: Date.now(),
    };
    const r = await raw('POST', rt.url + '/unicloud/client', JSON.stringify(body), {
      'content-type': 'application/json',
      'x-serverless-sign': signClientRequest(body, rt.clientSecret),
      'x-forwarded-for': '198.51.100.7',
    });
    expect(JSON.parse(r.body.toString())).toEqual({
      success: true,
      data: { event: { x: 1, clientInfo: { uniPlatform: 'web' } }, source: 'client', ip: '198.51.100.7' },
    });
  });
});

describe('URL化', () => {
  test('routing, query as first argument, httpInfo, http client info', async () => {
    const r = await raw('POST', rt.url + '/http/vk-pay/info/extra/seg?a=1&b=two', '{"x":1}', {
      'content-type': 'application/json',
      'x-forwarded-for': '192.0.2.5',
      'user-agent': 'WxPay/1',
      'X-Mixed-Case': 'v',
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const d = JSON.parse(r.body.toString());
    expect(d.query).toEqual({ a: '1', b: 'two' });
    expect(d.args).toBe(1);
    expect(d.token).toBeNull();
    expect(d.info).toMatchObject({
      path: '/info/extra/seg',
      httpMethod: 'POST',
      queryStringParameters: { a: '1', b: 'two' },
      body: '{"x":1}',
      isBase64Encoded: false,
    });
    expect(d.info.headers['x-mixed-case']).toBe('v');
    expect(d.info.headers['content-type']).toBe('application/json');
    expect(Object.keys(d.clientInfo).sort()).toEqual(['clientIP', 'requestId', 'source', 'userAgent']);
    expect(d.clientInfo).toMatchObject({ clientIP: '192.0.2.5', userAgent: 'WxPay/1', source: 'http' });
  });

  test('integrated response sets status, headers and body exactly; xml body arrives base64', async () => {
    const xml = '<xml><id>ORDER1</id></xml>';
    const r = await raw('POST', rt.url + '/http/vk-pay/paymentNotify/wxpay_h5/ORDER1', xml, { 'content-type': 'text/xml' });
    expect(r.status).toBe(202);
    expect(r.body.toString()).toBe(`<xml><return_code><![CDATA[SUCCESS]]></return_code><echo>${xml}</echo></xml>`);
    expect(r.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(r.headers['set-cookie']).toEqual(['a=1; Path=/']);
    expect(r.rawHeaders).toContain('X-Custom-Header');
    expect(r.headers['x-custom-header']).toBe('Exact-Case');
    expect(r.headers['date']).toBeUndefined();
    const info = await raw('POST', rt.url + '/http/vk-pay/info', xml, { 'content-type': 'text/xml; charset=utf-8' });
    const d = JSON.parse(info.body.toString());
    expect(d.info.isBase64Encoded).toBe(true);
    expect(Buffer.from(d.info.body, 'base64').toString()).toBe(xml);
    const form = await raw('POST', rt.url + '/http/vk-pay/info', 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(JSON.parse(form.body.toString()).info).toMatchObject({ body: 'a=1&b=2', isBase64Encoded: false });
  });

  test('binary request body is base64 in httpInfo; base64 integrated response is decoded', async () => {
    const bin = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]);
    const r = await raw('POST', rt.url + '/http/vk-pay/info', bin, { 'content-type': 'application/octet-stream' });
    const d = JSON.parse(r.body.toString());
    expect(d.info.isBase64Encoded).toBe(true);
    expect(Buffer.from(d.info.body, 'base64').equals(bin)).toBe(true);
    const b = await raw('GET', rt.url + '/http/vk-pay/binary');
    expect(b.status).toBe(200);
    expect([...b.body]).toEqual([0, 1, 2, 255]);
  });

  test('string/number results are text/plain; thrown error body; private refused', async () => {
    const t = await raw('GET', rt.url + '/http/vk-pay/text');
    expect(t.status).toBe(200);
    expect(t.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(t.body.toString()).toBe('ok-text');
    const n = await raw('GET', rt.url + '/http/vk-pay/num');
    expect(n.body.toString()).toBe('7');
    expect(n.headers['content-type']).toBe('text/plain; charset=utf-8');
    const e = await raw('GET', rt.url + '/http/vk-pay/boom');
    expect(JSON.parse(e.body.toString())).toEqual({ success: false, error: { code: 'FunctionBizError', message: 'notify exploded' } });
    const p = await raw('GET', rt.url + '/http/demo/_private');
    expect(JSON.parse(p.body.toString()).error.code).toBe('METHOD_NOT_FOUND');
  });

  test('classic function with a path receives httpInfo as event', async () => {
    const r = await raw('GET', rt.url + '/http/plain/some/where?q=1');
    const d = JSON.parse(r.body.toString());
    expect(d.source).toBe('http');
    expect(d.event).toMatchObject({
      path: '/some/where',
      httpMethod: 'GET',
      queryStringParameters: { q: '1' },
      body: '',
      isBase64Encoded: false,
    });
  });

  test('request body over 2 MB is refused', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024 + 10, 97);
    const r = await raw('POST', rt.url + '/http/vk-pay/text', big, { 'content-type': 'text/plain' });
    expect(r.status).toBe(413);
  });

  test('health endpoint and 404', async () => {
    const h = await raw('GET', rt.url + '/__runtime/health');
    expect(JSON.parse(h.body.toString())).toEqual({ ok: true });
    const nf = await raw('GET', rt.url + '/nothing/here');
    expect(nf.status).toBe(404);
  });
});

describe('static files and multiple runtimes', () => {
  test('staticDir is served with content types; API routes take precedence', async () => {
    const fs = require('fs');
    const path = require('path');
    const st = path.join(fx.root, 'static');
    fs.mkdirSync(path.join(st, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(st, 'index.html'), '<h1>hi</h1>');
    fs.writeFileSync(path.join(st, 'assets', 'a.js'), 'console.log(1)');
    fs.mkdirSync(path.join(st, '__runtime'), { recursive: true });
    fs.writeFileSync(path.join(st, '__runtime', 'health'), 'shadow');
    const rt2 = await startRuntime({
      projectDir: fx.projectDir,
      dataDir: fx.dataDir + '-2',
      configDir: fx.configDir,
      port: 0,
      quiet: true,
      staticDir: st,
    });
    try {
      const i = await raw('GET', rt2.url + '/');
      expect(i.body.toString()).toBe('<h1>hi</h1>');
      expect(i.headers['content-type']).toBe('text/html; charset=utf-8');
      const js = await raw('GET', rt2.url + '/assets/a.js');
      expect(js.headers['content-type']).toBe('application/javascript; charset=utf-8');
      const h = await raw('GET', rt2.url + '/__runtime/health');
      expect(JSON.parse(h.body.toString())).toEqual({ ok: true });
      const trav = await raw('GET', rt2.url + '/../../etc/passwd');
      expect(trav.status).toBe(404);
      const addr = (rt2 as any).port;
      expect(addr).toBeGreaterThan(0);
    } finally {
      await rt2.close();
    }
    // the first runtime still works after the second closed
    expect(await rt.callObject('demo-co', 'wrapped', [1])).toEqual({ wrapped: 2 });
  });
});

// silence unused import lint
void (null as unknown as AddressInfo);
