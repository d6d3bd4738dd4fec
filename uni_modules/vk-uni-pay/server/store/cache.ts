/** KeyValueCache implementations (the port itself is in ports.ts). */
import type { KeyValueCache } from '../ports';

export type { KeyValueCache };

/** Process-local cache; used in tests and as the warm layer in front of the database cache. */
export function memoryCache(now: () => number = Date.now): KeyValueCache {
  const map = new Map<string, { value: unknown; expires: number }>();
  return {
    async get<T>(key: string) {
      const hit = map.get(key);
      if (!hit) return undefined;
      if (hit.expires <= now()) {
        map.delete(key);
        return undefined;
      }
      return hit.value as T;
    },
    async set(key, value, ttlMs) {
      map.set(key, { value, expires: now() + ttlMs });
    },
    async delete(key) {
      map.delete(key);
    },
  };
}

export const CACHE_COLLECTION = 'vk-pay-cache';

/**
 * Memory in front of the database (`vk-pay-cache`): a warm instance answers from memory, a cold
 * instance reads the database once instead of refetching from the provider.
 */
export function databaseCache(db: () => import('../../../../types/unicloud-server').Database, now: () => number = Date.now): KeyValueCache {
  const front = memoryCache(now);
  const coll = () => db().collection(CACHE_COLLECTION);
  return {
    async get<T>(key: string) {
      const hit = await front.get<T>(key);
      if (hit !== undefined) return hit;
      const { data } = await coll().doc(key).get();
      const row = data[0] as { value: T; expires: number } | undefined;
      if (!row || row.expires <= now()) return undefined;
      await front.set(key, row.value, row.expires - now());
      return row.value;
    },
    async set(key, value, ttlMs) {
      await front.set(key, value, ttlMs);
      await coll()
        .doc(key)
        .set({ value, expires: now() + ttlMs });
    },
    async delete(key) {
      await front.delete(key);
      await coll().doc(key).remove();
    },
  };
}
