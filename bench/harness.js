/**
 * Runs inside a fresh plain `node` child (no tsx, no jest) so timings are what uniCloud would see.
 * argv: <mode> <setup.json>. Prints one JSON line with the figures.
 *   cold    — require() of the built vk-pay cloud object (and with it the vk-uni-pay common module)
 *   first   — first createPayment for a provider in this process (provider chunk load included), wall
 *             and CPU. The runtime's own clients (database, httpclient) are warmed first: uniCloud
 *             provides them; what is timed is the plugin.
 *   warm    — per-call CPU of warm wxpay Native createPayment with the gateway AND the database
 *             answered in-process (only the plugin's own code runs), sampled side by side with the
 *             crypto floor (one RSA-2048 SHA-256 sign + one verify, key objects built once)
 */
'use strict';
const Module = require('module');
const path = require('path');
const crypto = require('crypto');
const [mode, setupFile] = process.argv.slice(2);
const setup = require(setupFile);

// the cloud object requires its common module by name, as uniCloud resolves `file:` dependencies
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'vk-uni-pay') return setup.commonModule;
  if (request === 'uni-config-center') return setup.configCenter;
  return resolve.call(this, request, ...rest);
};
const { createDatabase } = require(setup.lib.db);
const { createHttpClient } = require(setup.lib.http);

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function cpuMs(fn) {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

async function cpuMsAsync(fn) {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function countingDb(db) {
  let n = 0;
  const TERMINAL = new Set(['get', 'count', 'add', 'update', 'updateAndReturn', 'set', 'remove']);
  const wrap = (t) =>
    new Proxy(t, {
      get(target, prop) {
        const v = target[prop];
        if (typeof v !== 'function') return v;
        return (...a) => {
          if (TERMINAL.has(String(prop))) n++;
          const r = v.apply(target, a);
          return r && typeof r === 'object' && typeof r.then !== 'function' ? wrap(r) : r;
        };
      },
    });
  return { db: wrap(db), count: () => n };
}

/**
 * The database answered in-process, like the gateway: every terminal call resolves at once with an
 * empty-but-valid answer (a new order is one `add`), so the local SQLite driver is not measured.
 * It counts its terminal calls itself (no wrapping proxy whose cost would be counted as ours).
 */
function answeringDatabase() {
  let ids = 0;
  let n = 0;
  const ANSWERS = {
    add: () => ({ id: `bench${ids++}` }),
    get: () => ({ data: [] }),
    count: () => ({ total: 0 }),
    update: () => ({ updated: 1 }),
    set: () => ({ updated: 1 }),
    remove: () => ({ deleted: 1 }),
    updateAndReturn: () => ({ updated: 0, doc: null }),
  };
  const query = new Proxy(
    {},
    {
      get(_, prop) {
        if (prop === 'then') return undefined;
        const answer = ANSWERS[prop];
        if (!answer) return () => query;
        return async () => {
          n++;
          return answer();
        };
      },
    },
  );
  const command = new Proxy(
    {},
    {
      get:
        (_, op) =>
        (...args) => ({ $bench: op, args }),
    },
  );
  return { db: { collection: () => query, command }, count: () => n };
}

async function main() {
  const db = createDatabase({ file: setup.dbFile, indexDirs: [setup.indexDir] });
  const counted = countingDb(db);
  globalThis.uniCloud = { database: () => counted.db, httpclient: createHttpClient(), getCloudInfos: () => [{ spaceId: 'bench-space' }] };

  if (mode === 'cold') {
    const t0 = process.hrtime.bigint();
    require(setup.cloudObject);
    const loadMs = ms(t0);
    const loaded = Object.keys(require.cache).filter((f) => f.includes('vk-uni-pay') || f.includes('vk-pay'));
    console.log(JSON.stringify({ loadMs, modules: loaded.map((f) => path.relative(setup.pluginRoot, f)) }));
    return;
  }

  const vkPay = require(setup.commonModule);
  const config = require(setup.configFile);
  if (mode === 'first') {
    const { provider, options } = setup.first;
    if (setup.first.session) await counted.db.collection('vk-pay-sessions').doc(setup.first.session._id).set(setup.first.session.doc);
    await counted.db.collection('vk-pay-orders').where({ out_trade_no: 'warm-up' }).get();
    await globalThis.uniCloud.httpclient.request(setup.warmUrl, { method: 'GET', dataType: 'text' }).catch(() => undefined);
    const pay = vkPay.createVkPay({ configs: { load: async () => config }, spaceId: () => 'bench-space' });
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const res = await pay.createPayment(options);
    const wall = ms(t0);
    const c = process.cpuUsage(c0);
    if (res.code !== 0) throw new Error(`${provider}: ${res.code} ${res.msg}`);
    const chunks = Object.keys(require.cache)
      .filter((f) => /[\\/](providers|vendor)[\\/]/.test(f) && f.includes('dist'))
      .map((f) => path.basename(path.dirname(f)) + '/' + path.basename(f));
    console.log(JSON.stringify({ provider, firstMs: wall, firstCpuMs: (c.user + c.system) / 1000, chunks }));
    return;
  }

  if (mode === 'warm') {
    // the gateway, answered in-process at the HTTP layer: a signed NATIVE answer (fixed bytes;
    // timestamp inside the 5-minute window), and the database answered in-process too
    const { answer } = setup.warm;
    let httpCalls = 0;
    const transport = {
      async request() {
        httpCalls++;
        return { status: 200, headers: answer.headers, body: Buffer.from(answer.body) };
      },
    };
    const answering = answeringDatabase();
    const configs = { load: async () => config };
    const pay = vkPay.createVkPay({ configs, http: transport, db: () => answering.db, spaceId: () => 'bench-space' });
    let i = 0;
    const options = () => ({
      context: { uniPlatform: 'web', clientIP: '127.0.0.1' },
      provider: 'wxpay',
      isPC: true,
      data: { out_trade_no: `BENCH${process.pid}x${i++}`, total_fee: 100, subject: 'bench', type: 'bench' },
    });
    // the crypto floor, same process, key objects built once
    const key = crypto.createPrivateKey(setup.warm.privateKeyPem);
    const pub = crypto.createPublicKey(setup.warm.publicKeyPem);
    const msg = Buffer.from(`POST\n/v3/pay/transactions/native\n${Math.floor(Date.now() / 1000)}\nNONCE\n${'x'.repeat(300)}\n`);
    const floorOnce = () => crypto.verify('sha256', msg, pub, crypto.sign('sha256', msg, key));
    for (let w = 0; w < 30; w++) {
      const r = await pay.createPayment(options());
      if (r.code !== 0) throw new Error(`warm-up failed: ${r.code} ${r.msg}`);
      floorOnce();
    }
    // side by side, in batches: a batch of creates then a batch of floors, per-call CPU of each
    // batch (one cpuUsage pair per batch, so the clock's own cost is not measured)
    const samples = [];
    const floor = [];
    const db0 = answering.count();
    const http0 = httpCalls;
    const N = setup.warm.calls;
    const BATCH = 20;
    for (let k = 0; k < N; k += BATCH) {
      samples.push(
        (await cpuMsAsync(async () => {
          for (let b = 0; b < BATCH; b++) await pay.createPayment(options());
        })) / BATCH,
      );
      floor.push(
        cpuMs(() => {
          for (let b = 0; b < BATCH; b++) floorOnce();
        }) / BATCH,
      );
    }
    const calls = Math.ceil(N / BATCH) * BATCH;
    const dbPerCall = (answering.count() - db0) / calls;
    const httpPerCall = (httpCalls - http0) / calls;
    // re-paying an unpaid order (same out_trade_no, another scene), on the real database
    const real = vkPay.createVkPay({ configs, http: transport, spaceId: () => 'bench-space' });
    const repay = options();
    await real.createPayment(repay);
    const before = counted.count();
    const again = await real.createPayment({ ...repay, isPC: false, needQRcode: true });
    if (again.code !== 0) throw new Error(`re-paying failed: ${again.code} ${again.msg}`);
    const dbRepay = counted.count() - before;
    console.log(JSON.stringify({ createCpuMs: median(samples), floorCpuMs: median(floor), dbPerCall, httpPerCall, dbRepay }));
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
