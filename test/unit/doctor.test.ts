/**
 * doctor: a good config passes clean, and each check catches the broken config it is written for
 * (keys and certificates generated here, nothing reaches the network).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createWxpayMerchant, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { createAlipayApp, type AlipaySandboxApp } from '../../tools/sandbox/alipay';
import { issueCertificate, toPkcs1 } from '../../tools/sandbox/pki';
import { runDoctor, type DoctorReport } from '../../uni_modules/vk-uni-pay/server/services/doctor';
import { createVkPay } from '../../uni_modules/vk-uni-pay/server/entry/common';
import { staticConfigSource } from '../../uni_modules/vk-uni-pay/server/store/config';
import { createCloudObject } from '../../uni_modules/vk-uni-pay/server/entry/cloud-object';
import { main } from '../../uni_modules/vk-uni-pay/server/entry/doctor-cli';

const NOW = Date.now();
const noNetwork = { request: async () => Promise.reject(new Error('no network in static checks')) };
const env = { http: noNetwork, clock: { now: () => NOW } };

let wx: WxpaySandboxMerchant;
let ali: AlipaySandboxApp;
let aliCert: AlipaySandboxApp;
let dir: string;

beforeAll(async () => {
  [wx, ali, aliCert] = await Promise.all([
    createWxpayMerchant({ appids: ['wx1000000000000001'], signMode: 'public-key' }),
    createAlipayApp({ certMode: false }),
    createAlipayApp({ certMode: true }),
  ]);
  dir = mkdtempSync(path.join(tmpdir(), 'doctor-'));
  writeFileSync(path.join(dir, 'apiclient_key.pem'), wx.merchant.keyPem);
  writeFileSync(path.join(dir, 'apiclient_cert.pem'), wx.merchant.certPem);
  writeFileSync(path.join(dir, 'pub_key.pem'), wx.publicKey.publicKeyPem);
});

function goodConfig(): Record<string, any> {
  return {
    notifyUrl: { 'space-1': 'https://fc-space-1.next.bspapp.com/http/vk-pay' },
    wxpay: {
      'mp-weixin': {
        appId: 'wx1000000000000001',
        mchId: wx.mchid,
        version: 3,
        v3Key: wx.apiV3Key,
        appCertPath: path.join(dir, 'apiclient_cert.pem'),
        appPrivateKeyPath: path.join(dir, 'apiclient_key.pem'),
        wxpayPublicKeyPath: path.join(dir, 'pub_key.pem'),
        wxpayPublicKeyId: wx.publicKeyId,
      },
      h5: { appId: 'wx1000000000000001', mchId: wx.mchid, version: 2, key: wx.apiV2Key },
    },
    alipay: {
      'mp-alipay': { appId: ali.appId, privateKey: ali.appPrivateKeyPem, alipayPublicKey: ali.alipayPublicKeyPem },
      h5: {
        appId: aliCert.appId,
        privateKey: aliCert.appPrivateKeyPem,
        appCertContent: aliCert.appCert!.certPem,
        alipayPublicCertContent: aliCert.alipayCert!.certPem,
        alipayRootCertContent: aliCert.rootBundlePem,
      },
    },
    appleiap: {
      'app-plus': { bundleId: 'com.example.app', sandbox: false, products: { coins_600: { total_fee: 600 } }, appAppleId: 1234567890 },
    },
    'wxpay-virtual': {
      'mp-weixin': {
        appId: 'wx1000000000000001',
        secret: randomBytes(16).toString('hex'),
        offerId: '1450000001',
        appKey: randomBytes(16).toString('hex'),
        rate: 100,
        token: 'Token123',
        encodingAESKey: randomBytes(32).toString('base64').replace(/[+/=]/g, 'A').slice(0, 43),
      },
    },
    vkspay: { mchId: 'VKS10001', key: randomBytes(16).toString('hex') },
  };
}

const problems = (r: DoctorReport) => r.findings.filter((f) => f.severity !== 'info');

test('a good config passes clean: no error, no warning; SNs and serials are shown', async () => {
  const r = await runDoctor(goodConfig(), env, { spaceIds: ['space-1'] });
  expect(problems(r)).toEqual([]);
  expect(r.ok).toBe(true);
  const checks = r.findings.map((f) => `${f.node} ${f.check}`);
  expect(checks).toEqual(
    expect.arrayContaining([
      'wxpay.mp-weixin appCert.serial',
      'alipay.h5 app_cert_sn',
      'alipay.h5 alipay_root_cert_sn',
      'alipay.mp-alipay mode',
      'host timezone',
    ]),
  );
  // the SNs are the ones the Alipay sandbox expects in app_cert_sn / alipay_root_cert_sn
  const { certSn, rootCertSn, splitPems } = await import('../../uni_modules/vk-uni-pay/server/providers/alipay/crypto');
  const { X509Certificate } = await import('node:crypto');
  const text = r.findings.map((f) => f.en).join('\n');
  expect(text).toContain(certSn(new X509Certificate(aliCert.appCert!.certPem)));
  expect(text).toContain(rootCertSn(splitPems(aliCert.rootBundlePem!).map((p) => new X509Certificate(p))));
  // no secret in any finding
  for (const secret of [wx.apiV3Key, wx.apiV2Key, ali.appPrivateKeyPem.slice(40, 80)]) expect(JSON.stringify(r)).not.toContain(secret);
});

type Mutation = (c: Record<string, any>) => void | Promise<void>;
const wxNode = (c: Record<string, any>) => c.wxpay['mp-weixin'];
const aliCertNode = (c: Record<string, any>) => c.alipay.h5;

const broken: Array<[string, Mutation, string, string, 'error' | 'warn']> = [
  // WeChat Pay v3
  ['APIv3 key of 31 bytes', (c) => void (wxNode(c).v3Key = wx.apiV3Key.slice(1)), 'wxpay.mp-weixin', 'v3Key', 'error'],
  ['APIv3 key missing', (c) => void delete wxNode(c).v3Key, 'wxpay.mp-weixin', 'v3Key', 'error'],
  [
    'private key of another merchant',
    async (c) => {
      const other = await issueCertificate({ subject: 'CN=other' });
      writeFileSync(path.join(dir, 'other_key.pem'), other.keyPem);
      wxNode(c).appPrivateKeyPath = path.join(dir, 'other_key.pem');
    },
    'wxpay.mp-weixin',
    'appCert.match',
    'error',
  ],
  [
    'private key that is not a key',
    (c) => {
      writeFileSync(path.join(dir, 'garbage_key.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
      wxNode(c).appPrivateKeyPath = path.join(dir, 'garbage_key.pem');
    },
    'wxpay.mp-weixin',
    'appPrivateKey',
    'error',
  ],
  [
    'appCertSn not the certificate serial',
    (c) => void (wxNode(c).appCertSn = '1234ABCD1234ABCD'),
    'wxpay.mp-weixin',
    'appCertSn.match',
    'error',
  ],
  ['certificate file missing', (c) => void (wxNode(c).appCertPath = path.join(dir, 'nope.pem')), 'wxpay.mp-weixin', 'appCertPath', 'error'],
  [
    'expired merchant certificate',
    async (c) => {
      const key = createPrivateKey(wx.merchant.keyPem);
      void key;
      const old = await issueCertificate({ subject: 'CN=old', notBefore: new Date(NOW - 400 * 864e5), notAfter: new Date(NOW - 864e5) });
      writeFileSync(path.join(dir, 'old_cert.pem'), old.certPem);
      writeFileSync(path.join(dir, 'old_key.pem'), old.keyPem);
      Object.assign(wxNode(c), { appCertPath: path.join(dir, 'old_cert.pem'), appPrivateKeyPath: path.join(dir, 'old_key.pem') });
    },
    'wxpay.mp-weixin',
    'appCert.validity',
    'error',
  ],
  [
    'wxpayPublicKeyId without PUB_KEY_ID_',
    (c) => void (wxNode(c).wxpayPublicKeyId = wx.publicKeyId.replace('PUB_KEY_ID_', '')),
    'wxpay.mp-weixin',
    'wxpayPublicKeyId',
    'error',
  ],
  ['wxpayPublicKeyId without the key', (c) => void delete wxNode(c).wxpayPublicKeyPath, 'wxpay.mp-weixin', 'wxpayPublicKey', 'error'],
  [
    'WeChat Pay public key that does not parse',
    (c) => {
      delete wxNode(c).wxpayPublicKeyPath;
      wxNode(c).wxpayPublicKeyContent = '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----';
    },
    'wxpay.mp-weixin',
    'wxpayPublicKey',
    'error',
  ],
  [
    "the merchant's own public key as the WeChat Pay public key",
    (c) => {
      delete wxNode(c).wxpayPublicKeyPath;
      wxNode(c).wxpayPublicKeyContent = createPublicKey(wx.merchant.keyPem).export({ type: 'spki', format: 'pem' });
    },
    'wxpay.mp-weixin',
    'wxpayPublicKey.own',
    'error',
  ],
  ['v2 key of 31 characters in a v3 node', (c) => void (wxNode(c).key = 'x'.repeat(31)), 'wxpay.mp-weixin', 'key', 'warn'],
  [
    'version 3 (default) with only the v2 key',
    (c) => void (c.wxpay['mp-weixin'] = { appId: 'wx1000000000000001', mchId: wx.mchid, key: wx.apiV2Key }),
    'wxpay.mp-weixin',
    'version',
    'error',
  ],
  ['version 2 with only the v3 fields', (c) => void (wxNode(c).version = 2), 'wxpay.mp-weixin', 'version', 'error'],
  ['version 4', (c) => void (wxNode(c).version = 4), 'wxpay.mp-weixin', 'version', 'error'],
  ['appId that is not a WeChat AppID', (c) => void (wxNode(c).appId = 'wxABC'), 'wxpay.mp-weixin', 'appId', 'warn'],
  ['mchId that is not digits', (c) => void (wxNode(c).mchId = 'mch-1'), 'wxpay.mp-weixin', 'mchId', 'warn'],
  ['neither certificate nor serial', (c) => void delete wxNode(c).appCertPath, 'wxpay.mp-weixin', 'appCert', 'error'],
  [
    'serial only, not hexadecimal',
    (c) => void (delete wxNode(c).appCertPath, (wxNode(c).appCertSn = 'serial-no')),
    'wxpay.mp-weixin',
    'appCertSn',
    'error',
  ],
  [
    'certificate file that is not a certificate',
    (c) => {
      writeFileSync(path.join(dir, 'garbage_cert.pem'), 'hello');
      wxNode(c).appCertPath = path.join(dir, 'garbage_cert.pem');
    },
    'wxpay.mp-weixin',
    'appCert',
    'error',
  ],
  ['public key without its id', (c) => void delete wxNode(c).wxpayPublicKeyId, 'wxpay.mp-weixin', 'wxpayPublicKeyId', 'error'],
  // WeChat Pay v2
  ['v2 key of 16 characters', (c) => void (c.wxpay.h5.key = 'k'.repeat(16)), 'wxpay.h5', 'key', 'error'],
  ['v2 without key', (c) => void delete c.wxpay.h5.key, 'wxpay.h5', 'key', 'error'],
  ['v2 signType SHA1', (c) => void (c.wxpay.h5.signType = 'SHA1'), 'wxpay.h5', 'signType', 'error'],
  ['scene key typo', (c) => void (c.wxpay['mp-wexin'] = {}), 'config', 'unknown-node', 'warn'],
  // Alipay
  [
    'key mode: the app public key as alipayPublicKey',
    (c) => void (c.alipay['mp-alipay'].alipayPublicKey = createPublicKey(ali.appPrivateKeyPem).export({ type: 'spki', format: 'pem' })),
    'alipay.mp-alipay',
    'alipayPublicKey.own',
    'error',
  ],
  [
    'key mode: alipayPublicKey missing',
    (c) => void delete c.alipay['mp-alipay'].alipayPublicKey,
    'alipay.mp-alipay',
    'alipayPublicKey',
    'error',
  ],
  [
    'key mode: alipayPublicKey garbage',
    (c) => void (c.alipay['mp-alipay'].alipayPublicKey = 'MIIBnotakey'),
    'alipay.mp-alipay',
    'alipayPublicKey',
    'error',
  ],
  ['private key garbage', (c) => void (c.alipay['mp-alipay'].privateKey = 'MIIEnotakey'), 'alipay.mp-alipay', 'privateKey', 'error'],
  ['cert mode with two of three certificates', (c) => void delete aliCertNode(c).alipayRootCertContent, 'alipay.h5', 'certMode', 'error'],
  [
    'cert mode: app certificate of another key',
    (c) => void (aliCertNode(c).privateKey = toPkcs1(ali.appPrivateKeyPem)),
    'alipay.h5',
    'appCert.match',
    'error',
  ],
  [
    'cert mode: root bundle without an RSA root',
    async (c) => {
      const ec = await issueCertificate({ subject: 'CN=EC root', keyType: 'ec', isCa: true });
      aliCertNode(c).alipayRootCertContent = ec.certPem;
    },
    'alipay.h5',
    'alipayRootCert',
    'error',
  ],
  [
    'cert mode: Alipay certificate issued outside the root bundle',
    async (c) => {
      // same subject as the root, different key: the issuer is found by name but does not verify
      const fake = await issueCertificate({ subject: aliCert.rootCert!.subject, isCa: true });
      const other = await issueCertificate({ subject: 'CN=fake alipay', issuer: fake });
      aliCertNode(c).alipayPublicCertContent = other.certPem;
    },
    'alipay.h5',
    'chain',
    'warn',
  ],
  [
    'cert mode: certificate content garbage',
    (c) => void (aliCertNode(c).appCertContent = 'not a certificate'),
    'alipay.h5',
    'appCert',
    'error',
  ],
  ['appId that is not an Alipay APPID', (c) => void (c.alipay['mp-alipay'].appId = 'ali-app'), 'alipay.mp-alipay', 'appId', 'warn'],
  ['legacy signType RSA', (c) => void (c.alipay['mp-alipay'].signType = 'RSA'), 'alipay.mp-alipay', 'signType', 'warn'],
  ['unknown signType', (c) => void (c.alipay['mp-alipay'].signType = 'SM2'), 'alipay.mp-alipay', 'signType', 'error'],
  [
    'a 1024-bit app private key',
    (c) => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      c.alipay['mp-alipay'].privateKey = privateKey.export({ type: 'pkcs8', format: 'pem' });
    },
    'alipay.mp-alipay',
    'privateKey',
    'warn',
  ],
  [
    'cert mode: expired Alipay certificate',
    async (c) => {
      const old = await issueCertificate({
        subject: 'CN=old alipay',
        notBefore: new Date(NOW - 400 * 864e5),
        notAfter: new Date(NOW - 864e5),
      });
      aliCertNode(c).alipayPublicCertContent = old.certPem;
    },
    'alipay.h5',
    'alipayPublicCert.validity',
    'error',
  ],
  // Apple, virtual payment, VksPay
  ['apple: bundleId not reverse-DNS', (c) => void (c.appleiap['app-plus'].bundleId = 'myapp'), 'appleiap.app-plus', 'bundleId', 'error'],
  [
    'apple: product price in yuan',
    (c) => void (c.appleiap['app-plus'].products.coins_600.total_fee = 6.0 + 0.5),
    'appleiap.app-plus',
    'products',
    'error',
  ],
  ['apple: sandbox purchases accepted', (c) => void (c.appleiap['app-plus'].sandbox = true), 'appleiap.app-plus', 'sandbox', 'warn'],
  ['apple: production without appAppleId', (c) => void delete c.appleiap['app-plus'].appAppleId, 'appleiap.app-plus', 'appAppleId', 'warn'],
  [
    'virtual: EncodingAESKey of 42 characters',
    (c) => void (c['wxpay-virtual']['mp-weixin'].encodingAESKey = 'a'.repeat(42)),
    'wxpay-virtual.mp-weixin',
    'encodingAESKey',
    'error',
  ],
  [
    'virtual: sandbox without sandboxAppKey',
    (c) => void (c['wxpay-virtual']['mp-weixin'].sandbox = true),
    'wxpay-virtual.mp-weixin',
    'sandboxAppKey',
    'error',
  ],
  [
    'virtual: offerId not digits',
    (c) => void (c['wxpay-virtual']['mp-weixin'].offerId = 'offer'),
    'wxpay-virtual.mp-weixin',
    'offerId',
    'error',
  ],
  ['vkspay: key missing', (c) => void delete c.vkspay.key, 'vkspay', 'key', 'error'],
  ['apple: products not an object', (c) => void (c.appleiap['app-plus'].products = 'coins_600'), 'appleiap.app-plus', 'products', 'error'],
  ['apple: sandbox as a string', (c) => void (c.appleiap['app-plus'].sandbox = 'false'), 'appleiap.app-plus', 'sandbox', 'error'],
  [
    'apple: negative receiptExpiresIn',
    (c) => void (c.appleiap['app-plus'].receiptExpiresIn = -1),
    'appleiap.app-plus',
    'receiptExpiresIn',
    'error',
  ],
  [
    'apple: root certificate garbage',
    (c) => void (c.appleiap['app-plus'].appleRootCertificates = ['not a cert']),
    'appleiap.app-plus',
    'appleRootCertificates',
    'error',
  ],
  [
    'virtual: appId not a mini-program AppID',
    (c) => void (c['wxpay-virtual']['mp-weixin'].appId = 'mini'),
    'wxpay-virtual.mp-weixin',
    'appId',
    'warn',
  ],
  ['virtual: secret missing', (c) => void delete c['wxpay-virtual']['mp-weixin'].secret, 'wxpay-virtual.mp-weixin', 'secret', 'error'],
  ['virtual: rate 0', (c) => void (c['wxpay-virtual']['mp-weixin'].rate = 0), 'wxpay-virtual.mp-weixin', 'rate', 'error'],
  [
    'virtual: token with a space',
    (c) => void (c['wxpay-virtual']['mp-weixin'].token = 'to ken'),
    'wxpay-virtual.mp-weixin',
    'token',
    'error',
  ],
  ['vkspay: mchId missing', (c) => void delete c.vkspay.mchId, 'vkspay', 'mchId', 'error'],
  [
    'no provider node at all',
    (c) => void ['wxpay', 'alipay', 'appleiap', 'wxpay-virtual', 'vkspay'].forEach((k) => delete c[k]),
    'config',
    'nodes',
    'error',
  ],
  ['notifyUrl that is not a URL', (c) => void (c.notifyUrl['space-1'] = 'fc-space-1/http/vk-pay'), 'notifyUrl', 'notifyUrl.url', 'error'],
  // notifyUrl and gateways
  ['notifyUrl missing', (c) => void delete c.notifyUrl, 'notifyUrl', 'notifyUrl', 'error'],
  [
    'notifyUrl over http',
    (c) => void (c.notifyUrl['space-1'] = 'http://fc-space-1.next.bspapp.com/http/vk-pay'),
    'notifyUrl',
    'notifyUrl.https',
    'error',
  ],
  [
    'notifyUrl not at /http/vk-pay',
    (c) => void (c.notifyUrl['space-1'] = 'https://fc-space-1.next.bspapp.com/http/vk-pay-notify'),
    'notifyUrl',
    'notifyUrl.path',
    'error',
  ],
  [
    'notifyUrl without the space',
    (c) => void (c.notifyUrl = { other: 'https://x.example/http/vk-pay' }),
    'notifyUrl',
    'notifyUrl.space',
    'error',
  ],
  [
    'notifyUrl template placeholder',
    (c) => void (c.notifyUrl = { 'your-space-id': 'https://fc-your-space-id.next.bspapp.com/http/vk-pay' }),
    'notifyUrl',
    'notifyUrl.placeholder',
    'error',
  ],
  ['gateway over plain http', (c) => void (c.vkspay.gateway = 'http://pay.example.com'), 'vkspay', 'gateway', 'error'],
];

test.each(broken)('catches: %s', async (_name, mutate, node, check, severity) => {
  const config = goodConfig();
  await mutate(config);
  const r = await runDoctor(config, env, { spaceIds: ['space-1'] });
  expect(problems(r).map((f) => `${f.severity} ${f.node} ${f.check}`)).toContain(`${severity} ${node} ${check}`);
  expect(r.ok).toBe(severity !== 'error');
});

test('the template config: blank key-mode cert paths are called out, unreadable files named once', async () => {
  const config = goodConfig();
  Object.assign(config.alipay['mp-alipay'], { appCertPath: '', alipayPublicCertPath: '', alipayRootCertPath: '' });
  config.wxpay['mp-weixin'].appPrivateKeyPath = path.join(dir, 'missing_key.pem');
  const r = await runDoctor(config, env, { spaceIds: ['space-1'] });
  expect(r.findings).toContainEqual(expect.objectContaining({ severity: 'info', node: 'alipay.mp-alipay', check: 'certMode' }));
  expect(r.findings.filter((f) => f.node === 'wxpay.mp-weixin' && /appPrivateKey/.test(f.check)).map((f) => f.check)).toEqual([
    'appPrivateKeyPath',
  ]);
});

test('vkPay.doctor(): the server API checks the running space, and the vk-pay cloud object does not expose it', async () => {
  const config = goodConfig();
  const vkPay = createVkPay({ configs: staticConfigSource(config), http: noNetwork, spaceId: () => 'space-2' });
  const r = (await vkPay.doctor({})) as DoctorReport & { code: number };
  expect(r.code).toBe(0);
  expect(r.ok).toBe(false);
  expect(r.findings).toContainEqual(expect.objectContaining({ node: 'notifyUrl', check: 'notifyUrl.space' }));
  expect(Object.keys(createCloudObject({ handlersDir: dir }))).not.toContain('doctor');
});

test('the CLI: exit 0 clean, 1 with an error, 2 for usage; zh-Hans and en lines', async () => {
  const write = (name: string, config: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, `module.exports = ${JSON.stringify(config)};`);
    return file;
  };
  const run = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), http: noNetwork });
    return { code, out, err };
  };
  const good = write('good.js', goodConfig());
  expect((await run(['doctor', '--config', good, '--space', 'space-1'])).code).toBe(0);
  const bad = goodConfig();
  bad.wxpay['mp-weixin'].v3Key = 'short';
  const r = await run(['doctor', `--config=${write('bad.js', bad)}`]);
  expect(r.code).toBe(1);
  expect(r.out).toContain('APIv3 密钥必须正好 32 字节');
  expect(r.out).toContain('The APIv3 key must be exactly 32 bytes');
  expect(r.out).toMatch(/1 error\(s\)/);
  expect((await run(['doctor', '--config', write('bad2.js', bad), '--json'])).out).toContain('"check": "v3Key"');
  expect((await run(['doctor'])).code).toBe(2);
  expect((await run(['doctor', '--config', path.join(dir, 'nope.js')])).code).toBe(2);
});
