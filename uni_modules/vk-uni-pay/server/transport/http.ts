/**
 * The production HTTP transport (uniCloud.httpclient, urllib) behind the `HttpTransport` port
 * (ports.ts), so the sandbox, a test double or the benchmark's in-process gateway can stand in.
 */
import type { HttpRequest, HttpResponse, HttpTransport } from '../ports';

export type { HttpRequest, HttpResponse, HttpTransport };

const DEFAULT_TIMEOUT_MS = 10_000;

/** uniCloud.httpclient, read lazily so the module can load before the runtime sets the global. */
export function uniCloudTransport(): HttpTransport {
  return {
    async request(req) {
      const res = await uniCloud.httpclient.request<Buffer>(req.url, {
        method: req.method,
        headers: req.headers,
        content: req.body,
        dataType: '',
        timeout: req.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        followRedirect: false,
      });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers || {})) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
      const body = Buffer.isBuffer(res.data)
        ? res.data
        : Buffer.from(typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? ''));
      return { status: res.status, headers, body };
    },
  };
}

/** Wraps a transport and counts calls (benchmarks, tests). */
export function countingTransport(inner: HttpTransport): HttpTransport & { calls: HttpRequest[] } {
  const calls: HttpRequest[] = [];
  return {
    calls,
    request(req) {
      calls.push(req);
      return inner.request(req);
    },
  };
}

/** Node's fetch (Node 18+): for code that runs outside uniCloud, such as the `doctor` CLI. */
export function fetchTransport(): HttpTransport {
  return {
    async request(req) {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body as BodyInit | undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(req.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
      return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) };
    },
  };
}
