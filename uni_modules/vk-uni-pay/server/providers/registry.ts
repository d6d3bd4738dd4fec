/**
 * Adapters load lazily, on first use of their provider: a WeChat payment never loads alipay-sdk.
 * Every provider folder exports its adapter as `adapter`; which folders exist is the core catalog.
 * In the built common module each adapter is its own file (dist/providers/<name>.js, tools/build.ts
 * defines VK_PAY_PROVIDERS_DIR for that layout); from the sources it is ./<name>/index.ts.
 */
import { PayError } from '../core/errors';
import { isProviderName, type ProviderName } from '../core/catalog';
import type { ProviderAdapter } from './types';

declare const VK_PAY_PROVIDERS_DIR: string | undefined;
const DIR = typeof VK_PAY_PROVIDERS_DIR === 'string' ? VK_PAY_PROVIDERS_DIR : '.';

const loaded = new Map<ProviderName, ProviderAdapter<any>>();

export function loadAdapter(provider: ProviderName): ProviderAdapter<any> {
  let adapter = loaded.get(provider);
  if (adapter) return adapter;
  if (!isProviderName(provider)) throw new PayError('PROVIDER_INVALID');
  // a runtime require (kept as such by the bundler): the path comes from the catalog, never from input
  adapter = (require(`${DIR}/${provider}`) as { adapter: ProviderAdapter<any> }).adapter;
  loaded.set(provider, adapter);
  return adapter;
}

/** Which adapters this instance has loaded (benchmarks check cold loads stay lean). */
export function loadedProviders(): ProviderName[] {
  return [...loaded.keys()];
}

type Hook = 'closeOrder' | 'refund' | 'queryRefund' | 'login' | 'verifyPurchase' | 'provideGoods' | 'prepareCreate';

/** The provider's adapter when it has this optional member; otherwise OPERATION_UNSUPPORTED (3005). */
export function adapterWith<K extends Hook>(
  provider: ProviderName,
  member: K,
  operation: string = member,
): ProviderAdapter<any> & Required<Pick<ProviderAdapter<any>, K>> {
  const adapter = loadAdapter(provider);
  if (typeof adapter[member] !== 'function') throw new PayError('OPERATION_UNSUPPORTED', { provider, operation });
  return adapter as ProviderAdapter<any> & Required<Pick<ProviderAdapter<any>, K>>;
}
