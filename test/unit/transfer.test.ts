/**
 * transfer / queryTransfer / cancelTransfer in process: the real services on the local database
 * (unique index, conditional updates) against the WeChat Pay v3 and Alipay sandboxes on loopback.
 * A transport wrapper loses answers or fails transfer requests on demand.
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT, WX_APPIDS, sandboxConfig } from '../../tools/stack';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox } from '../../tools/sandbox/alipay';
import { loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { createDeps, type PayDeps } from '../../uni_modules/vk-uni-pay/server/services/deps';
import { createLogger } from '../../uni_modules/vk-uni-pay/server/services/log';
import { staticConfigSource } from '../../uni_modules/vk-uni-pay/server/store/config';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { TRANSFERS_COLLECTION, TransfersRepo } from '../../uni_modules/vk-uni-pay/server/store/transfers';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';
import {
  TRANSFER_SETTLE_GRACE_MS,
  cancelTransfer,
  queryTransfer,
  settlePendingTransfers,
  transfer,
} from '../../uni_modules/vk-uni-pay/server/services/transfer';
import { isPayError } from '../../uni_modules/vk-uni-pay/server/core/errors';

let dir: string;
let db: ReturnType<typeof createDatabase>;
/** another system's ledger (bills made outside ours) */
let db2: ReturnType<typeof createDatabase>;
let wx: WxpaySandbox;
let ali: AlipaySandbox;
let wxMerchant: WxpaySandboxMerchant;
let deps: PayDeps;
let clockOffset = 0;
/** handler runs: [out_bill_no, state] */
let runs: Array<[string, string]> = [];

type Fault = 'lose-answer' | 'fail-before' | undefined;
let fault: Fault;
let transferRequests = 0;

const isTransferCall = (req: HttpRequest) =>
  (req.method === 'POST' && /\/v3\/fund-app\/mch-transfer\/transfer-bills$/.test(req.url)) ||
  req.url.includes('method=alipay.fund.trans.uni.transfer');

function faultyTransport(inner: HttpTransport): HttpTransport {
  return {
    async request(req): Promise<HttpResponse> {
      const hit = isTransferCall(req);
      if (hit && fault === 'fail-before') throw new Error('connect ECONNREFUSED (simulated)');
      if (hit) transferRequests++;
      const res = await inner.request(req);
      if (hit && fault === 'lose-answer') throw new Error('socket hang up (simulated, after the gateway processed it)');
      return res;
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vkpay-transfer-'));
  db = createDatabase({ file: path.join(dir, 'db.sqlite'), indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')] });
  db2 = createDatabase({ file: path.join(dir, 'db2.sqlite'), indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')] });
  const [m, aliApp] = await Promise.all([
    createWxpayMerchant({ appids: Object.values(WX_APPIDS), signMode: 'public-key' }),
    createAlipayApp(),
  ]);
  wxMerchant = m;
  [wx, ali] = await Promise.all([
    startWxpaySandbox({ merchants: [wxMerchant], port: 0, retryDelaysMs: [], quiet: true }),
    startAlipaySandbox({ apps: [aliApp], port: 0, retryDelaysMs: [], quiet: true }),
  ]);
  const config = sandboxConfig({
    notifyUrl: 'http://127.0.0.1:9/http/vk-pay',
    spaceId: 'local-space',
    wx: wxMerchant,
    wxGateway: wx.url,
    wxApiBase: 'http://127.0.0.1:9',
    wxVersion: 3,
    ali: aliApp,
    aliGateway: ali.gateway,
    pemDir: path.join(dir, 'pem'),
  });
  deps = createDeps({
    db: () => db,
    configs: staticConfigSource(config as any),
    http: faultyTransport(loopbackTransport()),
    clock: { now: () => Date.now() + clockOffset },
    cache: memoryCache(),
    log: createLogger(() => {}),
    spaceId: () => 'local-space',
    handlers: (type) =>
      type === 'transfer'
        ? async ({ data }) => {
            runs.push([String(data.out_bill_no), String(data.state)]);
            return true;
          }
        : undefined,
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([wx?.close(), ali?.close()]);
  db?.close();
  db2?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fault = undefined;
  clockOffset = 0;
  runs = [];
  transferRequests = 0;
});

let seq = 0;
const billNo = (p: string) => `TF${p}${Date.now().toString(36)}${(seq++).toString(36)}`.slice(0, 32);
const ledger = async (out_bill_no: string) => (await db.collection(TRANSFERS_COLLECTION).where({ out_bill_no }).get()).data as any[];
const wxParams = (out_bill_no: string, over: Record<string, unknown> = {}) => ({
  provider: 'wxpay',
  out_bill_no,
  transfer_amount: 100,
  transfer_remark: '提现',
  openid: 'o-payee-1',
  transfer_scene_id: '1000',
  transfer_scene_report_infos: [
    { info_type: '活动名称', info_content: '新会员有礼' },
    { info_type: '奖励说明', info_content: '注册奖励' },
  ],
  ...over,
});
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 0;
  } catch (e) {
    if (isPayError(e)) return e.code;
    throw e;
  }
};

describe('wxpay (user-confirm mode)', () => {
  test('a transfer waits for the payee: options for the client, one ledger record, handler once when confirmed', async () => {
    const no = billNo('W');
    const r = await transfer(deps, wxParams(no));
    expect(r).toMatchObject({ state: 'WAIT_USER_CONFIRM', out_bill_no: no, transfer_amount: 100 });
    expect(r.options).toEqual({
      mchId: wxMerchant.mchid,
      appId: WX_APPIDS.mp,
      package: wx.transfers.bill(no)!.package_info,
      openId: 'o-payee-1',
    });
    expect(await ledger(no)).toHaveLength(1);
    wx.transfers.confirm(wx.transfers.bill(no)!.package_info);
    expect(await queryTransfer(deps, { provider: 'wxpay', out_bill_no: no })).toMatchObject({ state: 'SUCCESS' });
    expect(await queryTransfer(deps, { provider: 'wxpay', out_bill_no: no })).toMatchObject({ state: 'SUCCESS' });
    expect(runs).toEqual([[no, 'SUCCESS']]);
    expect((await ledger(no))[0]).toMatchObject({ state: 'SUCCESS', handler_success: true, payee: 'o-payee-1' });
  });

  test('a retry with the same out_bill_no answers the same bill; a changed amount is refused (2103) and nothing is sent', async () => {
    const no = billNo('R');
    const a = await transfer(deps, wxParams(no));
    const b = await transfer(deps, wxParams(no));
    expect(b.options).toEqual(a.options);
    expect(transferRequests).toBe(1);
    expect(await codeOf(transfer(deps, wxParams(no, { transfer_amount: 101 })))).toBe(2103);
    expect(transferRequests).toBe(1);
    expect(await ledger(no)).toHaveLength(1);
  });

  test('amount rules are coded errors before anything is written or sent', async () => {
    const no = billNo('A');
    expect(await codeOf(transfer(deps, wxParams(no, { transfer_amount: 9 })))).toBe(2101);
    expect(await codeOf(transfer(deps, wxParams(no, { transfer_amount: 10.5 })))).toBe(2101);
    expect(await codeOf(transfer(deps, wxParams(no, { transfer_amount: 200_000 })))).toBe(2102);
    expect(await ledger(no)).toHaveLength(0);
    expect(transferRequests).toBe(0);
  });

  test('at the threshold the payee name is sent RSA-OAEP encrypted for the WeChat Pay public key, and never stored', async () => {
    const no = billNo('N');
    const r = await transfer(deps, wxParams(no, { transfer_amount: 200_000, user_name: '张三' }));
    expect(r.state).toBe('WAIT_USER_CONFIRM');
    expect(wx.transfers.bill(no)!.user_name).toBe('张三');
    expect(JSON.stringify(await ledger(no))).not.toContain('张三');
  });

  test('a lost answer leaves it UNKNOWN; the retry asks first and never pays twice', async () => {
    const no = billNo('L');
    fault = 'lose-answer';
    const r = await transfer(deps, wxParams(no));
    expect(r).toMatchObject({ state: 'UNKNOWN' });
    fault = undefined;
    const again = await transfer(deps, wxParams(no));
    expect(again).toMatchObject({ state: 'WAIT_USER_CONFIRM', options: { package: wx.transfers.bill(no)!.package_info } });
    // the package is only in the create answer: the same request again (WeChat answers the same bill)
    expect(transferRequests).toBe(2);
    expect(wx.transfers.bills().filter((b) => b.out_bill_no === no)).toHaveLength(1);
  });

  test('a request that never arrived is sent again only after the grace period; the timer fails a bill nobody retries', async () => {
    const no = billNo('F');
    fault = 'fail-before';
    expect(await transfer(deps, wxParams(no))).toMatchObject({ state: 'UNKNOWN' });
    fault = undefined;
    clockOffset = TRANSFER_SETTLE_GRACE_MS + 1000;
    expect(await transfer(deps, wxParams(no))).toMatchObject({ state: 'WAIT_USER_CONFIRM' });
    expect(transferRequests).toBe(1);

    const lost = billNo('G');
    clockOffset = 0;
    fault = 'fail-before';
    await transfer(deps, wxParams(lost));
    fault = undefined;
    clockOffset = TRANSFER_SETTLE_GRACE_MS + 1000;
    const summary = await settlePendingTransfers(deps, { olderThanMs: 0 });
    expect(summary.settled).toBeGreaterThanOrEqual(1);
    expect((await ledger(lost))[0]).toMatchObject({ state: 'FAIL', fail_reason: 'NOT_FOUND', handler_success: true });
    expect(runs).toContainEqual([lost, 'FAIL']);
  });

  test('concurrent calls with one out_bill_no: one record, one bill', async () => {
    const no = billNo('C');
    const results = await Promise.all(Array.from({ length: 6 }, () => transfer(deps, wxParams(no))));
    for (const r of results) expect(['PENDING', 'WAIT_USER_CONFIRM']).toContain(r.state);
    expect(await ledger(no)).toHaveLength(1);
    expect(transferRequests).toBe(1);
  });

  test('a verified refusal is FAIL with the provider code (2106), repeated as such, handler once', async () => {
    const no = billNo('X');
    expect(await codeOf(transfer(deps, wxParams(no, { appid: 'wx9999999999999999' })))).toBe(2106);
    expect((await ledger(no))[0]).toMatchObject({ state: 'FAIL', fail_reason: 'APPID_MCHID_NOT_MATCH' });
    expect(await codeOf(transfer(deps, wxParams(no, { appid: 'wx9999999999999999' })))).toBe(2106);
    expect(transferRequests).toBe(1);
    expect(runs).toEqual([[no, 'FAIL']]);
  });

  test('a refusal while the provider already has a bill under the number (made outside this ledger) never fails it', async () => {
    const no = billNo('O');
    // the bill of another system (e.g. before the migration), 500 fen, same number
    await transfer({ ...deps, transfers: new TransfersRepo(() => db2) }, wxParams(no, { transfer_amount: 500 }));
    expect(await codeOf(transfer(deps, wxParams(no)))).toBe(4007); // the provider's bill does not match: reported
    expect((await ledger(no))[0].state).not.toBe('FAIL');
    expect(runs).toEqual([]);
  });

  test('cancel before confirmation: CANCELING, then CANCELLED by query; cancelling a paid bill is 2105', async () => {
    const no = billNo('K');
    await transfer(deps, wxParams(no));
    expect(await cancelTransfer(deps, { provider: 'wxpay', out_bill_no: no })).toMatchObject({ state: 'CANCELING' });
    await new Promise((r) => setTimeout(r, 60));
    expect(await queryTransfer(deps, { provider: 'wxpay', out_bill_no: no })).toMatchObject({ state: 'CANCELLED' });
    expect(await cancelTransfer(deps, { provider: 'wxpay', out_bill_no: no })).toMatchObject({ state: 'CANCELLED' });
    expect(runs).toEqual([[no, 'CANCELLED']]);

    const paid = billNo('P');
    await transfer(deps, wxParams(paid));
    wx.transfers.confirm(wx.transfers.bill(paid)!.package_info);
    // the user confirmed first: the provider refuses, its current word is recorded
    expect(await codeOf(cancelTransfer(deps, { provider: 'wxpay', out_bill_no: paid }))).toBe(2105);
    expect((await ledger(paid))[0]).toMatchObject({ state: 'SUCCESS' });
    expect(await codeOf(cancelTransfer(deps, { provider: 'wxpay', out_bill_no: 'nosuchbill1' }))).toBe(2104);
  });
});

test.each([0, 5, 15, 40])(
  'cancel racing the payee confirmation (%i ms later): ledger = provider, handler once with that state',
  async (delay) => {
    const no = billNo('Q');
    await transfer(deps, wxParams(no));
    const pkg = wx.transfers.bill(no)!.package_info;
    const [cancelled] = await Promise.allSettled([
      cancelTransfer(deps, { provider: 'wxpay', out_bill_no: no }),
      new Promise<void>((r) =>
        setTimeout(() => {
          try {
            wx.transfers.confirm(pkg);
          } catch {
            /* cancelled first */
          }
          r();
        }, delay),
      ),
    ]);
    if (cancelled.status === 'rejected') expect((cancelled.reason as { code: number }).code).toBe(2105);
    await new Promise((r) => setTimeout(r, 60));
    const final = await queryTransfer(deps, { provider: 'wxpay', out_bill_no: no });
    expect(['SUCCESS', 'CANCELLED']).toContain(final.state);
    expect(final.state).toBe(wx.transfers.bill(no)!.state);
    expect(runs).toEqual([[no, final.state]]);
  },
);

describe('alipay (synchronous)', () => {
  const aliParams = (out_bill_no: string, over: Record<string, unknown> = {}) => ({
    provider: 'alipay',
    out_bill_no,
    transfer_amount: 150,
    transfer_remark: '提现',
    order_title: '佣金提现',
    payee_info: { identity: '2088000000000001', identity_type: 'ALIPAY_USER_ID' },
    ...over,
  });

  test('a transfer is SUCCESS at once (1.50 yuan sent), handler once; query and retry agree', async () => {
    const no = billNo('Y');
    expect(await transfer(deps, aliParams(no))).toMatchObject({ state: 'SUCCESS', transfer_amount: 150 });
    expect(ali.transfers.transfer(no)).toMatchObject({ fen: 150 });
    expect(ali.requests.find((r) => r.method === 'alipay.fund.trans.uni.transfer' && r.biz.out_biz_no === no)!.biz.trans_amount).toBe(
      '1.50',
    );
    expect(await transfer(deps, aliParams(no))).toMatchObject({ state: 'SUCCESS' });
    expect(await queryTransfer(deps, { provider: 'alipay', out_bill_no: no })).toMatchObject({ state: 'SUCCESS' });
    expect(transferRequests).toBe(1);
    expect(runs).toEqual([[no, 'SUCCESS']]);
  });

  test('a lost answer is settled by a verified query', async () => {
    const no = billNo('Z');
    fault = 'lose-answer';
    expect(await transfer(deps, aliParams(no))).toMatchObject({ state: 'UNKNOWN' });
    fault = undefined;
    expect(await queryTransfer(deps, { provider: 'alipay', out_bill_no: no })).toMatchObject({ state: 'SUCCESS' });
    expect(transferRequests).toBe(1);
    expect(runs).toEqual([[no, 'SUCCESS']]);
  });

  test('rules: below 0.10 yuan is 2101; a login id without the name is 2102; a refused payee is FAIL (2106)', async () => {
    expect(await codeOf(transfer(deps, aliParams(billNo('Q'), { transfer_amount: 9 })))).toBe(2101);
    expect(
      await codeOf(transfer(deps, aliParams(billNo('Q'), { payee_info: { identity: 'a@example.com', identity_type: 'ALIPAY_LOGON_ID' } }))),
    ).toBe(2102);
    expect(transferRequests).toBe(0);
    const no = billNo('Q');
    expect(
      await codeOf(transfer(deps, aliParams(no, { payee_info: { identity: 'FAIL_PAYEE_NOT_EXIST', identity_type: 'ALIPAY_USER_ID' } }))),
    ).toBe(2106);
    expect((await ledger(no))[0]).toMatchObject({ state: 'FAIL', fail_reason: 'PAYEE_NOT_EXIST' });
  });

  test('cancel is not offered by Alipay: a coded answer (3005)', async () => {
    expect(await codeOf(cancelTransfer(deps, { provider: 'alipay', out_bill_no: billNo('V') }))).toBe(3005);
  });
});
