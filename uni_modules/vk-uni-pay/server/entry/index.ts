/** `require('vk-uni-pay')` — the common module's public surface. */
import { createVkPay, createPaymentApi, queryPaymentApi, code2SessionWeixinMPApi, appleiapApi, PayError, ERRORS, isPayError } from './common';

export = {
  createPayment: createPaymentApi,
  queryPayment: queryPaymentApi,
  code2SessionWeixinMP: code2SessionWeixinMPApi,
  appleiap: appleiapApi,
  createVkPay,
  PayError,
  ERRORS,
  isPayError,
};
