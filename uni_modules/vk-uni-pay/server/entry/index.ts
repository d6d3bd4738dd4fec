/** `require('vk-uni-pay')` — the common module's public surface. */
import { createVkPay, createPaymentApi, queryPaymentApi, code2SessionApi, refundApi, queryRefundApi, closeOrderApi, appleiapApi, PayError, ERRORS, isPayError } from './common';

export = {
  createPayment: createPaymentApi,
  queryPayment: queryPaymentApi,
  refund: refundApi,
  closeOrder: closeOrderApi,
  queryRefund: queryRefundApi,
  code2SessionWeixinMP: code2SessionApi, refundApi, queryRefundApi, closeOrderApi,
  appleiap: appleiapApi,
  createVkPay,
  PayError,
  ERRORS,
  isPayError,
};
