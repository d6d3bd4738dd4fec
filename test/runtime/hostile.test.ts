/**
 * The local runtime under hostile input: every request, however malformed, gets a 4xx and the
 * process keeps serving (raw sockets, so the request line reaches the server exactly as written).
 */
import net from 'net';
import { callCloudObject, signClientRequest, startRuntime, type RuntimeHandle } from '../../tools/local-unicloud';
import { CLIENT_TIMESTAMP_WINDOW_MS } from '../../tools/local-unicloud/server';
import { createFixture, type Fixture } from './fixtures/project';

let fx: Fixture;
let rt: RuntimeHandle;

beforeAll(async () => {
  fx = createFixture();
  rt = await startRuntime({ projectDir: fx.projectDir, dataDir: fx.dataDir, configDir: fx.configDir, port: 0, quiet: true });
});

afterAll(async () => {
  await rt?.close();
  fx?.cleanup();
});

/** Sends bytes as they are and returns the status code of the reply (0 when the socket closed without one). */
function rawRequest(text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(rt.port, '127.0.0.1', () => sock.end(text));
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const reply = Buffer.concat(chunks).toString('utf8');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(reply);
      resolve({ status: m ? Number(m[1]) : 0, body: reply.slice(reply.indexOf('\r\n\r\n') + 4) });
    });
  });
}

const alive = async () => (await fetch(rt.url + '/__runtime/health')).status === 200;

describe('malformed request lines', () => {
  test.each([
    'GET //a:99999/ HTTP/1.1',
    'GET http://[::1/ HTTP/1.1',
    'POST //[ HTTP/1.1',
    'GET //a%zz/ HTTP/1.1',
    'GET /http/demo-co/%zz HTTP/1.1',
    'POST /__runtime/timing/%zz HTTP/1.1',
    'GET * HTTP/1.1',
  ])('%s → 4xx, the process stays up', async (line) => {
    const r = await rawRequest(`${line}\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(await alive()).toBe(true);
  });
});

function clientBody(functionArgs: unknown, timestamp: unknown = Date.now()) {
  return {
    method: 'serverless.function.runtime.invoke',
    params: JSON.stringify({ functionTarget: 'demo-co', functionArgs }),
    spaceId: 'local-space',
    timestamp,
  };
}

async function postClient(body: Record<string, unknown>) {
  const res = await fetch(rt.url + '/unicloud/client', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-serverless-sign': signClientRequest(body, rt.clientSecret) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { success: boolean; error?: { code: string } } };
}

describe('client protocol', () => {
  test.each([[['text']], [{ toString: 'text' }], [42], [null]])(
    'a non-string method %j is answered 400 before anything runs',
    async (method) => {
      const r = await postClient(clientBody({ method, params: [] }));
      expect(r.status).toBe(400);
      expect(r.json.error!.code).toBe('InvalidParameter');
    },
  );

  test('a signed request outside the timestamp window is refused (signatures expire)', async () => {
    for (const ts of [Date.now() - CLIENT_TIMESTAMP_WINDOW_MS - 5000, Date.now() + CLIENT_TIMESTAMP_WINDOW_MS + 5000, 'x', null, '']) {
      const r = await postClient(clientBody({ method: 'text', params: [] }, ts));
      expect(r.status).toBe(400);
      expect(r.json.error!.code).toBe('SIGN_EXPIRED');
    }
    const fresh = await callCloudObject(rt.url, 'demo-co', 'text', [], { clientSecret: rt.clientSecret, spaceId: rt.spaceId });
    expect(fresh).toMatchObject({ success: true, data: 'plain text' });
  });
});

test('an envelope value with its own non-callable toString is refused with 400, not a runtime error', async () => {
  const body = { ...clientBody({ method: 'text', params: [] }), method: { toString: 1 } };
  const r = await postClient(body as never);
  expect(r.status).toBe(400);
  expect(r.json.error!.code).toBe('InvalidParameter');
  expect(await alive()).toBe(true);
});
