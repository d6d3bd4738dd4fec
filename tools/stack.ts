/**
 * The main job, as one function: sandbox gateways on loopback (keys generated at start), a
 * generated `uni-pay/config.js` that points every provider at its sandbox, and the local uniCloud
 * runtime serving the built cloud objects, the URL化 notify route, the uniCloud client protocol and
 * the H5 demo. Used by `npm start` (tools/start.ts), the end-to-end and browser tests, and bench.
 */
import * as path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { startRuntime, type RuntimeHandle } from './local-unicloud';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant, type WxSignMode } from './sandbox/wxpay';
import { createAlipayApp, startAlipaySandbox, type AlipaySandbox, type AlipaySandboxApp } from './sandbox/alipay';
import { startAppleSandbox, type AppleSandbox } from './sandbox/apple';
import { startWxApiSandbox, type WxApiSandbox, type WxApp } from './sandbox/wxapi';
import { startVksPaySandbox, type VksPaySandbox, type VksMerchant } from './sandbox/vkspay';
import { createHuaweiMerchant, startHuaweiSandbox, type HuaweiMerchant, type HuaweiSandbox } from './sandbox/huawei';
import { startDouyinSandbox, type DouyinSandbox, type DouyinApp } from './sandbox/douyin';
import { randomBytes } from 'node:crypto';

export const ROOT = path.resolve(__dirname, '..');

export const WX_APPIDS = { mp: 'wx1000000000000001', app: 'wx2000000000000002', oa: 'wx3000000000000003' };
/** the official account's AppSecret in the WeChat API sandbox (OAuth for JSAPI in the WeChat browser) */
const OA_SECRET = randomBytes(16).toString('hex');
/** service-provider mode: sub-merchants bound to the sandbox WeChat merchant (partner routes), with their own apps */
export const WX_SUB_MERCHANTS = [
  { sub_mchid: '1900009001', appids: ['wx5000000000000005', 'wx5000000000000006'] },
  { sub_mchid: '1900009002', appids: ['wx6000000000000007'] },
];
/** Alipay ISV mode: merchant tokens the sandbox Alipay app was granted (app_auth_token → the merchant) */
export const ALIPAY_AUTHORIZATIONS = {
  '202612BBsandboxIsvToken000000001': { auth_app_id: '2021000000007701', seller_id: '2088000000007701' },
  '202612BBsandboxIsvToken000000002': { auth_app_id: '2021000000007702', seller_id: '2088000000007702' },
};
export const APPLE_BUNDLE_ID = 'com.example.vkunipay';
/** the HarmonyOS app and atomic service bound to the sandbox's Huawei Pay merchant */
export const HUAWEI_APPIDS = { app: '5765880207854262001', mp: '5765880207854262002' };
/** the demo's App Store price list (server side): product → fen */
export const APPLE_PRODUCTS = { coins_600: { total_fee: 600 }, vip_month: { total_fee: 1800 } };

export interface StackOptions {
  /** runtime port; 0 = ephemeral (tests); default 8080 */
  port?: number;
  /** database and generated config live here; default <repo>/.data */
  dataDir?: string;
  /** project whose cloud code runs (default: this repository) */
  projectDir?: string;
  /** uni-config-center root the generated uni-pay/config.js goes to (default: <dataDir>/config) */
  configDir?: string;
  /** the H5 build to serve at / (default: <repo>/dist/build/h5 when it exists) */
  staticDir?: string;
  /** notification retry schedule of the sandboxes */
  retryDelaysMs?: number[];
  wxSignMode?: WxSignMode;
  /** WeChat Pay API version for every wxpay node */
  wxVersion?: 2 | 3;
  /** v2 signing of every wxpay node */
  wxSignType?: 'MD5' | 'HMAC-SHA256';
  /** merged over the generated uni-pay config (tests: extra notifyUrl entries, flags) */
  configOverrides?: Record<string, unknown>;
  /** merged over the `codepay` nodes (tests: a short poll schedule, a gateway behind a fault proxy) */
  codepayNodes?: { wxpay?: Record<string, unknown>; alipay?: Record<string, unknown> };
  alipayCertMode?: boolean;
  /** the Alipay sandbox posts a refund notice to the payment's notify_url after each refund (as Alipay does) */
  alipayRefundNotify?: boolean;
  quiet?: boolean;
}

export interface Stack {
  url: string;
  runtime: RuntimeHandle;
  wxpay: WxpaySandbox;
  alipay: AlipaySandbox;
  wxMerchant: WxpaySandboxMerchant;
  alipayApp: AlipaySandboxApp;
  apple: AppleSandbox;
  /** api.weixin.qq.com stand-in: code2Session, access tokens, xpay APIs, the WeChat client's virtual payment */
  wxapi: WxApiSandbox;
  wxApp: WxApp;
  vkspay: VksPaySandbox;
  vksMerchant: VksMerchant;
  huawei: HuaweiSandbox;
  huaweiMerchant: HuaweiMerchant;
  /** Douyin guaranteed payment (担保支付) stand-in, and the mini program it knows (salt, token) */
  douyin: DouyinSandbox;
  douyinApp: DouyinApp;
  configDir: string;
  /** the generated config object (what config.js exports) */
  config: Record<string, any>;
  close(): Promise<void>;
}

function pemFiles(dir: string, files: Record<string, string>): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const paths: Record<string, string> = {};
  for (const [name, pem] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), pem);
    paths[name] = path.join(dir, name);
  }
  return paths;
}

/**
 * A genuine WeChat Pay v3 payment notification of a Native (PC QR) order, signed and encrypted with
 * the sandbox merchant's keys, as the sandbox would deliver it (headers lower-cased, JSON).
 */
export function wxPaymentNotification(
  stack: Pick<Stack, 'wxpay' | 'wxMerchant'>,
  out_trade_no: string,
  total: number,
  transaction_id: string,
) {
  const { body, headers } = stack.wxpay.buildPaymentNotification(stack.wxMerchant.mchid, {
    appid: WX_APPIDS.oa,
    mchid: stack.wxMerchant.mchid,
    out_trade_no,
    transaction_id,
    trade_type: 'NATIVE',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    attach: '',
    success_time: '2026-11-27T19:00:00+08:00',
    payer: { openid: 'o-sandbox-payer' },
    amount: { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' },
  });
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  return { body, headers: { ...lower, 'content-type': 'application/json' } };
}

/** Builds the uni-pay config (vk-uni-pay node layout) for the sandbox merchants. */
export function sandboxConfig(opts: {
  notifyUrl: string;
  spaceId: string;
  wx: WxpaySandboxMerchant;
  wxGateway: string;
  wxApiBase: string;
  wxVersion: 2 | 3;
  wxSignType?: 'MD5' | 'HMAC-SHA256';
  ali: AlipaySandboxApp;
  aliGateway: string;
  pemDir: string;
  codepayNodes?: { wxpay?: Record<string, unknown>; alipay?: Record<string, unknown> };
}) {
  const { wx, ali } = opts;
  const wxPem = pemFiles(path.join(opts.pemDir, 'wxpay'), {
    'apiclient_cert.pem': wx.merchant.certPem,
    'apiclient_key.pem': wx.merchant.keyPem,
    'pub_key.pem': wx.publicKey.publicKeyPem,
  });
  const wxNode = (appId: string) => ({
    appId,
    mchId: wx.mchid,
    version: opts.wxVersion,
    v3Key: wx.apiV3Key,
    key: wx.apiV2Key,
    ...(opts.wxSignType ? { signType: opts.wxSignType } : {}),
    appCertPath: wxPem['apiclient_cert.pem'],
    appPrivateKeyPath: wxPem['apiclient_key.pem'],
    ...(wx.signMode !== 'platform-cert' ? { wxpayPublicKeyPath: wxPem['pub_key.pem'], wxpayPublicKeyId: wx.publicKeyId } : {}),
    secret: OA_SECRET,
    gateway: opts.wxGateway,
    apiBase: opts.wxApiBase,
  });
  const aliNode = {
    appId: ali.appId,
    privateKey: ali.appPrivateKeyPem,
    gateway: opts.aliGateway,
    ...(ali.certMode
      ? {
          appCertContent: ali.appCert!.certPem,
          alipayPublicCertContent: ali.alipayCert!.certPem,
          alipayRootCertContent: ali.rootBundlePem ?? ali.rootCert!.certPem,
        }
      : { alipayPublicKey: ali.alipayPublicKeyPem }),
  };
  return {
    notifyUrl: { [opts.spaceId]: opts.notifyUrl },
    wxpay: {
      'mp-weixin': wxNode(WX_APPIDS.mp),
      'app-plus': wxNode(WX_APPIDS.app),
      h5: wxNode(WX_APPIDS.oa),
      'h5-weixin': wxNode(WX_APPIDS.oa),
      mweb: { ...wxNode(WX_APPIDS.oa), sceneInfo: { h5_info: { type: 'Wap', wap_url: 'http://127.0.0.1', wap_name: 'vk-uni-pay 演示' } } },
      // merchant transfers (vk-uni-pay's default node): payees are users of the mini program
      transfer: wxNode(WX_APPIDS.mp),
      // 付款码 (the merchant scans the buyer's code) runs on the App's app id
      codepay: { ...wxNode(WX_APPIDS.app), ...opts.codepayNodes?.wxpay },
    },
    alipay: {
      'mp-alipay': aliNode,
      'app-plus': aliNode,
      h5: aliNode,
      transfer: aliNode,
      codepay: { ...aliNode, ...opts.codepayNodes?.alipay },
    },
  };
}

/** vk-uni-pay's two Huawei Pay nodes for the sandbox merchant (the platform key as the merchant platform shows it: hex). */
export function huaweiNodes(m: HuaweiMerchant, sb: Pick<HuaweiSandbox, 'url' | 'platformPublicKeyHex'>) {
  const node = (appId: string, clientType: string) => ({
    appId,
    mchId: m.mchId,
    mchAuthId: m.authId,
    mchPrivateKey: m.privateKeyPem,
    platformPublicKey: sb.platformPublicKeyHex,
    clientType,
    gateway: sb.url,
  });
  return { 'app-harmony': node(HUAWEI_APPIDS.app, 'app-harmony'), 'mp-harmony': node(HUAWEI_APPIDS.mp, 'mp-harmony') };
}

/** The mini program with virtual payment, as the WeChat API sandbox knows it (fresh keys). */
export function sandboxWxApp(): WxApp {
  return {
    appId: WX_APPIDS.mp,
    secret: randomBytes(16).toString('hex'),
    appKey: randomBytes(16).toString('hex'),
    sandboxAppKey: randomBytes(16).toString('hex'),
    offerId: '1450000001',
    token: randomBytes(8).toString('hex'),
    encodingAESKey: randomBytes(32).toString('base64').slice(0, 43),
    rate: 100,
  };
}

/** The official account, as the WeChat API sandbox knows it (only its OAuth is used). */
function officialAccountApp(): WxApp {
  const r = () => randomBytes(16).toString('hex');
  return {
    appId: WX_APPIDS.oa,
    secret: OA_SECRET,
    appKey: r(),
    sandboxAppKey: r(),
    offerId: '0',
    token: r(),
    encodingAESKey: randomBytes(32).toString('base64').slice(0, 43),
  };
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dataDir = path.resolve(opts.dataDir ?? path.join(ROOT, '.data'));
  const configDir = path.resolve(opts.configDir ?? path.join(dataDir, 'config'));
  mkdirSync(path.join(configDir, 'uni-pay'), { recursive: true });
  const quiet = opts.quiet ?? false;
  const [wxMerchant, alipayApp, huaweiMerchant] = await Promise.all([
    createWxpayMerchant({ appids: Object.values(WX_APPIDS), signMode: opts.wxSignMode ?? 'public-key', subMerchants: WX_SUB_MERCHANTS }),
    createAlipayApp({ certMode: opts.alipayCertMode ?? false }),
    createHuaweiMerchant({ mchId: '101540000089', appIds: Object.values(HUAWEI_APPIDS) }),
  ]);
  alipayApp.authorizations = ALIPAY_AUTHORIZATIONS;
  const wxApp = sandboxWxApp();
  const vksMerchant: VksMerchant = { mchId: 'VKS10001', key: randomBytes(16).toString('hex') };
  const douyinApp: DouyinApp = {
    appId: `tt${randomBytes(8).toString('hex')}`,
    salt: randomBytes(20).toString('base64url'),
    token: randomBytes(12).toString('hex'),
    mchId: 'M7000000000000000001',
  };
  const [wxpay, alipay, apple, wxapi, vkspay, huawei, douyin] = await Promise.all([
    startWxpaySandbox({ merchants: [wxMerchant], port: 0, retryDelaysMs: opts.retryDelaysMs, quiet }),
    startAlipaySandbox({ apps: [alipayApp], port: 0, retryDelaysMs: opts.retryDelaysMs, quiet, refundNotify: opts.alipayRefundNotify }),
    startAppleSandbox({ port: 0, bundleId: APPLE_BUNDLE_ID, sharedSecret: 'apple-shared-secret' }),
    startWxApiSandbox({ port: 0, apps: [wxApp, officialAccountApp()], pushRetryDelaysMs: opts.retryDelaysMs }),
    startVksPaySandbox({ port: 0, merchants: [vksMerchant], notifyRetryDelaysMs: opts.retryDelaysMs }),
    startHuaweiSandbox({ port: 0, merchants: [huaweiMerchant], notifyRetryDelaysMs: opts.retryDelaysMs }),
    startDouyinSandbox({ port: 0, apps: [douyinApp], notifyRetryDelaysMs: opts.retryDelaysMs }),
  ]);
  const spaceId = 'local-space';
  const runtime = await startRuntime({
    projectDir: opts.projectDir ?? ROOT,
    dataDir,
    configDir,
    port: opts.port ?? 8080,
    spaceId,
    staticDir: opts.staticDir,
    quiet,
  });
  // the notify URL needs the runtime's real port, so the config is written once it listens
  // (the plugin reads config.js lazily, at the first payment)
  const generated = sandboxConfig({
    notifyUrl: `${runtime.url}/http/vk-pay`,
    spaceId,
    wx: wxMerchant,
    wxGateway: wxpay.url,
    wxApiBase: wxapi.url,
    wxVersion: opts.wxVersion ?? 3,
    wxSignType: opts.wxSignType,
    ali: alipayApp,
    aliGateway: alipay.gateway,
    pemDir: path.join(configDir, 'uni-pay'),
    codepayNodes: opts.codepayNodes,
  });
  wxapi.setPushUrl(wxApp.appId, `${runtime.url}/http/vk-pay/wxpayVirtualNotify`);
  const config = {
    ...generated,
    appleiap: {
      'app-plus': {
        bundleId: APPLE_BUNDLE_ID,
        password: 'apple-shared-secret',
        sandbox: false,
        products: APPLE_PRODUCTS,
        verifyReceiptUrl: apple.verifyReceiptUrl,
        sandboxVerifyReceiptUrl: apple.sandboxVerifyReceiptUrl,
        appleRootCertificates: [apple.pki.root.certPem],
        appAppleId: 1234567890,
      },
    },
    'wxpay-virtual': {
      'mp-weixin': { ...wxApp, mchId: wxMerchant.mchid, sandbox: false, apiBase: wxapi.url },
    },
    vkspay: { mchId: vksMerchant.mchId, key: vksMerchant.key, gateway: vkspay.url },
    huawei: huaweiNodes(huaweiMerchant, huawei),
    douyin: { 'mp-toutiao': { ...douyinApp, secret: randomBytes(16).toString('hex'), sandbox: false, gateway: douyin.url } },
    ...(opts.configOverrides ?? {}),
  };
  writeFileSync(
    path.join(configDir, 'uni-pay', 'config.js'),
    `// Generated by tools/stack.ts for the loopback sandboxes. Do not use in production.\nmodule.exports = ${JSON.stringify(config, null, 2)};\n`,
  );
  return {
    url: runtime.url,
    runtime,
    wxpay,
    alipay,
    wxMerchant,
    alipayApp,
    apple,
    wxapi,
    wxApp,
    vkspay,
    vksMerchant,
    huawei,
    huaweiMerchant,
    douyin,
    douyinApp,
    configDir,
    config,
    async close() {
      await Promise.allSettled([
        runtime.close(),
        wxpay.close(),
        alipay.close(),
        apple.close(),
        wxapi.close(),
        vkspay.close(),
        huawei.close(),
        douyin.close(),
      ]);
    },
  };
}
