/**
 * Alipay config node (vk-uni-pay layout: `config.alipay['mp-alipay' | 'app-plus' | 'h5' ...]`) and
 * the one AlipaySdk instance per distinct node. `alipay-sdk` is required lazily, inside
 * `getAlipaySdk`, so a cold start that never touches Alipay never loads it.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { AlipaySdk as AlipaySdkType, AlipaySdkConfig } from 'alipay-sdk';
import { PayError } from '../../core/errors';

export const DEFAULT_GATEWAY = 'https://openapi.alipay.com/gateway.do';
export const SANDBOX_GATEWAY = 'https://openapi-sandbox.dl.alipaydev.com/gateway.do';

export interface AlipayNodeConfig {
  appId: string;
  /** app private key: PKCS#1 or PKCS#8 PEM, or the bare base64 Alipay's key tool hands out */
  privateKey: string;
  /** hint for a bare base64 key; PEM headers win, and a bare key is probed when absent */
  keyType?: 'PKCS1' | 'PKCS8';
  /** only RSA2 (SHA256withRSA) is accepted for notifications; 'RSA' (SHA1) is legacy */
  signType?: 'RSA2' | 'RSA';
  /** key mode: the Alipay public key (SPKI PEM or bare base64) */
  alipayPublicKey?: string;
  /** certificate mode (公钥证书): path or content (string or Buffer) of each of the three certificates */
  appCertPath?: string;
  appCertContent?: string | Buffer;
  alipayPublicCertPath?: string;
  alipayPublicCertContent?: string | Buffer;
  alipayRootCertPath?: string;
  alipayRootCertContent?: string | Buffer;
  /** v2 gateway, default https://openapi.alipay.com/gateway.do (the sandbox host when `sandbox`) */
  gateway?: string;
  /** v3 endpoint (unused by the trade methods, passed to the SDK) */
  endpoint?: string;
  sandbox?: boolean;
  /** e.g. 'JSAPI_PAY' for mp-alipay (vk-uni-pay 1.12.3) */
  productCode?: string;
  /** service-provider mode: the sub-merchant's token (data.app_auth_token wins) */
  appAuthToken?: string;
  /** request timeout in ms (default: the transport's) */
  timeout?: number;
}

const NODE = 'alipay';

/** Certificate mode needs certificate content; a key-mode node may keep vk's blank template certificate files. */
function isCertMode(c: AlipayNodeConfig): boolean {
  return !!String(c.appCertContent ?? '').trim() || (!!c.appCertPath && !c.alipayPublicKey);
}

function pemBody(text: string): string | undefined {
  const t = text.trim();
  if (t.includes('-----BEGIN')) return undefined;
  return t.replace(/\s+/g, '');
}

/** Any of PKCS#1 PEM, PKCS#8 PEM, bare base64 (PKCS#1 or PKCS#8 DER) → KeyObject. */
export function parsePrivateKey(text: string, hint?: 'PKCS1' | 'PKCS8'): KeyObject {
  const bare = pemBody(text);
  if (bare === undefined) return createPrivateKey(text.replace(/\\n/g, '\n'));
  const der = Buffer.from(bare, 'base64');
  const order: Array<'pkcs1' | 'pkcs8'> = hint === 'PKCS8' ? ['pkcs8', 'pkcs1'] : ['pkcs1', 'pkcs8'];
  let last: unknown;
  for (const type of order) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

export function parsePublicKey(text: string): KeyObject {
  const bare = pemBody(text);
  if (bare === undefined) return createPublicKey(text.replace(/\\n/g, '\n'));
  return createPublicKey({ key: Buffer.from(bare, 'base64'), format: 'der', type: 'spki' });
}

export interface AlipayRuntime {
  sdk: AlipaySdkType;
  appId: string;
  gateway: string;
  signType: 'RSA2' | 'RSA';
  certMode: boolean;
  /** SN of the Alipay public cert (cert mode), for diagnostics only */
  alipayCertSn?: string;
}

const byObject = new WeakMap<object, AlipayRuntime>();
/** configs rebuilt per request (vk-pay-config rows) still hit: keyed by a digest of the node */
const byDigest = new Map<string, AlipayRuntime>();
const DIGEST_CACHE_MAX = 32;

function digest(c: AlipayNodeConfig): string {
  const h = createHash('sha256');
  for (const k of Object.keys(c).sort() as Array<keyof AlipayNodeConfig>) {
    const v = c[k];
    h.update(k)
      .update('\0')
      .update(Buffer.isBuffer(v) ? v : String(v))
      .update('\0');
  }
  return h.digest('hex');
}

function invalid(field: string): PayError {
  return new PayError('CONFIG_KEY_INVALID', { node: NODE, field });
}

function build(c: AlipayNodeConfig): AlipayRuntime {
  if (!c || typeof c !== 'object') throw new PayError('CONFIG_NODE_MISSING', { node: NODE });
  if (!c.appId) throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: 'appId' });
  if (!c.privateKey) throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: 'privateKey' });
  const signType = c.signType ?? 'RSA2';
  if (signType !== 'RSA2' && signType !== 'RSA') throw invalid('signType');

  // Normalise the private key ourselves: the SDK rebuilds PEM headers from keyType and breaks on a
  // PKCS#8 PEM declared as PKCS1 (the default). Always hand it PKCS#8.
  let privatePem: string;
  try {
    privatePem = parsePrivateKey(c.privateKey, c.keyType).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch {
    throw invalid('privateKey');
  }

  const certMode = isCertMode(c);
  const sdkConfig: AlipaySdkConfig = {
    appId: c.appId,
    privateKey: privatePem,
    keyType: 'PKCS8',
    signType,
    gateway: c.gateway || (c.sandbox ? SANDBOX_GATEWAY : DEFAULT_GATEWAY),
    camelcase: false,
  };
  if (c.endpoint) sdkConfig.endpoint = c.endpoint;
  if (c.timeout) sdkConfig.timeout = c.timeout;
  if (certMode) {
    if (c.appCertContent) sdkConfig.appCertContent = c.appCertContent;
    else sdkConfig.appCertPath = c.appCertPath;
    if (c.alipayPublicCertContent) sdkConfig.alipayPublicCertContent = c.alipayPublicCertContent;
    else if (c.alipayPublicCertPath) sdkConfig.alipayPublicCertPath = c.alipayPublicCertPath;
    else throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: 'alipayPublicCertPath' });
    if (c.alipayRootCertContent) sdkConfig.alipayRootCertContent = c.alipayRootCertContent;
    else if (c.alipayRootCertPath) sdkConfig.alipayRootCertPath = c.alipayRootCertPath;
    else throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: 'alipayRootCertPath' });
  } else {
    if (!c.alipayPublicKey) throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: 'alipayPublicKey' });
    try {
      sdkConfig.alipayPublicKey = parsePublicKey(c.alipayPublicKey).export({ type: 'spki', format: 'pem' }).toString();
    } catch {
      throw invalid('alipayPublicKey');
    }
  }

  const { AlipaySdk } = require('alipay-sdk') as typeof import('alipay-sdk');
  let sdk: AlipaySdkType;
  try {
    sdk = new AlipaySdk(sdkConfig);
  } catch {
    throw invalid(certMode ? 'appCertContent/alipayPublicCertContent/alipayRootCertContent' : 'privateKey');
  }
  if (certMode) {
    const cfg = sdk.config as AlipaySdkConfig;
    // without both SNs the SDK silently signs in key mode; an empty root SN means no RSA root cert
    if (!cfg.appCertSn) throw invalid('appCertContent');
    if (!cfg.alipayRootCertSn) throw invalid('alipayRootCertContent');
    if (!cfg.alipayPublicKey) throw invalid('alipayPublicCertContent');
  }
  return {
    sdk,
    appId: c.appId,
    gateway: sdkConfig.gateway!,
    signType,
    certMode,
    alipayCertSn: certMode ? (sdk.config as AlipaySdkConfig).alipayCertSn : undefined,
  };
}

/** The SDK for this config node; keys and certificates are parsed once per warm instance. */
export function getAlipayRuntime(c: AlipayNodeConfig): AlipayRuntime {
  const hit = c && typeof c === 'object' ? byObject.get(c) : undefined;
  if (hit) return hit;
  const d = digest(c ?? ({} as AlipayNodeConfig));
  let rt = byDigest.get(d);
  if (!rt) {
    rt = build(c);
    if (byDigest.size >= DIGEST_CACHE_MAX) byDigest.delete(byDigest.keys().next().value as string);
    byDigest.set(d, rt);
  }
  byObject.set(c, rt);
  return rt;
}
