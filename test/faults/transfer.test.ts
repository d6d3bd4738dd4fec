/**
 * Transfers through every gateway fault (tools/sandbox/fault-proxy.ts in front of the WeChat Pay
 * and Alipay sandboxes): each faulty transfer call ends in a coded outcome within a bound, leaves
 * exactly one ledger record that is not final unless the provider's verified word made it so, and a
 * retry with the same parameters converges on the provider's state with exactly one payout.
 */
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../../tools/local-unicloud';
import { ROOT, WX_APPIDS, sandboxConfig } from '../../tools/stack';
import { FAULTS, startFaultProxy, type FaultProxy } from '../../tools/sandbox/fault-proxy';
import { nodeTransport, type PeerRequest } from '../../tools/sandbox/loopback';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox } from '../../tools/sandbox/wxpay';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox } from '../../tools/sandbox/alipay';
import { createDeps, type PayDeps } from '../../uni_modules/vk-uni-pay/server/services/deps';
import { createLogger } from '../../uni_modules/vk-uni-pay/server/services/log';
import { staticConfigSource } from '../../uni_modules/vk-uni-pay/server/store/config';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';
import { TRANSFERS_COLLECTION } from '../../uni_modules/vk-uni-pay/server/store/transfers';
import { isPayError } from '../../uni_modules/vk-uni-pay/server/core/errors';
import { TRANSFER_SETTLE_GRACE_MS, queryTransfer, transfer } from '../../uni_modules/vk-uni-pay/server/services/transfer';

const BOUND_MS = 5_000;
let dir: string;
let db: ReturnType<typeof createDatabase>;
let wx: WxpaySandbox;
let ali: AlipaySandbox;
const proxies: Record<'wxpay' | 'alipay', FaultProxy> = {} as never;
let deps: PayDeps;
let clockOffset = 0;
const runs: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vkpay-transfer-faults-'));
  db = createDatabase({ file: path.join(dir, 'db.sqlite'), indexDirs: [path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/database')] });
  const [m, app] = await Promise.all([
    createWxpayMerchant({ appids: Object.values(WX_APPIDS), signMode: 'public-key' }),
    createAlipayApp(),
  ]);
  [wx, ali] = await Promise.all([
    startWxpaySandbox({ merchants: [m], port: 0, retryDelaysMs: [], quiet: true }),
    startAlipaySandbox({ apps: [app], port: 0, retryDelaysMs: [], quiet: true }),
  ]);
  [proxies.wxpay, proxies.alipay] = await Promise.all([startFaultProxy(wx.url), startFaultProxy(ali.url)]);
  const config: Record<string, any> = sandboxConfig({
    notifyUrl: 'http://127.0.0.1:9/http/vk-pay',
    spaceId: 'local-space',
    wx: m,
    wxGateway: proxies.wxpay.url,
    wxApiBase: 'http://127.0.0.1:9',
    wxVersion: 3,
    ali: app,
    aliGateway: `${proxies.alipay.url}/gateway.do`,
    pemDir: path.join(dir, 'pem'),
  });
  config.wxpay.transfer.timeout = 1_000;
  config.alipay.transfer = { ...config.alipay.transfer, timeout: 1_000 };
  deps = createDeps({
    db: () => db,
    configs: staticConfigSource(config as any),
    http: nodeTransport(),
    clock: { now: () => Date.now() + clockOffset },
    cache: memoryCache(),
    log: createLogger(() => {}),
    spaceId: () => 'local-space',
    handlers:
      () =>
      async ({ data }) => {
        runs.push(`${String(data.out_bill_no)}:${String(data.state)}`);
        return true;
      },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([proxies.wxpay?.close(), proxies.alipay?.close(), wx?.close(), ali?.close()]);
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
const billNo = (p: string) => `TX${p}${Date.now().toString(36)}${(seq++).toString(36)}`.slice(0, 32);
const ledger = async (no: string) => (await db.collection(TRANSFERS_COLLECTION).where({ out_bill_no: no }).get()).data as any[];

const ROWS = {
  wxpay: {
    params: (no: string) => ({ provider: 'wxpay', out_bill_no: no, transfer_amount: 100, transfer_remark: '提现', openid: 'o-fault' }),
    match: (req: PeerRequest) => req.method === 'POST' && req.path === '/v3/fund-app/mch-transfer/transfer-bills',
    payouts: (no: string) => wx.transfers.bills().filter((b) => b.out_bill_no === no).length,
    converged: 'WAIT_USER_CONFIRM',
  },
  alipay: {
    params: (no: string) => ({
      provider: 'alipay',
      out_bill_no: no,
      transfer_amount: 100,
      payee_info: { identity: '2088000000000002', identity_type: 'ALIPAY_USER_ID' },
    }),
    match: (req: PeerRequest) =>
      req.url.includes('alipay.fund.trans.uni.transfer') || req.body.toString().includes('alipay.fund.trans.uni.transfer'),
    payouts: (no: string) => ali.transfers.all().filter((t) => t.out_biz_no === no).length,
    converged: 'SUCCESS',
  },
} as const;

const summary: Array<{ provider: string; fault: string; first: string; ms: number; retry: string }> = [];
afterAll(() => {
  if (summary.length)
    console.log(
      summary
        .map((r) => `${r.provider.padEnd(7)} ${r.fault.padEnd(28)} ${r.first.padEnd(12)} ${String(r.ms).padStart(5)} ms → ${r.retry}`)
        .join('\n'),
    );
});

describe.each(['wxpay', 'alipay'] as const)('%s transfer', (provider) => {
  const row = ROWS[provider];
  test.each([...FAULTS])('%s: coded within the bound, one record, the retry converges with one payout', async (fault) => {
    clockOffset = 0;
    const no = billNo(provider === 'wxpay' ? 'W' : 'A');
    proxies[provider].inject(fault, row.match, 1);
    const started = Date.now();
    let first: string;
    try {
      first = (await transfer(deps, row.params(no))).state;
    } catch (e) {
      if (!isPayError(e)) throw e;
      first = `code ${e.code}`;
    }
    const ms = Date.now() - started;
    proxies[provider].clear();
    expect(ms).toBeLessThan(BOUND_MS);
    const docs = await ledger(no);
    expect(docs).toHaveLength(1);
    // nothing verified said it failed: the record stays open for a verified query
    expect(['UNKNOWN', 'PENDING', row.converged]).toContain(docs[0].state);
    expect(row.payouts(no)).toBeLessThanOrEqual(1);

    clockOffset = TRANSFER_SETTLE_GRACE_MS + 1_000;
    const retried = await transfer(deps, row.params(no));
    expect(retried.state).toBe(row.converged);
    expect(await queryTransfer(deps, { provider, out_bill_no: no })).toMatchObject({ state: row.converged });
    expect(row.payouts(no)).toBe(1);
    expect(await ledger(no)).toHaveLength(1);
    if (row.converged === 'SUCCESS') expect(runs.filter((r) => r === `${no}:SUCCESS`)).toHaveLength(1);
    summary.push({ provider, fault, first, ms, retry: retried.state });
  });
});
