/** urllib-style `uniCloud.httpclient` on node http/https (conventions §6). */
import http from 'http';
import https from 'https';
import { URL } from 'url';
import type { HttpClient, HttpClientOptions, HttpClientResult } from '../../types/unicloud-server';

const DEFAULT_TIMEOUT = 5000;
const MAX_REDIRECTS = 10;

function lowerHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? (k.toLowerCase() === 'set-cookie' ? v.join('\n') : v.join(', ')) : String(v);
  }
  return out;
}

function encodeForm(data: Record<string, unknown>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(data)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) sp.append(k, String(x));
    else sp.append(k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  }
  return sp.toString();
}

function timeoutMs(t: HttpClientOptions['timeout']): number {
  if (Array.isArray(t)) return (Number(t[0]) || 0) + (Number(t[1]) || 0) || DEFAULT_TIMEOUT;
  return typeof t === 'number' && t > 0 ? t : DEFAULT_TIMEOUT;
}

function makeError(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const e = new Error(message);
  e.name = name;
  Object.assign(e, extra);
  return e;
}

/**
 * Crash hook of the crash-point suite (test/reliability): with LOCAL_UNICLOUD_CRASH set to
 * `before:<text>` or `after:<text>`, this process SIGKILLs itself right before sending, or right
 * after receiving the answer to, a request whose method, URL or body contains <text>. Inert unless
 * the variable is set; the local runtime is never shipped.
 */
function crashPoint(when: 'before' | 'after', method: string, url: URL, body: Buffer | undefined) {
  const spec = process.env.LOCAL_UNICLOUD_CRASH;
  if (!spec || !spec.startsWith(when + ':')) return;
  const text = spec.slice(when.length + 1);
  if (`${method} ${url} ${body ? body.toString('utf8') : ''}`.includes(text)) process.kill(process.pid, 'SIGKILL');
}

export function createHttpClient(): HttpClient {
  async function request<D = unknown>(url: string, options: HttpClientOptions = {}): Promise<HttpClientResult<D>> {
    const method = (options.method || 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.headers || {})) headers[k.toLowerCase()] = String(v);
    let target = new URL(url);
    let body: Buffer | undefined;
    if (options.content !== undefined && options.content !== null) {
      body = Buffer.isBuffer(options.content) ? options.content : Buffer.from(String(options.content));
    } else if (options.data && typeof options.data === 'object') {
      if (method === 'GET' || method === 'HEAD' || method === 'DELETE') {
        const qs = encodeForm(options.data);
        if (qs) target = new URL(target.toString() + (target.search ? '&' : '?') + qs);
      } else if (options.contentType === 'json') {
        body = Buffer.from(JSON.stringify(options.data));
        headers['content-type'] ||= 'application/json';
      } else {
        body = Buffer.from(encodeForm(options.data));
        headers['content-type'] ||= 'application/x-www-form-urlencoded';
      }
    }
    if (options.contentType === 'json' && body) headers['content-type'] ||= 'application/json';
    else if (options.contentType && options.contentType !== 'json' && body) headers['content-type'] ||= options.contentType;
    if (body) headers['content-length'] = String(body.length);
    if (options.dataType === 'json') headers['accept'] ||= 'application/json';

    const limit = timeoutMs(options.timeout);
    const started = Date.now();
    const requestUrls: string[] = [];

    const once = (u: URL, m: string, b: Buffer | undefined) =>
      new Promise<{ res: http.IncomingMessage; buf: Buffer }>((resolve, reject) => {
        const lib = u.protocol === 'https:' ? https : http;
        if (u.protocol !== 'http:' && u.protocol !== 'https:') {
          reject(makeError('RequestError', `unsupported protocol ${u.protocol}`));
          return;
        }
        requestUrls.push(u.toString());
        const remaining = limit - (Date.now() - started);
        const req = lib.request(u, { method: m, headers: b ? headers : omitBodyHeaders(headers) }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ res, buf: Buffer.concat(chunks) }));
          res.on('error', reject);
        });
        const timer = setTimeout(
          () => {
            req.destroy(makeError('ResponseTimeoutError', `Request timeout for ${limit} ms`, { code: 'ETIMEDOUT', status: -1 }));
          },
          Math.max(remaining, 1),
        );
        req.on('close', () => clearTimeout(timer));
        req.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        if (b) req.write(b);
        req.end();
      });

    let cur = target;
    let m = method;
    let b = body;
    crashPoint('before', m, cur, b);
    let out = await once(cur, m, b);
    crashPoint('after', m, cur, b);
    for (let i = 0; options.followRedirect && i < MAX_REDIRECTS; i++) {
      const st = out.res.statusCode || 0;
      const loc = out.res.headers.location;
      if (![301, 302, 303, 307, 308].includes(st) || !loc) break;
      cur = new URL(loc, cur);
      if (st === 303 || ((st === 301 || st === 302) && m === 'POST')) {
        m = 'GET';
        b = undefined;
      }
      out = await once(cur, m, b);
    }

    const status = out.res.statusCode || 0;
    const resHeaders = lowerHeaders(out.res.headers);
    let data: unknown = out.buf;
    if (options.dataType === 'text') data = out.buf.toString('utf8');
    else if (options.dataType === 'json') {
      const text = out.buf.toString('utf8');
      if (!text.trim()) data = null;
      else {
        try {
          data = JSON.parse(text);
        } catch (e) {
          throw makeError('JSONResponseFormatError', `${(e as Error).message} (status ${status})`, { status, headers: resHeaders });
        }
      }
    }
    return {
      status,
      headers: resHeaders,
      data: data as D,
      res: Object.assign(
        { status, statusCode: status, headers: resHeaders },
        { rt: Date.now() - started, size: out.buf.length, requestUrls },
      ),
    };
  }
  return { request };
}

function omitBodyHeaders(h: Record<string, string>): Record<string, string> {
  const o = { ...h };
  delete o['content-length'];
  return o;
}
