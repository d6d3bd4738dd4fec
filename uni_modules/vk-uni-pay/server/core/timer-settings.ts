/**
 * Settings of the reconciliation timer (`vk-pay`'s `_timing`): the `timer` node of
 * `uni-pay/config.js`, plus vk-uni-pay's top-level `autoDeleteExpiredOrders` (days; 0 = never).
 * Pure: a bad value is a coded error naming the key, never a silent default.
 */
import { PayError } from './errors';

export interface TimerSettings {
  /** false: `_timing` does nothing */
  enable: boolean;
  /** false: no daily statement (对账单) check (e.g. an account without statement permission) */
  statements: boolean;
  /** items each step handles per run at most (each item costs a few gateway calls) */
  maxItems: number;
  /** a run starts no new item after this long (ms); keep it well below vk-pay's timeout */
  maxMs: number;
  /** unpaid orders are asked about once they are this old (ms) */
  queryAfterMs: number;
  /** unpaid orders without time_expire are asked about until they are this old (ms) */
  queryMaxAgeMs: number;
  /** first wait before an item is looked at again (ms); doubles per attempt */
  backoffMs: number;
  /** the longest wait between two looks at one item (ms) */
  maxBackoffMs: number;
  /** a paid order whose handler has not succeeded is re-run once it was paid this long ago (ms) */
  handlerAfterMs: number;
  /** an unsettled refund is queried once it is this old (ms) */
  refundAfterMs: number;
  /** closed orders older than this many days are deleted; 0 = never (vk-uni-pay's autoDeleteExpiredOrders) */
  deleteAfterDays: number;
}

/** key in `timer` → [default, min, max, unit in ms] */
const NUMBERS: Record<string, [number, number, number, number]> = {
  maxItems: [20, 1, 500, 1],
  maxSeconds: [25, 1, 7200, 1000],
  queryAfterSeconds: [60, 0, 86_400, 1000],
  queryMaxAgeSeconds: [86_400, 60, 30 * 86_400, 1000],
  backoffSeconds: [60, 1, 86_400, 1000],
  maxBackoffSeconds: [3600, 1, 7 * 86_400, 1000],
  handlerAfterSeconds: [300, 0, 7 * 86_400, 1000],
  refundAfterSeconds: [60, 0, 7 * 86_400, 1000],
};

/** on/off keys in `timer` (default on) */
const SWITCHES = ['enable', 'statements'];

function invalid(field: string, reason: string): PayError {
  return new PayError('TIMER_CONFIG_INVALID', { field, reason });
}

function integerIn(
  node: Record<string, unknown>,
  key: string,
  [fallback, min, max]: [number, number, number, number],
  prefix: string,
): number {
  const v = node[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw invalid(`${prefix}${key}`, `an integer from ${min} to ${max}`);
  return v;
}

/** The timer's settings from the whole `uni-pay/config.js` object. */
export function timerSettings(config: Record<string, unknown>): TimerSettings {
  const node = config.timer ?? {};
  if (!node || typeof node !== 'object' || Array.isArray(node)) throw invalid('timer', 'an object');
  const t = node as Record<string, unknown>;
  for (const key of Object.keys(t))
    if (!SWITCHES.includes(key) && !(key in NUMBERS))
      throw invalid(`timer.${key}`, `unknown key; known: ${[...SWITCHES, ...Object.keys(NUMBERS)].join(', ')}`);
  for (const key of SWITCHES) if (t[key] !== undefined && typeof t[key] !== 'boolean') throw invalid(`timer.${key}`, 'true or false');
  const n = (key: string) => integerIn(t, key, NUMBERS[key], 'timer.') * NUMBERS[key][3];
  const settings: TimerSettings = {
    enable: t.enable !== false,
    statements: t.statements !== false,
    maxItems: n('maxItems'),
    maxMs: n('maxSeconds'),
    queryAfterMs: n('queryAfterSeconds'),
    queryMaxAgeMs: n('queryMaxAgeSeconds'),
    backoffMs: n('backoffSeconds'),
    maxBackoffMs: n('maxBackoffSeconds'),
    handlerAfterMs: n('handlerAfterSeconds'),
    refundAfterMs: n('refundAfterSeconds'),
    deleteAfterDays: integerIn(config, 'autoDeleteExpiredOrders', [0, 0, 3650, 1], ''),
  };
  if (settings.maxBackoffMs < settings.backoffMs) throw invalid('timer.maxBackoffSeconds', 'at least backoffSeconds');
  return settings;
}

/** The wait before the next look at an item already looked at `attempts` times: backoff × 2^(attempts-1), capped. */
export function backoffAfter(settings: Pick<TimerSettings, 'backoffMs' | 'maxBackoffMs'>, attempts: number): number {
  const exp = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(settings.backoffMs * 2 ** exp, settings.maxBackoffMs);
}
