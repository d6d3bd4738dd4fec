/** Typed fakes of the platform APIs the client flow uses. */
import type {
  CloudAction,
  CloudCaller,
  IapChannelLike,
  IapProduct,
  IapTransaction,
  LocationLike,
  ModalOptions,
  ModalResult,
  PayDeps,
  PayEnv,
  UniCallbacks,
  UniFailResult,
  UniLike,
  WeixinJSBridgeLike,
} from '../../uni_modules/vk-uni-pay/js_sdk/types';
import { detectEnv } from '../../uni_modules/vk-uni-pay/js_sdk/platform';

type PayCall = Record<string, unknown> & UniCallbacks;
export type PayBehaviour = (opts: PayCall) => void;

export class FakeUni implements UniLike {
  payments: Record<string, unknown>[] = [];
  virtualPayments: Record<string, unknown>[] = [];
  logins: { provider?: string }[] = [];
  modals: ModalOptions[] = [];
  storage = new Map<string, unknown>();
  loadingShown = 0;
  loadingHidden = 0;
  /** what requestPayment does (default: succeed) */
  onPay: PayBehaviour = (o) => o.success?.({ errMsg: 'requestPayment:ok' });
  onVirtualPay: PayBehaviour = (o) => o.success?.({ errMsg: 'requestVirtualPayment:ok' });
  /** answer of uni.login */
  loginCode: () => string = (() => {
    let n = 0;
    return () => `code-${++n}`;
  })();
  loginFails = false;
  /** answer of showModal (default: confirm) */
  modalAnswer: ModalResult = { confirm: true, cancel: false };
  hasVirtual = true;

  requestPayment(options: PayCall): void {
    const { success, fail, complete, ...rest } = options;
    void success;
    void fail;
    void complete;
    this.payments.push(rest);
    this.onPay(options);
  }

  requestVirtualPayment?(options: PayCall): void {
    const { success, fail, complete, ...rest } = options;
    void success;
    void fail;
    void complete;
    this.virtualPayments.push(rest);
    this.onVirtualPay(options);
  }

  login(options: { provider?: string } & UniCallbacks<{ code: string }>): void {
    this.logins.push({ provider: options.provider });
    if (this.loginFails) options.fail?.({ errMsg: 'login:fail network' });
    else options.success?.({ code: this.loginCode() });
  }

  showModal(options: ModalOptions & UniCallbacks<ModalResult>): void {
    const { success, fail, complete, ...rest } = options;
    void fail;
    void complete;
    this.modals.push(rest);
    success?.(this.modalAnswer);
  }

  showLoading(): void {
    this.loadingShown++;
  }

  hideLoading(): void {
    this.loadingHidden++;
  }

  getStorageSync(key: string): unknown {
    return this.storage.has(key) ? structuredClone(this.storage.get(key)) : '';
  }

  setStorageSync(key: string, value: unknown): void {
    this.storage.set(key, structuredClone(value));
  }
}

export function withoutVirtual(uni: FakeUni): FakeUni {
  (uni as { requestVirtualPayment?: unknown }).requestVirtualPayment = undefined;
  return uni;
}

export interface CloudCall {
  target: string;
  data: Record<string, unknown>;
}

type Handler = (data: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** A fake server keyed by "name.method" (or "name:action", or a function name). */
export class FakeCloud {
  calls: CloudCall[] = [];
  handlers = new Map<string, Handler>();

  on(target: string, handler: Handler): this {
    this.handlers.set(target, handler);
    return this;
  }

  readonly caller: CloudCaller = async (action: CloudAction, data: Record<string, unknown>) => {
    const target =
      typeof action === 'string' ? action : 'method' in action ? `${action.name}.${action.method}` : `${action.name}:${action.action}`;
    this.calls.push({ target, data: { ...data } });
    const h = this.handlers.get(target);
    if (!h) throw { errCode: 'NOT_FOUND', errMsg: `no handler for ${target}` };
    return h(data);
  };

  callsTo(target: string): CloudCall[] {
    return this.calls.filter((c) => c.target === target);
  }
}

export class FakeLocation implements LocationLike {
  assigned: string[] = [];
  constructor(public href: string) {}
  assign(url: string): void {
    this.assigned.push(url);
  }
}

export class FakeBridge implements WeixinJSBridgeLike {
  invoked: { name: string; params: Record<string, unknown> }[] = [];
  constructor(public answer: string) {}
  invoke(name: 'getBrandWCPayRequest', params: Record<string, unknown>, cb: (res: { err_msg?: string }) => void): void {
    this.invoked.push({ name, params });
    cb({ err_msg: this.answer });
  }
}

export class FakeIapChannel implements IapChannelLike {
  finished: IapTransaction[] = [];
  products: IapProduct[] = [{ productid: 'coin_6', price: '6', title: '60 coins' }];
  restoreAnswer: IapTransaction[] = [];
  requestProduct(ids: string[], success: (p: IapProduct[]) => void): void {
    success(this.products.filter((p) => ids.includes(p.productid)));
  }
  finishTransaction(tx: IapTransaction, success: () => void): void {
    this.finished.push(tx);
    success();
  }
  restoreCompletedTransactions(
    _o: { manualFinishTransaction: boolean },
    success: (t: IapTransaction[]) => void,
    _fail: (e: UniFailResult) => void,
  ): void {
    success(this.restoreAnswer);
  }
}

export function env(platform: string, nav?: { platform?: string; userAgent?: string }): PayEnv {
  return detectEnv(platform, nav);
}

export const PC_NAV = { platform: 'Win32', userAgent: 'Mozilla/5.0 (Windows NT 10.0) Chrome/120' };
export const PHONE_NAV = { platform: 'iPhone', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile Safari' };
export const WEIXIN_NAV = { platform: 'iPhone', userAgent: 'Mozilla/5.0 (iPhone) MicroMessenger/8.0.40' };
export const ALIPAY_NAV = { platform: 'Linux armv8l', userAgent: 'Mozilla/5.0 (Linux; Android 13) AlipayClient/10.5' };

export function makeDeps(partial: Partial<PayDeps> & { uni: FakeUni; cloud: FakeCloud; env: PayEnv }): PayDeps {
  const { cloud, ...rest } = partial;
  return { callCloud: cloud.caller, ...rest };
}

/** createPayment result in the contract's shape. */
export function created(payType: string, orderInfo: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const provider = payType.slice(0, payType.lastIndexOf('_'));
  return {
    errCode: 0,
    orderInfo,
    out_trade_no: 'T1',
    provider,
    pay_type: payType,
    needQRcode: false,
    total_fee: 100,
    platform: 'x',
    ...extra,
  };
}

export const PAID = {
  errCode: 0,
  errMsg: 'ok',
  orderPaid: true,
  user_order_success: true,
  status: 1,
  out_trade_no: 'T1',
  transaction_id: 'W1',
};
export const UNPAID = { errCode: 0, errMsg: 'ok', orderPaid: false, status: 0, out_trade_no: 'T1' };
export const CLOSED = { errCode: 0, errMsg: 'ok', orderPaid: false, status: -1, out_trade_no: 'T1' };

import type {
  PayListeners,
  PayFailResult,
  PayCancelResult,
  PaySuccessResult,
  UiStatus,
  CreatePaymentResult,
} from '../../uni_modules/vk-uni-pay/js_sdk/types';

/** Listeners that record every event in order. */
export function recorder() {
  const events: string[] = [];
  const successes: PaySuccessResult[] = [];
  const fails: PayFailResult[] = [];
  const cancels: PayCancelResult[] = [];
  const statuses: UiStatus[] = [];
  const codeUrls: string[] = [];
  const images: string[] = [];
  const creates: CreatePaymentResult[] = [];
  const listeners: PayListeners = {
    create: (r) => {
      events.push('create');
      creates.push(r);
    },
    success: (r) => {
      events.push('success');
      successes.push(r);
    },
    fail: (r) => {
      events.push(`fail:${r.failType}`);
      fails.push(r);
    },
    cancel: (r) => {
      events.push('cancel');
      cancels.push(r);
    },
    status: (s) => {
      statuses.push(s);
    },
    codeUrl: (u) => {
      codeUrls.push(u);
    },
    qrcodeImage: (i) => {
      images.push(i);
    },
  };
  return { events, successes, fails, cancels, statuses, codeUrls, images, creates, listeners };
}
