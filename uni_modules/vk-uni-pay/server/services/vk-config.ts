/**
 * vk-uni-pay config keys at createPayment (vk-uni-pay docs §3.3, §1.1): `userWhitelist` is carried
 * out (`autoDeleteExpiredOrders` too, by vk-pay's timer: core/timer-settings.ts); keys this plugin does not carry out are refused with a coded error naming the key and the fix,
 * never silently ignored.
 */
import { PayError } from '../core/errors';
import type { PayConfig } from '../store/config';

/** vk-uni-pay < 1.3.0 node names → the node that replaces each. */
export const LEGACY_CONFIG_KEYS: Record<string, string> = {
  wxConfigMp: 'wxpay.mp-weixin',
  wxConfigApp: 'wxpay.app-plus',
  wxConfigH5: 'wxpay.h5',
  wxConfigH5Weixin: 'wxpay.h5-weixin',
  wxConfigMweb: 'wxpay.mweb',
  aliConfigMp: 'alipay.mp-alipay',
  aliConfigApp: 'alipay.app-plus',
  aliConfigH5: 'alipay.h5',
};

/** The first vk config key this plugin refuses, as an error (or undefined). */
export function refusedConfigKey(config: PayConfig): PayError | undefined {
  for (const [key, node] of Object.entries(LEGACY_CONFIG_KEYS))
    if (config[key] !== undefined) return new PayError('VK_CONFIG_UNSUPPORTED', { key, fix: `改名为 / rename to ${node}` });
  // a v2 node written before vk 1.16.1 made v3 the default: API key, no APIv3 key, no version
  for (const [name, node] of Object.entries<any>(config.wxpay ?? {}))
    if (node && typeof node === 'object' && node.version === undefined && node.key && !node.v3Key)
      return new PayError('VK_CONFIG_UNSUPPORTED', {
        key: `wxpay.${name}.version`,
        fix: '未写 version 时按 v3 处理（同 vk-uni-pay ≥ 1.16.1）；v2 商户请写 version: 2 / without version the node is v3; write version: 2 for a v2 merchant',
      });
  return undefined;
}

/** `userWhitelist` (vk 1.16): when set, only these uni-id user ids may pay, and `data.user_id` is required. */
function checkUserWhitelist(config: PayConfig, data: Record<string, unknown> | undefined): void {
  const list = config.userWhitelist;
  if (list === undefined || list === null) return;
  if (!Array.isArray(list))
    throw new PayError('VK_CONFIG_UNSUPPORTED', {
      key: 'userWhitelist',
      fix: '必须是 uni-id 用户 _id 数组 / must be an array of uni-id user ids',
    });
  if (!list.length) return;
  if (typeof data?.user_id !== 'string' || !list.includes(data.user_id)) throw new PayError('USER_NOT_WHITELISTED');
}

/** Every vk config rule for one createPayment: refused keys first, then `config_directory`, then the whitelist. */
export function checkVkConfig(config: PayConfig, data: Record<string, unknown>): void {
  const refused = refusedConfigKey(config);
  if (refused) throw refused;
  if (data.config_directory !== undefined)
    throw new PayError('VK_CONFIG_UNSUPPORTED', {
      key: 'config_directory',
      fix: '改用 vk-pay-config 表与 data.pid / use the vk-pay-config collection and data.pid',
    });
  checkUserWhitelist(config, data);
}
