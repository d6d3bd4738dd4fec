/**
 * Alipay config node (vk-uni-pay layout: `config.alipay['mp-alipay' | 'app-plus' | 'h5' ...]`) and
 * the one runtime (signer, verifier, certificate SNs) per distinct node, built on node:crypto.
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PayError } from '../../core/errors';
import { gatewayUrl } from '../gateway';
import {
  certModeVerifier,
  certSn,
  createAlipaySigner,
  keyModeVerifier,
  parsePrivateKey,
  parsePublicKey,
  rootCertSn,
  splitPems,
  type AlipaySigner,
  type AlipayVerifier,
} from './crypto';

export { parsePrivateKey, parsePublicKey } from './crypto';

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
  /**
   * certificate mode (公钥证书): path or content (string or Buffer) of each of the three certificates.
   * While Alipay rotates its certificate, alipayPublicCertContent may hold the old and the new one.
   */
  appCertPath?: string;
  appCertContent?: string | Buffer;
  alipayPublicCertPath?: string;
  alipayPublicCertContent?: string | Buffer;
  alipayRootCertPath?: string;
  alipayRootCertContent?: string | Buffer;
  /** base URL of the v2 gateway (`/gateway.do` is appended unless present); default https://openapi.alipay.com/gateway.do (the sandbox host when `sandbox`) */
  gateway?: string;
  /** v3 endpoint (unused by the trade methods; accepted for vk-uni-pay configs) */
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

export interface AlipayRuntime {
  appId: string;
  gateway: string;
  signer: AlipaySigner;
  verifier: AlipayVerifier;
  certMode: boolean;
  /** cert mode: sent with every request */
  appCertSn?: string;
  alipayRootCertSn?: string;
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

/** `<name>Content` wins over `<name>Path`; the certificates found in it (a bundle may hold several) */
function certificates(c: AlipayNodeConfig, name: 'appCert' | 'alipayPublicCert' | 'alipayRootCert'): X509Certificate[] {
  const content = c[`${name}Content`];
  const file = c[`${name}Path`];
  if (!content && !file) throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: `${name}Path` });
  try {
    const pems = splitPems(content || readFileSync(file!));
    if (!pems.length) throw new Error('no certificate');
    return pems.map((pem) => new X509Certificate(pem));
  } catch {
    throw invalid(`${name}${content ? 'Content' : 'Path'}`);
  }
}

function build(c: AlipayNodeConfig): AlipayRuntime {
  if (!c || typeof c !== 'object') throw new PayError('CONFIG_NODE_MISSING', { node: NODE });
  if (!c.appId) throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: 'appId' });
  if (!c.privateKey) throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: 'privateKey' });
  const signType = c.signType ?? 'RSA2';
  if (signType !== 'RSA2' && signType !== 'RSA') throw invalid('signType');
  let privateKey: KeyObject;
  try {
    privateKey = parsePrivateKey(c.privateKey, c.keyType);
  } catch {
    throw invalid('privateKey');
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw invalid('privateKey');
  const runtime = {
    appId: c.appId,
    gateway: gatewayUrl(c.gateway, c.sandbox ? SANDBOX_GATEWAY : DEFAULT_GATEWAY, '/gateway.do'),
    signer: createAlipaySigner(privateKey, signType),
  };
  if (!isCertMode(c)) {
    if (!c.alipayPublicKey) throw new PayError('CONFIG_FIELD_MISSING', { node: NODE, field: 'alipayPublicKey' });
    let publicKey: KeyObject;
    try {
      publicKey = parsePublicKey(c.alipayPublicKey);
    } catch {
      throw invalid('alipayPublicKey');
    }
    return { ...runtime, certMode: false, verifier: keyModeVerifier(publicKey, signType) };
  }
  const [appCert] = certificates(c, 'appCert');
  const alipayCerts = certificates(c, 'alipayPublicCert');
  const rootSn = rootCertSn(certificates(c, 'alipayRootCert'));
  // an empty root SN means the bundle holds no RSA-signed root: Alipay would refuse every call
  if (!rootSn) throw invalid('alipayRootCertContent');
  if (!appCert.checkPrivateKey(privateKey)) throw invalid('appCertContent');
  return {
    ...runtime,
    certMode: true,
    verifier: certModeVerifier(alipayCerts, signType),
    appCertSn: certSn(appCert),
    alipayRootCertSn: rootSn,
  };
}

/** The runtime for this config node; keys and certificates are parsed once per warm instance. */
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
