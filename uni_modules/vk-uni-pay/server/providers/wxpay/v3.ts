/**
 * WeChat Pay API v3 client for one merchant node: signs requests, verifies every answer over its
 * raw bytes with the key named by Wechatpay-Serial (public key, platform certificates, or both
 * during a migration). Platform certificates are fetched once and cached (memory + database).
 */
import { PayError } from '../../core/errors';
import type { ProviderContext } from '../types';
import type { HttpResponse } from '../../ports';
import { callGateway, gatewayUrl, jsonObject, type GatewayRefusal } from '../gateway';
import type { WxpayNodeConfig } from './config';
import { WXPAY_DEFAULT_GATEWAY } from './config';
import {
  buildAuthorization,
  certificateSerial,
  createKeyStore,
  createMerchantSigner,
  decryptResource,
  nonceStr,
  signedMessageFromHeaders,
  verifyMessage,
  type EncryptedResource,
  type MerchantSigner,
} from './crypto';

type KeyStore = ReturnType<typeof createKeyStore>;

interface MerchantState {
  signer: MerchantSigner;
  keys: KeyStore;
  cacheConsulted: boolean;
  lastRefresh: number;
}

const USER_AGENT = 'vk-uni-pay-ts (uniCloud)';
const CERT_CACHE_TTL_MS = 12 * 3600_000;
/** an unknown serial refreshes the platform certificates at most this often (forged-notify amplification) */
const CERT_REFRESH_MIN_INTERVAL_MS = 60_000;
const states = new WeakMap<object, MerchantState>();

function node(config: WxpayNodeConfig, field: keyof WxpayNodeConfig): string {
  const v = config[field];
  if (typeof v !== 'string' || !v) throw new PayError('CONFIG_FIELD_MISSING', { node: 'wxpay', field });
  return v;
}

export function merchantState(config: WxpayNodeConfig): MerchantState {
  let s = states.get(config);
  if (s) return s;
  const serialNo = config.appCertSn || (config.appCertContent ? certificateSerial(config.appCertContent) : node(config, 'appCertContent'));
  const signer = createMerchantSigner({ mchid: node(config, 'mchId'), serialNo, privateKeyPem: node(config, 'appPrivateKeyContent') });
  const keys = createKeyStore({
    publicKeys: config.wxpayPublicKeyId && config.wxpayPublicKeyContent ? { [config.wxpayPublicKeyId]: config.wxpayPublicKeyContent } : {},
  });
  s = { signer, keys, cacheConsulted: false, lastRefresh: 0 };
  states.set(config, s);
  return s;
}

const isPublicKeyId = (serial: string) => serial.startsWith('PUB_KEY_ID_');

export class WxpayV3Client {
  private readonly state: MerchantState;

  constructor(
    private readonly config: WxpayNodeConfig,
    private readonly ctx: ProviderContext<WxpayNodeConfig>,
  ) {
    this.state = merchantState(config);
  }

  /** Signed request through the gateway step; returns the verified JSON body ({} for 204). Throws GatewayFailure. */
  async request<T = Record<string, any>>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; data: T }> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const timestamp = Math.floor(this.ctx.clock.now() / 1000);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': USER_AGENT,
      Authorization: buildAuthorization(this.state.signer, { method, canonicalUrl: path, body: text, timestamp, nonce: nonceStr() }),
    };
    if (text) headers['Content-Type'] = 'application/json';
    // in public-key mode the gateway signs answers with the public key only when asked to
    if (this.config.wxpayPublicKeyId) headers['Wechatpay-Serial'] = this.config.wxpayPublicKeyId;
    return callGateway(this.ctx.http, {
      request: { method, url: this.url(path), headers, body: text || undefined, timeoutMs: this.config.timeout },
      // error answers are signed too: an unsigned one proves nothing
      verify: (res) => this.verify(res.headers, res.body, 'response'),
      refusal: v3Refusal,
      parse: (res) => {
        if (res.status === 204 || res.body.length === 0) return { status: res.status, data: {} as T };
        const data = jsonObject(res.body);
        if (!data) throw new Error('not a JSON object');
        return { status: res.status, data: data as T };
      },
    });
  }

  private url(path: string): string {
    return gatewayUrl(this.config.gateway, WXPAY_DEFAULT_GATEWAY, path);
  }

  /** Verifies a signed answer or notification; an unknown certificate serial triggers a refresh. */
  async verify(headers: Record<string, string>, body: Buffer, purpose: 'notify' | 'response'): Promise<void> {
    const msg = signedMessageFromHeaders(headers, body);
    if (!isPublicKeyId(msg.serial) && !this.state.keys.get(msg.serial)) await this.refreshPlatformCertificates();
    verifyMessage(this.state.keys, msg, { nowMs: this.ctx.clock.now(), purpose });
  }

  /**
   * Platform certificates, cheapest source first: the database cache (once per cold instance), then
   * GET /v3/certificates — at most once a minute per merchant, so forged serials cannot make us
   * hammer the gateway. Public-key-only merchants have nothing to fetch.
   */
  private async refreshPlatformCertificates(): Promise<void> {
    const s = this.state;
    const cacheKey = `wxpay:certificates:${this.config.mchId}`;
    if (!s.cacheConsulted) {
      s.cacheConsulted = true;
      const cached = await this.ctx.cache.get<Record<string, string>>(cacheKey);
      if (cached) {
        for (const [serial, pem] of Object.entries(cached)) s.keys.add(serial, pem);
        return;
      }
    }
    const now = this.ctx.clock.now();
    if (!this.config.v3Key || now - s.lastRefresh < CERT_REFRESH_MIN_INTERVAL_MS) return;
    s.lastRefresh = now;
    const path = '/v3/certificates';
    const authorization = buildAuthorization(s.signer, {
      method: 'GET',
      canonicalUrl: path,
      body: '',
      timestamp: Math.floor(now / 1000),
      nonce: nonceStr(),
    });
    const v3Key = this.config.v3Key;
    const found: Record<string, string> = {};
    await callGateway(this.ctx.http, {
      request: {
        method: 'GET',
        url: this.url(path),
        headers: { Accept: 'application/json', 'User-Agent': USER_AGENT, Authorization: authorization },
        timeoutMs: this.config.timeout,
      },
      // the download is signed by one of the certificates it carries (bootstrap, as WeChat's SDKs do)
      verify: (res) => {
        if (res.status !== 200) return this.verify(res.headers, res.body, 'response');
        const list = jsonObject(res.body)?.data as Array<{ serial_no: string; encrypt_certificate: EncryptedResource }> | undefined;
        if (!Array.isArray(list)) throw new Error('no certificate list');
        for (const item of list) found[item.serial_no] = decryptResource(item.encrypt_certificate, v3Key).toString('utf8');
        verifyMessage(createKeyStore({ certificates: found }), signedMessageFromHeaders(res.headers, res.body), {
          nowMs: now,
          purpose: 'response',
        });
      },
      refusal: v3Refusal,
      parse: () => undefined,
    });
    for (const [serial, pem] of Object.entries(found)) s.keys.add(serial, pem);
    await this.ctx.cache.set(cacheKey, found, CERT_CACHE_TTL_MS);
  }
}

export function safeJson(body: Buffer | string): any {
  try {
    return JSON.parse(body.toString());
  } catch {
    return undefined;
  }
}

/** WeChat Pay v3 codes meaning "busy or outcome unknown: ask again with the same parameters" */
const V3_RETRYABLE = new Set(['SYSTEM_ERROR', 'SYSTEMERROR', 'FREQUENCY_LIMITED', 'BANK_ERROR', 'RATELIMIT_EXCEEDED']);

/** The refusal a verified v3 error answer carries: `{code, message}` with a 4xx/5xx status. */
function v3Refusal(res: HttpResponse): GatewayRefusal | undefined {
  if (res.status >= 200 && res.status < 300) return undefined;
  const err = jsonObject(res.body);
  const code = typeof err?.code === 'string' && err.code ? err.code : `HTTP ${res.status}`;
  return { code, message: typeof err?.message === 'string' ? err.message : undefined, retryable: V3_RETRYABLE.has(code) };
}
