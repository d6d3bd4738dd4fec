/**
 * Notification delivery shared by the gateway sandboxes (wxpay, alipay): each attempt is one POST
 * and one row in a per-attempt log, retried on a schedule until acknowledged; waiters watch the
 * log; close() cancels pending retries, in-flight POSTs and waiters.
 */
import type http from 'node:http';
import { postOnce } from './loopback';

export interface AttemptRow {
  out_trade_no: string;
  /** 1-based */
  attempt: number;
  /** HTTP status of the merchant's answer, or 'error' (connection refused, timeout …) */
  status: number | 'error';
}

export interface Notifier<D extends AttemptRow> {
  deliveries: D[];
  readonly closed: boolean;
  post(url: string, body: string, headers: Record<string, string>): ReturnType<typeof postOnce>;
  /** runs `attempt(n)` (n = 1, 2, …) until it resolves true or the retry schedule runs out */
  retry(attempt: (n: number) => Promise<boolean>): void;
  record(d: D): void;
  /** resolves once a logged delivery for the order matches */
  waitFor(outTradeNo: string, predicate: (d: D) => boolean, timeoutMs: number): Promise<void>;
  close(): void;
}

export function createNotifier<D extends AttemptRow>(opts: { name: string; retryDelaysMs: number[]; timeoutMs: number }): Notifier<D> {
  const deliveries: D[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const inflight = new Set<http.ClientRequest>();
  const waiters = new Set<{ match: (d: D) => boolean; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let closed = false;

  const self: Notifier<D> = {
    deliveries,
    get closed() {
      return closed;
    },
    post: (url, body, headers) => postOnce(url, body, headers, opts.timeoutMs, inflight),
    retry(attempt) {
      const run = async (n: number): Promise<void> => {
        if (closed) return;
        const acknowledged = await attempt(n);
        if (closed || acknowledged || n > opts.retryDelaysMs.length) return;
        const timer = setTimeout(
          () => {
            timers.delete(timer);
            void run(n + 1);
          },
          opts.retryDelaysMs[n - 1],
        );
        timers.add(timer);
      };
      void run(1);
    },
    record(d) {
      deliveries.push(d);
      for (const w of [...waiters]) {
        if (!w.match(d)) continue;
        clearTimeout(w.timer);
        waiters.delete(w);
        w.resolve();
      }
    },
    waitFor(no, predicate, timeoutMs) {
      const match = (d: D) => d.out_trade_no === no && predicate(d);
      if (deliveries.some(match)) return Promise.resolve();
      if (closed) return Promise.reject(new Error(`${opts.name} sandbox closed`));
      return new Promise<void>((resolve, reject) => {
        const w = {
          match,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(w);
            const seen = deliveries.filter((d) => d.out_trade_no === no).map((d) => `#${d.attempt}:${d.status}`);
            reject(new Error(`waitForDelivery(${no}) timed out after ${timeoutMs} ms; attempts so far: ${seen.join(', ') || 'none'}`));
          }, timeoutMs),
        };
        waiters.add(w);
      });
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const r of inflight) r.destroy();
      inflight.clear();
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`${opts.name} sandbox closed`));
      }
      waiters.clear();
    },
  };
  return self;
}
