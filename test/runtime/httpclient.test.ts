import http from 'http';
import type { AddressInfo } from 'net';
import { createHttpClient } from '../../tools/local-unicloud';

let server: http.Server;
let base: string;
const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const u = new URL(req.url!, 'http://x');
      if (u.pathname === '/json') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Trace-Id': 'T1' });
        res.end(JSON.stringify({ ok: true, method: req.method, body, q: Object.fromEntries(u.searchParams) }));
      } else if (u.pathname === '/text') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('héllo');
      } else if (u.pathname === '/bin') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.from([1, 2, 3, 250]));
      } else if (u.pathname === '/fail') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"code":"SYSTEM_ERROR"}');
      } else if (u.pathname === '/slow') {
        setTimeout(() => res.end('late'), 1000);
      } else if (u.pathname === '/redirect') {
        res.writeHead(302, { location: '/text' });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const client = createHttpClient();

test('dataType json, contentType json body, lower-case headers, res meta', async () => {
  const r = await client.request<any>(base + '/json', {
    method: 'POST',
    data: { a: 1 },
    contentType: 'json',
    dataType: 'json',
    headers: { 'X-Up': 'v' },
  });
  expect(r.status).toBe(200);
  expect(r.data).toMatchObject({ ok: true, method: 'POST', body: '{"a":1}' });
  expect(r.headers['x-trace-id']).toBe('T1');
  expect(r.res.status).toBe(200);
  expect(r.res.statusCode).toBe(200);
  const last = seen[seen.length - 1];
  expect(last.headers['content-type']).toBe('application/json');
  expect(last.headers['x-up']).toBe('v');
});

test('content is sent verbatim (string and Buffer); GET data becomes the query string', async () => {
  const xml = '<xml><a>1</a></xml>';
  const r = await client.request<any>(base + '/json', {
    method: 'POST',
    content: xml,
    headers: { 'content-type': 'text/xml' },
    dataType: 'json',
  });
  expect(r.data.body).toBe(xml);
  const r2 = await client.request<any>(base + '/json', { method: 'PUT', content: Buffer.from('raw-bytes'), dataType: 'json' });
  expect(r2.data.body).toBe('raw-bytes');
  const r3 = await client.request<any>(base + '/json?x=0', { data: { a: 'b c', n: 2 }, dataType: 'json' });
  expect(r3.data.q).toEqual({ x: '0', a: 'b c', n: '2' });
  const r4 = await client.request<any>(base + '/json', { method: 'POST', data: { a: 'b' }, dataType: 'json' });
  expect(r4.data.body).toBe('a=b');
});

test("dataType 'text' gives a string, default gives a Buffer", async () => {
  const t = await client.request(base + '/text', { dataType: 'text' });
  expect(t.data).toBe('héllo');
  const b = await client.request(base + '/bin');
  expect(Buffer.isBuffer(b.data)).toBe(true);
  expect([...(b.data as Buffer)]).toEqual([1, 2, 3, 250]);
});

test('non-2xx does not throw', async () => {
  const r = await client.request<any>(base + '/fail', { dataType: 'json' });
  expect(r.status).toBe(503);
  expect(r.data).toEqual({ code: 'SYSTEM_ERROR' });
});

test('timeout rejects', async () => {
  const t0 = Date.now();
  await expect(client.request(base + '/slow', { timeout: 200 })).rejects.toMatchObject({ name: 'ResponseTimeoutError' });
  expect(Date.now() - t0).toBeLessThan(900);
});

test('redirects are not followed by default; followRedirect follows', async () => {
  const r = await client.request(base + '/redirect', { dataType: 'text' });
  expect(r.status).toBe(302);
  expect(r.headers.location).toBe('/text');
  const f = await client.request(base + '/redirect', { dataType: 'text', followRedirect: true });
  expect(f.status).toBe(200);
  expect(f.data).toBe('héllo');
});

test('connection failure rejects', async () => {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  await expect(client.request(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});
