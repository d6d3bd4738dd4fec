/**
 * `doctor`: checks every node of a merchant config before money is involved. Static checks read
 * keys and certificates only; with `online` each node makes one signed read-only call (a query for an
 * unused order number) and the host clock is compared with the gateways' Date headers. Server-only:
 * the common module's `doctor()` and the CLI; never exposed by the vk-pay cloud object.
 */
import { failureFinding, finding, Findings, probeOrderNo, type Finding } from '../core/doctor';
import { PROVIDERS, configNodePath } from '../core/platform';
import { toDateTimeShanghai, type Clock } from '../core/time';
import { loadAdapter } from '../providers/registry';
import type { PlatformKey, ProviderContext, ProviderName } from '../providers/types';
import { readNodeFiles, type PayConfig } from '../store/config';
import { fetchTransport } from '../transport/http';
import type { HttpTransport, KeyValueCache } from '../ports';

export interface DoctorOptions {
  /** one signed read-only call per node, and the clock against the gateways' Date headers */
  online?: boolean;
  /** service spaces that must have a notifyUrl entry */
  spaceIds?: string[];
}

export interface DoctorReport {
  ok: boolean;
  errors: number;
  warnings: number;
  findings: Finding[];
}

export interface DoctorEnv {
  /** for --online; default: Node's fetch (the CLI); the server API passes uniCloud's */
  http?: HttpTransport;
  clock: Clock;
  pid?: string;
}

const PLATFORM_KEYS: readonly PlatformKey[] = ['mp-weixin', 'mp-alipay', 'app-plus', 'h5', 'h5-weixin', 'mweb'];
const NOTIFY_PATH = '/http/vk-pay';
const SHANGHAI_OFFSET_MIN = 480;
/** a clock this far from the gateways' Date headers makes signatures and notification windows fail */
export const CLOCK_SKEW_WARN_MS = 60_000;

const isLoopback = (host: string) => host === 'localhost' || host === '[::1]' || /^127\./.test(host);

function checkNotifyUrl(config: PayConfig, spaceIds: string[]): Finding[] {
  const f = new Findings('notifyUrl');
  const map = config.notifyUrl;
  const FIX: readonly [string, string] = [
    'notifyUrl: { "<服务空间ID>": "https://<云对象 vk-pay 的 URL化域名>/http/vk-pay" }（uniCloud 控制台 → 云函数 → vk-pay → URL化）',
    'notifyUrl: { "<spaceId>": "https://<domain of the URL-ised vk-pay>/http/vk-pay" } (uniCloud console → cloud functions → vk-pay → URL)',
  ];
  if (!map || typeof map !== 'object' || !Object.keys(map).length) {
    f.error('notifyUrl', ['未配置 notifyUrl（支付平台无法回调）', 'notifyUrl is not configured (providers cannot notify)'], FIX);
    return f.list;
  }
  for (const [space, url] of Object.entries(map)) {
    const at = `notifyUrl["${space}"]`;
    if (/your-/.test(space) || (typeof url === 'string' && /your-/.test(url))) {
      f.error('notifyUrl.placeholder', [`${at} 仍是模板占位符`, `${at} is still the template placeholder`], FIX);
      continue;
    }
    let u: URL;
    try {
      u = new URL(String(url));
    } catch {
      f.error('notifyUrl.url', [`${at} 不是网址`, `${at} is not a URL`], FIX);
      continue;
    }
    if (u.protocol === 'http:' && isLoopback(u.hostname))
      f.warn('notifyUrl.https', [`${at} 是本机 http 地址，只能用于本地开发`, `${at} is a loopback http URL, for local development only`]);
    else if (u.protocol !== 'https:') f.error('notifyUrl.https', [`${at} 必须是 https 地址`, `${at} must be an https URL`], FIX);
    if (!u.pathname.replace(/\/+$/, '').endsWith(NOTIFY_PATH) || u.search)
      f.error(
        'notifyUrl.path',
        [
          `${at} 必须以云对象路径 ${NOTIFY_PATH} 结尾（现为 ${u.pathname}）`,
          `${at} must end at the cloud object path ${NOTIFY_PATH} (it is ${u.pathname})`,
        ],
        FIX,
      );
  }
  for (const space of spaceIds)
    if (!(space in map) && !('default' in map))
      f.error('notifyUrl.space', [`notifyUrl 中缺少服务空间 ${space}`, `notifyUrl has no entry for the space ${space}`], FIX);
  return f.list;
}

function checkTimeZone(now: number): Finding {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'unknown';
  const offsetMin = -new Date(now).getTimezoneOffset();
  const hours = (SHANGHAI_OFFSET_MIN - offsetMin) / 60;
  const fmt = (m: number) =>
    `UTC${m >= 0 ? '+' : '-'}${String(Math.floor(Math.abs(m) / 60)).padStart(2, '0')}:${String(Math.abs(m) % 60).padStart(2, '0')}`;
  const shanghai = toDateTimeShanghai(now);
  return finding('info', 'host', 'timezone', [
    `本机时区 ${zone}（${fmt(offsetMin)}），与支付平台使用的 Asia/Shanghai（UTC+08:00）相差 ${hours} 小时；插件显式按北京时间格式化（现在是北京时间 ${shanghai}）`,
    `Host time zone ${zone} (${fmt(offsetMin)}), ${hours} h from Asia/Shanghai (UTC+08:00) that providers use; the plugin formats provider times explicitly (now ${shanghai} in Beijing)`,
  ]);
}

interface ConfigNode {
  provider: ProviderName;
  name: string;
  node: Record<string, any>;
}

/** Every provider node the config holds; a scene key no payment would read is reported. */
function nodesOf(config: PayConfig, f: Findings): ConfigNode[] {
  const out: ConfigNode[] = [];
  for (const provider of PROVIDERS) {
    const group = config[provider];
    if (group === undefined) continue;
    const seen = new Set<string>();
    for (const key of PLATFORM_KEYS) {
      const path = configNodePath(provider, key);
      const name = path.join('.');
      let node: any = config;
      for (const k of path) node = node?.[k];
      if (seen.has(name) || !node || typeof node !== 'object') continue;
      seen.add(name);
      out.push({ provider, name, node });
    }
    const flat = seen.has(provider);
    if (!flat && group && typeof group === 'object')
      for (const key of Object.keys(group))
        if (!seen.has(`${provider}.${key}`))
          f.warn('unknown-node', [
            `${provider}.${key} 不是支付场景节点，不会被使用`,
            `${provider}.${key} is not a scene node and is never read`,
          ]);
  }
  return out;
}

function checkGateway(c: ConfigNode, f: Findings): void {
  for (const field of ['gateway', 'apiBase'] as const) {
    const v = c.node[field];
    if (v === undefined) continue;
    let u: URL | undefined;
    try {
      u = new URL(String(v));
    } catch {
      u = undefined;
    }
    if (!u) f.error(field, [`${field} 不是网址`, `${field} is not a URL`]);
    else if (u.protocol === 'http:' && isLoopback(u.hostname))
      f.info(field, [`${field} 指向本机测试网关 ${u.host}`, `${field} points at a loopback test gateway ${u.host}`]);
    else if (u.protocol !== 'https:') f.error(field, [`${field} 必须是 https 地址`, `${field} must be an https URL`]);
  }
}

function memoryCache(): KeyValueCache {
  const m = new Map<string, unknown>();
  return {
    get: async <T>(k: string) => m.get(k) as T | undefined,
    set: async (k: string, v: unknown) => void m.set(k, v),
    delete: async (k: string) => void m.delete(k),
  };
}

/** The transport with each answer's Date header noted against the local clock (skew = gateway − local). */
function recordingTransport(http: HttpTransport, clock: Clock, skews: number[]): HttpTransport {
  return {
    async request(req) {
      const res = await http.request(req);
      const date = Date.parse(res.headers?.date ?? '');
      if (Number.isFinite(date)) skews.push(date - clock.now());
      return res;
    },
  };
}

async function probe(c: ConfigNode, ctx: ProviderContext): Promise<Finding[]> {
  const adapter = loadAdapter(c.provider);
  if (adapter.diagnoseOnline) return adapter.diagnoseOnline(c.name, ctx);
  try {
    const r = await adapter.queryOrder({ out_trade_no: probeOrderNo(ctx.clock.now()) }, ctx);
    if (r.state === 'NOT_FOUND')
      return [
        finding('info', c.name, 'online', [
          '网关对查询应答“订单不存在”，且应答签名验证通过：商户号、私钥、证书序列号与验签密钥均可用',
          'The gateway answered the query with "order does not exist" and its signature verified: merchant id, private key, serial and verification key all work',
        ]),
      ];
    return [
      finding('warn', c.name, 'online', [`查询一个不存在的订单得到 ${r.state}`, `A query for an unused order number returned ${r.state}`]),
    ];
  } catch (e) {
    return [failureFinding(c.name, 'online', e)];
  }
}

function clockFinding(skews: number[]): Finding | undefined {
  if (!skews.length) return undefined;
  const skew = skews.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a));
  const s = Math.round(skew / 1000);
  if (Math.abs(skew) < CLOCK_SKEW_WARN_MS)
    return finding('info', 'host', 'clock', [`本机时钟与网关 Date 头相差 ${s} 秒`, `Host clock is ${s} s from the gateways' Date headers`]);
  return finding(
    'warn',
    'host',
    'clock',
    [
      `本机时钟与网关 Date 头相差 ${s} 秒（签名时间戳与通知时间窗会失败）`,
      `Host clock is ${s} s off the gateways' Date headers (request timestamps and notification windows fail)`,
    ],
    ['同步系统时间（NTP）', 'Synchronise the system clock (NTP)'],
  );
}

export async function runDoctor(config: PayConfig, env: DoctorEnv, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const now = env.clock.now();
  const general = new Findings('config');
  const findings: Finding[] = [...checkNotifyUrl(config, opts.spaceIds ?? []), checkTimeZone(now)];
  const nodes = nodesOf(config, general);
  if (!nodes.length) general.error('nodes', ['配置中没有任何支付节点', 'The config holds no provider node']);
  const resolved: Array<ConfigNode & { resolved: Record<string, any> }> = [];
  for (const c of nodes) {
    const f = new Findings(c.name);
    const node = readNodeFiles(c.node, (field, file) =>
      f.error(
        field,
        [`${field} 指向的文件无法读取：${file}`, `${field} names a file that cannot be read: ${file}`],
        ['把文件放到该路径，或删除此项', 'Put the file at that path or remove the field'],
      ),
    );
    checkGateway(c, f);
    findings.push(...f.list);
    try {
      findings.push(...(loadAdapter(c.provider).diagnose?.({ name: c.name, node, now }) ?? []));
    } catch (e) {
      // a check that trips over an unexpected shape still reports, and the other nodes are checked
      findings.push(finding('error', c.name, 'internal', [`检查中断：${(e as Error).message}`, `Check aborted: ${(e as Error).message}`]));
    }
    resolved.push({ ...c, resolved: node });
  }
  findings.push(...general.list);
  if (opts.online) {
    const skews: number[] = [];
    const http = recordingTransport(env.http ?? fetchTransport(), env.clock, skews);
    for (const c of resolved) {
      // a node with static errors would only fail again online
      if (findings.some((x) => x.node === c.name && x.severity === 'error')) {
        findings.push(finding('info', c.name, 'online', ['有静态错误，跳过在线检查', 'Skipped online: fix the errors above first']));
        continue;
      }
      // a cache per node: one node's downloaded platform certificates must not vouch for another node's v3Key
      findings.push(...(await probe(c, { config: c.resolved, http, clock: env.clock, cache: memoryCache(), pid: env.pid })));
    }
    const clock = clockFinding(skews);
    if (clock) findings.push(clock);
  }
  const errors = findings.filter((x) => x.severity === 'error').length;
  const warnings = findings.filter((x) => x.severity === 'warn').length;
  return { ok: errors === 0, errors, warnings, findings };
}
