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

/** The same rule demo-shop applies on the server. */
export const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const OUT_TRADE_NO = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A stable demo user: `?user=` wins (tests use it), else the one stored on this device.
 * Returns { id, error }: an invalid `?user=` is reported once and never stored.
 * (uni-app has already decoded the page query.)
 */
export function demoUser(options) {
  const fromQuery = options && options.user !== undefined ? String(options.user) : '';
  if (fromQuery) {
    if (!USER_ID.test(fromQuery)) return { id: '', error: '链接中的用户标识无效（只能包含字母、数字、_ 和 -），请检查链接' };
    uni.setStorageSync('demo_user_id', fromQuery);
    return { id: fromQuery, error: '' };
  }
  let id = uni.getStorageSync('demo_user_id');
  if (!id || !USER_ID.test(id)) {
    id = 'demo-' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    uni.setStorageSync('demo_user_id', id);
  }
  return { id, error: '' };
}

export function errorText(e) {
  if (!e) return '';
  return e.errMsg || e.message || String(e);
}

const PROVIDER_NAMES = { wxpay: '微信支付', alipay: '支付宝', vkspay: 'VksPay', appleiap: 'Apple 内购', 'wxpay-virtual': '虚拟支付' };
export function providerName(p) {
  return PROVIDER_NAMES[p] || p || '-';
}

/** Order status (database) in words. */
export function orderStatusText(status) {
  return { '-1': '已关闭', 0: '待支付', 1: '已支付', 2: '部分退款', 3: '已全额退款' }[status] || '未知';
}
