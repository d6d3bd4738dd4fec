/**
 * The provider catalog: every per-provider fact in ONE table. The provider list, pay-type detection,
 * openid and time_expire rules, config node paths, fixed push routes, the registry, the build entries
 * and the services all read it; nothing else names a provider. Adding a provider = its folder under
 * providers/ (exporting `adapter`) + one row here (see CONTRIBUTING.md "Adding a provider").
 */

/** vk-uni-pay platform keys; also the config node names (`config[provider][platformKey]`). */
export type PlatformKey = 'mp-weixin' | 'mp-alipay' | 'app-plus' | 'h5' | 'h5-weixin' | 'mweb';

export const PLATFORM_KEYS: readonly PlatformKey[] = ['mp-weixin', 'mp-alipay', 'app-plus', 'h5', 'h5-weixin', 'mweb'];

/**
 * What a provider supports beyond create / query / notify. Each capability is an optional member of
 * the adapter (providers/types.ts, CAPABILITY_MEMBER); a test checks the catalog and the adapters agree.
 */
export type Capability =
  | 'close'
  | 'refund'
  | 'queryRefund'
  /** a login code → the payer's id (code2Session APIs) */
  | 'login'
  /** the money moves on the device; the server verifies the purchase proof (Apple IAP) */
  | 'verifyPurchase'
  /** the provider can be asked to push its delivery notification again (WeChat virtual payment) */
  | 'provideGoods'
  /** reserved for the coming money flows; no adapter offers them yet */
  | 'transfer'
  | 'codepay';

export interface SceneFacts {
  /** the pay type cannot work without the payer's openid */
  needsOpenid?: boolean;
  /** a `data.other` key that identifies the payer instead of the openid (Alipay `op_buyer_open_id`) */
  openidFromOther?: string;
  /** minimum lead time of data.time_expire in ms; absent: the scene cannot honour time_expire */
  timeExpireMinMs?: number;
}

/** Client platform (normalised uni platform) → scene. */
export interface Detection {
  /** uni platform (`app`, `mp-weixin`, ...) → platform key, for platforms other than `web` */
  platforms: Partial<Record<string, PlatformKey>>;
  /** web: PC browser (QR code), mobile browser, and (optionally) the WeChat in-app browser */
  web?: { pc: PlatformKey; mobile: PlatformKey; wechat?: PlatformKey };
  /** `needQRcode` (or the provider's app→QR switch) forces this scene, shown as a QR code */
  qrScene?: PlatformKey;
  /** every scene is shown as a QR code / cashier link */
  alwaysQr?: boolean;
  /** the config switch (`config.alipayAppPayToH5Pay` / createPayment option) that turns app pay into `qrScene` */
  appToQrSwitch?: 'alipayAppPayToH5Pay';
}

export interface ProviderEntry<Name extends string = ProviderName> {
  /** the provider value of createPayment, the folder providers/<name>/ and the built dist/providers/<name>.js */
  name: Name;
  /** scenes the provider serves, with their rules */
  scenes: Partial<Record<PlatformKey, SceneFacts>>;
  detect: Detection;
  /** `per-scene`: config[name][platformKey]; `flat`: one node config[name] for every scene */
  configNode: 'per-scene' | 'flat';
  /** notifications arrive at one fixed URL per app (no order in the path): the cloud object method and its scene */
  push?: { method: string; platformKey: PlatformKey };
  capabilities: readonly Capability[];
}

const WECHAT_PAY_MIN = 5 * 60_000;

const ROWS = [
  {
    name: 'wxpay',
    scenes: {
      'mp-weixin': { needsOpenid: true, timeExpireMinMs: WECHAT_PAY_MIN },
      'h5-weixin': { needsOpenid: true, timeExpireMinMs: WECHAT_PAY_MIN },
      'app-plus': { timeExpireMinMs: WECHAT_PAY_MIN },
      mweb: { timeExpireMinMs: WECHAT_PAY_MIN },
      h5: { timeExpireMinMs: 60_000 },
    },
    // the WeChat desktop browser counts as PC (vk-uni-pay 1.12.2): isPC is checked first
    detect: {
      platforms: { 'mp-weixin': 'mp-weixin', app: 'app-plus' },
      web: { pc: 'h5', mobile: 'mweb', wechat: 'h5-weixin' },
      qrScene: 'h5',
    },
    configNode: 'per-scene',
    capabilities: ['close', 'refund', 'queryRefund', 'login'],
  },
  {
    name: 'alipay',
    scenes: {
      'mp-alipay': { needsOpenid: true, openidFromOther: 'op_buyer_open_id', timeExpireMinMs: 1_000 },
      'app-plus': { timeExpireMinMs: 1_000 },
      h5: { timeExpireMinMs: 1_000 },
    },
    detect: {
      platforms: { 'mp-alipay': 'mp-alipay', app: 'app-plus' },
      web: { pc: 'h5', mobile: 'h5' },
      qrScene: 'h5',
      appToQrSwitch: 'alipayAppPayToH5Pay',
    },
    configNode: 'per-scene',
    capabilities: ['close', 'refund', 'queryRefund', 'login'],
  },
  {
    name: 'appleiap',
    scenes: { 'app-plus': {} },
    detect: { platforms: { app: 'app-plus' } },
    configNode: 'per-scene',
    push: { method: 'appleNotify', platformKey: 'app-plus' },
    capabilities: ['verifyPurchase'],
  },
  {
    name: 'vkspay',
    scenes: { h5: {}, 'app-plus': {}, 'mp-weixin': {}, 'mp-alipay': {} },
    detect: { platforms: { web: 'h5', app: 'app-plus', 'mp-weixin': 'mp-weixin', 'mp-alipay': 'mp-alipay' }, alwaysQr: true },
    configNode: 'flat',
    capabilities: ['refund', 'queryRefund'],
  },
  {
    name: 'wxpay-virtual',
    // the openid also finds the session_key the payment is signed with
    scenes: { 'mp-weixin': { needsOpenid: true } },
    detect: { platforms: { 'mp-weixin': 'mp-weixin' } },
    configNode: 'per-scene',
    push: { method: 'wxpayVirtualNotify', platformKey: 'mp-weixin' },
    capabilities: ['refund', 'login', 'provideGoods'],
  },
] as const satisfies readonly ProviderEntry<string>[];

/** The provider names: the catalog's rows. */
export type ProviderName = (typeof ROWS)[number]['name'];

export const CATALOG: readonly ProviderEntry[] = ROWS;

/** `<provider>_<platformKey>`, e.g. `wxpay_mp-weixin`, `alipay_h5`. */
export type PayType = `${ProviderName}_${PlatformKey}`;

export const PROVIDERS: readonly ProviderName[] = CATALOG.map((p) => p.name);

const BY_NAME = new Map<string, ProviderEntry>(CATALOG.map((p): [string, ProviderEntry] => [p.name, p]));

export function isProviderName(name: unknown): name is ProviderName {
  return typeof name === 'string' && BY_NAME.has(name);
}

/** The provider's row, or undefined for an unknown name. */
export function providerEntry(name: string): ProviderEntry | undefined {
  return BY_NAME.get(name);
}

export function supports(name: ProviderName, capability: Capability): boolean {
  return BY_NAME.get(name)?.capabilities.includes(capability) ?? false;
}

export function sceneFacts(payType: PayType): SceneFacts | undefined {
  const { provider, platformKey } = splitPayType(payType);
  return BY_NAME.get(provider)?.scenes[platformKey];
}

/** `wxpay-virtual_mp-weixin` → { provider: 'wxpay-virtual', platformKey: 'mp-weixin' } (provider names hold no `_`). */
export function splitPayType(payType: PayType): { provider: ProviderName; platformKey: PlatformKey } {
  const i = payType.indexOf('_');
  return { provider: payType.slice(0, i) as ProviderName, platformKey: payType.slice(i + 1) as PlatformKey };
}

/** A route's pay type, when the catalog knows it (`wxpay_h5` yes, `vkspay_mweb` no). */
export function knownPayType(provider: string, platformKey: string): PayType | undefined {
  const entry = BY_NAME.get(provider);
  return entry && platformKey in entry.scenes ? (`${provider}_${platformKey}` as PayType) : undefined;
}

/** The config node path for a scene: config[provider][platformKey], or config[provider] for a flat node. */
export function configNodePath(provider: ProviderName, platformKey: PlatformKey): string[] {
  return BY_NAME.get(provider)?.configNode === 'flat' ? [provider] : [provider, platformKey];
}

/** Providers whose notifications arrive at one fixed URL per app: the cloud object method and the scene's config node. */
export const PUSH_ROUTES: readonly { provider: ProviderName; method: string; platformKey: PlatformKey }[] = CATALOG.flatMap((p) =>
  p.push ? [{ provider: p.name, ...p.push }] : [],
);

/** The login APIs and the config nodes each may use, in order of preference (the first with appId and secret wins). */
export const LOGIN_NODES = {
  // the virtual-payment app first: its session_key is what signs a virtual payment
  code2SessionWeixinMP: [
    ['wxpay-virtual', 'mp-weixin'],
    ['wxpay', 'mp-weixin'],
  ],
  code2SessionWeixinH5: [['wxpay', 'h5-weixin']],
  code2SessionAlipay: [['alipay', 'mp-alipay']],
} as const satisfies Record<string, readonly (readonly [ProviderName, PlatformKey])[]>;

export type LoginApi = keyof typeof LOGIN_NODES;
