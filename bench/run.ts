/**
 * `npm run bench` — measured in one run on this machine, each figure in fresh `node` children
 * against the BUILT plugin (npm run bench builds first):
 *   cold_load_ms          require() of the vk-pay cloud object + vk-uni-pay, no provider loaded (goal ≤ 15)
 *   first_create_ms       first createPayment per provider in a fresh process (sandboxes on loopback)
 *   warm_create_ratio     warm wxpay Native createPayment CPU / (one RSA-2048 sign + one verify), same process (goal ≤ 2.0)
 *   db_roundtrips_create  database calls for a new order (goal 1) and when re-paying (goal ≤ 3)
 *   http_calls_create     gateway calls per warm createPayment (goal exactly 1)
 *   notify_*              notification figures, see bench/notify.ts
 * `npm run bench -- --json` also prints all figures as one JSON object on the last line.
 */
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createSign, randomBytes } from 'node:crypto';
import * as esbuild from 'esbuild';
import { ROOT, startStack, APPLE_PRODUCTS } from '../tools/stack';
import { benchNotify, notifyLines } from './notify';

const plugin = path.join(ROOT, 'uni_modules/vk-uni-pay');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Runs one measurement in a fresh node process (async: the sandboxes in this process must keep answering). */
async function child(mode: string, setup: Record<string, unknown>, dir: string): Promise<any> {
  const file = path.join(dir, `setup-${mode}-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify({ ...setup, dbFile: path.join(dir, `db-${randomBytes(4).toString('hex')}.sqlite`) }));
  const { stdout: out } = await promisify(execFile)(process.execPath, [path.join(__dirname, 'harness.js'), mode, file], {
    encoding: 'utf8',
    env: { ...process.env, VK_PAY_LOG_LEVEL: 'silent', NODE_PATH: path.join(ROOT, 'node_modules') },
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function main() {
  const json = process.argv.includes('--json');
  const dir = mkdtempSync(path.join(tmpdir(), 'vkpay-bench-'));
  // the runtime's own database and httpclient, compiled once for the plain-node children
  await esbuild.build({
    entryPoints: { db: path.join(ROOT, 'tools/local-unicloud/db.ts'), http: path.join(ROOT, 'tools/local-unicloud/httpclient.ts') },
    outdir: path.join(dir, 'lib'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['better-sqlite3', 'mingo'],
    nodePaths: [path.join(ROOT, 'node_modules')],
    logLevel: 'error',
  });
  const stack = await startStack({ port: 0, dataDir: path.join(dir, 'stack'), quiet: true, configOverrides: {} });
  try {
    const configFile = path.join(dir, 'config.js');
    writeFileSync(
      configFile,
      `module.exports = ${JSON.stringify({ ...stack.config, notifyUrl: { 'bench-space': 'https://example.invalid/http/vk-pay' } })};`,
    );
    const base = {
      pluginRoot: plugin,
      commonModule: path.join(plugin, 'uniCloud/cloudfunctions/common/vk-uni-pay/index.js'),
      cloudObject: path.join(plugin, 'uniCloud/cloudfunctions/vk-pay/index.obj.js'),
      configCenter: path.join(dir, 'no-config-center.js'),
      indexDir: path.join(plugin, 'uniCloud/database'),
      lib: { db: path.join(dir, 'lib/db.js'), http: path.join(dir, 'lib/http.js') },
      configFile,
    };
    writeFileSync(base.configCenter, 'module.exports = () => ({ requireFile: () => undefined });');

    // 1. cold load
    const cold: Array<{ loadMs: number; modules: string[] }> = [];
    for (let i = 0; i < 10; i++) cold.push(await child('cold', base, dir));
    const coldMs = cold.map((c) => c.loadMs);
    const coldModules: string[] = cold[0].modules;

    // 2. first createPayment per provider, fresh process each
    const web = { uniPlatform: 'web', clientIP: '127.0.0.1', userAgent: 'Mozilla/5.0 (Windows NT 10.0)' };
    const openid = 'o-bench-user';
    const firsts: Record<string, { provider: string; options: Record<string, unknown>; session?: unknown }> = {
      wxpay: { provider: 'wxpay', options: { context: web, provider: 'wxpay', isPC: true, data: {} } },
      alipay: { provider: 'alipay', options: { context: web, provider: 'alipay', isPC: true, data: {} } },
      vkspay: { provider: 'vkspay', options: { context: web, provider: 'vkspay', data: {} } },
      appleiap: {
        provider: 'appleiap',
        options: { context: { uniPlatform: 'app' }, provider: 'appleiap', data: { productid: 'coins_600' } },
      },
      'wxpay-virtual': {
        provider: 'wxpay-virtual',
        options: {
          context: { uniPlatform: 'mp-weixin' },
          provider: 'wxpay-virtual',
          data: { openid, wxpay_virtual: { mode: 'short_series_coin', buy_quantity: 600 } },
        },
        session: {
          _id: `${stack.wxApp.appId}:${openid}`,
          doc: { appid: stack.wxApp.appId, openid, session_key: randomBytes(16).toString('base64') },
        },
      },
    };
    const first: Record<string, number> = {};
    for (const [name, f] of Object.entries(firsts)) {
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const options = {
          ...f.options,
          data: {
            out_trade_no: `FIRST${name.replace(/\W/g, '')}${Date.now()}${i}`.slice(0, 32),
            total_fee: APPLE_PRODUCTS.coins_600.total_fee,
            subject: 'bench',
            type: 'bench',
            ...(f.options.data as object),
          },
        };
        runs.push((await child('first', { ...base, first: { ...f, options } }, dir)).firstMs);
      }
      first[name] = round(median(runs));
    }

    // 3. warm createPayment vs the crypto floor, one process
    const m = stack.wxMerchant;
    const ts = Math.floor(Date.now() / 1000);
    const nonce = randomBytes(16).toString('hex');
    const body = JSON.stringify({ code_url: 'weixin://wxpay/bizpayurl?pr=BENCH00' });
    const signature = createSign('RSA-SHA256').update(`${ts}\n${nonce}\n${body}\n`).sign(m.publicKey.privateKeyPem, 'base64');
    const answer = {
      body,
      headers: {
        'wechatpay-timestamp': String(ts),
        'wechatpay-nonce': nonce,
        'wechatpay-signature': signature,
        'wechatpay-serial': m.publicKeyId,
        'content-type': 'application/json',
      },
    };
    const warm = await child(
      'warm',
      { ...base, warm: { answer, calls: 400, privateKeyPem: m.merchant.keyPem, publicKeyPem: m.publicKey.publicKeyPem } },
      dir,
    );

    const figures = {
      cold_load_ms: round(median(coldMs)),
      cold_load_ms_min: round(Math.min(...coldMs)),
      cold_load_ms_max: round(Math.max(...coldMs)),
      cold_load_providers_loaded: coldModules.filter((f) => f.includes('providers')).length,
      first_create_ms: first,
      warm_create_cpu_ms: round(warm.createCpuMs, 3),
      crypto_floor_cpu_ms: round(warm.floorCpuMs, 3),
      warm_create_ratio: round(warm.createCpuMs / warm.floorCpuMs),
      db_roundtrips_create: warm.dbPerCall,
      db_roundtrips_repay: warm.dbRepay,
      http_calls_create: warm.httpPerCall,
      ...(await benchNotify(stack)),
    };
    console.log('vk-uni-pay benchmark (this machine, one run; medians)');
    console.log(
      `  cold load of vk-pay + vk-uni-pay       ${figures.cold_load_ms} ms (min ${figures.cold_load_ms_min}, max ${figures.cold_load_ms_max}; goal ≤ 15; uni-pay-co ≈ 89 per reference)`,
    );
    console.log(`    modules loaded: ${coldModules.join(', ')}`);
    for (const [p, v] of Object.entries(first))
      console.log(`  first createPayment ${p.padEnd(14)}     ${v} ms (fresh process, provider loaded lazily)`);
    console.log(`  warm createPayment (wxpay Native) CPU   ${figures.warm_create_cpu_ms} ms`);
    console.log(`  crypto floor (RSA-2048 sign + verify)   ${figures.crypto_floor_cpu_ms} ms`);
    console.log(`  warm ratio                              ${figures.warm_create_ratio}× (goal ≤ 2.0; uni-pay-co ≈ 11× per reference)`);
    console.log(
      `  database round trips per createPayment  ${figures.db_roundtrips_create} new order (goal 1), ${figures.db_roundtrips_repay} re-paying (goal ≤ 3)`,
    );
    console.log(`  gateway HTTP calls per createPayment    ${figures.http_calls_create} (goal exactly 1)`);
    for (const line of notifyLines(figures)) console.log(line);
    if (json) console.log(JSON.stringify(figures));
  } finally {
    await stack.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
