/** `require('vk-uni-pay')` — the common module's public surface (vk-uni-pay compatible names). */
import { API_METHODS, createVkPay, ERRORS, instance, isPayError, PayError, type VkPayApi } from './common';
import { vkCompatApi } from './vk-compat';

/** every row of the API table, on the default instance (built on first call) */
const api = Object.fromEntries(
  API_METHODS.map((name) => [name, (...a: unknown[]) => (instance()[name] as (...a: unknown[]) => unknown)(...a)]),
) as VkPayApi;

/** vk-uni-pay's own entry points and answer shapes (drop-in for vk-uni-pay projects) */
const vk = vkCompatApi(instance);

export = {
  ...api,
  ...vk,
  /** vk-uni-pay's namespaces for the same methods */
  appleiap: { verifyReceipt: api.verifyApplePurchase },
  wxpayVirtual: { notifyProvideGoods: api.notifyProvideGoods },
  createVkPay,
  PayError,
  ERRORS,
  isPayError,
};
