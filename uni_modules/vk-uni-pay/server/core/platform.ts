/**
 * Client context → platform, and (provider, platform, switches) → pay type. Pure functions with a
 * table-driven test matrix; the rules follow vk-uni-pay's documented
 * platform table (https://vkdoc.fsq.pub/vk-uni-pay/).
 */
import { PayError } from './errors';
import { configNodePath, PROVIDERS, providerEntry, sceneFacts, type PayType, type PlatformKey, type ProviderName } from './catalog';

export { PROVIDERS, configNodePath };

/** uni platform after folding synonyms: app | web | mp-weixin | mp-alipay | mp-* ... */
export type UniPlatform = string;

export interface ClientContext {
  /** normalised uni platform (`web`, `app`, `mp-weixin` ...) */
  uniPlatform: UniPlatform;
  clientIP: string;
  userAgent: string;
  appId?: string;
  deviceId?: string;
  spaceId?: string;
  locale?: string;
  stat: Record<string, unknown>;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

export function normalizeUniPlatform(p: string | undefined): UniPlatform | undefined {
  if (!p) return undefined;
  const v = p.toLowerCase();
  if (v === 'h5' || v === 'web') return 'web';
  if (v === 'app' || v === 'app-plus' || v.startsWith('app-')) return 'app';
  return v;
}

/**
 * Accepts the three context shapes vk-uni-pay documents: a cloud object's `this.getClientInfo()`,
 * a VK `originalParam.context`, or a classic cloud function `context` (upper-case keys).
 */
export function normalizeContext(context: unknown): ClientContext {
  if (!context || typeof context !== 'object') throw new PayError('CONTEXT_INVALID');
  const c = context as Record<string, any>;
  const uniPlatform = normalizeUniPlatform(str(c.uniPlatform) ?? str(c.PLATFORM) ?? str(c.platform));
  if (!uniPlatform) throw new PayError('CONTEXT_INVALID');
  const space = c.SPACEINFO ?? c.spaceInfo;
  const userAgent = str(c.userAgent) ?? str(c.CLIENTUA) ?? str(c.ua) ?? '';
  return {
    uniPlatform,
    clientIP: str(c.clientIP) ?? str(c.CLIENTIP) ?? '127.0.0.1',
    userAgent,
    appId: str(c.appId) ?? str(c.APPID),
    deviceId: str(c.deviceId) ?? str(c.DEVICEID),
    // only the platform-set SPACEINFO (classic / VK context) names the space; a client can upload
    // arbitrary extra clientInfo keys, so a bare `spaceId` there is not trusted
    spaceId: str(space?.spaceId),
    locale: str(c.locale) ?? str(c.LOCALE) ?? str(c.appLanguage),
    stat: {
      platform: uniPlatform,
      app_version: str(c.appVersion),
      app_version_code: str(c.appVersionCode),
      app_wgt_version: str(c.appWgtVersion),
      os: str(c.osName) ?? str(c.OS),
      ua: userAgent,
      channel: str(c.channel),
      scene: str(c.scene),
    },
  };
}

/** vk-uni-pay's legacy `platform` value returned by createPayment (h5 / app-plus / mp-weixin ...) */
export function legacyPlatform(uniPlatform: UniPlatform): string {
  return uniPlatform === 'web' ? 'h5' : uniPlatform === 'app' ? 'app-plus' : uniPlatform;
}

export interface PayTypeInput {
  provider: ProviderName;
  uniPlatform: UniPlatform;
  userAgent: string;
  isPC?: boolean;
  needQRcode?: boolean | 'image';
  alipayAppPayToH5Pay?: boolean;
}

export interface PayTypeDecision {
  payType: PayType;
  platformKey: PlatformKey;
  /** the client shows a QR code (PC or forced) */
  qr: boolean;
}

const WECHAT_UA = /MicroMessenger/i;

/** The scene for a provider on a client, from the provider's `detect` row in the catalog. */
export function detectPayType(input: PayTypeInput): PayTypeDecision {
  const { provider, uniPlatform: p } = input;
  const entry = providerEntry(provider);
  if (!entry) throw new PayError('PROVIDER_INVALID');
  const d = entry.detect;
  const decide = (platformKey: PlatformKey, qr = false): PayTypeDecision => ({
    payType: `${provider}_${platformKey}` as PayType,
    platformKey,
    qr: qr || !!d.alwaysQr,
  });
  if (d.qrScene && input.needQRcode) return decide(d.qrScene, true);
  if (p === 'web' && d.web) {
    if (input.isPC) return decide(d.web.pc, true);
    if (d.web.wechat && WECHAT_UA.test(input.userAgent)) return decide(d.web.wechat);
    return decide(d.web.mobile);
  }
  const key = d.platforms[p];
  if (!key) throw new PayError('PLATFORM_UNSUPPORTED', { platform: p, provider });
  if (p === 'app' && d.qrScene && d.appToQrSwitch && input[d.appToQrSwitch]) return decide(d.qrScene, true);
  return decide(key);
}

/** Pay types that cannot work without the payer's openid. */
export function needsOpenid(payType: PayType): boolean {
  return sceneFacts(payType)?.needsOpenid === true;
}
