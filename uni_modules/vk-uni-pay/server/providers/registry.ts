/**
 * Adapters load lazily, on first use of their provider: a WeChat payment never loads alipay-sdk.
 * In the built common module each adapter is its own file (dist/providers/<name>.js); the
 * bundler keeps these requires as runtime requires (tools/build.ts).
 */
import { PayError } from '../core/errors';
import type { ProviderAdapter, ProviderName } from './types';

const LOADERS: Record<ProviderName, () => ProviderAdapter<any>> = {
  wxpay: () => pick(require('./wxpay'), 'wxpayAdapter'),
  alipay: () => pick(require('./alipay'), 'alipayAdapter'),
  appleiap: () => pick(require('./appleiap'), 'appleiapAdapter'),
  vkspay: () => pick(require('./vkspay'), 'vkspayAdapter'),
  'wxpay-virtual': () => pick(require('./wxpay-virtual'), 'wxpayVirtualAdapter'),
};

function pick(mod: Record<string, any>, name: string): ProviderAdapter<any> {
  return mod[name] ?? mod.default;
}

const loaded = new Map<ProviderName, ProviderAdapter<any>>();

export function loadAdapter(provider: ProviderName): ProviderAdapter<any> {
  let adapter = loaded.get(provider);
  if (adapter) return adapter;
  const loader = LOADERS[provider];
  if (!loader) throw new PayError('PROVIDER_INVALID');
  adapter = loader();
  loaded.set(provider, adapter);
  return adapter;
}

/** Which adapters this instance has loaded (benchmarks check cold loads stay lean). */
export function loadedProviders(): ProviderName[] {
  return [...loaded.keys()];
}
