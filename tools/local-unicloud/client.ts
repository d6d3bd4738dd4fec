/** The `/unicloud/client` protocol of the `dcloud` provider of @dcloudio/uni-cloud, client side. */
import crypto from 'crypto';
import http from 'http';
import { URL } from 'url';
import type { ClientInfo } from '../../types/unicloud-server';

/** A value as the client's template string renders it; an object whose own toString is not callable as JSON instead of a throw. */
function asText(v: unknown): string {
  try {
    return `${v}`;
  } catch {
    return JSON.stringify(v);
  }
}

/**
 * `x-serverless-sign`: hex HMAC-MD5(clientSecret, 'k=v&...') over the body keys sorted, skipping
 * falsy values, exactly as the uni-cloud client builds it.
 */
export function signClientRequest(body: Record<string, unknown>, clientSecret: string): string {
  const text = Object.keys(body)
    .sort()
    .filter((k) => !!body[k])
    .map((k) => `${k}=${asText(body[k])}`)
    .join('&');
  return crypto.createHmac('md5', clientSecret).update(text, 'utf8').digest('hex');
}

export interface CallCloudObjectOptions {
  clientInfo?: ClientInfo;
  clientSecret?: string;
  spaceId?: string;
  uniIdToken?: string;
  /** sent as x-forwarded-for (the runtime trusts it from loopback) */
  forwardedFor?: string;
  userAgent?: string;
  /** override the computed x-serverless-sign (tests of the sign check) */
  sign?: string;
}

/** The parsed reply body plus the HTTP status. */
export interface CloudCallReply {
  httpStatus: number;
  success: boolean;
  data?: any;
  error?: { code: string; message: string; [k: string]: unknown };
}

export function postJson(url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      u,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode || 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Invokes a cloud object method over HTTP like `uniCloud.importObject(name)[method](...params)` does. */
export async function callCloudObject(
  url: string,
  name: string,
  method: string,
  params: unknown[],
  opts: CallCloudObjectOptions = {},
): Promise<CloudCallReply> {
  const functionArgs: Record<string, unknown> = { method, params, clientInfo: opts.clientInfo || {} };
  if (opts.uniIdToken) functionArgs.uniIdToken = opts.uniIdToken;
  const body = {
    method: 'serverless.function.runtime.invoke',
    params: JSON.stringify({ functionTarget: name, functionArgs }),
    spaceId: opts.spaceId || 'local-space',
    timestamp: Date.now(),
  };
  const headers: Record<string, string> = {
    'x-serverless-sign': opts.sign ?? signClientRequest(body, opts.clientSecret || 'local-secret'),
    'x-client-info': encodeURIComponent(JSON.stringify(opts.clientInfo || {})),
  };
  if (opts.forwardedFor) headers['x-forwarded-for'] = opts.forwardedFor;
  if (opts.userAgent) headers['user-agent'] = opts.userAgent;
  const r = await postJson(url.replace(/\/+$/, '') + '/unicloud/client', body, headers);
  let parsed: any;
  try {
    parsed = JSON.parse(r.text);
  } catch {
    parsed = { success: false, error: { code: 'SYS_ERR', message: `non-JSON reply (HTTP ${r.status})` } };
  }
  return { httpStatus: r.status, ...parsed };
}
