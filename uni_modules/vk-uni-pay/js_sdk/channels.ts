/**
 * Per-channel payment: hands a created order to the API of the platform it was created for
 * (QR code, cashier redirect, 公众号 JSAPI, `uni.requestPayment`, virtual payment, VksPay).
 */
import { isRecord, str, type Flow, type FlowContext } from './flow';
import { MESSAGES } from './options';
import { afterRequestSuccess, pollUntilPaid } from './polling';
import { alipayAppLink, appendQuery, withPageParams } from './url';
import type { CreatePaymentResult, UniFailResult } from './types';

/** A user cancel, as every uni payment API reports it: `errMsg` containing "cancel". */
export function isCancelError(err: UniFailResult | undefined | null): boolean {
  return /cancel/i.test(String(err?.errMsg ?? ''));
}

export function route(ctx: FlowContext, flow: Flow, res: CreatePaymentResult, payload: Record<string, unknown>): void {
  const env = ctx.deps.env;
  const payType = res.pay_type || '';
  if (res.provider === 'vkspay') {
    vkspayPay(ctx, flow, res);
  } else if (
    res.needQRcode ||
    env.platform === 'h5' ||
    payType.endsWith('_h5') ||
    (env.platform === 'app' && res.provider === 'alipay' && payload.alipayAppPayToH5Pay === true)
  ) {
    void h5Pay(ctx, flow, res);
  } else if (res.provider === 'wxpay-virtual' || payType.startsWith('wxpay-virtual_')) {
    virtualPay(ctx, flow, res);
  } else if (res.provider === 'douyin' && env.platform === 'mp-toutiao') {
    douyinPay(ctx, flow, res);
  } else if (env.platform === 'app' || env.platform === 'mp-weixin' || env.platform === 'mp-alipay' || env.platform === 'mp-harmony') {
    requestPayment(ctx, flow, res);
  } else {
    ctx.finishFail(flow, { failType: 'request', errMsg: MESSAGES.unsupported });
  }
}

function orderUrls(res: CreatePaymentResult): { codeUrl?: string; mwebUrl?: string } {
  const info = res.orderInfo;
  if (typeof info === 'string') return /^https?:\/\//i.test(info) ? { codeUrl: info } : {};
  if (!isRecord(info)) return {};
  return {
    codeUrl: str(info.codeUrl) || str(info.code_url) || str(info.qr_code),
    mwebUrl: str(info.mwebUrl) || str(info.mweb_url) || str(info.h5_url),
  };
}

/** VksPay: the QR code / link popup, confirmed by polling. */
function vkspayPay(ctx: FlowContext, flow: Flow, res: CreatePaymentResult): void {
  const { codeUrl, mwebUrl } = orderUrls(res);
  ctx.showQr(flow, codeUrl || mwebUrl, res.qrcodeImage);
  if (ctx.opts.polling) pollUntilPaid(ctx, flow, res.out_trade_no);
}

/** Web payments: QR code, Alipay cashier, WeChat MWEB redirect or 公众号 JSAPI. */
async function h5Pay(ctx: FlowContext, flow: Flow, res: CreatePaymentResult): Promise<void> {
  const env = ctx.deps.env;
  const { codeUrl, mwebUrl } = orderUrls(res);
  const image = str(res.qrcodeImage);
  const otn = res.out_trade_no;

  if (codeUrl || image) {
    const showQr = !!res.needQRcode || env.isPC || res.provider === 'wxpay' || !codeUrl;
    if (showQr) {
      ctx.showQr(flow, codeUrl, image);
    } else if (codeUrl) {
      // Alipay 当面付 on a phone: open the cashier instead of showing a QR code to oneself
      if (env.platform === 'app' && ctx.deps.plus) ctx.deps.plus.runtime.openURL(codeUrl);
      else if (env.inWeixin || env.inAlipay) navigate(ctx, flow, codeUrl);
      else openAlipayApp(ctx, flow, codeUrl, image);
    }
    if (ctx.opts.polling && !flow.done) pollUntilPaid(ctx, flow, otn);
    return;
  }

  if (mwebUrl) {
    const loc = ctx.deps.location;
    if (!loc) {
      ctx.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noLocation });
      return;
    }
    const back = withPageParams(ctx.opts.returnUrl || loc.href, { confirmShow: 'true', out_trade_no: otn });
    navigate(ctx, flow, appendQuery(mwebUrl, 'redirect_url', back));
    return;
  }

  // 公众号 JSAPI inside the WeChat browser
  if (!ctx.deps.getWeixinJSBridge || !isRecord(res.orderInfo)) {
    ctx.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noBridge });
    return;
  }
  let bridge;
  try {
    bridge = await ctx.deps.getWeixinJSBridge();
  } catch (e) {
    ctx.failFromError(flow, 'request', e);
    return;
  }
  if (flow.done) return;
  bridge.invoke('getBrandWCPayRequest', res.orderInfo, (r) => {
    const msg = String(r?.err_msg ?? r?.errMsg ?? '');
    if (/:ok$/i.test(msg)) afterRequestSuccess(ctx, flow, otn);
    else if (/cancel/i.test(msg)) ctx.finishCancel(flow, { errMsg: msg });
    else ctx.finishFail(flow, { failType: 'request', errMsg: msg || 'get_brand_wcpay_request:fail' });
  });
}

/**
 * A plain mobile browser: try the Alipay app through its deep link. Without the app nothing
 * happens, so after `appOpenTimeout` the cashier link (and QR) is offered; polling runs meanwhile.
 */
function openAlipayApp(ctx: FlowContext, flow: Flow, codeUrl: string, image: string | undefined): void {
  navigate(ctx, flow, alipayAppLink(codeUrl));
  ctx.timers.setTimeout(() => {
    if (!flow.done) ctx.showQr(flow, codeUrl, image);
  }, ctx.opts.appOpenTimeout);
}

function navigate(ctx: FlowContext, flow: Flow, url: string): void {
  const loc = ctx.deps.location;
  if (!loc) {
    ctx.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noLocation });
    return;
  }
  loc.assign(url);
}

/** Mini program / App: `uni.requestPayment`. */
function requestPayment(ctx: FlowContext, flow: Flow, res: CreatePaymentResult): void {
  const env = ctx.deps.env;
  const otn = res.out_trade_no;
  const info = res.orderInfo;
  let params: Record<string, unknown>;
  if (res.provider === 'wxpay' && env.platform === 'mp-weixin') {
    params = { provider: 'wxpay', ...(isRecord(info) ? info : {}) };
  } else if (res.provider === 'alipay' && env.platform === 'mp-alipay') {
    const tradeNo = isRecord(info) ? str(info.trade_no) || str(info.tradeNO) || str(info.tradeNo) : str(info);
    params = { provider: 'alipay', orderInfo: tradeNo };
  } else {
    params = { provider: res.provider, orderInfo: info };
  }
  ctx.deps.uni.requestPayment({
    ...params,
    success: (r) => {
      const code = isRecord(r) ? String(r.resultCode ?? '') : '';
      // Alipay reports its result code; 8000 (processing) and 6004 (unknown) need a query
      if (!code || code === '9000' || code === '8000' || code === '6004') afterRequestSuccess(ctx, flow, otn);
      else if (code === '6001') ctx.finishCancel(flow, { errMsg: 'requestPayment:fail cancel' });
      else ctx.finishFail(flow, { failType: 'request', errMsg: `requestPayment:fail ${code}`, errCode: code });
    },
    fail: (err) => onRequestFail(ctx, flow, err),
  });
}

/** A failed platform payment call: a cancel when the platform says so, else a request failure. */
export function onRequestFail(ctx: FlowContext, flow: Flow, err: UniFailResult, cancelled = isCancelError(err)): void {
  if (cancelled || String(err?.resultCode ?? '') === '6001') {
    ctx.finishCancel(flow, { errMsg: String(err?.errMsg || 'requestPayment:fail cancel') });
  } else {
    ctx.finishFail(flow, { failType: 'request', errMsg: String(err?.errMsg || 'requestPayment:fail'), errCode: err?.errCode });
  }
}

/**
 * Douyin mini program guaranteed payment: `uni.requestPayment` → `tt.pay({ orderInfo, service: 5 })`.
 * Its success callback fires whenever the cashier opened, with `code` 0 paid, 1 timeout, 2 failed,
 * 3 closed, 4 cancelled, 9 unknown (docs/douyin.md): 0 takes the usual path, 9 always asks the
 * server, 4 is a cancel, the rest a failure.
 */
function douyinPay(ctx: FlowContext, flow: Flow, res: CreatePaymentResult): void {
  const otn = res.out_trade_no;
  ctx.deps.uni.requestPayment({
    provider: 'toutiao',
    orderInfo: res.orderInfo,
    service: 5,
    success: (r) => {
      const code = isRecord(r) ? String(r.code ?? '') : '';
      if (code === '0') afterRequestSuccess(ctx, flow, otn);
      else if (code === '9') pollUntilPaid(ctx, flow, otn);
      else if (code === '4') ctx.finishCancel(flow, { errMsg: 'requestPayment:fail cancel' });
      else ctx.finishFail(flow, { failType: 'request', errMsg: `requestPayment:fail ${code}`, errCode: code });
    },
    fail: (err) => onRequestFail(ctx, flow, err),
  });
}

/** WeChat mini program virtual payment: `uni.requestVirtualPayment`. */
function virtualPay(ctx: FlowContext, flow: Flow, res: CreatePaymentResult): void {
  const uni = ctx.deps.uni;
  if (typeof uni.requestVirtualPayment !== 'function') {
    ctx.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noVirtual });
    return;
  }
  const info = isRecord(res.orderInfo) ? res.orderInfo : {};
  uni.requestVirtualPayment({
    signData: info.signData,
    mode: info.mode,
    paySig: info.paySig,
    signature: info.signature,
    success: () => afterRequestSuccess(ctx, flow, res.out_trade_no),
    fail: (err) => onRequestFail(ctx, flow, err),
  });
}
