/**
 * Merchant configuration: `uni-config-center/uni-pay/config.js` (vk-uni-pay's node layout), or a
 * `vk-pay-config` document by `pid` (same layout, certificates and keys as content strings).
 */
import { readFileSync } from 'node:fs';
import { PayError } from '../core/errors';
import type { DatabaseSource } from './db';

export interface PayConfig {
  /** `{ [spaceId]: 'https://…/http/vk-pay' }` */
  notifyUrl?: Record<string, string>;
  alipayAppPayToH5Pay?: boolean;
  [provider: string]: any;
}

export interface ConfigSource {
  load(pid?: string): Promise<PayConfig>;
}

export const MERCHANT_CONFIG_COLLECTION = 'vk-pay-config';

/** The config.js of uni-config-center (read once per instance; a re-upload starts new instances). */
export function configCenterSource(pluginId = 'uni-pay'): ConfigSource {
  let cached: PayConfig | undefined;
  return {
    async load() {
      if (cached) return cached;
      // a runtime require of the uni-config-center common module (kept external by the bundler)
      const createConfig = require('uni-config-center');
      const config = createConfig({ pluginId }).requireFile('config.js');
      if (!config || typeof config !== 'object') throw new PayError('CONFIG_MISSING');
      cached = config as PayConfig;
      return cached;
    },
  };
}

/** A fixed config object (tests, benchmarks, callers that build their config in code). */
export function staticConfigSource(config: PayConfig): ConfigSource {
  return { load: async () => config };
}

/**
 * Adds multi-merchant lookup: `pid` → `vk-pay-config` document, cached per warm instance for
 * `ttlMs` so a key rotation takes effect within a minute without a database read per payment.
 */
export function withMerchants(base: ConfigSource, db: DatabaseSource, ttlMs = 60_000, now: () => number = Date.now): ConfigSource {
  const cache = new Map<string, { config: PayConfig; expires: number }>();
  return {
    async load(pid) {
      const baseConfig = await base.load();
      if (!pid) return baseConfig;
      const hit = cache.get(pid);
      if (hit && hit.expires > now()) return hit.config;
      const { data } = await db().collection(MERCHANT_CONFIG_COLLECTION).doc(pid).get();
      const doc = data[0] as PayConfig | undefined;
      if (!doc) throw new PayError('MERCHANT_NOT_FOUND', { pid });
      // the merchant document lists providers; the notify URLs stay the deployment's own
      const config: PayConfig = { notifyUrl: baseConfig.notifyUrl, ...doc };
      cache.set(pid, { config, expires: now() + ttlMs });
      return config;
    },
  };
}

const resolvedNodes = new WeakMap<object, Record<string, any>>();

/**
 * The config node for a provider path (e.g. ['wxpay', 'mp-weixin']) with every `xxxPath` file read
 * into `xxxContent` once, so adapters only ever see content strings.
 */
export function configNode<T = Record<string, any>>(config: PayConfig, path: string[]): T {
  let node: any = config;
  for (const key of path) node = node?.[key];
  if (!node || typeof node !== 'object') throw new PayError('CONFIG_NODE_MISSING', { node: path.join('.') });
  const done = resolvedNodes.get(node);
  if (done) return done as T;
  const resolved = readNodeFiles(node, (field) => {
    throw new PayError('CONFIG_KEY_INVALID', { node: path.join('.'), field });
  });
  resolvedNodes.set(node, resolved);
  return resolved as T;
}

/** A copy of the node with each non-empty `xxxPath` file read into `xxxContent` (unless that is set); unreadable files go to `unreadable`. */
export function readNodeFiles(node: Record<string, any>, unreadable: (field: string, file: string) => void): Record<string, any> {
  const resolved: Record<string, any> = { ...node };
  for (const [key, value] of Object.entries(node)) {
    const m = /^(.*)Path$/.exec(key);
    if (!m || typeof value !== 'string' || !value || resolved[`${m[1]}Content`]) continue;
    let text: string;
    try {
      text = readFileSync(value, 'utf8');
    } catch {
      unreadable(key, value);
      continue;
    }
    // vk-uni-pay's template keeps blank certificate files for unused modes (e.g. Alipay key mode): not configured
    if (text.trim()) resolved[`${m[1]}Content`] = text;
  }
  return resolved;
}

/** `notifyUrl[spaceId]` (vk-uni-pay error 101 when missing). */
export function notifyBaseUrl(config: PayConfig, spaceId: string | undefined): string {
  const map = config.notifyUrl || {};
  const url = (spaceId && map[spaceId]) || map.default;
  if (!url) throw new PayError('NOTIFY_URL_MISSING', { spaceId: spaceId ?? '' });
  return url.replace(/\/+$/, '');
}
