/** `require('vk-uni-pay')` — the common module's public surface. */
import { createVkPay, createPaymentApi, queryPaymentApi, PayError, ERRORS, isPayError } from './common';

export = {
  createPayment: createPaymentApi,
  queryPayment: queryPaymentApi,
  createVkPay,
  PayError,
  ERRORS,
  isPayError,
};
