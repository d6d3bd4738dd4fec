/** Where the client runs: compile-time platform + browser facts. Pure functions. */
import type { ClientPlatform, PayEnv } from './types';

/** Normalises a uni-app platform name (`process.env.UNI_PLATFORM`, `uni.getSystemInfoSync().uniPlatform`). */
export function normalizePlatform(name: string | undefined | null): ClientPlatform {
  switch ((name || '').toLowerCase()) {
    case 'h5':
    case 'web':
      return 'h5';
    case 'app':
    case 'app-plus':
    case 'app-ios':
    case 'app-android':
    case 'app-harmony':
      return 'app';
    case 'mp-weixin':
      return 'mp-weixin';
    case 'mp-alipay':
      return 'mp-alipay';
    case 'mp-harmony':
      return 'mp-harmony';
    case 'mp-toutiao':
      return 'mp-toutiao';
    default:
      return 'other';
  }
}

/**
 * Desktop when `navigator.platform` names Windows, macOS or a desktop Unix (X11, Linux).
 * Android phones report "Linux armv8l"/"Linux aarch64": ARM Linux is not counted as PC.
 */
export function isPCPlatform(navigatorPlatform: string | undefined | null): boolean {
  const p = navigatorPlatform || '';
  if (/^(Win|Mac|X11)/i.test(p)) return true;
  return /^Linux/i.test(p) && !/arm|aarch64/i.test(p);
}

export function isWeixinUA(ua: string | undefined | null): boolean {
  return /MicroMessenger/i.test(ua || '');
}

export function isAlipayUA(ua: string | undefined | null): boolean {
  return /AlipayClient/i.test(ua || '');
}

/**
 * Builds the environment. `isPC` only applies to H5; in a mini program or an App it is false.
 * The WeChat desktop browser counts as PC (its payments are QR payments since vk 1.12.2).
 */
export function detectEnv(compilePlatform: string | undefined | null, nav?: { platform?: string; userAgent?: string } | null): PayEnv {
  const platform = normalizePlatform(compilePlatform);
  const ua = nav?.userAgent || '';
  const h5 = platform === 'h5';
  return {
    platform,
    isPC: h5 && isPCPlatform(nav?.platform) && !/Android|iPhone|iPad|iPod/i.test(ua),
    inWeixin: h5 && isWeixinUA(ua),
    inAlipay: h5 && isAlipayUA(ua),
  };
}
