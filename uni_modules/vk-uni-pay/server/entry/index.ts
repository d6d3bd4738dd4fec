/** `require('vk-uni-pay')` — the common module's public surface (vk-uni-pay compatible names). */
import {
  appleiapApi,
  closeOrderApi,
  code2SessionApi,
  createPaymentApi,
  createVkPay,
  doctorApi,
  ERRORS,
  isPayError,
  PayError,
  queryPaymentApi,
  queryRefundApi,
  refundApi,
  wxpayVirtualApi,
} from './common';

export = {
  createPayment: createPaymentApi,
  queryPayment: queryPaymentApi,
  closeOrder: closeOrderApi,
  refund: refundApi,
  queryRefund: queryRefundApi,
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
