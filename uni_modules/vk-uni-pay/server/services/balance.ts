/**
 * queryAccountBalance (vk-uni-pay ≥ 1.12.2): the merchant account balance of any provider whose
 * adapter has the `queryBalance` hook (capability `balance`), read with the config node the caller
 * names (`platform`, e.g. `h5` or `transfer`). Amounts stay integer fen here; the entry answers yuan.
 */
import { configNodePath, isProviderName, type PlatformKey } from '../core/catalog';
import { PayError } from '../core/errors';
import { adapterWith } from '../providers/registry';
import type { AccountBalance } from '../providers/hooks';
import { configNode } from '../store/config';
import { providerContext, type PayDeps } from './deps';

export interface BalanceParams {
  provider?: unknown;
  /** the config node name under the provider (`config[provider][platform]`) */
  platform?: unknown;
  pid?: string;
}

const NODE_NAME = /^[A-Za-z0-9_-]{1,32}$/;

export async function queryAccountBalance(deps: PayDeps, params: BalanceParams): Promise<AccountBalance> {
  const { provider, platform, pid } = params ?? {};
  if (!isProviderName(provider)) throw new PayError('PROVIDER_INVALID');
  if (typeof platform !== 'string' || !NODE_NAME.test(platform))
    throw new PayError('FIELD_INVALID', { field: 'platform', reason: 'the config node name, e.g. h5 or transfer' });
  const adapter = adapterWith(provider, 'queryBalance', 'queryAccountBalance');
  const node = configNode<Record<string, any>>(await deps.configs.load(pid), configNodePath(provider, platform as PlatformKey));
  return adapter.queryBalance(providerContext(deps, node, pid));
}
