/**
 * Apple in-app purchase (App on iOS): product lookup, purchase with manual finishing, server
 * verification, and the restore of purchases whose verification was lost.
 */
import { toCallError } from './cloud';
import { onRequestFail, isCancelError } from './channels';
import { isRecord, str, type Flow, type FlowContext } from './flow';
import { MESSAGES } from './options';
import { afterRequestSuccess } from './polling';
import type { CloudAction, IapChannelLike, IapProduct, IapTransaction } from './types';

/** Storage key of Apple transactions that were paid but not yet verified and finished. */
export const IAP_CACHE_KEY = 'vk-uni-pay-appleiap-order';

interface IapCacheEntry {
  out_trade_no: string;
  productid?: string;
  time: number;
}

export interface IapRestoreReport {
  /** out_trade_no of orders verified and finished */
  restored: string[];
  /** transaction ids of failed transactions that were finished */
  finishedFailed: string[];
  /** transactions that could not be verified (kept for the next restore) */
  errors: { transactionIdentifier?: string; out_trade_no?: string; errMsg: string }[];
}

async function iapChannel(ctx: FlowContext): Promise<IapChannelLike> {
  if (!ctx.deps.getIapChannel) throw toCallError({ errCode: 'NO_IAP', errMsg: MESSAGES.noIap });
  return ctx.deps.getIapChannel();
}

function readCache(ctx: FlowContext): Record<string, IapCacheEntry> {
  const v = ctx.deps.uni.getStorageSync(IAP_CACHE_KEY);
  return isRecord(v) ? (v as Record<string, IapCacheEntry>) : {};
}

function writeCache(ctx: FlowContext, cache: Record<string, IapCacheEntry>): void {
  ctx.deps.uni.setStorageSync(IAP_CACHE_KEY, cache);
}

function finishTransaction(channel: IapChannelLike, tx: IapTransaction): Promise<void> {
  return new Promise<void>((resolve, reject) => channel.finishTransaction(tx, resolve, reject));
}

/** Verifies one Apple transaction on the server, then finishes it and drops it from the cache. */
async function verifyAndFinish(ctx: FlowContext, channel: IapChannelLike, tx: IapTransaction, outTradeNo: string): Promise<void> {
  const { callCloud } = ctx.deps;
  if (tx.signedTransaction) {
    await callCloud(ctx.vkPayMethod('verifyAppleTransaction'), { out_trade_no: outTradeNo, signedTransaction: tx.signedTransaction });
  } else {
    await callCloud(ctx.vkPayMethod('verifyAppleReceipt'), {
      out_trade_no: outTradeNo,
      transaction_receipt: tx.transactionReceipt,
      transaction_identifier: tx.transactionIdentifier,
    });
  }
  await finishTransaction(channel, tx);
  if (tx.transactionIdentifier) {
    const cache = readCache(ctx);
    delete cache[tx.transactionIdentifier];
    writeCache(ctx, cache);
  }
}

export async function appleiapPay(ctx: FlowContext, flow: Flow, action: CloudAction, payload: Record<string, unknown>): Promise<void> {
  const productid = str(payload.productid);
  if (!productid) {
    ctx.finishFail(flow, { failType: 'create', errMsg: 'productid is required for appleiap' });
    return;
  }
  let channel: IapChannelLike;
  let product: IapProduct | undefined;
  try {
    channel = await iapChannel(ctx);
    const products = await new Promise<IapProduct[]>((resolve, reject) => channel.requestProduct([productid], resolve, reject));
    product = products.find((p) => p.productid === productid);
  } catch (e) {
    ctx.failFromError(flow, 'request', e);
    return;
  }
  if (!product) {
    ctx.finishFail(flow, { failType: 'request', errMsg: MESSAGES.noProduct });
    return;
  }
  // the server prices the product itself; the title is informational
  const created = await ctx.createOrder(flow, action, { ...payload, subject: payload.subject ?? product.title ?? product.description });
  if (!created) return;
  const otn = created.out_trade_no;
  ctx.deps.uni.requestPayment({
    provider: 'appleiap',
    orderInfo: { productid, username: otn, quantity: 1, manualFinishTransaction: true },
    success: (r) => {
      const tx = r as unknown as IapTransaction;
      if (tx.transactionIdentifier) {
        const cache = readCache(ctx);
        cache[tx.transactionIdentifier] = { out_trade_no: otn, productid, time: Date.now() };
        writeCache(ctx, cache);
      }
      verifyAndFinish(ctx, channel, tx, otn).then(
        () => !flow.done && afterRequestSuccess(ctx, flow, otn),
        (e: unknown) => ctx.failFromError(flow, 'result', e),
      );
    },
    // StoreKit reports a user cancel as error code 2
    fail: (err) => onRequestFail(ctx, flow, err, String(err?.errCode) === '2' || isCancelError(err)),
  });
}

/**
 * Recovers Apple purchases whose verification was lost (app killed, network down): purchased
 * or restored transactions are verified and finished, failed ones are finished.
 */
export async function appleiapRestore(ctx: FlowContext): Promise<IapRestoreReport> {
  const report: IapRestoreReport = { restored: [], finishedFailed: [], errors: [] };
  const channel = await iapChannel(ctx);
  const txs = await new Promise<IapTransaction[]>((resolve, reject) =>
    channel.restoreCompletedTransactions({ manualFinishTransaction: true }, resolve, reject),
  );
  const cache = readCache(ctx);
  for (const tx of txs || []) {
    const state = String(tx.transactionState ?? '');
    const id = tx.transactionIdentifier;
    if (state === '2') {
      try {
        await finishTransaction(channel, tx);
        report.finishedFailed.push(id || '');
      } catch (e) {
        report.errors.push({ transactionIdentifier: id, errMsg: toCallError(e).errMsg });
      }
      continue;
    }
    if (state !== '1' && state !== '3') continue;
    const otn = str(tx.payment?.username) || (id ? cache[id]?.out_trade_no : undefined);
    if (!otn) {
      report.errors.push({ transactionIdentifier: id, errMsg: 'no out_trade_no for this transaction' });
      continue;
    }
    try {
      await verifyAndFinish(ctx, channel, tx, otn);
      report.restored.push(otn);
    } catch (e) {
      report.errors.push({ transactionIdentifier: id, out_trade_no: otn, errMsg: toCallError(e).errMsg });
    }
  }
  return report;
}
