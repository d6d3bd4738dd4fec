/**
 * doctor --online against the loopback sandboxes (real signatures): a good config answers "order does
 * not exist", verified, on every node; configs that only the gateway can refuse (another merchant's id,
 * the wrong verification key, a wrong APIv3 key, a wrong AppKey or VksPay key) are caught there. The
 * probe is read-only: no order appears at any gateway. The CLI is the built bin.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { generateRsaKeyPair } from '../../tools/sandbox/pki';
import { loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { startStack, ROOT, type Stack } from '../../tools/stack';
import { runDoctor, type DoctorReport } from '../../uni_modules/vk-uni-pay/server/services/doctor';

const http = loopbackTransport();
const clock = { now: () => Date.now() };
let keyMode: Stack;
let certMode: Stack;

beforeAll(async () => {
  [keyMode, certMode] = await Promise.all([
    startStack({ port: 0, dataDir: mkdtempSync(path.join(tmpdir(), 'doctor-a-')), quiet: true }),
    startStack({
      port: 0,
      dataDir: mkdtempSync(path.join(tmpdir(), 'doctor-b-')),
      quiet: true,
      wxSignMode: 'platform-cert',
      alipayCertMode: true,
    }),
  ]);
}, 60_000);
afterAll(() => Promise.all([keyMode?.close(), certMode?.close()]));

const clone = (c: Record<string, any>) => JSON.parse(JSON.stringify(c));
const errors = (r: DoctorReport) => r.findings.filter((f) => f.severity === 'error').map((f) => `${f.node} ${f.check}`);
const online = (r: DoctorReport, node: string) => r.findings.find((f) => f.node === node && f.check === 'online');

test.each([
  ['WeChat Pay public key + Alipay key mode', () => keyMode],
  ['WeChat Pay platform certificates + Alipay certificate mode', () => certMode],
])('a good config passes online: %s', async (_name, stack) => {
  const s = stack();
  const sent: string[] = [];
  const recording = {
    request: (req: Parameters<typeof http.request>[0]) => (sent.push(`${req.method} ${req.url} ${req.body ?? ''}`), http.request(req)),
  };
  const r = await runDoctor(s.config, { http: recording, clock }, { online: true, spaceIds: ['local-space'] });
  expect(errors(r)).toEqual([]);
  for (const node of [
    'wxpay.mp-weixin',
    'wxpay.mweb',
    'alipay.h5',
    'alipay.mp-alipay',
    'wxpay-virtual.mp-weixin',
    'vkspay',
    'appleiap.app-plus',
  ])
    expect(online(r, node)).toMatchObject({ severity: 'info' });
  expect(online(r, 'wxpay.mp-weixin')!.en).toMatch(/order does not exist.*verified/);
  expect(online(r, 'alipay.h5')!.en).toMatch(/order does not exist.*verified/);
  expect(r.findings).toContainEqual(expect.objectContaining({ node: 'host', check: 'clock', severity: 'info' }));
  // the loopback notify URL is allowed for development, with a warning
  expect(r.findings).toContainEqual(expect.objectContaining({ node: 'notifyUrl', check: 'notifyUrl.https', severity: 'warn' }));
  // read-only: queries (and the token / certificate downloads they need), nothing that creates, closes or refunds
  expect(sent.length).toBeGreaterThanOrEqual(7);
  for (const line of sent)
    expect(line).not.toMatch(
      /transactions\/(jsapi|app|h5|native)|close|refund|trade\.(create|precreate|pay|wap|page|app)|webpay|unifiedorder/,
    );
});

const onlyGatewayCatches: Array<[string, () => Stack, (c: Record<string, any>) => void | Promise<void>, string]> = [
  ['WeChat Pay: another merchant id', () => keyMode, (c) => void (c.wxpay['mp-weixin'].mchId = '1900000999'), 'wxpay.mp-weixin'],
  [
    'WeChat Pay: a public key that is not WeChat Pay’s',
    () => keyMode,
    async (c) => {
      const n = c.wxpay['app-plus'];
      delete n.wxpayPublicKeyPath;
      n.wxpayPublicKeyContent = (await generateRsaKeyPair()).publicKeyPem;
    },
    'wxpay.app-plus',
  ],
  ['WeChat Pay: a wrong APIv3 key of the right length', () => certMode, (c) => void (c.wxpay.h5.v3Key = 'A'.repeat(32)), 'wxpay.h5'],
  [
    'Alipay: a public key that is not Alipay’s',
    () => keyMode,
    async (c) => void (c.alipay.h5.alipayPublicKey = (await generateRsaKeyPair()).publicKeyPem),
    'alipay.h5',
  ],
  [
    'virtual payment: a wrong AppKey',
    () => keyMode,
    (c) => void (c['wxpay-virtual']['mp-weixin'].appKey = 'f'.repeat(32)),
    'wxpay-virtual.mp-weixin',
  ],
  ['VksPay: a wrong key', () => keyMode, (c) => void (c.vkspay.key = 'e'.repeat(32)), 'vkspay'],
];

test.each(onlyGatewayCatches)('online catches: %s', async (_name, stack, mutate, node) => {
  const config = clone(stack().config);
  await mutate(config);
  const offline = await runDoctor(config, { http, clock }, { spaceIds: ['local-space'] });
  expect(errors(offline)).toEqual([]);
  const r = await runDoctor(config, { http, clock }, { online: true, spaceIds: ['local-space'] });
  expect(errors(r)).toEqual([`${node} online`]);
});

test('a clock 10 minutes behind the gateways is reported (only with --online)', async () => {
  const config = { notifyUrl: keyMode.config.notifyUrl, vkspay: keyMode.config.vkspay };
  const slow = { now: () => Date.now() - 600_000 };
  const r = await runDoctor(config, { http, clock: slow }, { online: true });
  expect(r.findings).toContainEqual(expect.objectContaining({ node: 'host', check: 'clock', severity: 'warn' }));
  expect((await runDoctor(config, { http, clock: slow })).findings.some((f) => f.check === 'clock')).toBe(false);
});

test('the built CLI: npx vk-uni-pay doctor --online on the sandbox config exits 0; a broken one exits 1', async () => {
  const bin = path.join(ROOT, 'uni_modules/vk-uni-pay/uniCloud/cloudfunctions/common/vk-uni-pay/bin/vk-uni-pay.js');
  const file = path.join(keyMode.configDir, 'uni-pay', 'config.js');
  const ok = await promisify(execFile)(process.execPath, [bin, 'doctor', '--config', file, '--online', '--space', 'local-space']);
  expect(ok.stdout).toContain('通过 / OK');
  const bad = await promisify(execFile)(process.execPath, [bin, 'doctor', '--config', file, '--space', 'other-space']).catch((e) => e);
  expect(bad.code).toBe(1);
  expect(bad.stdout).toContain('notifyUrl has no entry for the space other-space');
});
