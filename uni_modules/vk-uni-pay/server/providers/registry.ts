/**
 * Adapters load lazily, on first use of their provider: a WeChat payment never loads alipay-sdk.
 * In the built common module each adapter is its own file (dist/providers/<name>.js); the
 * bundler keeps these requires as runtime requires (tools/build.ts).
 */
import { PayError } from '../core/errors';
import type { ProviderAdapter, ProviderName } from './types';

const LOADERS: Record<ProviderName, () => Record<string, any>> = {
  wxpay: () => require('./wxpay'),
  alipay: () => require('./alipay'),
  appleiap: () => require('./appleiap'),
  vkspay: () => require('./vkspay'),
  'wxpay-virtual': () => require('./wxpay-virtual'),
};

const ADAPTER_EXPORT: Record<ProviderName, string> = {
  wxpay: 'wxpayAdapter',
  alipay: 'alipayAdapter',
  appleiap: 'appleiapAdapter',
  vkspay: 'vkspayAdapter',
  'wxpay-virtual': 'wxpayVirtualAdapter',
};

/** A provider's whole module (adapter plus provider-specific functions such as Apple receipt checks). */
export function loadProviderModule<T = Record<string, any>>(provider: ProviderName): T {
  const loader = LOADERS[provider];
  if (!loader) throw new PayError('PROVIDER_INVALID');
  return loader() as T;
}

const loaded = new Map<ProviderName, ProviderAdapter<any>>();

export function loadAdapter(provider: ProviderName): ProviderAdapter<any> {
  let adapter = loaded.get(provider);
  if (adapter) return adapter;
  const mod = loadProviderModule(provider);
  adapter = (mod[ADAPTER_EXPORT[provider]] ?? mod.default) as ProviderAdapter<any>;
  loaded.set(provider, adapter);
  return adapter;
}

/** Which adapters this instance has loaded (benchmarks check cold loads stay lean). */
export function loadedProviders(): ProviderName[] {
  return [...loaded.keys()];
}
