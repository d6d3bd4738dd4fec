/**
 * `vk-uni-pay doctor --config <uni-config-center/uni-pay/config.js> [--online] [--space <spaceId>]… [--json] [--lang zh|en]`
 * Prints what is wrong with each config node and how to fix it; exit code 0 clean (warnings allowed),
 * 1 when a check found an error, 2 for a usage error or a config file that does not load.
 * Nothing reaches the network unless --online is given.
 */
import * as path from 'node:path';
import type { Finding } from '../core/doctor';
import { systemClock } from '../core/time';
import { runDoctor, type DoctorEnv, type DoctorReport } from '../services/doctor';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** the network for --online (tests: the loopback sandboxes are reached the same way) */
  http?: DoctorEnv['http'];
}

const USAGE = `用法 / usage: vk-uni-pay doctor --config <uni-config-center/uni-pay/config.js> [--online] [--space <spaceId>]... [--json] [--lang zh|en]
  --online   每个节点向网关发一次签名的只读查询，并核对本机时钟 / one signed read-only gateway call per node, and the clock
  --space    要求 notifyUrl 中有该服务空间 / require a notifyUrl entry for this space
`;

interface Args {
  config?: string;
  online: boolean;
  spaces: string[];
  json: boolean;
  lang: 'zh' | 'en' | 'both';
}

function parseArgs(argv: string[]): Args | string {
  const args: Args = { online: false, spaces: [], json: false, lang: 'both' };
  const rest = [...argv];
  if (rest[0] === 'doctor') rest.shift();
  while (rest.length) {
    const a = rest.shift()!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? rest.shift();
    if (flag === '--config') args.config = value();
    else if (flag === '--space') args.spaces.push(value() ?? '');
    else if (flag === '--online') args.online = true;
    else if (flag === '--json') args.json = true;
    else if (flag === '--lang') {
      const l = value();
      if (l !== 'zh' && l !== 'en') return `--lang zh|en`;
      args.lang = l;
    } else return `unknown argument ${a}`;
  }
  if (!args.config) return '--config is required';
  return args;
}

const MARK: Record<Finding['severity'], string> = { error: '✗ 错误 error', warn: '! 警告 warn', info: '· 信息 info' };

export function formatReport(report: DoctorReport, lang: Args['lang'] = 'both'): string {
  const zh = lang !== 'en';
  const en = lang !== 'zh';
  const lines: string[] = [];
  for (const f of report.findings) {
    lines.push(`${MARK[f.severity]}  ${f.node} › ${f.check}`);
    if (zh) lines.push(`    ${f.zh}`);
    if (en) lines.push(`    ${f.en}`);
    if (zh && f.fixZh) lines.push(`    修复：${f.fixZh}`);
    if (en && f.fixEn) lines.push(`    Fix: ${f.fixEn}`);
  }
  const summary = [
    zh ? `${report.errors} 个错误，${report.warnings} 个警告` : '',
    en ? `${report.errors} error(s), ${report.warnings} warning(s)` : '',
  ].filter(Boolean);
  lines.push('', `${report.ok ? '通过 / OK' : '未通过 / FAILED'}: ${summary.join(' / ')}`);
  return lines.join('\n') + '\n';
}

export async function main(
  argv: string[],
  io: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.err(`${args}\n${USAGE}`);
    return 2;
  }
  const file = path.resolve(args.config!);
  let config: unknown;
  try {
    delete require.cache[file];
    config = require(file);
  } catch (e) {
    io.err(`无法加载配置 / cannot load the config ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  if (!config || typeof config !== 'object') {
    io.err(`配置文件没有导出对象 / the config file does not export an object: ${file}\n`);
    return 2;
  }
  const report = await runDoctor(
    config as Record<string, unknown>,
    { http: io.http, clock: systemClock },
    {
      online: args.online,
      spaceIds: args.spaces,
    },
  );
  io.out(args.json ? JSON.stringify(report, null, 2) + '\n' : `vk-uni-pay doctor: ${file}\n\n${formatReport(report, args.lang)}`);
  return report.ok ? 0 : 1;
}
