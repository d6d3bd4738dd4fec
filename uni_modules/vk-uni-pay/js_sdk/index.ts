/** vk-uni-pay client SDK: the payment flow, framework-free. */
export { VkPayClient, DEFAULT_OPTIONS, DEFAULT_QUERY_ACTION, IAP_CACHE_KEY, MESSAGES, PENDING_KEY, isCancelError } from './client';
export type { IapRestoreReport } from './client';
export { detectEnv, normalizePlatform, isPCPlatform, isWeixinUA, isAlipayUA } from './platform';
export { createUniCloudCaller, checkCloudResult, toCallError, CloudCallError } from './cloud';
export type { UniCloudLike } from './cloud';
export { withPageParams, getPageParam, appendQuery, alipayAppLink } from './url';
export { qrDataUrl, normalizeQrImage } from './qrcode';
export * as browser from './browser';
export type * from './types';
export { confirmTransfer } from './transfer';
export type { MerchantTransferOptions, TransferConfirmResult } from './transfer';
