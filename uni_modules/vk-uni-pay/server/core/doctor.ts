/**
 * `doctor` findings: what is wrong with a merchant config node and how to fix it, in zh-Hans and en.
 * Providers write their own checks (providers/<name>/doctor.ts); services/doctor runs them and the
 * cross-cutting ones (notifyUrl, clock, online calls). Never put a key or secret into a finding.
 */
import { isPayError } from './errors';

export type Severity = 'error' | 'warn' | 'info';

export interface Finding {
  severity: Severity;
  /** config node, e.g. `wxpay.mp-weixin`, or `notifyUrl`, `host` */
  node: string;
  /** stable id of the check, e.g. `v3Key`, `appCert.match` (tests and scripts key on it) */
  check: string;
  zh: string;
  en: string;
  fixZh?: string;
  fixEn?: string;
}

/** [zh, en] */
export type Text = readonly [string, string];

export function finding(severity: Severity, node: string, check: string, msg: Text, fix?: Text): Finding {
  return { severity, node, check, zh: msg[0], en: msg[1], ...(fix ? { fixZh: fix[0], fixEn: fix[1] } : {}) };
}

/** The findings of one node, collected in check order. */
export class Findings {
  readonly list: Finding[] = [];
  constructor(readonly node: string) {}
  error(check: string, msg: Text, fix?: Text): void {
    this.list.push(finding('error', this.node, check, msg, fix));
  }
  warn(check: string, msg: Text, fix?: Text): void {
    this.list.push(finding('warn', this.node, check, msg, fix));
  }
  info(check: string, msg: Text, fix?: Text): void {
    this.list.push(finding('info', this.node, check, msg, fix));
  }
  /** an error for a missing or empty field (`xxxContent` is named as the `xxxPath` users write); true when present */
  require(node: Record<string, unknown>, field: string, fix?: Text): boolean {
    const v = node[field];
    // an `xxxPath` that could not be read was reported when the node was read
    const file = field.endsWith('Content') ? node[field.replace(/Content$/, 'Path')] : undefined;
    if ((v === undefined || v === '') && typeof file === 'string' && file) return false;
    if (v === undefined || v === null || v === '') {
      const shown = field.replace(/Content$/, 'Path');
      this.error(shown, [`缺少必填项 ${shown}`, `${shown} is missing`], fix);
      return false;
    }
    return true;
  }
}

/** What a provider's static check receives: the node with every `xxxPath` already read into `xxxContent`. */
export interface DoctorInput {
  /** e.g. `wxpay.mp-weixin` */
  name: string;
  node: Record<string, any>;
  /** epoch ms, for certificate validity */
  now: number;
}

export const DAY_MS = 86_400_000;

/** Expired or soon-expiring certificates (validity as node's X509Certificate reports it). */
export function checkValidity(f: Findings, check: string, label: string, validFrom: string, validTo: string, now: number): void {
  const from = Date.parse(validFrom);
  const to = Date.parse(validTo);
  if (to < now)
    f.error(check, [`${label} 已于 ${validTo} 过期`, `${label} expired on ${validTo}`], ['请下载新证书', 'Download a new certificate']);
  else if (from > now) f.error(check, [`${label} 尚未生效（${validFrom} 起）`, `${label} is not valid before ${validFrom}`]);
  else if (to - now < 30 * DAY_MS)
    f.warn(check, [`${label} 将于 ${validTo} 过期`, `${label} expires on ${validTo}`], ['请尽快更换证书', 'Renew the certificate soon']);
}

/** An order number no merchant has used: the read-only online probe asks the gateway about it. */
export function probeOrderNo(now: number): string {
  return `DOCTOR${now}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
}

/** A failed online call as an error finding: the coded message, and the provider's code when there is one. */
export function failureFinding(node: string, check: string, e: unknown): Finding {
  if (!isPayError(e)) return finding('error', node, check, ['在线检查失败：内部错误', 'Online check failed: internal error']);
  const d = e.detail ?? {};
  const provider = d.providerCode ?? d.errcode ?? (d as { reason?: unknown }).reason;
  const extra = provider === undefined ? '' : ` (${String(provider)})`;
  return finding(
    'error',
    node,
    check,
    [`在线检查失败：${e.code} ${e.msgZh}${extra}`, `Online check failed: ${e.code} ${e.msgEn}${extra}`],
    [
      '对照上面的静态检查修正密钥、证书或商户号后重试',
      'Fix the key, certificate or merchant id the static checks above point at, then retry',
    ],
  );
}
