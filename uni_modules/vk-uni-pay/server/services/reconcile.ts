/**
 * The reconciliation timer (`vk-pay`'s `_timing`): a short list of steps, each finishing what
 * notifications and clients left open, within a budget per run (`timer.maxItems` items per step,
 * no new item after `timer.maxSeconds`). Every item is claimed with one conditional update before
 * any provider is asked, so runs that overlap split the work instead of repeating it. Each run
 * prints exactly one summary line: `timer.run` with a count per `<step>.<outcome>`.
 *
 * Step contract (to add one, append it to DEFAULT_TIMER_STEPS; see CONTRIBUTING). An item step:
 * - `candidates(ctx, limit)`: at most `limit` items that are due, in one database read;
 * - `claim(ctx, item)` (optional): ONE conditional update that takes the item for this run and
 *   schedules its next look (backoff); false when another run has it (counted as `busy`);
 * - `settle(ctx, item)`: does the work and names the outcome (a short lowercase word). A thrown
 *   error is counted as `error` and logged with its code; the run goes on with the next item.
 * A batch step (a service that walks its own items, e.g. a daily download) has `batch(ctx, limit)`
 * instead, returning its counts by outcome; it claims its own items and respects `ctx.deadline`.
 */
import { randomBytes } from 'node:crypto';
import { isPayError } from '../core/errors';
import { backoffAfter, timerSettings, type TimerSettings } from '../core/timer-settings';
import { TimerRepo, type CheckSchedule } from '../store/timer';
import type { PayDeps } from './deps';
import { DEFAULT_TIMER_STEPS } from './reconcile-steps';

export interface TimerContext {
  deps: PayDeps;
  settings: TimerSettings;
  repo: TimerRepo;
  /** the run's start on the deps clock (ms) */
  now: number;
  /** the schedule of an item's next look after this one (`attempts` looks so far) */
  nextLook(attempts: number | undefined): CheckSchedule;
  /** no new item after this (ms, Date.now()) */
  deadline: number;
}

interface StepBase {
  /** names the step in the summary line (`<name>.<outcome>`) */
  name: string;
  /** off for this run (e.g. a setting is 0) */
  enabled?(settings: TimerSettings): boolean;
}

export interface TimerItemStep<T = any> extends StepBase {
  candidates(ctx: TimerContext, limit: number): Promise<T[]>;
  /** a short id of the item for log lines (never a secret) */
  id(item: T): string;
  claim?(ctx: TimerContext, item: T): Promise<boolean>;
  settle(ctx: TimerContext, item: T): Promise<string>;
}

export interface TimerBatchStep extends StepBase {
  /** at most `limit` items, none started after `ctx.deadline`; never throws for one item; outcome → count */
  batch(ctx: TimerContext, limit: number): Promise<Record<string, number>>;
}

export type TimerStep<T = any> = TimerItemStep<T> | TimerBatchStep;

export interface TimerSummary {
  run_id: string;
  ms: number;
  /** items claimed and settled (any outcome) */
  items: number;
  /** the wall-time budget ran out before every candidate was looked at */
  stopped?: 'deadline';
  /** `<step>.<outcome>` → count */
  counts: Record<string, number>;
  /** the code of a configuration error (nothing ran) */
  error?: number;
}

/** One timer run: every enabled step in order, within the budget. Never throws for an item; a bad config throws its coded error. */
export async function runTimer(deps: PayDeps, steps: readonly TimerStep[] = DEFAULT_TIMER_STEPS): Promise<TimerSummary> {
  const started = Date.now();
  const summary: TimerSummary = { run_id: randomBytes(6).toString('hex'), ms: 0, items: 0, counts: {} };
  try {
    const settings = timerSettings(await deps.configs.load());
    if (!settings.enable) summary.counts['timer.disabled'] = 1;
    else await runSteps(deps, settings, steps, summary, started + settings.maxMs);
    return summary;
  } catch (e) {
    if (isPayError(e)) summary.error = e.code;
    throw e;
  } finally {
    summary.ms = Date.now() - started;
    const { counts, ...rest } = summary;
    deps.log[summary.error ? 'error' : 'info']('timer.run', { ...rest, ...counts });
  }
}

async function runSteps(deps: PayDeps, settings: TimerSettings, steps: readonly TimerStep[], summary: TimerSummary, deadline: number) {
  const now = deps.clock.now();
  const ctx: TimerContext = {
    deps,
    settings,
    repo: new TimerRepo(deps.db),
    now,
    nextLook: (attempts = 0) => ({ next_at: now + backoffAfter(settings, attempts + 1), attempts: attempts + 1 }),
    deadline,
  };
  const count = (key: string, n = 1) => (summary.counts[key] = (summary.counts[key] ?? 0) + n);
  for (const step of steps) {
    if (step.enabled && !step.enabled(settings)) continue;
    if (Date.now() >= deadline) {
      summary.stopped = 'deadline';
      break;
    }
    try {
      if ('batch' in step) {
        for (const [outcome, n] of Object.entries(await step.batch(ctx, settings.maxItems))) if (n) count(`${step.name}.${outcome}`, n);
      } else await runItems(ctx, step, count, summary);
    } catch (e) {
      count(`${step.name}.error`);
      logItemError(deps, step.name, '', e);
    }
  }
}

/** An item step: its candidates one by one, each claimed first, until the deadline. */
async function runItems(ctx: TimerContext, step: TimerItemStep, count: (key: string) => void, summary: TimerSummary) {
  for (const item of await step.candidates(ctx, ctx.settings.maxItems)) {
    if (Date.now() >= ctx.deadline) {
      summary.stopped = 'deadline';
      return;
    }
    try {
      if (step.claim && !(await step.claim(ctx, item))) {
        count(`${step.name}.busy`);
        continue;
      }
      summary.items++;
      count(`${step.name}.${await step.settle(ctx, item)}`);
    } catch (e) {
      count(`${step.name}.error`);
      logItemError(ctx.deps, step.name, step.id(item), e);
    }
  }
}

function logItemError(deps: PayDeps, step: string, id: string, e: unknown) {
  deps.log.warn('timer.item_error', {
    step,
    id,
    ...(isPayError(e) ? { code: e.code } : { error: e instanceof Error ? e.message : String(e) }),
  });
}
