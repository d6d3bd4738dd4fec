/**
 * The payee's confirmation of a WeChat Pay merchant transfer (user-confirm mode): the server's
 * `transfer` answers `options` ({mchId, appId, package, openId?}) while the bill waits for the user;
 * the client shows WeChat's confirm page with them. Mini program: `uni.requestMerchantTransfer`;
 * official-account H5: `WeixinJSBridge.invoke('requestMerchantTransfer', …)`. Not available in
 * Apps or other browsers. The outcome that counts is the server's (notification / queryTransfer):
 * `confirmed` only says the user went through the page.
 */
import type { PayEnv, WeixinJSBridgeLike } from './types';

export interface MerchantTransferOptions {
  mchId: string;
  appId: string;
  package: string;
  openId?: string;
}

export interface TransferConfirmDeps {
  env: PayEnv;
  uni?: { requestMerchantTransfer?: (o: Record<string, unknown>) => void };
  getWeixinJSBridge?: () => Promise<WeixinJSBridgeLike>;
}

export type TransferConfirmResult = { result: 'confirmed' | 'cancelled' | 'failed' | 'unsupported'; errMsg: string };

export function confirmTransfer(options: MerchantTransferOptions, deps: TransferConfirmDeps): Promise<TransferConfirmResult> {
  const outcome = (msg: string): TransferConfirmResult => ({
    result: /:ok$/i.test(msg) ? 'confirmed' : /cancel/i.test(msg) ? 'cancelled' : 'failed',
    errMsg: msg,
  });
  if (!options || typeof options.package !== 'string' || !options.package)
    return Promise.resolve({ result: 'failed', errMsg: 'requestMerchantTransfer:fail options.package missing' });
  const params: Record<string, unknown> = { mchId: options.mchId, appId: options.appId, package: options.package };
  if (options.openId) params.openId = options.openId;
  if (deps.env.platform === 'mp-weixin' && deps.uni?.requestMerchantTransfer) {
    const request = deps.uni.requestMerchantTransfer;
    return new Promise((resolve) =>
      request({
        ...params,
        success: (r: { errMsg?: string }) => resolve(outcome(r?.errMsg || 'requestMerchantTransfer:ok')),
        fail: (r: { errMsg?: string }) => resolve(outcome(r?.errMsg || 'requestMerchantTransfer:fail')),
      }),
    );
  }
  if (deps.env.platform === 'h5' && deps.env.inWeixin && deps.getWeixinJSBridge) {
    return deps.getWeixinJSBridge().then(
      (bridge) =>
        new Promise<TransferConfirmResult>((resolve) =>
          bridge.invoke('requestMerchantTransfer', params, (r) =>
            resolve(outcome(String(r?.err_msg ?? r?.errMsg ?? 'requestMerchantTransfer:fail'))),
          ),
        ),
      (e: { errMsg?: string }) => ({ result: 'unsupported' as const, errMsg: e?.errMsg || 'WeixinJSBridge not available' }),
    );
  }
  return Promise.resolve({ result: 'unsupported', errMsg: `requestMerchantTransfer is not available on ${deps.env.platform}` });
}
