/**
 * Client-side helpers for tests that talk to the WeChat Pay sandbox without a payment SDK:
 * hand-signed v3 requests, signature checks and AES-GCM decryption with bare node crypto,
 * and a loopback receiver for notifications. Written apart from `protocol.ts` on purpose.
 */
import http from 'node:http';
import { createDecipheriv, createSign, createVerify, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function flatHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export function rawRequest(url: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent: false, headers: body !== undefined ? { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } : headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: flatHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A v3 request signed by hand (WECHATPAY2-SHA256-RSA2048). */
export function signedV3Request(
  baseUrl: string,
  cred: { mchid: string; serial: string; privateKeyPem: string },
  method: string,
  pathAndQuery: string,
  body?: string,
  extra: { headers?: Record<string, string>; timestamp?: string; nonce?: string; tamperBody?: string } = {},
): Promise<RawResponse> {
  const ts = extra.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = extra.nonce ?? randomBytes(16).toString('hex');
  const signature = createSign('RSA-SHA256')
    .update(`${method}\n${pathAndQuery}\n${ts}\n${nonce}\n${body ?? ''}\n`)
    .sign(cred.privateKeyPem, 'base64');
  const auth = `WECHATPAY2-SHA256-RSA2048 signature="${signature}",timestamp="${ts}",serial_no="${cred.serial}",nonce_str="${nonce}",mchid="${cred.mchid}"`;
  return rawRequest(baseUrl + pathAndQuery, method, extra.tamperBody ?? body, {
    Authorization: auth,
    Accept: 'application/json',
    'User-Agent': 'sandbox-testkit/1.0',
    ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    ...(extra.headers ?? {}),
  });
}

/** Verifies `Wechatpay-Signature` over `TS\nNONCE\nBODY\n` (header names are case-insensitive). */
export function verifyWechatpay(headers: Record<string, string>, body: string, publicKeyOrCertPem: string): boolean {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  const ts = h['wechatpay-timestamp'];
  const nonce = h['wechatpay-nonce'];
  const sig = h['wechatpay-signature'];
  if (!ts || !nonce || !sig || !h['wechatpay-serial']) return false;
  return createVerify('RSA-SHA256').update(`${ts}\n${nonce}\n${body}\n`).verify(publicKeyOrCertPem, sig, 'base64');
}

export function decryptResource(apiV3Key: string, r: { nonce: string; associated_data?: string; ciphertext: string }): string {
  const buf = Buffer.from(r.ciphertext, 'base64');
  const d = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key), Buffer.from(r.nonce));
  d.setAAD(Buffer.from(r.associated_data ?? ''));
  d.setAuthTag(buf.subarray(buf.length - 16));
  return Buffer.concat([d.update(buf.subarray(0, buf.length - 16)), d.final()]).toString('utf8');
}

export interface ReceivedNotification {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** A loopback notify_url; `answer` decides each reply (default 204). */
export async function startNotifyReceiver(
  answer: (n: ReceivedNotification, index: number) => { status: number; body?: string } = () => ({ status: 204 }),
) {
  const received: ReceivedNotification[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n: ReceivedNotification = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: flatHeaders(req.headers),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(n);
      const a = answer(n, received.length - 1);
      res.writeHead(a.status, a.body !== undefined ? { 'Content-Type': 'text/plain; charset=utf-8' } : {});
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
