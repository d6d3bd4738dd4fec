/**
 * Types of the client side of vk-uni-pay: the `<vk-uni-pay>` component (props, events, methods) and
 * the framework-free js_sdk (declarations generated from js_sdk/*.ts by `npm run pack`).
 * 客户端类型：<vk-uni-pay> 组件的属性、事件、方法，以及 js_sdk。
 *
 *   import type { VkUniPayInstance } from '@/uni_modules/vk-uni-pay/types';
 *   const vkPay = ref<VkUniPayInstance>();
 *   vkPay.value!.createPayment({ action: { name: 'shop', method: 'buy' }, data: { goods_id }, success(res) {} });
 */
import type {
  CloudAction,
  CreatePaymentOptions,
  CreatePaymentResult,
  IapRestoreReport,
  PayCallbacks,
  PayCancelResult,
  PayFailResult,
  PendingPayment,
  PaySuccessResult,
  QueryPaymentOptions,
  UiStatus,
} from './js_sdk/index';

export * from './js_sdk/index';

/** Props of `<vk-uni-pay>` (kebab-case in templates: `:polling-time`, `v-model:status` / `:status.sync`). */
export interface VkUniPayProps {
  /** UI state: 0 idle, 1 paying, 2 paid (not the DB status) */
  status?: UiStatus;
  /** QR content for PC payment (`.sync` / `v-model:codeUrl`) */
  codeUrl?: string;
  /** QR image (base64) when the order was created with needQRcode: 'image' */
  qrcodeImage?: string;
  /** poll the order while a QR code is shown (default false) */
  polling?: boolean;
  /** ms between polls (default 1500) */
  pollingTime?: number;
  /** wait for the server handler before `success` (default false) */
  awaitNotify?: boolean;
  /** return the order row with `success` (default true) */
  payOrderInfo?: boolean;
  /** polling pauses while false: bind it to onShow / onHide (default true) */
  pageShow?: boolean;
  /** fetch the openid in mini-programs (default true; false for service-provider mode and vkspay) */
  autoGetOpenid?: boolean;
  /** WeChat mweb return page (default: the current page) */
  returnUrl?: string;
  /** where the component polls (default the `vk-pay` cloud object's `queryPayment`) */
  queryPaymentAction?: CloudAction | string;
  /** ms to wait after trying to open the Alipay app in a phone browser before offering the cashier link (default 2500) */
  appOpenTimeout?: number;
  /** called when the payer cancels: have your business object close the order (vk-uni-pay `closeOrder`) */
  closeOrder?: ((outTradeNo: string) => Promise<unknown>) | null;
}

/** Events of `<vk-uni-pay>`. */
export interface VkUniPayEvents {
  'update:status': (status: UiStatus) => void;
  'update:codeUrl': (codeUrl: string) => void;
  'update:qrcodeImage': (image: string) => void;
  create: (res: CreatePaymentResult) => void;
  success: (res: PaySuccessResult) => void;
  fail: (res: PayFailResult) => void;
  cancel: (res: PayCancelResult) => void;
  resume: (pending: PendingPayment) => void;
  init: (info: { platform: string; isPC: boolean }) => void;
}

/** Methods reached through `ref` (`this.$refs.vkPay` / `vkPay.value`). */
export interface VkUniPayInstance {
  createPayment(options: CreatePaymentOptions): Promise<void>;
  queryPayment(options: QueryPaymentOptions): Promise<PaySuccessResult | PayFailResult>;
  getOpenid(): Promise<string | undefined>;
  appleiapRestore(): Promise<IapRestoreReport>;
  /** the payer stops the current payment (e.g. closes the QR popup): closes the order via `closeOrder`, emits `cancel` */
  cancelPayment(): Promise<void>;
  /** watch an order created earlier (after a reload); emits `resume` */
  resumePayment(options: { out_trade_no: string } & PayCallbacks): void;
  /** payments this device started and has not seen end */
  pendingPayments(): PendingPayment[];
}
