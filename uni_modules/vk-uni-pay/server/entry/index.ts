/** `require('vk-uni-pay')` — the common module's public surface (vk-uni-pay compatible names). */
import {
  appleiapApi,
  closeOrderApi,
  code2SessionApi,
  createPaymentApi,
  createVkPay,
  doctorApi,
  ERRORS,
  instance,
  isPayError,
  PayError,
  transferApi,
  wxpayVirtualApi,
} from './common';
import { vkCompatApi } from './vk-compat';

/** vk-uni-pay's own entry points and answer shapes (drop-in for vk-uni-pay projects) */
const vk = vkCompatApi(instance);

export = {
  createPayment: createPaymentApi,
  queryPayment: vk.queryPayment,
  closeOrder: closeOrderApi,
  refund: vk.refund,
  queryRefund: vk.queryRefund,
  paymentNotify: vk.paymentNotify,
  crypto: vk.crypto,
  checkTokenReturnUserId: vk.checkTokenReturnUserId,
  getUserNickname: vk.getUserNickname,
  wxpay: vk.wxpay,
  initUniPayInstance: vk.initUniPayInstance,
  transfer: transferApi.transfer,
  cancelTransfer: transferApi.cancelTransfer,
  queryTransfer: transferApi.queryTransfer,
  transferNotify: vk.transferNotify,
  verifyTransferNotify: transferApi.verifyTransferNotify,
  queryAccountBalance: vk.queryAccountBalance,
  getWxpayVirtualManager: vk.getWxpayVirtualManager,
  code2SessionWeixinMP: code2SessionApi.weixinMP,
  code2SessionWeixinH5: code2SessionApi.weixinH5,
  code2SessionAlipay: code2SessionApi.alipay,
  appleiap: appleiapApi,
  wxpayVirtual: wxpayVirtualApi,
  doctor: doctorApi,
  createVkPay,
  PayError,
  ERRORS,
  isPayError,
};
