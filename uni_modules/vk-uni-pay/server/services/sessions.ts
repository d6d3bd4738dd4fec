/**
 * Mini-program login (code2Session). The openid goes back to the client; the session_key stays on
 * the server (`vk-pay-sessions`), where WeChat virtual payment needs it to sign for the user.
 */
import { PayError } from '../core/errors';
import { loadProviderModule } from '../providers/registry';
import { configNode, type PayConfig } from '../store/config';
import { providerContext, type PayDeps } from './deps';

export const SESSIONS_COLLECTION = 'vk-pay-sessions';

interface WxSession {
  openid: string;
  unionid?: string;
  session_key: string;
}

/** The mini program node that can log in: the virtual-payment app when configured, else the wxpay one. */
function miniProgramNode(config: PayConfig): Record<string, any> {
  const virtual = config['wxpay-virtual']?.['mp-weixin'];
  if (virtual?.appId && virtual?.secret) return configNode(config, ['wxpay-virtual', 'mp-weixin']);
  const node = configNode<Record<string, any>>(config, ['wxpay', 'mp-weixin']);
  if (!node.secret) throw new PayError('CONFIG_FIELD_MISSING', { node: 'wxpay.mp-weixin', field: 'secret' });
  return node;
}

export async function code2SessionWeixinMP(deps: PayDeps, params: { code?: unknown; pid?: string }): Promise<{ code: 0; msg: string; openid: string; unionid?: string }> {
  if (typeof params.code !== 'string' || !/^[\w-]{1,128}$/.test(params.code)) throw new PayError('FIELD_INVALID', { field: 'code', reason: 'the code from uni.login' });
  const node = miniProgramNode(await deps.configs.load(params.pid));
  const { code2Session } = loadProviderModule<{ code2Session(code: string, ctx: unknown): Promise<WxSession> }>('wxpay-virtual');
  const session = await code2Session(params.code, providerContext(deps, node, params.pid));
  await deps
    .db()
    .collection(SESSIONS_COLLECTION)
    .doc(`${node.appId}:${session.openid}`)
    .set({ appid: node.appId, openid: session.openid, session_key: session.session_key, update_date: deps.clock.now() });
  return { code: 0, msg: 'ok', openid: session.openid, ...(session.unionid ? { unionid: session.unionid } : {}) };
}

export async function requireSessionKey(deps: PayDeps, appId: string, openid: string | undefined): Promise<string> {
  if (!openid) throw new PayError('OPENID_REQUIRED', { pay_type: 'wxpay-virtual_mp-weixin' });
  const { data } = await deps.db().collection(SESSIONS_COLLECTION).doc(`${appId}:${openid}`).get();
  const key = (data[0] as { session_key?: string } | undefined)?.session_key;
  if (!key) throw new PayError('SESSION_KEY_MISSING');
  return key;
}
