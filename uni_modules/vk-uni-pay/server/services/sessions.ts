/**
 * Payer identity from a login code: WeChat mini program (code2Session), WeChat official account
 * (OAuth snsapi_base) and Alipay mini program (alipay.system.oauth.token). Only ids go back to the
 * client; the WeChat session_key stays on the server (`vk-pay-sessions`), where virtual payment
 * needs it to sign for the user, and OAuth tokens never leave the provider call.
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

export interface LoginParams {
  code?: unknown;
  pid?: string;
}

function loginCode(params: LoginParams): string {
  if (typeof params.code !== 'string' || !/^[\w-]{1,128}$/.test(params.code))
    throw new PayError('FIELD_INVALID', { field: 'code', reason: 'the code from uni.login / OAuth' });
  return params.code;
}

export async function code2SessionWeixinMP(
  deps: PayDeps,
  params: LoginParams,
): Promise<{ code: 0; msg: string; openid: string; unionid?: string }> {
  const code = loginCode(params);
  const node = miniProgramNode(await deps.configs.load(params.pid));
  const { code2Session } = loadProviderModule<{ code2Session(code: string, ctx: unknown): Promise<WxSession> }>('wxpay-virtual');
  const session = await code2Session(code, providerContext(deps, node, params.pid));
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

/** WeChat official account (公众号) OAuth code → openid, for JSAPI payments in the WeChat browser. */
export async function code2SessionWeixinH5(
  deps: PayDeps,
  params: LoginParams,
): Promise<{ code: 0; msg: string; openid: string; unionid?: string }> {
  const code = loginCode(params);
  const node = configNode(await deps.configs.load(params.pid), ['wxpay', 'h5-weixin']);
  const { officialAccountOpenid } = loadProviderModule<{
    officialAccountOpenid(code: string, ctx: unknown): Promise<{ openid: string; unionid?: string }>;
  }>('wxpay');
  const ids = await officialAccountOpenid(code, providerContext(deps, node, params.pid));
  return { code: 0, msg: 'ok', openid: ids.openid, ...(ids.unionid ? { unionid: ids.unionid } : {}) };
}

/** Alipay mini program auth code → the buyer id used as openid (user_id 2088…, or open_id in openid mode). */
export async function code2SessionAlipay(
  deps: PayDeps,
  params: LoginParams,
): Promise<{ code: 0; msg: string; openid: string; user_id?: string }> {
  const code = loginCode(params);
  const node = configNode(await deps.configs.load(params.pid), ['alipay', 'mp-alipay']);
  const { alipayOauthToken } = loadProviderModule<{
    alipayOauthToken(code: string, ctx: unknown): Promise<{ user_id?: string; open_id?: string }>;
  }>('alipay');
  const ids = await alipayOauthToken(code, providerContext(deps, node, params.pid));
  const openid = ids.user_id ?? ids.open_id;
  if (!openid) throw new PayError('GATEWAY_RESPONSE_INVALID');
  return { code: 0, msg: 'ok', openid, ...(ids.user_id ? { user_id: ids.user_id } : {}) };
}
