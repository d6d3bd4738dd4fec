/**
 * Secrets never reach a client response or a log line. The whole stack runs as a child process;
 * after payments, forged notifications and errors, everything it printed and every response the
 * client saw is searched for each secret of its generated config (keys, API keys, secrets, tokens).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { callCloudObject } from '../../tools/local-unicloud';

const ROOT = path.resolve(__dirname, '../..');
let child: ChildProcess;
let url = '';
let printed = '';
const responses: string[] = [];
let config: Record<string, any>;

beforeAll(async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vkpay-secrets-'));
  child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../helpers/stack-child.ts'), dataDir], {
    cwd: ROOT,
    env: { ...process.env, VK_PAY_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (c: Buffer) => (printed += c.toString());
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`stack did not start: ${printed}`)), 45_000);
    child.stdout!.on('data', () => {
      const m = /READY (\S+)/.exec(printed);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
  });
  config = require(path.join(dataDir, 'config/uni-pay/config.js'));
}, 60_000);

afterAll(async () => {
  child?.kill('SIGTERM');
  await new Promise((r) => child?.once('exit', r));
});

async function call(object: string, method: string, params: unknown, clientInfo: Record<string, unknown> = { uniPlatform: 'web' }) {
  const r = await callCloudObject(url, object, method, [params], { clientInfo, clientSecret: 'local-secret', spaceId: 'local-space' });
  responses.push(JSON.stringify(r));
  return r.data as any;
}

async function post(pathname: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url + pathname, { method: 'POST', headers, body, redirect: 'manual' });
  const text = await res.text();
  responses.push(text);
  return { status: res.status, text };
}

/** every secret of the generated config, as the fragments a leak would show */
function secrets(): string[] {
  const out = new Set<string>();
  const SECRET = /key|secret|token|salt|password|encodingAESKey/i;
  const walk = (v: unknown, key = '') => {
    if (typeof v === 'string') {
      if (/Path$/.test(key)) v = readFileSync(v as string, 'utf8');
      const text = v as string;
      if (/PRIVATE KEY/.test(text))
        out.add(text.split('\n')[2]); // a line of the key body
      else if (SECRET.test(key) && !/Id$|Path$/.test(key) && text.length >= 8) out.add(text);
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(config);
  return [...out];
}

test('payments, forgeries and errors print no secret and answer none', async () => {
  // a WeChat and an Alipay payment through their cashiers
  for (const provider of ['wxpay', 'alipay']) {
    const r = await call('demo-shop', 'createRechargeOrder', { item_id: 'r100', provider, isPC: true, user_id: 'u-secret' });
    expect(r.errCode).toBe(0);
    const cashier = new URL(r.orderInfo.codeUrl);
    await fetch(cashier); // Alipay's QR order exists once the cashier is opened
    const pay = await fetch(`${cashier.origin}${cashier.pathname}/pay`, { method: 'POST', redirect: 'manual' });
    expect(pay.status).toBeLessThan(400);
    await new Promise((r) => setTimeout(r, 600));
    expect((await call('vk-pay', 'queryPayment', { out_trade_no: r.out_trade_no, await_notify: true })).orderPaid).toBe(true);
  }
  // forged notifications, errors from bad input, a forbidden call, a bad login code
  const r = await call('demo-shop', 'createRechargeOrder', { item_id: 'r1', provider: 'wxpay', isPC: true, user_id: 'u-secret' });
  expect(
    (
      await post(`/http/vk-pay/paymentNotify/wxpay_h5/${r.out_trade_no}`, '{"id":"x","resource":{}}', {
        'content-type': 'application/json',
        'wechatpay-serial': 'ABC',
        'wechatpay-signature': 'c2ln',
        'wechatpay-timestamp': String(Math.floor(Date.now() / 1000)),
        'wechatpay-nonce': 'n',
      })
    ).status,
  ).toBe(500);
  // Alipay retries on any body but `success`
  expect(
    (
      await post(`/http/vk-pay/paymentNotify/alipay_h5/${r.out_trade_no}`, 'trade_status=TRADE_SUCCESS&sign=AAAA', {
        'content-type': 'application/x-www-form-urlencoded',
      })
    ).text,
  ).toBe('fail');
  // a Douyin order, and a notification signed with a wrong token to its route
  const dy = await call(
    'demo-shop',
    'createRechargeOrder',
    { item_id: 'r1', provider: 'douyin', user_id: 'u-secret' },
    { uniPlatform: 'mp-toutiao' },
  );
  expect(dy.errCode).toBe(0);
  const forged = {
    timestamp: String(Math.floor(Date.now() / 1000)),
    nonce: '1',
    msg: '{}',
    type: 'payment',
    msg_signature: 'a'.repeat(40),
  };
  expect(
    JSON.parse((await post(`/http/vk-pay/paymentNotify/douyin_mp-toutiao/${dy.out_trade_no}`, JSON.stringify(forged))).text),
  ).toMatchObject({
    err_no: 1,
  });
  expect((await call('vk-pay', 'refund', { out_trade_no: r.out_trade_no })).errCode).toBe(5001);
  expect((await call('vk-pay', 'code2SessionWeixinMP', { code: 'no-such-code' }, { uniPlatform: 'mp-weixin' })).errCode).toBe(3001);
  expect(
    (
      await call(
        'demo-shop',
        'createRechargeOrder',
        { item_id: 'r1', provider: 'wxpay-virtual', user_id: 'u-secret' },
        { uniPlatform: 'mp-weixin' },
      )
    ).errCode,
  ).not.toBe(0);

  const list = secrets();
  expect(list.length).toBeGreaterThanOrEqual(8); // the search itself must have something to find
  expect(printed).toContain('order.paid'); // the log lines were captured
  for (const secret of list) {
    expect(printed).not.toContain(secret);
    for (const r of responses) expect(r).not.toContain(secret);
  }
}, 60_000);
