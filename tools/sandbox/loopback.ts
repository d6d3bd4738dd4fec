/**
 * Loopback plumbing for the sandbox peers (apple, wxapi, vkspay): a tiny HTTP server on
 * 127.0.0.1 (port 0 by default) and an `HttpTransport` over node:http for tests and for peers
 * that call back into the plugin (pushes, notifications). Dev and tests only.
 *
 * (Lives here because the team rules give this folder to the IAP/xpay/VksPay work; it is a
 * candidate for `tools/sandbox/` once someone owns a shared place.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';

export interface PeerRequest {
  method: string;
  /** path without query */
  path: string;
  /** the request target exactly as received (path and query, not re-encoded) */
  url: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
}

export interface PeerResponse {
  status?: number;
  headers?: Record<string, string>;
  body: string | Buffer;
  /** drop the connection without an answer (fault injection) */
  reset?: boolean;
}

export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

export async function startLoopbackServer(
  handler: (req: PeerRequest) => Promise<PeerResponse> | PeerResponse,
  port = 0,
): Promise<LoopbackServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const u = new URL(req.url || '/', 'http://127.0.0.1');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v ?? '');
      let out: PeerResponse;
      try {
        out = await handler({
          method: req.method || 'GET',
          path: u.pathname,
          url: req.url || '/',
          query: Object.fromEntries(u.searchParams),
          headers,
          body: Buffer.concat(chunks),
        });
      } catch (e) {
        out = { status: 500, body: JSON.stringify({ error: String((e as Error)?.message ?? e) }) };
      }
      if (out.reset) {
        req.socket.destroy();
        return;
      }
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json; charset=utf-8', ...(out.headers ?? {}) });
      res.end(out.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** HttpTransport over node:http (loopback gateways in tests, peers pushing to the plugin). */
export function nodeTransport(): HttpTransport {
  return {
    request(req: HttpRequest): Promise<HttpResponse> {
      return new Promise((resolve, reject) => {
        const u = new URL(req.url);
        const r = http.request(
          { method: req.method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers: req.headers, agent: false },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(res.headers))
                headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v ?? '');
              resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
            });
            res.on('error', reject);
          },
        );
        r.setTimeout(req.timeoutMs ?? 10_000, () => r.destroy(new Error('timeout')));
        r.on('error', reject);
        if (req.body !== undefined) r.write(req.body);
        r.end();
      });
    },
  };
}

/** Delivery bookkeeping shared by the peers that push to the plugin. */
export interface Delivery {
  key: string;
  url: string;
  attempts: number;
  acked: boolean;
  lastStatus?: number;
  lastReply?: string;
}

export function deliveryLog() {
  const deliveries: Delivery[] = [];
  const waiters: Array<{ key: string; resolve: (d: Delivery) => void }> = [];
  return {
    deliveries,
    /** records an attempt; resolves waiters when acked */
    record(d: Delivery) {
      if (!deliveries.includes(d)) deliveries.push(d);
      if (d.acked) {
        for (const w of waiters.splice(0)) {
          if (w.key === d.key) w.resolve(d);
          else waiters.push(w);
        }
      }
    },
    waitFor(key: string, timeoutMs = 5000): Promise<Delivery> {
      const done = deliveries.find((d) => d.key === key && d.acked);
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no acknowledged delivery for ${key} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ key, resolve: (d) => (clearTimeout(t), resolve(d)) });
      });
    },
  };
}

/** Sends `send()` until `isAck(reply)` or the delays run out. */
export async function deliverWithRetries(
  d: Delivery,
  send: () => Promise<HttpResponse>,
  isAck: (res: HttpResponse) => boolean,
  delaysMs: number[],
  onChange: (d: Delivery) => void,
): Promise<Delivery> {
  for (let i = 0; i <= delaysMs.length; i++) {
    d.attempts++;
    try {
      const res = await send();
      d.lastStatus = res.status;
      d.lastReply = res.body.toString('utf8');
      d.acked = isAck(res);
    } catch (e) {
      d.lastReply = String((e as Error)?.message ?? e);
    }
    onChange(d);
    if (d.acked || i === delaysMs.length) break;
    await new Promise((r) => setTimeout(r, delaysMs[i]));
  }
  return d;
}
