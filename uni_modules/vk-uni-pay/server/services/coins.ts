/**
 * Virtual coin accounts (vk-uni-pay getWxpayVirtualManager): the provider with the `coins`
 * capability, its one scene's config node, and the user's session_key from the sessions store
 * (stored at login, never returned to a client). The adapter's `coins` hook speaks the API.
 */
import { CATALOG, configNodePath, type PlatformKey } from '../core/catalog';
import { PayError } from '../core/errors';
import { adapterWith } from '../providers/registry';
import { COIN_OPERATIONS, type CoinOperation } from '../providers/hooks';
import { configNode } from '../store/config';
import { providerContext, type PayDeps } from './deps';

export interface CoinOptions {
  /** a merchant of vk-pay-config */
  pid?: string;
}

/** The coin provider (capability `coins`) and its one scene's config node. */
async function coinNode(deps: PayDeps, operation: string, pid?: string) {
  const entry = CATALOG.find((p) => p.capabilities.includes('coins'));
  if (!entry) throw new PayError('OPERATION_UNSUPPORTED', { provider: '-', operation });
  const platformKey = Object.keys(entry.scenes)[0] as PlatformKey;
  return {
    provider: entry.name,
    node: configNode<Record<string, any>>(await deps.configs.load(pid), configNodePath(entry.name, platformKey)),
  };
}

export async function coinOperation(
  deps: PayDeps,
  op: unknown,
  params: unknown,
  options: CoinOptions = {},
): Promise<Record<string, unknown>> {
  if (!COIN_OPERATIONS.includes(op as CoinOperation))
    throw new PayError('FIELD_INVALID', { field: 'op', reason: COIN_OPERATIONS.join(' | ') });
  const operation = op as CoinOperation;
  const { provider, node } = await coinNode(deps, operation, options.pid);
  const input = params && typeof params === 'object' ? (params as Record<string, unknown>) : {};
  const lookups = { sessionKey: (appid: string, openid: string) => deps.sessions.sessionKey(appid, openid) };
  return adapterWith(provider, 'coins', operation).coins(operation, input, providerContext(deps, node, options.pid), lookups);
}

/** vk-uni-pay getSessionKey(openid): the stored session_key, for server code only (never a client answer). */
export async function coinSessionKey(deps: PayDeps, openid: unknown, options: CoinOptions = {}): Promise<string | undefined> {
  if (typeof openid !== 'string' || !openid) throw new PayError('FIELD_INVALID', { field: 'openid', reason: 'required' });
  const { node } = await coinNode(deps, 'getSessionKey', options.pid);
  return deps.sessions.sessionKey(String(node.appId ?? ''), openid);
}
