/**
 * The statements service on a real local database and the sandboxes, with a moving clock: the
 * timer's daily step (ready at 10:00 Beijing, once per account and day, a failed check retried
 * after an hour), and what one check costs (database round trips, gateway calls).
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT, WX_APPIDS, sandboxConfig } from '../../tools/stack';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox } from '../../tools/sandbox/alipay';
import { loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { signedV3Request } from '../../tools/sandbox/wxpay/testkit';
import { createDeps, type PayDeps } from '../../uni_modules/vk-uni-pay/server/services/deps';
import { createLogger } from '../../uni_modules/vk-uni-pay/server/services/log';
import { staticConfigSource } from '../../uni_modules/vk-uni-pay/server/store/config';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { countingDatabase } from '../../uni_modules/vk-uni-pay/server/store/db';
import { countingTransport, type HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import { ORDER_STATUS, type PayOrder } from '../../uni_modules/vk-uni-pay/server/core/order';
import { checkStatements, dailyStatements, RETRY_AFTER_MS } from '../../uni_modules/vk-uni-pay/server/services/statements';
import type { Database } from '../../types/unicloud-server';

const BEIJING = 8 * 3600_000;
/** 2026-11-30 09:00 Beijing: the day the orders are paid */
const PAY_DAY = Date.UTC(2026, 10, 30, 9) - BEIJING;
let now = PAY_DAY;

let dir: string;
let db: Database & { close(): void };
let wx: WxpaySandbox;
let ali: AlipaySandbox;
let wxM: WxpaySandboxMerchant;
let deps: PayDeps;
const counted = {
  db: undefined as unknown as ReturnType<typeof countingDatabase>,
  http: countingTransport(loopbackTransport() as HttpTransport),
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vkpay-statements-'));
  db = createDatabase({
    file: path.join(dir, 'db.sqlite'),
    indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')],
  }) as never;
  counted.db = countingDatabase(db);
  const aliApp = await createAlipayApp();
  wxM = await createWxpayMerchant({ appids: Object.values(WX_APPIDS), signMode: 'public-key' });
  [wx, ali] = await Promise.all([
    startWxpaySandbox({ merchants: [wxM], retryDelaysMs: [], quiet: true, now: () => now }),
    startAlipaySandbox({ apps: [aliApp], retryDelaysMs: [], quiet: true, now: () => now }),
  ]);
  const config = sandboxConfig({
    notifyUrl: 'http://127.0.0.1:9/http/vk-pay',
    spaceId: 'local-space',
    wx: wxM,
    wxGateway: wx.url,
    wxApiBase: 'http://127.0.0.1:9',
    wxVersion: 3,
    ali: aliApp,
    aliGateway: ali.gateway,
    pemDir: path.join(dir, 'pem'),
  });
  deps = createDeps({
    db: () => counted.db.db,
    configs: staticConfigSource(config as any),
    http: counted.http,
    cache: memoryCache(),
    clock: { now: () => now },
    log: createLogger(() => {}),
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([wx?.close(), ali?.close()]);
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** N WeChat orders paid at the sandbox and here (pay_date = the sandbox's success time) */
async function wxOrders(n: number, prefix: string): Promise<string[]> {
  const cred = { mchid: wxM.mchid, serial: wxM.merchant.serialHex, privateKeyPem: wxM.merchant.keyPem };
  const nos: string[] = [];
  for (let i = 0; i < n; i++) {
    const no = `${prefix}${String(i).padStart(5, '0')}`;
    const body = JSON.stringify({
      appid: WX_APPIDS.oa,
      mchid: wxM.mchid,
      description: '商品',
      out_trade_no: no,
      notify_url: 'http://127.0.0.1:9/n',
      amount: { total: 100 + i, currency: 'CNY' },
    });
    expect((await signedV3Request(wx.url, cred, 'POST', '/v3/pay/transactions/native', body)).status).toBe(200);
    await wx.pay(no);
    const o = wx.order(no)!;
    await deps.orders.insert({
      out_trade_no: no,
      total_fee: o.total,
      status: ORDER_STATUS.PAID,
      provider: 'wxpay',
      pay_type: 'wxpay_h5',
      platform: 'h5',
      uni_platform: 'web',
      type: 'goods',
      description: '商品',
      client_ip: '127.0.0.1',
      custom: {},
      notify_url: '',
      notify_path: '',
      create_date: now,
      pay_date: o.success_time,
      transaction_id: o.transaction_id,
      refund_fee: 0,
      refund_num: 0,
      refund_list: [],
      stat_data: {},
      handler_lock_until: 0,
      handler_attempts: 0,
    } as PayOrder);
    nos.push(no);
  }
  return nos;
}

test('daily step: nothing before 10:00 Beijing, then each account once; a failed check is retried after an hour', async () => {
  await wxOrders(3, 'DAILY');
  now = Date.UTC(2026, 11, 1, 9, 59) - BEIJING;
  expect(await dailyStatements(deps)).toEqual({});

  now = Date.UTC(2026, 11, 1, 10, 5) - BEIJING;
  wx.statements.corruptFile = true;
  // WeChat fails its digest; Alipay has no trades that day (an empty statement is a check too)
  expect(await dailyStatements(deps)).toEqual({ error: 1, ok: 1 });
  wx.statements.corruptFile = false;
  expect(await dailyStatements(deps)).toEqual({ done: 2 }); // the failure waits an hour
  now += RETRY_AFTER_MS;
  expect(await dailyStatements(deps)).toEqual({ ok: 1, done: 1 });
  expect(await dailyStatements(deps)).toEqual({ done: 2 });
  const docs = (await db.collection('vk-pay-statements').where({ bill_date: '2026-11-30' }).get()).data;
  expect(docs.map((d: any) => [d.provider, d.status, d.counts?.matched])).toEqual(
    expect.arrayContaining([
      ['wxpay', 'ok', 3],
      ['alipay', 'ok', 0],
    ]),
  );
  // a limit of one download per timer run
  now = Date.UTC(2026, 11, 2, 11) - BEIJING;
  expect(await dailyStatements(deps, { limit: 1 })).toEqual({ ok: 1 });
  expect(await dailyStatements(deps, { deadline: Date.now() - 1 })).toEqual({});
});

test('cost of one check: database round trips and gateway calls for N orders', async () => {
  const figures: string[] = [];
  for (const n of [10, 200]) {
    now = Date.UTC(2026, 9, 1 + n / 10, 9) - BEIJING; // a day of its own per size
    const payDay = new Date(now + BEIJING).toISOString().slice(0, 10);
    await wxOrders(n, `COST${n}_`);
    now += 26 * 3600_000;
    counted.db.reset();
    counted.http.calls.length = 0;
    const t0 = performance.now();
    const r = await checkStatements(deps, { provider: 'wxpay', bill_date: payDay });
    const ms = performance.now() - t0;
    expect(r.runs[0]).toMatchObject({ status: 'ok', counts: { matched: n } });
    figures.push(`n=${n}: ${counted.db.count()} db round trips, ${counted.http.calls.length} gateway calls, ${ms.toFixed(0)} ms`);
    expect(counted.http.calls.length).toBe(4); // tradebill + download, fundflowbill + download
    expect(counted.db.count()).toBeLessThanOrEqual(12);
  }
  console.log(`statements check cost: ${figures.join('; ')}`);
});
