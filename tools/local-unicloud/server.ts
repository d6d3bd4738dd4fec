/** HTTP front of the local runtime: client protocol, URL化, timing, health, static files. */
import crypto from 'crypto';
import fs from 'fs';
import http from 'http';
import path from 'path';
import type { ClientInfo, HttpInfo, IntegratedResponse } from '../../types/unicloud-server';
import { signClientRequest } from './client';
import type { FunctionDef } from './project';
import { newRequestId, RuntimeCore, serialise, type InvokeOutcome } from './runtime';

export const BODY_LIMIT = 2 * 1024 * 1024;
/**
 * How far a client request's `timestamp` may be from our clock. The uniCloud client endpoint does
 * not publish its window; we apply the 15 minutes Aliyun's signed OpenAPI requests are held to.
 */
export const CLIENT_TIMESTAMP_WINDOW_MS = 15 * 60 * 1000;

export interface ServerOptions {
  core: RuntimeCore;
  clientSecret: string;
  staticDir?: string;
  quiet: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

class TooLarge extends Error {}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > BODY_LIMIT) {
      reject(new TooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_LIMIT) {
        reject(new TooLarge());
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function lowerHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown | string) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function isLoopback(addr: string | undefined): boolean {
  return !!addr && (addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.'));
}

function clientIp(req: http.IncomingMessage): string {
  let ip = req.socket.remoteAddress || '';
  if (isLoopback(ip)) {
    const xff = req.headers['x-forwarded-for'];
    const first = (Array.isArray(xff) ? xff[0] : xff || '').split(',')[0].trim();
    if (first) return first;
  }
  if (ip.startsWith('::ffff:')) ip = ip.slice(7);
  return ip;
}

/** Textual bodies stay strings; anything else (binary, xml) is passed base64-encoded as aliyun does. */
function isTextualContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const t = ct.split(';')[0].trim().toLowerCase();
  if (t === 'text/xml') return false;
  if (t.startsWith('text/')) return true;
  return t === 'application/json' || t.endsWith('+json') || t === 'application/x-www-form-urlencoded';
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/**
 * The request target as a URL, read as a path on this host: `//a:99999/` or an absolute form such as
 * `http://[::1/` must not be taken for a host (and must not throw). undefined when it cannot be parsed.
 */
export function requestUrl(target: string | undefined): URL | undefined {
  const t = target || '/';
  try {
    return new URL('http://local' + (t.startsWith('/') ? t : '/' + t));
  } catch {
    return undefined;
  }
}

export function createServer(opts: ServerOptions): http.Server {
  const { core, clientSecret, staticDir, quiet } = opts;

  const findHttpFunction = (pathname: string): { fn: FunctionDef; rest: string } | undefined => {
    let best: { fn: FunctionDef; rest: string } | undefined;
    for (const fn of core.layout.functions.values()) {
      const root = fn.httpPath;
      if (!root) continue;
      let rest: string | undefined;
      if (root === '/') rest = pathname;
      else if (pathname === root) rest = '';
      else if (pathname.startsWith(root + '/')) rest = pathname.slice(root.length);
      if (rest === undefined) continue;
      if (!best || root.length > best.fn.httpPath.length) best = { fn, rest };
    }
    return best;
  };

  async function handleClient(req: http.IncomingMessage, res: http.ServerResponse) {
    const raw = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8'));
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      sendJson(res, 400, { success: false, error: { code: 'InvalidParameter', message: 'request body must be a JSON object' } });
      return;
    }
    const sign = String(req.headers['x-serverless-sign'] || '');
    if (!sign || !safeEqual(sign, signClientRequest(body, clientSecret))) {
      sendJson(res, 400, { success: false, error: { code: 'SIGN_ERROR', message: 'invalid or missing x-serverless-sign' } });
      return;
    }
    const timestamp = Number(body.timestamp);
    if (!Number.isFinite(timestamp) || Math.abs(Date.now() - timestamp) > CLIENT_TIMESTAMP_WINDOW_MS) {
      sendJson(res, 400, { success: false, error: { code: 'SIGN_EXPIRED', message: 'timestamp missing or outside the 15-minute window' } });
      return;
    }
    if (body.method === 'serverless.auth.user.anonymousAuthorize') {
      sendJson(res, 200, { success: true, data: { accessToken: 'local', expiresInSecond: 86400 } });
      return;
    }
    if (body.method !== 'serverless.function.runtime.invoke') {
      sendJson(res, 400, {
        success: false,
        error: {
          code: 'InvalidParameter',
          message: `unsupported method ${typeof body.method === 'string' ? body.method.slice(0, 100) : typeof body.method}`,
        },
      });
      return;
    }
    let target: string;
    let args: Record<string, any>;
    try {
      const p = typeof body.params === 'string' ? JSON.parse(body.params) : body.params;
      target = String(p.functionTarget || '');
      args = p.functionArgs && typeof p.functionArgs === 'object' ? p.functionArgs : {};
    } catch {
      sendJson(res, 400, { success: false, error: { code: 'InvalidParameter', message: 'params must be JSON' } });
      return;
    }
    const fn = core.functionByName(target);
    if (fn?.kind === 'object' && typeof args.method !== 'string') {
      sendJson(res, 400, { success: false, error: { code: 'InvalidParameter', message: 'functionArgs.method must be a string' } });
      return;
    }
    if (!fn) {
      sendJson(res, 404, { success: false, error: { code: 'FUNCTION_NOT_FOUND', message: `cloud function ${target} not found` } });
      return;
    }
    let uploaded: Record<string, unknown> = args.clientInfo && typeof args.clientInfo === 'object' ? args.clientInfo : {};
    if (!args.clientInfo && req.headers['x-client-info']) {
      try {
        uploaded = JSON.parse(decodeURIComponent(String(req.headers['x-client-info'])));
      } catch {
        /* ignore */
      }
    }
    const requestId = newRequestId();
    const clientInfo: ClientInfo = {
      ...uploaded,
      clientIP: clientIp(req),
      userAgent: String(req.headers['user-agent'] || ''),
      source: 'client',
      requestId,
    };
    const uniIdToken = typeof args.uniIdToken === 'string' && args.uniIdToken ? args.uniIdToken : undefined;
    const outcome =
      fn.kind === 'object'
        ? await core.invoke({
            fn,
            source: 'client',
            method: args.method,
            params: Array.isArray(args.params) ? args.params : [],
            clientInfo,
            uniIdToken,
          })
        : await core.invoke({ fn, source: 'client', event: args, clientInfo, uniIdToken });
    replyClient(res, outcome);
  }

  function replyClient(res: http.ServerResponse, outcome: InvokeOutcome) {
    if (!outcome.ok) {
      sendJson(res, outcome.code === 'FunctionBizError' || outcome.code === 'FunctionTimeout' ? 200 : outcome.status, {
        success: false,
        error: { code: outcome.code, message: outcome.message },
      });
      return;
    }
    let text: string | undefined;
    try {
      text = serialise(outcome.value);
    } catch (e) {
      sendJson(res, 200, { success: false, error: { code: 'FunctionBizError', message: (e as Error).message } });
      return;
    }
    sendJson(res, 200, text === undefined ? '{"success":true}' : `{"success":true,"data":${text}}`);
  }

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse, url: URL, fn: FunctionDef, rest: string) {
    const raw = await readBody(req);
    const headers = lowerHeaders(req.headers);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const textual = isTextualContentType(headers['content-type']);
    const isBase64Encoded = raw.length > 0 && !textual;
    const httpInfo: HttpInfo = {
      path: rest || '/',
      httpMethod: (req.method || 'GET').toUpperCase(),
      headers,
      queryStringParameters: query,
      body: isBase64Encoded ? raw.toString('base64') : raw.toString('utf8'),
      isBase64Encoded,
    };
    const requestId = newRequestId();
    const clientInfo: ClientInfo = {
      clientIP: clientIp(req),
      userAgent: headers['user-agent'] || '',
      source: 'http',
      requestId,
    };
    let outcome: InvokeOutcome;
    if (fn.kind === 'object') {
      const method = rest.split('/').filter(Boolean)[0] || '';
      outcome = await core.invoke({ fn, source: 'http', method, params: [query], clientInfo, httpInfo });
    } else {
      outcome = await core.invoke({ fn, source: 'http', event: httpInfo, clientInfo, httpInfo });
    }
    if (!outcome.ok) {
      sendJson(res, outcome.status, { success: false, error: { code: outcome.code, message: outcome.message } });
      return;
    }
    writeHttpResult(res, outcome.value);
  }

  function writeHttpResult(res: http.ServerResponse, value: unknown) {
    if (value === undefined || value === null) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
      res.end();
      return;
    }
    if (typeof value === 'string' || typeof value === 'number') {
      const text = String(value);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const v = value as Partial<IntegratedResponse> & Record<string, unknown>;
    if (typeof value === 'object' && v.mpserverlessComposedResponse === true) {
      const status = Number(v.statusCode) || 200;
      const bodyText = v.body === undefined || v.body === null ? '' : typeof v.body === 'string' ? v.body : JSON.stringify(v.body);
      const buf = v.isBase64Encoded ? Buffer.from(bodyText, 'base64') : Buffer.from(bodyText, 'utf8');
      res.sendDate = false;
      let hasLength = false;
      for (const [k, hv] of Object.entries(v.headers || {})) {
        if (hv === undefined || hv === null) continue;
        if (k.toLowerCase() === 'content-length') hasLength = true;
        res.setHeader(k, Array.isArray(hv) ? hv.map(String) : String(hv));
      }
      if (!hasLength) res.setHeader('content-length', buf.length);
      res.statusCode = status;
      res.end(buf);
      return;
    }
    let text: string;
    try {
      text = serialise(value) ?? 'null';
    } catch (e) {
      sendJson(res, 500, { success: false, error: { code: 'FunctionBizError', message: (e as Error).message } });
      return;
    }
    sendJson(res, 200, text);
  }

  async function handleTiming(res: http.ServerResponse, name: string) {
    const outcome = await core.fireTiming(name);
    if (outcome.ok) sendJson(res, 200, { ok: true });
    else sendJson(res, outcome.status, { ok: false, error: { code: outcome.code, message: outcome.message } });
  }

  function serveStatic(res: http.ServerResponse, pathname: string, method: string): boolean {
    if (!staticDir || (method !== 'GET' && method !== 'HEAD')) return false;
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return false;
    }
    const root = path.resolve(staticDir);
    let file = path.resolve(root, '.' + path.posix.normalize('/' + rel));
    if (file !== root && !file.startsWith(root + path.sep)) return false;
    try {
      if (fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    } catch {
      return false;
    }
    if (!RuntimeCore.exists(file)) return false;
    const data = fs.readFileSync(file);
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
      'content-length': data.length,
      'cache-control': 'no-cache',
    });
    res.end(method === 'HEAD' ? undefined : data);
    return true;
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL) {
    const method = (req.method || 'GET').toUpperCase();
    const pathname = url.pathname;
    if (pathname === '/__runtime/health' && method === 'GET') {
      sendJson(res, 200, { ok: true });
      return;
    }
    const timing = /^\/__runtime\/timing\/([^/]+)$/.exec(pathname);
    if (timing && method === 'POST') {
      await handleTiming(res, timing[1]);
      return;
    }
    if (pathname === '/unicloud/client') {
      if (method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'POST, OPTIONS',
          'access-control-allow-headers': '*',
        });
        res.end();
        return;
      }
      if (method === 'POST') {
        await handleClient(req, res);
        return;
      }
    }
    const hit = findHttpFunction(pathname);
    if (hit) {
      await handleHttp(req, res, url, hit.fn, hit.rest);
      return;
    }
    if (serveStatic(res, pathname, method)) return;
    sendJson(res, 404, { success: false, error: { code: 'NOT_FOUND', message: `no route for ${method} ${pathname}` } });
  }

  return http.createServer((req, res) => {
    const started = Date.now();
    res.on('finish', () => {
      if (!quiet)
        process.stderr.write(
          `[local-unicloud] ${req.method} ${String(req.url).slice(0, 200)} ${res.statusCode} ${Date.now() - started}ms\n`,
        );
    });
    const url = requestUrl(req.url);
    if (!url) {
      sendJson(res, 400, { success: false, error: { code: 'BAD_REQUEST', message: 'malformed request target' } });
      return;
    }
    route(req, res, url).catch((e) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof TooLarge) {
        res.setHeader('connection', 'close');
        sendJson(res, 413, { success: false, error: { code: 'RequestEntityTooLarge', message: 'request body exceeds 2 MB' } });
        return;
      }
      sendJson(res, 500, { success: false, error: { code: 'FunctionServerError', message: 'internal runtime error' } });
    });
  });
}
