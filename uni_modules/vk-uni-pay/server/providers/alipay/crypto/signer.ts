/**
 * Request signing (https://opendocs.alipay.com/common/02kf5q): every parameter except `sign`, empty
 * values left out, sorted by key (ASCII), joined as `k=v&…` with raw (not URL-encoded) values,
 * signed SHA256withRSA (RSA2; SHA1withRSA for the legacy RSA type) with the app private key, base64.
 */
import { sign as rsaSign, type KeyObject } from 'node:crypto';

export type AlipaySignType = 'RSA2' | 'RSA';

/** node:crypto digest per Alipay sign_type */
export const DIGEST: Record<AlipaySignType, string> = { RSA2: 'sha256', RSA: 'sha1' };

export type AlipayParams = Record<string, string | undefined>;

/** `k=v&…` over the non-empty params except `sign` (and `sign_type` when asked: notifications) */
export function signContent(params: AlipayParams, opts: { dropSignType?: boolean; keepEmpty?: boolean } = {}): string {
  return Object.keys(params)
    .filter((k) => {
      if (k === 'sign' || (opts.dropSignType && k === 'sign_type')) return false;
      const v = params[k];
      return v !== undefined && (opts.keepEmpty || v !== '');
    })
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export interface AlipaySigner {
  readonly signType: AlipaySignType;
  /** base64 signature over the UTF-8 bytes of content */
  sign(content: string): string;
}

export function createAlipaySigner(privateKey: KeyObject, signType: AlipaySignType = 'RSA2'): AlipaySigner {
  const digest = DIGEST[signType];
  return Object.freeze({
    signType,
    sign: (content: string) => rsaSign(digest, Buffer.from(content, 'utf8'), privateKey).toString('base64'),
  });
}

/**
 * The params with `sign_type` and `sign` added, empty values dropped (so what is sent is what was
 * signed), as the URL-encoded `k=v&…` string sent to gateway.do or handed to the Alipay App SDK.
 */
export function signedQuery(signer: AlipaySigner, params: AlipayParams): string {
  const sent: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && k !== 'sign') sent[k] = v;
  sent.sign_type = signer.signType;
  sent.sign = signer.sign(signContent(sent));
  return Object.entries(sent)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
}
