/**
 * End-to-end fixture: a throw-away uni-app project holding the BUILT plugin (run `npm run build`
 * first; `npm test` does), instrumented `pay-notify` handlers and a test-only business object, run
 * by the real local runtime behind its HTTP server with the sandbox gateways (tools/stack.ts).
 */
import * as path from 'node:path';
import { createHmac } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ROOT, startStack, WX_APPIDS, type Stack, type StackOptions } from '../../tools/stack';
import { callCloudObject } from '../../tools/local-unicloud';
import type { ClientInfo } from '../../types/unicloud-server';

/** Handlers record every invocation in `test-handler-calls` so tests can count runs across processes. */
const HANDLERS: Record<string, string> = {
  counted: `module.exports = async function ({ data }) {
  await uniCloud.database().collection('test-handler-calls').add({ out_trade_no: data.out_trade_no, type: 'counted', total_fee: data.total_fee, custom_note: data.note, ok: true });
  await new Promise((r) => setTimeout(r, 50));
  return true;
};`,
  flaky: `module.exports = async function ({ data }) {
  const calls = uniCloud.database().collection('test-handler-calls');
  const { total } = await calls.where({ out_trade_no: data.out_trade_no }).count();
  await calls.add({ out_trade_no: data.out_trade_no, type: 'flaky', ok: total > 0 });
  if (total === 0) throw new Error('first run fails on purpose');
  return true;
};`,
  // an idempotent handler (one credit per order, keyed by the order number) with the crash points
  // of the crash-point suite: VK_TEST_CRASH_AT names where this process SIGKILLs itself
  crashy: `module.exports = async function ({ data }) {
  const db = uniCloud.database();
  const crash = (at) => { if (process.env.VK_TEST_CRASH_AT === at) process.kill(process.pid, 'SIGKILL'); };
  crash('handler-start');
  await db.collection('test-handler-calls').add({ out_trade_no: data.out_trade_no, type: 'crashy', ok: true });
  crash('handler-before-effect');
  try {
    await db.collection('test-credits').add({ _id: 'credit-' + data.out_trade_no, out_trade_no: data.out_trade_no, amount: data.total_fee });
  } catch (e) {
    if (e.code !== 11000) throw e; // already credited: the effect is applied once
  }
  crash('handler-after-effect');
  return true;
};`,
  // the transfer handler (vk-uni-pay's pay-notify/transfer.js): one row per run, keyed by out_bill_no;
  // a bill whose remark contains "flaky" fails on its first run
  transfer: `module.exports = async function ({ data }) {
  const calls = uniCloud.database().collection('test-handler-calls');
  const { total } = await calls.where({ out_trade_no: data.out_bill_no }).count();
  await calls.add({ out_trade_no: data.out_bill_no, type: 'transfer', state: data.state, transfer_amount: data.transfer_amount, openid: data.openid, fail_reason: data.fail_reason || null, ok: true });
  if (total === 0 && /flaky/.test(data.transfer_remark || '')) throw new Error('first run fails on purpose');
  return true;
};`,
};

/** Refund hooks (`refund-notify/<type>.js`) record every run in `test-refund-hook-calls`. */
const REFUND_HOOKS: Record<string, string> = {
  counted: `module.exports = async function ({ data, refund }) {
  await uniCloud.database().collection('test-refund-hook-calls').add({ out_trade_no: data.out_trade_no, order_refund_fee: data.refund_fee, order_status: data.status, ...refund });
  return true;
};`,
  flaky: `module.exports = async function ({ data, refund }) {
  const calls = uniCloud.database().collection('test-refund-hook-calls');
  const { total } = await calls.where({ out_refund_no: refund.out_refund_no }).count();
  await calls.add({ out_trade_no: data.out_trade_no, ...refund, ok: total > 0 });
  if (total === 0) throw new Error('first run fails on purpose');
  return true;
};`,
};

/** A business object for tests only: passes createPayment options through unchanged. */
const TEST_SHOP = `const vkPay = require('vk-uni-pay');
module.exports = {
  async createPayment(options) {
    const res = await vkPay.createPayment({ ...options, context: options.context || this.getClientInfo() });
    const { code, msg, msg_en, ...rest } = res;
    return { errCode: code, errMsg: msg, ...rest };
  },
  async createPaymentRaw(options) {
    return { errCode: 0, result: await vkPay.createPayment({ ...options, context: options.context || this.getClientInfo() }) };
  },
  // server-only APIs of the counter and balances (a client of vk-pay gets the access error for them)
  async queryAccountBalance(params) {
    return { errCode: 0, result: await vkPay.queryAccountBalance(params) };
  },
  async coins(op, params, options) {
    const manager = vkPay.getWxpayVirtualManager(options);
    return { errCode: 0, result: manager[op] ? await manager[op](params) : await vkPay.virtualCoins({ op, params }) };
  },
  async handlerCalls(out_trade_no) {
    return { errCode: 0, calls: (await uniCloud.database().collection('test-handler-calls').where({ out_trade_no }).get()).data };
  },
  async order(out_trade_no) {
    return { errCode: 0, order: (await uniCloud.database().collection('vk-pay-orders').where({ out_trade_no }).get()).data[0] || null };
  },
  async orders(out_trade_no) {
    return { errCode: 0, orders: (await uniCloud.database().collection('vk-pay-orders').where({ out_trade_no }).get()).data };
  },
  async updateOrder(out_trade_no, patch) {
    const { updated } = await uniCloud.database().collection('vk-pay-orders').where({ out_trade_no }).update(patch);
    return { errCode: 0, updated };
  },
  async addMerchantConfig(doc) {
    const { id } = await uniCloud.database().collection('vk-pay-config').add(doc);
    return { errCode: 0, id };
  },
  async updateDocs(collection, where, patch) {
    const { updated } = await uniCloud.database().collection(collection).where(where).update(patch);
    return { errCode: 0, updated };
  },
  async findDocs(collection, where) {
    return { errCode: 0, docs: (await uniCloud.database().collection(collection).where(where || {}).get()).data };
  },
  async notifyProvideGoods(params) {
    return { errCode: 0, result: await vkPay.wxpayVirtual.notifyProvideGoods(params) };
  },
  async closeOrder(params) {
    return { errCode: 0, result: await vkPay.closeOrder(params) };
  },
  async refund(params) {
    return { errCode: 0, result: await vkPay.refund(params) };
  },
  async queryRefund(params) {
    return { errCode: 0, result: await vkPay.queryRefund(params) };
  },
  async transfer(params) {
    return { errCode: 0, result: await vkPay.transfer(params) };
  },
  async queryTransfer(params) {
    return { errCode: 0, result: await vkPay.queryTransfer(params) };
  },
  async cancelTransfer(params) {
    return { errCode: 0, result: await vkPay.cancelTransfer(params) };
  },
  async verifyTransferNotify(params) {
    return { errCode: 0, result: await vkPay.verifyTransferNotify(params) };
  },
  /** the same, cloud-to-cloud through vk-pay (where pay-notify/transfer.js is deployed) */
  async viaVkPay(method, params) {
    return { errCode: 0, result: await uniCloud.importObject('vk-pay')[method](params) };
  },
  async checkStatements(params) {
    return { errCode: 0, result: await vkPay.checkStatements(params) };
  },
};`;

export function makeTestProject(): string {
  const built = path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/cloudfunctions/common/vk-uni-pay/dist/index.js');
  if (!existsSync(built)) throw new Error('run `npm run build` before the end-to-end tests');
  const dir = mkdtempSync(path.join(tmpdir(), 'vkpay-e2e-'));
  cpSync(path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud'), path.join(dir, 'uni_modules/vk-uni-pay/uniCloud'), { recursive: true });
  const notifyDir = path.join(dir, 'uni_modules/vk-uni-pay/uniCloud/cloudfunctions/vk-pay/pay-notify');
  for (const [type, src] of Object.entries(HANDLERS)) writeFileSync(path.join(notifyDir, `${type}.js`), src);
  const refundDir = path.join(dir, 'uni_modules/vk-uni-pay/uniCloud/cloudfunctions/vk-pay/refund-notify');
  mkdirSync(refundDir, { recursive: true });
  for (const [type, src] of Object.entries(REFUND_HOOKS)) writeFileSync(path.join(refundDir, `${type}.js`), src);
  const shop = path.join(dir, 'uniCloud-aliyun/cloudfunctions/test-shop');
  mkdirSync(shop, { recursive: true });
  writeFileSync(path.join(shop, 'index.obj.js'), TEST_SHOP);
  writeFileSync(
    path.join(shop, 'package.json'),
    JSON.stringify({
      name: 'test-shop',
      main: 'index.obj.js',
      dependencies: { 'vk-uni-pay': 'file:../../../uni_modules/vk-uni-pay/uniCloud/cloudfunctions/common/vk-uni-pay' },
    }),
  );
  return dir;
}

export interface TestStack extends Stack {
  /** a client call over the real uniCloud client protocol */
  call<T = any>(object: string, method: string, params: unknown[], clientInfo?: ClientInfo): Promise<T>;
  createPayment(options: Record<string, unknown>, clientInfo?: ClientInfo): Promise<any>;
  handlerCalls(out_trade_no: string): Promise<Array<Record<string, any>>>;
  order(out_trade_no: string): Promise<Record<string, any> | null>;
  /** POSTs raw bytes to the URL化 notify route */
  notify(
    payType: string,
    out_trade_no: string,
    body: string | Buffer,
    headers: Record<string, string>,
  ): Promise<{ status: number; body: string }>;
  /** like createPayment, with the HTTP-level client facts the runtime reads (x-forwarded-for, user-agent) */
  createPaymentVia(
    options: Record<string, unknown>,
    clientInfo: ClientInfo,
    http: { forwardedFor?: string; userAgent?: string },
  ): Promise<any>;
  /** vk-uni-pay's own `{code, msg, msg_en, …}` result, unmapped (zh and en messages) */
  createPaymentRaw(options: Record<string, unknown>, clientInfo?: ClientInfo): Promise<Record<string, any>>;
  /** every stored order row with this out_trade_no (the unique index should keep it at one) */
  orders(out_trade_no: string): Promise<Array<Record<string, any>>>;
  /** test-only: patch a stored order (e.g. mark it closed) */
  updateOrder(out_trade_no: string, patch: Record<string, unknown>): Promise<number>;
  /** test-only: insert a `vk-pay-config` document (multi-merchant pid) */
  addMerchantConfig(doc: Record<string, unknown>): Promise<string>;
  /** test-only: every document of a collection matching `where` (e.g. vk-pay-apple-transactions, vk-pay-sessions) */
  findDocs(collection: string, where?: Record<string, unknown>): Promise<Array<Record<string, any>>>;
}

export const WEB_PC: ClientInfo = {
  uniPlatform: 'web',
  appId: '__UNI__TEST',
  locale: 'zh-Hans',
  ua: 'Mozilla/5.0 (Windows NT 10.0) Chrome/120',
};
/** client info of the platforms the tests act as */
export const CLIENT = {
  mp: { uniPlatform: 'mp-weixin', appId: '__UNI__TEST', locale: 'zh-Hans' } as ClientInfo,
  mpAlipay: { uniPlatform: 'mp-alipay', appId: '__UNI__TEST', locale: 'zh-Hans' } as ClientInfo,
  app: { uniPlatform: 'app', appId: '__UNI__TEST', locale: 'zh-Hans' } as ClientInfo,
  web: { uniPlatform: 'web', appId: '__UNI__TEST', locale: 'zh-Hans' } as ClientInfo,
};

/** A refused notification or verification wrote nothing: still unpaid, no transaction, no handler run. */
export async function expectUntouched(s: TestStack, out_trade_no: string): Promise<void> {
  const order = await s.order(out_trade_no);
  expect(order).toMatchObject({ status: 0 });
  expect(order!.transaction_id).toBeUndefined();
  expect(order!.user_order_success).toBeUndefined();
  expect(await s.handlerCalls(out_trade_no)).toHaveLength(0);
}

/** A client call of a cloud object over the real uniCloud client protocol; rejects on a failed call. */
export async function clientCall(
  stack: Stack,
  object: string,
  method: string,
  params: unknown[],
  clientInfo: ClientInfo = WEB_PC,
): Promise<any> {
  const reply = await callCloudObject(stack.url, object, method, params, {
    clientInfo,
    clientSecret: stack.runtime.clientSecret,
    spaceId: stack.runtime.spaceId,
  });
  if (!reply.success) throw new Error(`${object}.${method}: ${JSON.stringify(reply.error)}`);
  return reply.data;
}

/** A paid WeChat Pay v3 transaction (100 fen, NATIVE) as the sandbox would notify it; `over` replaces fields. */
export function wxpayTransaction(s: Stack, out_trade_no: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    appid: WX_APPIDS.oa,
    mchid: s.wxMerchant.mchid,
    out_trade_no,
    transaction_id: `4200${randomBytes(12).toString('hex').replace(/\D/g, '').padEnd(24, '7').slice(0, 24)}`,
    trade_type: 'NATIVE',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    attach: '',
    success_time: '2026-11-27T19:00:00+08:00',
    payer: { openid: 'o-test-openid' },
    amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
    ...over,
  };
}

export async function startTestStack(opts: StackOptions = {}): Promise<TestStack> {
  const projectDir = makeTestProject();
  const stack = await startStack({
    port: 0,
    quiet: true,
    retryDelaysMs: [400, 800, 1600, 3200, 6400],
    ...opts,
    projectDir,
    dataDir: path.join(projectDir, '.data'),
  });
  const call = (object: string, method: string, params: unknown[], clientInfo: ClientInfo = WEB_PC) =>
    clientCall(stack, object, method, params, clientInfo);
  return {
    ...stack,
    call,
    createPayment: (options, clientInfo) => call('test-shop', 'createPayment', [options], clientInfo),
    handlerCalls: async (no) => (await call('test-shop', 'handlerCalls', [no])).calls,
    order: async (no) => (await call('test-shop', 'order', [no])).order,
    createPaymentRaw: async (options, clientInfo) => (await call('test-shop', 'createPaymentRaw', [options], clientInfo)).result,
    orders: async (no) => (await call('test-shop', 'orders', [no])).orders,
    updateOrder: async (no, patch) => (await call('test-shop', 'updateOrder', [no, patch])).updated,
    addMerchantConfig: async (doc) => (await call('test-shop', 'addMerchantConfig', [doc])).id,
    findDocs: async (collection, where = {}) => (await call('test-shop', 'findDocs', [collection, where])).docs,
    async createPaymentVia(options, clientInfo, http) {
      const reply = await callCloudObject(stack.url, 'test-shop', 'createPayment', [options], {
        clientInfo,
        clientSecret: stack.runtime.clientSecret,
        spaceId: stack.runtime.spaceId,
        ...http,
      });
      if (!reply.success) throw new Error(`test-shop.createPayment: ${JSON.stringify(reply.error)}`);
      return reply.data;
    },
    async notify(payType, no, body, headers) {
      const res = await fetch(`${stack.url}/http/vk-pay/paymentNotify/${payType}/${no}`, {
        method: 'POST',
        headers,
        body: typeof body === 'string' ? body : new Uint8Array(body),
      });
      return { status: res.status, body: await res.text() };
    },
  };
}

/** the vk-pay methods a client may call */
export const CLIENT_METHODS = [
  'queryPayment',
  'verifyAppleReceipt',
  'verifyAppleTransaction',
  'code2SessionWeixinMP',
  'code2SessionWeixinH5',
  'code2SessionAlipay',
];

/** A token as uni-id issues it: an HS256 JWT over `payload` (e.g. `{uid, role, permission, iat, exp}`). */
export function hs256Jwt(payload: Record<string, unknown>, secret: string): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

let seq = 0;
/** A unique out_trade_no per test run. */
export function tradeNo(prefix = 'T'): string {
  return `${prefix}${Date.now().toString(36)}${(seq++).toString(36).padStart(3, '0')}${Math.floor(Math.random() * 1e6)}`.slice(0, 32);
}

export async function until<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 15000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
