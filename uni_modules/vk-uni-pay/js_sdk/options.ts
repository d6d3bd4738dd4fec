/** Default options and the payer-facing messages of the client flow. */
import type { PayOptions } from './types';

export const DEFAULT_QUERY_ACTION = { name: 'vk-pay', method: 'queryPayment' } as const;

export const DEFAULT_OPTIONS: PayOptions = {
  queryPaymentAction: DEFAULT_QUERY_ACTION,
  polling: false,
  pollingTime: 1500,
  maxTicks: 120,
  firstQueryDelay: 200,
  awaitNotify: false,
  payOrderInfo: true,
  autoGetOpenid: true,
  returnTicks: 5,
  appOpenTimeout: 2500,
};

export const MESSAGES = {
  expired: '订单已关闭或已过期 (order closed or expired)',
  refunded: '订单已退款 (order refunded)',
  timeout: '未查询到支付结果，请稍后在订单中查看 (no payment result yet)',
  notPaid: '订单未支付 (order not paid)',
  notReturnedPaid: '未查询到支付成功，如已付款请稍后刷新 (payment not confirmed)',
  confirmTitle: '支付确认',
  confirmContent: '请确认支付是否已完成',
  confirmOk: '已完成',
  confirmCancel: '未完成',
  noBridge: '请在微信内打开 (WeixinJSBridge not available)',
  noVirtual: '当前环境不支持虚拟支付 (requestVirtualPayment not available)',
  noIap: '当前环境不支持 Apple 内购 (appleiap not available)',
  noProduct: '未找到内购商品 (product not found)',
  noLocation: 'location not available',
  unsupported: '当前环境不支持该支付方式 (unsupported pay type)',
  cancelledClosed: '已取消支付，订单已关闭',
  cancelledOpen: '已取消支付。如果您已经付款，支付结果会在订单中显示',
} as const;
