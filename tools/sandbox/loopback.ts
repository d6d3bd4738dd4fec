/**
 * Loopback plumbing for every sandbox (gateways and peers): a tiny HTTP server on 127.0.0.1
 * (port 0 by default), an `HttpTransport` over node:http for tests and for peers that call back
 * into the plugin (pushes), and one-shot POSTs for gateway notifications. Dev and tests only.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../uni_modules/vk-uni-pay/server/transport/http';

export interface PeerRequest {
  method: string;
  /** the request target exactly as sent (path and query; WeChat Pay v3 signs it) */
  url: string;
  /** path without query */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
}

export interface PeerResponse {
  status?: number;
  headers?: Record<string, string>;
  body: string | Buffer;
}

export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** 0 = ephemeral */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** a larger request body drops the connection */
  maxBodyBytes?: number;
}

export async function startLoopbackServer(
  handler: (req: PeerRequest) => Promise<PeerResponse> | PeerResponse,
  options: number | LoopbackOptions = 0,
): Promise<LoopbackServer> {
  const { port = 0, host = '127.0.0.1', maxBodyBytes = Infinity } = typeof options === 'number' ? { port: options } : options;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBodyBytes) req.destroy();
      else chunks.push(c);
    });
    req.on('end', async () => {
      const u = new URL(req.url || '/', 'http://127.0.0.1');
      // browsers ask every origin for an icon; the cashier pages have none (answered, not a 404)
      if (u.pathname === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v ?? '');
      let out: PeerResponse;
      try {
        out = await handler({
          method: req.method || 'GET',
          url: req.url || '/',
          path: u.pathname,
          query: Object.fromEntries(u.searchParams),
          headers,
          body: Buffer.concat(chunks),
        });
      } catch (e) {
        out = { status: 500, body: JSON.stringify({ error: String((e as Error)?.message ?? e) }) };
      }
      const own = out.headers ?? {};
      // JSON unless the peer names its own type; a bodiless answer (204) carries none
      const typed = Object.keys(own).some((k) => k.toLowerCase() === 'content-type') || out.body.length === 0;
      res.writeHead(out.status ?? 200, typed ? own : { 'content-type': 'application/json; charset=utf-8', ...own });
      res.end(out.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: actual } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${actual}`,
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

/** One POST (http or https) settled as status and text, or 'error' (refused, reset, timeout, bad URL); never rejects. */
export function postOnce(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  inflight?: Set<http.ClientRequest>,
): Promise<{ status: number; text: string } | 'error'> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve('error');
      return;
    }
    const payload = Buffer.from(body, 'utf8');
    const done = (r: { status: number; text: string } | 'error') => {
      inflight?.delete(req);
      resolve(r);
    };
    const req = (u.protocol === 'https:' ? https : http).request(
      u,
      { method: 'POST', agent: false, headers: { ...headers, 'Content-Length': String(payload.length) }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => done('error'));
      },
    );
    inflight?.add(req);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done('error'));
    req.end(payload);
  });
}
