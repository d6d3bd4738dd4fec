/**
 * Payer identity from a login code: WeChat mini program (code2Session), WeChat official account
 * (OAuth snsapi_base) and Alipay mini program (alipay.system.oauth.token). The catalog says which
 * config nodes each login API may use; the provider's `login` hook speaks to its API. Only ids go
 * back to the client; a WeChat session_key stays on the server (`vk-pay-sessions`), where virtual
 * payment needs it to sign for the user, and OAuth tokens never leave the provider call.
 */
import { PayError } from '../core/errors';
import { LOGIN_NODES, type LoginApi } from '../core/catalog';
import { adapterWith } from '../providers/registry';
import { configNode, type PayConfig } from '../store/config';
import { providerContext, type PayDeps } from './deps';

export { SESSIONS_COLLECTION } from '../store/sessions';

export interface LoginParams {
  code?: unknown;
  pid?: string;
}

export interface LoginResult {
  openid: string;
  unionid?: string;
  /** Alipay's 2088… buyer id */
  user_id?: string;
}

function loginCode(params: LoginParams): string {
  if (typeof params.code !== 'string' || !/^[\w-]{1,128}$/.test(params.code))
    throw new PayError('FIELD_INVALID', { field: 'code', reason: 'the code from uni.login / OAuth' });
  return params.code;
}

/** The first candidate node with appId and secret; otherwise the last one, which must have its secret. */
function loginNode(config: PayConfig, api: LoginApi) {
  const candidates = LOGIN_NODES[api];
  const ready = candidates.find(([provider, key]) => config[provider]?.[key]?.appId && config[provider]?.[key]?.secret);
  const [provider, platformKey] = ready ?? candidates[candidates.length - 1];
  const node = configNode<Record<string, any>>(config, [provider, platformKey]);
  if (!ready && candidates.length > 1 && !node.secret)
    throw new PayError('CONFIG_FIELD_MISSING', { node: `${provider}.${platformKey}`, field: 'secret' });
  return { provider, platformKey, node };
}

/** A login code → the payer's ids, through the login API's config node and its provider's `login` hook. */
export async function login(deps: PayDeps, api: LoginApi, params: LoginParams): Promise<LoginResult> {
  const code = loginCode(params);
  const { provider, platformKey, node } = loginNode(await deps.configs.load(params.pid), api);
  const ids = await adapterWith(provider, 'login', api).login(code, platformKey, providerContext(deps, node, params.pid));
  if (ids.session_key) await deps.sessions.save(node.appId, ids.openid, ids.session_key, deps.clock.now());
  return { openid: ids.openid, ...(ids.unionid ? { unionid: ids.unionid } : {}), ...(ids.user_id ? { user_id: ids.user_id } : {}) };
}
