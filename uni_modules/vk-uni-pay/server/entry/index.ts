/** `require('vk-uni-pay')` — the common module's public surface. */
import { createVkPay, createPaymentApi, queryPaymentApi, code2SessionApi, appleiapApi, PayError, ERRORS, isPayError } from './common';

export = {
  createPayment: createPaymentApi,
  queryPayment: queryPaymentApi,
  code2SessionWeixinMP: code2SessionApi,
  appleiap: appleiapApi,
  createVkPay,
  PayError,
  ERRORS,
  isPayError,
};
