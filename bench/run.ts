/**
 * `npm run bench` — measured in one run on this machine against the BUILT plugin (npm run bench
 * builds first); timings in fresh plain-`node` children (bench/harness.js), sandboxes on loopback.
 * Each row of MEASUREMENTS adds its figures to the JSON and its lines to the report; add a row to
 * measure something new.
 *   cold_load_ms          require() of the vk-pay cloud object + vk-uni-pay, no provider loaded (goal ≤ 15)
 *   first_create_ms       first createPayment per provider in a fresh process: median/min/max of RUNS
 *                         processes (goal ≤ 40); first_create_cpu_ms the same in CPU time
 *   warm_create_ratio     warm wxpay Native createPayment CPU / (one RSA-2048 sign + one verify), gateway
 *                         and database answered in-process, sampled side by side; median/min/max of
 *                         RUNS processes (goal ≤ 1.5)
 *   db_roundtrips_create  database calls for a new order (goal 1) and when re-paying (goal ≤ 3)
 *   http_calls_create     gateway calls per warm createPayment (goal exactly 1)
 *   bundle_bytes          the shipped plugin: built common module + cloud object (goal ≤ 1 MB)
 *   notify_*              notification figures, see bench/notify.ts
 * `npm run bench -- --json` also prints all figures as one JSON object on the last line.
 */
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { createSign, randomBytes } from 'node:crypto';
import * as esbuild from 'esbuild';
import { ROOT, startStack, APPLE_PRODUCTS, type Stack } from '../tools/stack';
import { benchNotify, notifyLines } from './notify';

const RUNS = Math.max(5, Number(process.env.BENCH_RUNS) || 5);
const plugin = path.join(ROOT, 'uni_modules/vk-uni-pay');
const DIST_DIRS = ['uniCloud/cloudfunctions/common/vk-uni-pay/dist', 'uniCloud/cloudfunctions/vk-pay/dist'].map((d) =>
  path.join(plugin, d),
);

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** median, min and max, rounded */
const stats = (xs: number[], d = 2) => ({ median: round(median(xs), d), min: round(Math.min(...xs), d), max: round(Math.max(...xs), d) });
const fmt = (s: { median: number; min: number; max: number }) => `${s.median} (min ${s.min}, max ${s.max})`;

interface BenchEnv {
  stack: Stack;
  base: Record<string, unknown>;
  /** one measurement in a fresh node process; resolves with its JSON line */
  child(mode: string, setup?: Record<string, unknown>): Promise<any>;
}

interface Measurement {
  name: string;
  run(env: BenchEnv): Promise<{ figures: Record<string, unknown>; lines: string[] }>;
}

const coldLoad: Measurement = {
  name: 'cold load',
  async run({ child }) {
    const cold: Array<{ loadMs: number; modules: string[] }> = [];
    for (let i = 0; i < 10; i++) cold.push(await child('cold'));
    const s = stats(cold.map((c) => c.loadMs));
    const modules = cold[0].modules;
    return {
      figures: {
        cold_load_ms: s.median,
        cold_load_ms_min: s.min,
        cold_load_ms_max: s.max,
        cold_load_providers_loaded: modules.filter((f) => f.includes('providers')).length,
      },
      lines: [`cold load of vk-pay + vk-uni-pay        ${fmt(s)} ms (goal ≤ 15)`, `  modules loaded: ${modules.join(', ')}`],
    };
  },
};

function firstCalls(stack: Stack): Record<string, { provider: string; options: Record<string, any>; session?: unknown }> {
  const web = { uniPlatform: 'web', clientIP: '127.0.0.1', userAgent: 'Mozilla/5.0 (Windows NT 10.0)' };
  const openid = 'o-bench-user';
  return {
    wxpay: { provider: 'wxpay', options: { context: web, provider: 'wxpay', isPC: true, data: {} } },
    alipay: { provider: 'alipay', options: { context: web, provider: 'alipay', isPC: true, data: {} } },
    vkspay: { provider: 'vkspay', options: { context: web, provider: 'vkspay', data: {} } },
    huawei: { provider: 'huawei', options: { context: { uniPlatform: 'app-harmony' }, provider: 'huawei', data: {} } },
    douyin: { provider: 'douyin', options: { context: { uniPlatform: 'mp-toutiao' }, provider: 'douyin', data: {} } },
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
}

const firstCreate: Measurement = {
  name: 'first createPayment per provider',
  async run({ stack, child }) {
    const wall: Record<string, ReturnType<typeof stats>> = {};
    const cpu: Record<string, ReturnType<typeof stats>> = {};
    const lines: string[] = [];
    for (const [name, f] of Object.entries(firstCalls(stack))) {
      const runs: Array<{ firstMs: number; firstCpuMs: number; chunks: string[] }> = [];
      for (let i = 0; i < RUNS; i++) {
        const options = {
          ...f.options,
          data: {
            out_trade_no: `FIRST${name.replace(/\W/g, '')}${Date.now()}${i}`.slice(0, 32),
            total_fee: APPLE_PRODUCTS.coins_600.total_fee,
            subject: 'bench',
            type: 'bench',
            ...f.options.data,
          },
        };
        runs.push(await child('first', { first: { ...f, options }, warmUrl: stack.alipay.url }));
      }
      wall[name] = stats(runs.map((r) => r.firstMs));
      cpu[name] = stats(runs.map((r) => r.firstCpuMs));
      lines.push(
        `first createPayment ${name.padEnd(14)}     ${fmt(wall[name])} ms, CPU ${fmt(cpu[name])} ms; loads ${runs[0].chunks.join(', ')}`,
      );
    }
    return { figures: { first_create_ms: wall, first_create_cpu_ms: cpu }, lines };
  },
};

const warmCreate: Measurement = {
  name: 'warm createPayment vs the crypto floor',
  async run({ stack, child }) {
    const m = stack.wxMerchant;
    const runs: Array<{ createCpuMs: number; floorCpuMs: number; dbPerCall: number; httpPerCall: number; dbRepay: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      // a fresh signed answer per run: its timestamp must stay inside the 5-minute window
      const ts = Math.floor(Date.now() / 1000);
      const nonce = randomBytes(16).toString('hex');
      const body = JSON.stringify({ code_url: 'weixin://wxpay/bizpayurl?pr=BENCH00' });
      const signature = createSign('RSA-SHA256').update(`${ts}\n${nonce}\n${body}\n`).sign(m.publicKey.privateKeyPem, 'base64');
      const headers = {
        'wechatpay-timestamp': String(ts),
        'wechatpay-nonce': nonce,
        'wechatpay-signature': signature,
        'wechatpay-serial': m.publicKeyId,
        'content-type': 'application/json',
      };
      const warm = {
        answer: { body, headers },
        warmup: 300,
        calls: 1000,
        privateKeyPem: m.merchant.keyPem,
        publicKeyPem: m.publicKey.publicKeyPem,
      };
      runs.push(await child('warm', { warm }));
    }
    const ratio = stats(runs.map((r) => r.createCpuMs / r.floorCpuMs));
    const create = stats(
      runs.map((r) => r.createCpuMs),
      3,
    );
    const floor = stats(
      runs.map((r) => r.floorCpuMs),
      3,
    );
    const last = runs[runs.length - 1];
    return {
      figures: {
        warm_create_cpu_ms: create.median,
        crypto_floor_cpu_ms: floor.median,
        warm_create_ratio: ratio.median,
        warm_create_ratio_min: ratio.min,
        warm_create_ratio_max: ratio.max,
        db_roundtrips_create: last.dbPerCall,
        db_roundtrips_repay: last.dbRepay,
        http_calls_create: last.httpPerCall,
      },
      lines: [
        `warm createPayment (wxpay Native) CPU    ${fmt(create)} ms (gateway and database answered in-process)`,
        `crypto floor (RSA-2048 sign + verify)    ${fmt(floor)} ms (same processes, side by side)`,
        `warm ratio                               ${fmt(ratio)}× over ${RUNS} processes (goal ≤ 1.5)`,
        `database round trips per createPayment   ${last.dbPerCall} new order (goal 1), ${last.dbRepay} re-paying (goal ≤ 3)`,
        `gateway HTTP calls per createPayment     ${last.httpPerCall} (goal exactly 1)`,
      ],
    };
  },
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

const bundleSize: Measurement = {
  name: 'shipped plugin size',
  async run() {
    const sizes = DIST_DIRS.flatMap(files).map((f) => [path.relative(plugin, f), statSync(f).size] as const);
    const bytes = sizes.reduce((n, [, b]) => n + b, 0);
    return {
      figures: { bundle_bytes: bytes },
      lines: [
        `shipped plugin (built)                   ${bytes} bytes (goal ≤ 1000000)`,
        ...sizes.map(([f, b]) => `  ${String(b).padStart(8)}  ${path.basename(path.dirname(f))}/${path.basename(f)}`),
      ],
    };
  },
};

/** The report, in order. Add a row to measure more. */
const notifications: Measurement = {
  name: 'notifications',
  async run({ stack }) {
    const figures = await benchNotify(stack);
    return { figures: { ...figures }, lines: notifyLines(figures) };
  },
};

export const MEASUREMENTS: Measurement[] = [coldLoad, firstCreate, warmCreate, bundleSize, notifications];

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
    // async: the sandboxes in this process must keep answering while a child runs
    const child = async (mode: string, setup: Record<string, unknown> = {}) => {
      const file = path.join(dir, `setup-${mode}-${randomBytes(4).toString('hex')}.json`);
      writeFileSync(file, JSON.stringify({ ...base, ...setup, dbFile: path.join(dir, `db-${randomBytes(4).toString('hex')}.sqlite`) }));
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(__dirname, 'harness.js'), mode, file], {
        encoding: 'utf8',
        env: { ...process.env, VK_PAY_LOG_LEVEL: 'silent', NODE_PATH: path.join(ROOT, 'node_modules') },
      });
      return JSON.parse(stdout.trim().split('\n').pop()!);
    };
    const env: BenchEnv = { stack, base, child };

    const figures: Record<string, unknown> = {};
    console.log(`vk-uni-pay benchmark (this machine, one run; load average ${loadavg()[0].toFixed(1)})`);
    for (const m of MEASUREMENTS) {
      const r = await m.run(env);
      Object.assign(figures, r.figures);
      for (const line of r.lines) console.log(`  ${line}`);
    }
    if (json) console.log(JSON.stringify(figures));
  } finally {
    await stack.close();
  }
}

if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
