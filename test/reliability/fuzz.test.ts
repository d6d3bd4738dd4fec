/**
 * Property-based fuzzing (fast-check) of everything a stranger can reach, through the runtime's
 * HTTP server in a child process: every client-callable method (and the server-only ones, called
 * as a client) over the uniCloud client protocol, every notify route over URL化, and malformed
 * protocol envelopes. Properties: every answer is coded (a uniCloud `{errCode, errMsg}` or a 4xx
 * protocol error or the provider's failure reply — never FunctionBizError / a 5xx runtime error),
 * the process never dies (an unhandled rejection would end it), and nothing is written.
 * Cases: VK_FUZZ_RUNS batches × BATCH requests (default 500 × 20 = 10,000); the seed is printed,
 * replay with VK_FUZZ_SEED=<seed>. `npm run fuzz:long` runs 100,000.
 */
import fc from 'fast-check';
import http from 'node:http';
import { signClientRequest } from '../../tools/local-unicloud';
import { CLIENT_METHODS, hs256Jwt, startTestStack, tradeNo, type TestStack } from '../helpers/project';
import { startChildRuntime, type ChildRuntime } from './child-runtime';

const BATCH = 20;
const RUNS = Number(process.env.VK_FUZZ_RUNS) || 500;
const SEED = Number(process.env.VK_FUZZ_SEED) || Math.floor(Math.random() * 2 ** 31);

let s: TestStack;
let target: ChildRuntime;
const orders: string[] = [];

beforeAll(async () => {
  s = await startTestStack();
  for (const provider of ['wxpay', 'alipay', 'vkspay'] as const) {
    const no = tradeNo('F');
    const r = await s.createPayment({
      provider,
      isPC: true,
      data: { out_trade_no: no, total_fee: 100, subject: '模糊测试', type: 'counted' },
    });
    expect(r.errCode).toBe(0);
    orders.push(no);
  }
  target = await startChildRuntime(s);
}, 90_000);
afterAll(async () => {
  await target?.kill();
  await s?.close();
});

interface Reply {
  status: number;
  body: string;
}

function send(method: string, path: string, body: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      target.url + path,
      { method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ------------------------------------------------------------------ arbitraries
const OTHER_METHODS = ['createPayment', 'refund', 'closeOrder', 'queryRefund', 'paymentNotify', 'wxpayVirtualNotify', 'appleNotify'];
const ODD_METHODS = ['_before', '_after', '_timing', 'constructor', '__proto__', 'toString', 'hasOwnProperty', ''];
const PAY_TYPES = [
  'wxpay_h5',
  'wxpay_mp-weixin',
  'wxpay_app-plus',
  'wxpay_mweb',
  'alipay_h5',
  'alipay_mp-alipay',
  'alipay_app-plus',
  'vkspay_h5',
  'appleiap_app-plus',
  'wxpay-virtual_mp-weixin',
  'douyin_mp-toutiao',
];
const ODD_STRINGS = [
  '',
  '%',
  '%zz',
  '%E0%A4%A',
  '..',
  '../..',
  '__proto__',
  'constructor',
  'null',
  '[object Object]',
  '\u0000',
  '\ud800',
  'A'.repeat(5000),
  '"',
  '{',
  '<xml>',
];

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...ODD_STRINGS));
const json = fc.jsonValue({ maxDepth: 3 });
const tradeNoArb = () =>
  fc.oneof(
    fc.nat(2).map((i) => orders[i]),
    text,
    fc.stringMatching(/^[0-9A-Za-z_\-|*]{6,32}$/),
  );
const forgedToken = fc.tuple(fc.string({ maxLength: 12 }), fc.integer()).map(([uid, exp]) => hs256Jwt({ uid, exp }, 'not-the-secret'));
const paramsArb = () =>
  fc.oneof(
    json,
    fc.record(
      {
        out_trade_no: fc.oneof(tradeNoArb(), json),
        transaction_id: fc.oneof(text, json),
        code: fc.oneof(text, json),
        pay_order_info: fc.oneof(fc.boolean(), json),
        await_max_time: fc.oneof(fc.integer(), json),
        transaction_receipt: text,
        signedTransaction: text,
        refund_fee: fc.oneof(fc.integer(), json),
        provider: fc.oneof(fc.constantFrom('wxpay', 'alipay', 'vkspay', 'appleiap', 'wxpay-virtual'), text),
        data: json,
      },
      { requiredKeys: [] },
    ),
  );
const clientInfoArb = fc.oneof(
  fc.constant(undefined),
  json,
  fc.dictionary(
    fc.constantFrom('uniPlatform', 'locale', 'LOCALE', 'appLanguage', 'appId', 'source', 'clientIP', 'osName', 'ua'),
    fc.oneof(json, text),
    { maxKeys: 5 },
  ),
);

/** A cloud-object call over the client protocol, correctly signed (the payload is the hostile part). */
const clientCall = fc
  .record({
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...CLIENT_METHODS, ...OTHER_METHODS) },
      { weight: 1, arbitrary: fc.constantFrom(...ODD_METHODS) },
      { weight: 1, arbitrary: text },
      { weight: 1, arbitrary: json },
    ),
    params: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.array(fc.oneof(paramsArb(), fc.constantFrom(null, 0, '', 'x', true, [])), { minLength: 1, maxLength: 2 }),
      },
      { weight: 1, arbitrary: json },
    ),
    clientInfo: clientInfoArb,
    uniIdToken: fc.oneof(fc.constant(undefined), text, forgedToken),
    target: fc.oneof(fc.constant('vk-pay'), fc.constant('vk-pay'), text),
  })
  .map((c) => ({ kind: 'client' as const, ...c }));

/** The client protocol's envelope itself: wrong methods, params that are not JSON, missing or wrong signs, stale timestamps. */
const envelope = fc
  .record({
    method: fc.oneof(fc.constantFrom('serverless.function.runtime.invoke', 'serverless.auth.user.anonymousAuthorize'), text, json),
    params: fc.oneof(text, json),
    timestamp: fc.oneof(fc.constant('now'), fc.integer(), json),
    sign: fc.constantFrom('good', 'none', 'bad'),
    raw: fc.oneof(fc.constant(undefined), text),
  })
  .map((e) => ({ kind: 'envelope' as const, ...e }));

/** A notification: a known or odd pay type and order, any headers and body. */
const notify = fc
  .record({
    route: fc.oneof(
      fc.tuple(fc.oneof(fc.constantFrom(...PAY_TYPES), text), tradeNoArb()).map(([t, no]) => `/paymentNotify/${t}/${no}`),
      fc.constantFrom('/wxpayVirtualNotify', '/appleNotify', '/paymentNotify', '/paymentNotify/'),
      text.map((t) => `/${t}`),
    ),
    httpMethod: fc.constantFrom('POST', 'POST', 'GET', 'PUT'),
    contentType: fc.constantFrom(
      'application/json',
      'application/x-www-form-urlencoded',
      'text/xml',
      'text/plain',
      'application/octet-stream',
      '',
    ),
    headers: fc.dictionary(
      fc.constantFrom(
        'wechatpay-serial',
        'wechatpay-signature',
        'wechatpay-timestamp',
        'wechatpay-nonce',
        'wechatpay-signature-type',
        'x-forwarded-for',
      ),
      fc.oneof(text, fc.stringMatching(/^[0-9]{1,12}$/)),
      { maxKeys: 6 },
    ),
    body: fc.oneof(
      text,
      json.map((j) => JSON.stringify(j)),
      fc
        .dictionary(
          fc.constantFrom(
            'out_trade_no',
            'trade_status',
            'sign',
            'sign_type',
            'total_amount',
            'app_id',
            'notify_type',
            'signedPayload',
            'resource',
          ),
          fc.oneof(text, tradeNoArb()),
        )
        .map((d) => new URLSearchParams(d as Record<string, string>).toString()),
      fc.dictionary(fc.constantFrom('return_code', 'out_trade_no', 'sign', 'total_fee', 'Encrypt', 'MsgType'), text).map(
        (d) =>
          `<xml>${Object.entries(d)
            .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
            .join('')}</xml>`,
      ),
    ),
  })
  .map((n) => ({ kind: 'notify' as const, ...n }));

type Case = { kind: 'client' | 'envelope' | 'notify'; [k: string]: any };

// ------------------------------------------------------------------ one request and its property
const BAD_CODES = ['FunctionBizError', 'FunctionServerError', 'FunctionTimeout', 'FunctionLoadError'];

/** percent-escapes the UTF-8 bytes of a character (a lone surrogate too) */
function escapeBytes(ch: string): string {
  return [...Buffer.from(ch)].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
}

function serialize(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
}

async function run(c: Case): Promise<void> {
  let reply: Reply;
  if (c.kind === 'notify') {
    const path = `/http/vk-pay${c.route}`.replace(/[^\x21-\x7e]/g, (ch) => escapeBytes(ch));
    const headers: Record<string, string> = { ...c.headers };
    if (c.contentType) headers['content-type'] = c.contentType;
    for (const k of Object.keys(headers)) headers[k] = headers[k].replace(/[^\x20-\x7e]/g, '?');
    reply = await send(c.httpMethod, path, c.httpMethod === 'GET' ? '' : c.body, headers);
    expect(reply.body).not.toMatch(/FunctionBizError|FunctionServerError|internal runtime error/);
    expect(reply.status).toBeLessThan(600);
    return;
  }
  let body: Record<string, unknown>;
  if (c.kind === 'client') {
    const functionArgs: Record<string, unknown> = { method: c.method, params: c.params, clientInfo: c.clientInfo };
    if (c.uniIdToken !== undefined) functionArgs.uniIdToken = c.uniIdToken;
    body = {
      method: 'serverless.function.runtime.invoke',
      params: JSON.stringify({ functionTarget: c.target, functionArgs }),
      spaceId: s.runtime.spaceId,
      timestamp: Date.now(),
    };
  } else {
    body = {
      method: c.method,
      params: serialize(c.params),
      spaceId: s.runtime.spaceId,
      timestamp: c.timestamp === 'now' ? Date.now() : c.timestamp,
    };
  }
  body = JSON.parse(JSON.stringify(body)); // as the server will see it (null-prototype objects become plain)
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (c.kind === 'client' || c.sign === 'good') headers['x-serverless-sign'] = signClientRequest(body, s.runtime.clientSecret);
  else if (c.sign === 'bad') headers['x-serverless-sign'] = 'deadbeef';
  reply = await send('POST', '/unicloud/client', c.kind === 'envelope' && c.raw !== undefined ? c.raw : JSON.stringify(body), headers);
  const answer = JSON.parse(reply.body);
  if (answer.success) {
    if (c.kind === 'envelope') return; // anonymousAuthorize or a valid invoke of an odd target
    expect(typeof answer.data?.errCode).toBe('number');
    expect(typeof answer.data?.errMsg).toBe('string');
  } else {
    expect(reply.status).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
    expect(BAD_CODES).not.toContain(answer.error?.code);
    expect(typeof answer.error?.message).toBe('string');
  }
}

/** What a stranger could have changed (the query gate's timestamp and cached certificates aside). */
async function snapshot(): Promise<string> {
  const parts: unknown[] = [];
  for (const c of [
    'vk-pay-orders',
    'vk-pay-refunds',
    'vk-pay-sessions',
    'vk-pay-apple-transactions',
    'vk-pay-config',
    'test-handler-calls',
  ]) {
    const docs = await s.findDocs(c);
    parts.push(docs.map(({ query_lock_until, ...rest }) => (void query_lock_until, rest)));
  }
  return JSON.stringify(parts);
}

test(`${RUNS * BATCH} generated requests: every answer coded, no crash, nothing written`, async () => {
  process.stdout.write(`[fuzz] seed=${SEED} runs=${RUNS} batch=${BATCH} (replay: VK_FUZZ_SEED=${SEED})\n`);
  const before = await snapshot();
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  let cases = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof({ weight: 5, arbitrary: clientCall }, { weight: 1, arbitrary: envelope }, { weight: 4, arbitrary: notify }), {
          minLength: BATCH,
          maxLength: BATCH,
        }),
        async (batch) => {
          cases += batch.length;
          await Promise.all(batch.map((c) => run(c as Case)));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  process.stdout.write(`[fuzz] ${cases} cases, seed=${SEED}\n`);
  expect(cases).toBeGreaterThanOrEqual(RUNS * BATCH);
  expect(rejections).toEqual([]);
  expect(target.child.exitCode).toBeNull();
  expect(target.child.signalCode).toBeNull();
  expect((await send('GET', '/__runtime/health', '', {})).status).toBe(200);
  expect(await snapshot()).toBe(before);
}, 600_000);
