/** Database access at the edge: uniCloud.database(), read lazily at call time. */
import type { Database } from '../../../../types/unicloud-server';

export type DatabaseSource = () => Database;

export const uniCloudDatabase: DatabaseSource = () => uniCloud.database();

/** uniCloud rejects a unique-index violation with MongoDB's E11000 text. */
export function isDuplicateKeyError(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown; errCode?: unknown };
  return err?.code === 11000 || err?.errCode === 'DUPLICATE_KEY' || /E11000|duplicate key/i.test(String(err?.message ?? ''));
}

/** Counts database round trips (benchmarks and tests): wraps every terminal call. */
export function countingDatabase(inner: Database): { db: Database; count(): number; reset(): void } {
  let n = 0;
  const TERMINAL = new Set(['get', 'count', 'add', 'update', 'updateAndReturn', 'set', 'remove']);
  const wrap = (target: any): any =>
    new Proxy(target, {
      get(t, prop, recv) {
        const v = Reflect.get(t, prop, recv);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (TERMINAL.has(String(prop))) n++;
          const r = v.apply(t, args);
          return r && typeof r === 'object' && typeof (r as Promise<unknown>).then !== 'function' ? wrap(r) : r;
        };
      },
    });
  return { db: wrap(inner), count: () => n, reset: () => void (n = 0) };
}
