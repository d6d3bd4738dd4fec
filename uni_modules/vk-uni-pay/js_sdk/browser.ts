/**
 * Default platform adapters for a real runtime (uni-app H5 / App / mini program). Each one only
 * touches its global when called, so importing this module is safe on every platform.
 */
import type { IapChannelLike, LocationLike, PlusLike, TimerLike, WeixinJSBridgeLike } from './types';

type AnyGlobal = Record<string, unknown> & typeof globalThis;
const g = (): AnyGlobal => globalThis as AnyGlobal;

export const globalTimers: TimerLike = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

/** `window.location`, when there is one (H5). */
export function browserLocation(): LocationLike | undefined {
  const loc = g().location as Location | undefined;
  if (!loc || typeof loc.assign !== 'function') return undefined;
  return {
    get href() {
      return loc.href;
    },
    assign: (url: string) => loc.assign(url),
  };
}

export function browserNavigator(): { platform?: string; userAgent?: string } | undefined {
  const nav = g().navigator as Navigator | undefined;
  return nav ? { platform: nav.platform, userAgent: nav.userAgent } : undefined;
}

export function browserIsHidden(): boolean {
  const doc = g().document as Document | undefined;
  return !!doc && doc.visibilityState === 'hidden';
}

export function browserReplaceUrl(url: string): void {
  const h = g().history as History | undefined;
  try {
    h?.replaceState(h.state, '', url);
  } catch {
    /* not allowed: keep the URL */
  }
}

/** Waits for `WeixinJSBridgeReady` (at most `timeoutMs`) inside the WeChat browser. */
export function getWeixinJSBridge(timeoutMs = 5000): Promise<WeixinJSBridgeLike> {
  return new Promise((resolve, reject) => {
    const now = g().WeixinJSBridge as WeixinJSBridgeLike | undefined;
    if (now) return resolve(now);
    const doc = g().document as Document | undefined;
    if (!doc) return reject({ errCode: 'NO_BRIDGE', errMsg: 'WeixinJSBridge not available' });
    const timer = setTimeout(() => reject({ errCode: 'NO_BRIDGE', errMsg: 'WeixinJSBridge not available' }), timeoutMs);
    doc.addEventListener(
      'WeixinJSBridgeReady',
      () => {
        clearTimeout(timer);
        const b = g().WeixinJSBridge as WeixinJSBridgeLike | undefined;
        if (b) resolve(b);
        else reject({ errCode: 'NO_BRIDGE', errMsg: 'WeixinJSBridge not available' });
      },
      { once: true },
    );
  });
}

/** `plus` in an App. */
export function appPlus(): PlusLike | undefined {
  const p = g().plus as PlusLike | undefined;
  return p && p.runtime ? p : undefined;
}

interface PlusPayment {
  getChannels(success: (channels: (IapChannelLike & { id: string })[]) => void, fail: (e: unknown) => void): void;
}

/** The `appleiap` channel of `plus.payment` (App on iOS). */
export function getIapChannel(): Promise<IapChannelLike> {
  return new Promise((resolve, reject) => {
    const payment = (g().plus as { payment?: PlusPayment } | undefined)?.payment;
    if (!payment) return reject({ errCode: 'NO_IAP', errMsg: 'plus.payment not available' });
    payment.getChannels((channels) => {
      const c = channels.find((ch) => ch.id === 'appleiap');
      if (c) resolve(c);
      else reject({ errCode: 'NO_IAP', errMsg: 'appleiap channel not available' });
    }, reject);
  });
}
