/**
 * Notification figures for `npm run bench` (against the BUILT plugin):
 *   notify_db_roundtrips_first      database calls for a first notification (goal ≤ 3: find; paid
 *                                   transition + lease in one conditional update; finish)
 *   notify_db_roundtrips_duplicate  database calls when the order is already finished (goal 1)
 *   warm_notify_cpu_ms              CPU of one first WeChat Pay v3 notification (verify + decrypt +
 *                                   transition + dispatch), database (SQLite) and handler in-process; median
 *   notify_per_s                    genuine notifications per second through the local runtime's HTTP
 *                                   server, one process, 20 in flight (each a new paid order, handler run)
 */
import * as path from 'node:path';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createDatabase } from '../tools/local-unicloud';
import { ROOT, startStack, wxPaymentNotification, type Stack } from '../tools/stack';
import { countingDatabase } from '../uni_modules/vk-uni-pay/server/store/db';

const plugin = path.join(ROOT, 'uni_modules/vk-uni-pay');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function unpaidOrder(out_trade_no: string): Record<string, unknown> {
  return {
    out_trade_no,
    total_fee: 100,
    status: 0,
    provider: 'wxpay',
    pay_type: 'wxpay_h5',
    platform: 'h5',
    uni_platform: 'web',
    type: 'goods',
    description: 'bench',
    user_id: 'u-bench',
    custom: { goods_id: 'g-bench' },
    client_ip: '127.0.0.1',
    notify_url: 'http://127.0.0.1:9/http/vk-pay',
    notify_path: `/paymentNotify/wxpay_h5/${out_trade_no}`,
    create_date: Date.now(),
    refund_fee: 0,
    refund_num: 0,
    refund_list: [],
    stat_data: {},
    handler_lock_until: 0,
    handler_attempts: 0,
  };
}

const notification = (stack: Stack, out_trade_no: string, i: number) =>
  wxPaymentNotification(stack, out_trade_no, 100, `4200${String(1e19 + i).slice(1)}${String(Date.now()).slice(-5)}`);

const cpuMs = async (fn: () => Promise<unknown>) => {
  const t = process.cpuUsage();
  await fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
};

export interface NotifyFigures {
  notify_db_roundtrips_first: number;
  notify_db_roundtrips_duplicate: number;
  warm_notify_cpu_ms: number;
  warm_notify_cpu_ms_min: number;
  warm_notify_cpu_ms_max: number;
  notify_per_s: number;
}

export async function benchNotify(stack: Stack): Promise<NotifyFigures> {
  // the plugin's log lines would be measured too (the children run silent as well)
  const level = process.env.VK_PAY_LOG_LEVEL;
  process.env.VK_PAY_LOG_LEVEL = 'silent';
  try {
    return await measure(stack);
  } finally {
    if (level === undefined) delete process.env.VK_PAY_LOG_LEVEL;
    else process.env.VK_PAY_LOG_LEVEL = level;
  }
}

async function measure(stack: Stack): Promise<NotifyFigures> {
  // 1. in process: the built common module on a SQLite database, the handler answered in-process
  const dir = mkdtempSync(path.join(tmpdir(), 'vkpay-bench-notify-'));
  const sqlite = createDatabase({ file: path.join(dir, 'db.sqlite'), indexDirs: [path.join(plugin, 'uniCloud/database')] });
  const counted = countingDatabase(sqlite as never);
  const vkPay = require(path.join(plugin, 'uniCloud/cloudfunctions/common/vk-uni-pay/index.js'));
  const pay = vkPay.createVkPay({
    db: () => counted.db,
    configs: { load: async () => stack.config },
    handlers: () => async () => true,
    spaceId: () => 'local-space',
  });
  const orders = sqlite.collection('vk-pay-orders');
  const N = 300;
  const nos = Array.from({ length: N + 30 }, (_, i) => `BN${process.pid}x${i}`);
  for (const no of nos) await orders.add(unpaidOrder(no));
  const notes = nos.map((no, i) => notification(stack, no, i));
  const httpInfo = (no: string, n: { body: string; headers: Record<string, string> }) => ({
    path: `/paymentNotify/wxpay_h5/${no}`,
    httpMethod: 'POST',
    headers: n.headers,
    queryStringParameters: {},
    body: n.body,
    isBase64Encoded: false,
  });
  const notifyOnce = async (i: number) => {
    const r = await pay.paymentNotify(httpInfo(nos[i], notes[i]));
    if (r.statusCode !== 200 && r.statusCode !== 204) throw new Error(`bench notification refused: ${r.statusCode} ${r.body}`);
  };
  for (let i = 0; i < 30; i++) await notifyOnce(N + i); // warm-up
  const samples: number[] = [];
  const firstTrips: number[] = [];
  for (let i = 0; i < N; i++) {
    counted.reset();
    samples.push(await cpuMs(() => notifyOnce(i)));
    firstTrips.push(counted.count());
  }
  counted.reset();
  await notifyOnce(0);
  const duplicateTrips = counted.count();
  sqlite.close();

  // 2. through the local runtime's HTTP server (the stack's runtime: this repository's vk-pay and its goods handler)
  const M = 400;
  const base = `R${process.pid}x${Date.now().toString(36)}`;
  const runtimeOrders = stack.runtime.database.collection('vk-pay-orders');
  const rnos = Array.from({ length: M }, (_, i) => `${base}${i}`.slice(0, 32));
  for (const no of rnos) await runtimeOrders.add(unpaidOrder(no));
  const rnotes = rnos.map((no, i) => notification(stack, no, N + 100 + i));
  const post = (i: number) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${stack.url}/http/vk-pay/paymentNotify/wxpay_h5/${rnos[i]}`,
        { method: 'POST', headers: rnotes[i].headers },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end(rnotes[i].body);
    });
  await post(0); // warm: loads the adapter
  let next = 1;
  let ok = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < M) if ((await post(next++)) === 200) ok++;
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (ok !== M - 1) throw new Error(`bench: only ${ok} of ${M - 1} notifications acknowledged`);

  return {
    notify_db_roundtrips_first: median(firstTrips),
    notify_db_roundtrips_duplicate: duplicateTrips,
    warm_notify_cpu_ms: round(median(samples), 3),
    warm_notify_cpu_ms_min: round(Math.min(...samples), 3),
    warm_notify_cpu_ms_max: round(Math.max(...samples), 3),
    notify_per_s: round((M - 1) / seconds, 1),
  };
}

export function notifyLines(f: NotifyFigures): string[] {
  return [
    `  database round trips per notification  ${f.notify_db_roundtrips_first} first (goal ≤ 3), ${f.notify_db_roundtrips_duplicate} duplicate (goal 1)`,
    `  warm notification CPU (wxpay v3)        ${f.warm_notify_cpu_ms} ms (min ${f.warm_notify_cpu_ms_min}, max ${f.warm_notify_cpu_ms_max}; verify + decrypt + transition + dispatch)`,
    `  notifications per second (runtime)      ${f.notify_per_s} /s (one process, 20 in flight, each a new paid order)`,
  ];
}

// `npx tsx bench/notify.ts` (after `npm run build`): these figures alone
if (require.main === module) {
  (async () => {
    const stack = await startStack({ port: 0, dataDir: mkdtempSync(path.join(tmpdir(), 'vkpay-bench-stack-')), quiet: true });
    try {
      const f = await benchNotify(stack);
      for (const line of notifyLines(f)) console.log(line);
      console.log(JSON.stringify(f));
    } finally {
      await stack.close();
    }
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
