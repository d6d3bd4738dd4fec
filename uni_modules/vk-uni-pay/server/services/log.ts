/**
 * Structured log lines. Only whitelisted, non-secret fields are printed; anything that looks like
 * a key, certificate, session key or raw body is masked before it reaches a log line.
 */
import type { Logger } from '../ports';

export type { Logger };

const SECRET_KEY = /key|secret|sign|cert|token|password|authorization|session|body|raw|pem|private/i;

export function maskFields(fields: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_KEY.test(k)) out[k] = '***';
    else if (typeof v === 'string')
      out[k] = v.length > 200 ? `${v.slice(0, 200)}…` : v.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '***');
    else if (v === null || typeof v !== 'object') out[k] = v;
    else out[k] = '[object]';
  }
  return out;
}

const LEVELS: Record<string, number> = { info: 1, warn: 2, error: 3, silent: 4 };

/** One JSON line per event; VK_PAY_LOG_LEVEL (info | warn | error | silent) filters, default info. */
export function createLogger(sink: (line: string) => void = (l) => console.log(l)): Logger {
  const write = (level: string, event: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < (LEVELS[process.env.VK_PAY_LOG_LEVEL ?? 'info'] ?? 1)) return;
    sink(JSON.stringify({ level, event, ...maskFields(fields) }));
  };
  return {
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
