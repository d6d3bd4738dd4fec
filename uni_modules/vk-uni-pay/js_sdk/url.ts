/** URL helpers for the mweb / cashier return trip. Pure functions (no DOM). */

function splitHash(url: string): [string, string] {
  const i = url.indexOf('#');
  return i < 0 ? [url, ''] : [url.slice(0, i), url.slice(i)];
}

function setParams(part: string, params: Record<string, string | null>): string {
  const q = part.indexOf('?');
  const path = q < 0 ? part : part.slice(0, q);
  const search = new URLSearchParams(q < 0 ? '' : part.slice(q + 1));
  for (const [k, v] of Object.entries(params)) {
    if (v === null) search.delete(k);
    else search.set(k, v);
  }
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * Sets (or with `null` removes) query parameters of a page URL. With a hash route
 * (`…/#/pages/x/x?a=1`) the parameters belong to the hash part, where the page reads them.
 */
export function withPageParams(url: string, params: Record<string, string | null>): string {
  const [base, hash] = splitHash(url);
  if (hash.startsWith('#/')) return base + '#' + setParams(hash.slice(1), params);
  return setParams(base, params) + hash;
}

/** Reads a query parameter of a page URL (hash route first, then the search part). */
export function getPageParam(url: string, key: string): string | null {
  const [base, hash] = splitHash(url);
  for (const part of [hash.slice(1), base]) {
    const q = part.indexOf('?');
    if (q < 0) continue;
    const v = new URLSearchParams(part.slice(q + 1)).get(key);
    if (v !== null) return v;
  }
  return null;
}

/** Appends one query parameter to a gateway URL (`mweb_url` already carries a query). */
export function appendQuery(url: string, key: string, value: string): string {
  const [base, hash] = splitHash(url);
  return `${base}${base.includes('?') ? '&' : '?'}${encodeURIComponent(key)}=${encodeURIComponent(value)}${hash}`;
}

/** The Alipay app deep link that opens a 当面付 QR URL in the Alipay app from a mobile browser. */
export function alipayAppLink(codeUrl: string): string {
  return `alipays://platformapi/startapp?saId=10000007&qrcode=${encodeURIComponent(`${codeUrl}?_s=web-other`)}`;
}
