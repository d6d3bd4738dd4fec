/**
 * vk-uni-pay's entry points and config keys (vk-uni-pay docs §1.6 crypto.aes / checkTokenReturnUserId /
 * wxpay.fetchCertificates / initUniPayInstance, §3.3 userWhitelist / notifyKey / autoDeleteExpiredOrders /
 * legacy node names, §1.1 config_directory): honoured, or refused with a coded error naming the key.
 */
import { vkCompatApi, aesDecrypt, aesEncrypt } from '../../uni_modules/vk-uni-pay/server/entry/vk-compat';
import { checkVkConfig } from '../../uni_modules/vk-uni-pay/server/services/vk-config';
import { isPayError } from '../../uni_modules/vk-uni-pay/server/core/errors';

const NOTIFY_KEY = 'k'.repeat(64);

function api(config: Record<string, unknown>) {
  const fake: any = { deps: { configs: { load: async () => config }, log: { error() {} } } };
  return { vk: vkCompatApi(() => fake) };
}
/** what createPayment answers for this config and order data, as far as the vk config rules go */
function verdict(config: Record<string, unknown>, data: Record<string, unknown> = {}): { code: number; msg?: string; msg_en?: string } {
  try {
    checkVkConfig(config as never, data);
    return { code: 0 };
  } catch (e) {
    if (!isPayError(e)) throw e;
    return { code: e.code, msg: e.msgZh, msg_en: e.msgEn };
  }
}

test('crypto.aes (§1.6) round-trips with notifyKey, refuses another key, and names notifyKey when it is missing', async () => {
  const { vk } = api({ notifyKey: NOTIFY_KEY });
  const enc = (await vk.crypto.aes.encrypt({ data: { a: 1, b: '中文' } })) as any;
  expect(enc.code).toBe(0);
  expect(await vk.crypto.aes.decrypt({ data: enc.data })).toMatchObject({ code: 0, data: { a: 1, b: '中文' } });
  expect(() => aesDecrypt('x'.repeat(64), enc.data)).toThrow(/notifyKey|data/);
  expect(aesDecrypt(NOTIFY_KEY, aesEncrypt(NOTIFY_KEY, [1]))).toEqual([1]);
  expect(await api({}).vk.crypto.aes.encrypt({ data: 1 })).toMatchObject({ code: 110, msg: expect.stringContaining('notifyKey') });
});

test('userWhitelist (§3.3): only listed users may pay, user_id required; without it anyone may', () => {
  const config = { userWhitelist: ['u1'] };
  expect(verdict(config)).toMatchObject({ code: 1030 });
  expect(verdict(config, { user_id: 'u2' })).toMatchObject({ code: 1030 });
  expect(verdict(config, { user_id: 'u1' })).toMatchObject({ code: 0 });
  expect(verdict({ userWhitelist: [] })).toMatchObject({ code: 0 });
  expect(verdict({ userWhitelist: 'u1' })).toMatchObject({ code: 110, msg: expect.stringContaining('userWhitelist') });
});

test.each([
  [{ wxConfigMweb: {} }, 'wxConfigMweb', 'wxpay.mweb'],
  [{ aliConfigApp: {} }, 'aliConfigApp', 'alipay.app-plus'],
])('config %p is refused with a message naming %s and the fix', async (config, key, fix) => {
  const r = verdict(config);
  expect(r.code).toBe(110);
  expect(r.msg).toContain(key);
  expect(r.msg).toContain(fix);
});

test('data.config_directory (§1.1) is refused naming the key and pid as the replacement; autoDeleteExpiredOrders is accepted (the timer carries it out)', async () => {
  const r = verdict({}, { config_directory: 'shop2' });
  expect(r).toMatchObject({ code: 110 });
  expect(r.msg).toMatch(/config_directory.*pid/);
  expect(verdict({ autoDeleteExpiredOrders: 0 })).toMatchObject({ code: 0 });
  expect(verdict({ autoDeleteExpiredOrders: 3 })).toMatchObject({ code: 0 });
});

test('wxpay.fetchCertificates and initUniPayInstance answer a coded error saying what replaces them (5010)', async () => {
  const { vk } = api({});
  expect(await vk.wxpay.fetchCertificates()).toMatchObject({ code: 5010, msg: expect.stringContaining('自动') });
  expect(await vk.initUniPayInstance()).toMatchObject({ code: 5010, msg_en: expect.stringContaining('initUniPayInstance') });
  expect(await vk.checkTokenReturnUserId({ uniIdToken: 't' })).toMatchObject({ code: 5010, msg: expect.stringContaining('uni-id-common') });
});

test('a wxpay v2 node written before vk 1.16.1 (key, no v3Key, no version) is refused naming wxpay.<node>.version and the fix', async () => {
  const r = verdict({ wxpay: { h5: { appId: 'wx1', mchId: '1', key: 'k'.repeat(32) } } });
  expect(r.code).toBe(110);
  expect(r.msg).toContain('wxpay.h5.version');
  expect(r.msg).toContain('version: 2');
  // the template's unused nodes (empty strings) and explicit versions are fine
  const ok = { wxpay: { h5: { key: '', v3Key: '' }, mweb: { key: 'k'.repeat(32), version: 2 }, app: { key: 'k', v3Key: 'v' } } };
  expect(verdict(ok)).toMatchObject({ code: 0 });
});
