// Small helpers shared by the demo pages (display only; the server prices every order).

export const SHOP = 'demo-shop';

/** The demo's business cloud object (customUI: the pages show their own errors). */
export function shop() {
  return uniCloud.importObject(SHOP, { customUI: true });
}

/** Display helper: integer fen -> "12.34" without floating point. */
export function fenToYuan(fen) {
  const n = Math.trunc(Number(fen) || 0);
  const sign = n < 0 ? '-' : '';
  const abs = Math.abs(n);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** A stable demo user: `?user=` wins (tests use it), else the one stored on this device. */
export function demoUserId(options) {
  const fromQuery = options && options.user ? String(options.user) : '';
  if (fromQuery) {
    uni.setStorageSync('demo_user_id', fromQuery);
    return fromQuery;
  }
  let id = uni.getStorageSync('demo_user_id');
  if (!id) {
    id = 'demo-' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    uni.setStorageSync('demo_user_id', id);
  }
  return id;
}

export function errorText(e) {
  if (!e) return '';
  return e.errMsg || e.message || String(e);
}
