/**
 * A loopback fault proxy in front of a sandbox gateway (dev and tests only). Point a provider
 * node's `gateway` at `proxy.url`; requests pass through unchanged until a fault is armed, then
 * the next matching request(s) meet it:
 * - hang: held without an answer until the client gives up (never forwarded);
 * - reset: the connection is dropped (never forwarded);
 * - 5xx: 503 with an HTML page, as a load balancer answers (never forwarded);
 * - invalid-json: forwarded, the answer's body replaced by broken JSON (headers kept);
 * - unsigned: forwarded, the answer's signature removed (WeChat Pay v3 `Wechatpay-*` headers,
 *   a v2 XML `<sign>`, a JSON `sign` member);
 * - mis-signed: forwarded, the signature replaced by one that does not verify;
 * - forwarded-then-lost: forwarded (the gateway acts on it), then the connection is dropped;
 * - forwarded-then-unsigned-4xx: forwarded, then an unsigned `400 PARAM_ERROR` is answered.
 * For protocols without response signatures (TLS only), unsigned and mis-signed pass the answer
 * through unchanged: there is nothing to strip.
 */
import { randomBytes } from 'node:crypto';
import { nodeTransport, startLoopbackServer, type PeerRequest, type PeerResponse } from './loopback';

export const FAULTS = [
  'hang',
  'reset',
  '5xx',
  'invalid-json',
  'unsigned',
  'mis-signed',
  'forwarded-then-lost',
  'forwarded-then-unsigned-4xx',
] as const;
export type Fault = (typeof FAULTS)[number];

/** Faults after which the gateway has acted on the request. */
export const FORWARDED_FAULTS: readonly Fault[] = [
  'invalid-json',
  'unsigned',
  'mis-signed',
  'forwarded-then-lost',
  'forwarded-then-unsigned-4xx',
];

export interface FaultProxy {
  url: string;
  /** arms `fault` for the next `times` requests that `match` (default: any request) */
  inject(fault: Fault, match?: (req: PeerRequest) => boolean, times?: number): void;
  /** disarms every fault */
  clear(): void;
  /** faults met so far (fault and request path) */
  injected: Array<{ fault: Fault; path: string }>;
  close(): Promise<void>;
}

/** The answer without its signature (or with a wrong one when `forge`), whatever the protocol. */
function tamperSignature(res: PeerResponse & { headers: Record<string, string> }, forge: boolean): PeerResponse {
  const headers = { ...res.headers };
  const wrong = randomBytes(256).toString('base64');
  for (const k of Object.keys(headers)) {
    if (k !== 'wechatpay-signature' && !(k.startsWith('wechatpay-') && !forge)) continue;
    if (forge) headers[k] = wrong;
    else delete headers[k];
  }
  let body = Buffer.isBuffer(res.body) ? res.body.toString('utf8') : res.body;
  if (/<sign>/.test(body))
    body = body.replace(/<sign>.*?<\/sign>/s, forge ? `<sign><![CDATA[${randomBytes(16).toString('hex').toUpperCase()}]]></sign>` : '');
  else if (/"sign"\s*:\s*"/.test(body)) body = body.replace(/("sign"\s*:\s*)"[^"]*"/, forge ? `$1"${wrong}"` : '$1""');
  return { ...res, headers, body };
}

/** `target`: the gateway base URL, or a function giving it (when the gateway starts after the proxy). */
export async function startFaultProxy(target: string | (() => string)): Promise<FaultProxy> {
  const upstream = nodeTransport();
  const armed: Array<{ fault: Fault; match: (req: PeerRequest) => boolean; left: number }> = [];
  const injected: FaultProxy['injected'] = [];
  const hanging = new Set<() => void>();
  const base = () => (typeof target === 'function' ? target() : target).replace(/\/+$/, '');

  const forward = async (req: PeerRequest) => {
    const headers = { ...req.headers };
    for (const k of ['host', 'connection', 'content-length', 'transfer-encoding']) delete headers[k];
    const res = await upstream.request({
      method: req.method as 'GET',
      url: base() + req.url,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body,
      timeoutMs: 10_000,
    });
    const out = { ...res.headers };
    for (const k of ['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'date']) delete out[k];
    return { status: res.status, headers: out, body: res.body };
  };

  const server = await startLoopbackServer(async (req): Promise<PeerResponse> => {
    const i = armed.findIndex((a) => a.left > 0 && a.match(req));
    if (i < 0) return forward(req);
    const fault = armed[i].fault;
    if (--armed[i].left === 0) armed.splice(i, 1);
    injected.push({ fault, path: req.path });
    switch (fault) {
      case 'hang':
        return new Promise((resolve) => {
          const release = () => resolve({ reset: true, body: '' });
          hanging.add(release);
        });
      case 'reset':
        return { reset: true, body: '' };
      case '5xx':
        return {
          status: 503,
          headers: { 'content-type': 'text/html' },
          body: '<html><body>503 Service Temporarily Unavailable</body></html>',
        };
      case 'invalid-json': {
        const res = await forward(req);
        return { ...res, body: '{"code":"SUCC' };
      }
      case 'unsigned':
        return tamperSignature(await forward(req), false);
      case 'mis-signed':
        return tamperSignature(await forward(req), true);
      case 'forwarded-then-lost':
        await forward(req);
        return { reset: true, body: '' };
      case 'forwarded-then-unsigned-4xx':
        await forward(req);
        return {
          status: 400,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ code: 'PARAM_ERROR', message: '参数错误' }),
        };
    }
  });

  return {
    url: server.url,
    inject(fault, match = () => true, times = 1) {
      armed.push({ fault, match, left: times });
    },
    clear() {
      armed.length = 0;
    },
    injected,
    async close() {
      for (const release of hanging) release();
      hanging.clear();
      await server.close();
    },
  };
}
