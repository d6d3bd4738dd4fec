/** The shared gateway step: which GatewayFailure each kind of answer ends in. */
import { callGateway, gatewayUrl, verifyJsonAnswer, type GatewaySpec } from '../../uni_modules/vk-uni-pay/server/providers/gateway';
import { GatewayFailure, isFinalRefusal, isGatewayFailure } from '../../uni_modules/vk-uni-pay/server/core/gateway-failure';
import { PayError, isPayError } from '../../uni_modules/vk-uni-pay/server/core/errors';
import type { HttpResponse, HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';

const answer = (status: number, body: string, headers: Record<string, string> = {}): HttpTransport => ({
  request: async () => ({ status, headers, body: Buffer.from(body) }),
});

/** a toy protocol: signed iff header x-sig is "good"; refusals carry {code, retry} */
function spec(): GatewaySpec<{ value: number }> {
  return {
    request: { method: 'POST', url: 'http://127.0.0.1:1/x', body: '{}' },
    verify: (res: HttpResponse) => {
      if (res.headers['x-sig'] !== 'good') throw new Error('bad signature');
    },
    refusal: (res) => {
      const j = JSON.parse(res.body.toString());
      return j.code ? { code: j.code, message: j.message, retryable: j.code === 'SYSTEM_ERROR' } : undefined;
    },
    parse: (res) => {
      const j = JSON.parse(res.body.toString());
      if (typeof j.value !== 'number') throw new Error('shape');
      return { value: j.value };
    },
  };
}

async function failure<T>(http: HttpTransport, s: GatewaySpec<T> | GatewaySpec<{ value: number }> = spec()): Promise<GatewayFailure> {
  try {
    await callGateway<unknown>(http, s as GatewaySpec<unknown>);
  } catch (e) {
    expect(isGatewayFailure(e)).toBe(true);
    expect(isPayError(e)).toBe(true);
    return e as GatewayFailure;
  }
  throw new Error('expected a GatewayFailure');
}

const good = { 'x-sig': 'good' };

describe('callGateway', () => {
  test('a verified success is parsed', async () => {
    await expect(callGateway(answer(200, '{"value":7}', good), spec())).resolves.toEqual({ value: 7 });
  });

  test('no answer: 3002, unverified, retryable', async () => {
    const f = await failure({ request: () => Promise.reject(new Error('ECONNRESET')) });
    expect(f).toMatchObject({ key: 'GATEWAY_UNREACHABLE', code: 3002, verified: false, retryable: true });
    expect(isFinalRefusal(f)).toBe(false);
  });

  test.each([
    [200, '{"value":1}'],
    [400, '{"code":"PARAM_ERROR","message":"bad"}'],
    [404, '{"code":"ORDER_NOT_EXIST"}'],
    [500, '<html>'],
  ])('an unsigned %i answer proves nothing: 3003, unverified, retryable, no provider code', async (status, body) => {
    const f = await failure(answer(status, body));
    expect(f).toMatchObject({ key: 'GATEWAY_RESPONSE_UNVERIFIED', code: 3003, httpStatus: status, verified: false, retryable: true });
    expect(f.providerCode).toBeUndefined();
    expect(isFinalRefusal(f)).toBe(false);
  });

  test('a mis-signed answer is a response error (3003), never a notification error', async () => {
    const f = await failure(answer(400, '{"code":"PARAM_ERROR"}', { 'x-sig': 'forged' }));
    expect(f.code).toBe(3003);
  });

  test('a verified 4xx refusal is final', async () => {
    const f = await failure(answer(400, '{"code":"PARAM_ERROR","message":"refund exceeds"}', good));
    expect(f).toMatchObject({
      key: 'GATEWAY_ERROR',
      code: 3001,
      httpStatus: 400,
      providerCode: 'PARAM_ERROR',
      providerMessage: 'refund exceeds',
      verified: true,
      retryable: false,
    });
    expect(isFinalRefusal(f)).toBe(true);
    expect(f.msgEn).toContain('PARAM_ERROR');
    expect(f.detail).toMatchObject({ status: 400, providerCode: 'PARAM_ERROR', verified: true, retryable: false });
  });

  test('the adapter says which refusals are retryable; 5xx and 429 always are', async () => {
    expect(await failure(answer(500, '{"code":"SYSTEM_ERROR"}', good))).toMatchObject({ verified: true, retryable: true });
    expect(await failure(answer(200, '{"code":"SYSTEM_ERROR"}', good))).toMatchObject({ httpStatus: 200, retryable: true });
    expect(await failure(answer(429, '{"code":"FREQUENCY_LIMITED_X"}', good))).toMatchObject({ retryable: true });
    expect(await failure(answer(200, '{"code":"NOT_ENOUGH"}', good))).toMatchObject({ providerCode: 'NOT_ENOUGH', retryable: false });
  });

  test('a verified error status without a readable code is a refusal by status', async () => {
    const f = await failure(answer(403, '{}', good));
    expect(f).toMatchObject({ key: 'GATEWAY_ERROR', providerCode: 'HTTP 403', verified: true, retryable: false });
  });

  test('a verified answer that cannot be read: 3004, retryable', async () => {
    expect(await failure(answer(200, 'not json', good))).toMatchObject({ key: 'GATEWAY_RESPONSE_INVALID', code: 3004, retryable: true });
    expect(await failure(answer(200, '{"other":1}', good))).toMatchObject({ key: 'GATEWAY_RESPONSE_INVALID', verified: true });
  });

  test('a GatewayFailure thrown by the adapter passes through unchanged', async () => {
    const s = spec();
    s.parse = () => {
      throw new GatewayFailure('GATEWAY_ERROR', { providerCode: 'X', verified: true, retryable: false });
    };
    expect(await failure(answer(200, '{"value":1}', good), s)).toMatchObject({ providerCode: 'X' });
  });

  test('a failure copied across bundles (no shared class) is still recognised', () => {
    const foreign = Object.assign(new PayError('GATEWAY_ERROR'), { gatewayFailure: true, verified: true, retryable: false });
    expect(isGatewayFailure(foreign)).toBe(true);
    expect(isFinalRefusal(foreign)).toBe(true);
    expect(isGatewayFailure(new PayError('GATEWAY_ERROR'))).toBe(false);
  });
});

describe('verifyJsonAnswer (protocols without response signatures)', () => {
  const s = (): GatewaySpec<Record<string, unknown>> => ({
    request: { method: 'POST', url: 'http://127.0.0.1:1/x' },
    verify: verifyJsonAnswer('errcode'),
    refusal: (res) => {
      const j = JSON.parse(res.body.toString());
      return j.errcode ? { code: String(j.errcode), retryable: j.errcode === -1 } : undefined;
    },
    parse: (res) => JSON.parse(res.body.toString()),
  });

  test('only a 200 protocol answer counts: a 4xx/5xx or garbage proves nothing', async () => {
    expect(await failure(answer(400, '{"errcode":1}'), s())).toMatchObject({ httpStatus: 400, verified: false, retryable: true });
    expect(await failure(answer(502, 'Bad Gateway'), s())).toMatchObject({ verified: false, retryable: true });
    expect(await failure(answer(200, '{oops'), s())).toMatchObject({ key: 'GATEWAY_RESPONSE_INVALID', verified: false });
    expect(await failure(answer(200, '{"x":1}'), s())).toMatchObject({ key: 'GATEWAY_RESPONSE_INVALID', verified: false });
  });

  test('a protocol refusal in a 200 answer is verified', async () => {
    expect(await failure(answer(200, '{"errcode":268490004,"errmsg":"x"}'), s())).toMatchObject({
      providerCode: '268490004',
      verified: true,
      retryable: false,
    });
    expect(await failure(answer(200, '{"errcode":-1}'), s())).toMatchObject({ retryable: true });
  });
});

describe('gatewayUrl: one meaning of the `gateway` override', () => {
  test('a base URL gets the API path; a full endpoint URL keeps working', () => {
    expect(gatewayUrl(undefined, 'https://api.mch.weixin.qq.com', '/v3/refund')).toBe('https://api.mch.weixin.qq.com/v3/refund');
    expect(gatewayUrl('http://127.0.0.1:9/', 'https://x', '/v3/refund')).toBe('http://127.0.0.1:9/v3/refund');
    expect(gatewayUrl('http://127.0.0.1:9/prefix', 'https://x', '/api')).toBe('http://127.0.0.1:9/prefix/api');
    expect(gatewayUrl('http://127.0.0.1:9/api', 'https://x', '/api')).toBe('http://127.0.0.1:9/api');
    expect(gatewayUrl('http://127.0.0.1:9/gateway.do', 'https://x', '/gateway.do?charset=utf-8')).toBe(
      'http://127.0.0.1:9/gateway.do?charset=utf-8',
    );
  });
});
