/** `require('vk-uni-pay')` — the common module's public surface. */
import { createVkPay, createPaymentApi, queryPaymentApi, code2SessionApi, refundApi, queryRefundApi, appleiapApi, PayError, ERRORS, isPayError } from './common';

export = {
  createPayment: createPaymentApi,
  queryPayment: queryPaymentApi,
  refund: refundApi,
  queryRefund: queryRefundApi,
  code2SessionWeixinMP: code2SessionApi, refundApi, queryRefundApi,
  appleiap: appleiapApi,
  createVkPay,
  PayError,
  ERRORS,
  isPayError,
};
