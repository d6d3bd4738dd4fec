/**
 * `doctor` checks of the `wxpay-virtual.mp-weixin` node (WeChat mini-program virtual payment and its
 * message push: https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html).
 */
import { failureFinding, Findings, probeOrderNo, type DoctorInput, type Finding } from '../../core/doctor';
import { isPayError } from '../../core/errors';
import type { ProviderContext } from '../types';
import { envOf, xpayRequest, type WxpayVirtualConfig } from './api';

/** xpay's "order does not exist": the access token and the pay_sig were accepted */
const ORDER_NOT_EXIST = 268490002;

export function diagnoseWxpayVirtual({ name, node }: DoctorInput): Finding[] {
  const f = new Findings(name);
  if (f.require(node, 'appId') && !/^wx[0-9a-f]{16}$/.test(String(node.appId)))
    f.warn('appId', [`appId ${node.appId} 不像小程序 AppID`, `appId ${node.appId} does not look like a mini-program AppID`]);
  f.require(node, 'secret', ['小程序后台「开发管理 → AppSecret」', 'Mini-program console → development → AppSecret']);
  if (
    f.require(node, 'offerId', ['虚拟支付后台的 OfferID', 'The OfferID of the virtual payment console']) &&
    !/^\d+$/.test(String(node.offerId))
  )
    f.error('offerId', ['offerId 应为数字', 'offerId must be digits']);
  const appKeyField = node.sandbox === true ? 'sandboxAppKey' : 'appKey';
  f.require(node, appKeyField, [
    '虚拟支付后台「基本配置」中的 AppKey（沙箱与正式各一个）',
    'The AppKey of the virtual payment console (one for sandbox, one for production)',
  ]);
  if (node.sandbox === true)
    f.warn('sandbox', ['sandbox: true（env=1），正式环境必须为 false', 'sandbox: true (env=1); it must be false in production']);
  if (node.rate !== undefined && !(Number.isSafeInteger(node.rate) && node.rate > 0))
    f.error('rate', ['rate（每元代币数）必须是正整数', 'rate (coins per CNY) must be a positive integer']);
  const FIX_PUSH: readonly [string, string] = [
    '小程序后台「开发管理 → 消息推送」：URL 为 <notifyUrl>/wxpayVirtualNotify，安全模式，复制 Token 与 EncodingAESKey',
    'Mini-program console → message push: URL <notifyUrl>/wxpayVirtualNotify, safe mode; copy Token and EncodingAESKey',
  ];
  if (f.require(node, 'token', FIX_PUSH) && !/^[A-Za-z0-9]{3,32}$/.test(String(node.token)))
    f.error('token', ['消息推送 Token 应为 3–32 位字母或数字', 'The message-push Token must be 3–32 letters or digits'], FIX_PUSH);
  if (f.require(node, 'encodingAESKey', FIX_PUSH) && !/^[A-Za-z0-9+/]{43}$/.test(String(node.encodingAESKey)))
    f.error('encodingAESKey', ['EncodingAESKey 必须是 43 个字符', 'EncodingAESKey must be 43 characters'], FIX_PUSH);
  return f.list;
}

/** `query_order` for an unused order number: an access token (appId + secret) and a pay_sig (AppKey) must both be accepted. */
export async function probeWxpayVirtual(name: string, ctx: ProviderContext<WxpayVirtualConfig>): Promise<Finding[]> {
  const f = new Findings(name);
  try {
    await xpayRequest('query_order', { env: envOf(ctx.config), order_id: probeOrderNo(ctx.clock.now()) }, ctx);
    f.warn('online', ['查询一个不存在的订单却得到了订单', 'A query for an unused order number returned an order']);
  } catch (e) {
    if (isPayError(e) && e.detail?.errcode === ORDER_NOT_EXIST)
      f.info('online', [
        '网关应答“订单不存在”：access_token 与 pay_sig 均被接受（应答本身不签名）',
        'The gateway answered "order does not exist": access token and pay_sig accepted (the answer itself is unsigned)',
      ]);
    else f.list.push(failureFinding(name, 'online', e));
  }
  return f.list;
}
