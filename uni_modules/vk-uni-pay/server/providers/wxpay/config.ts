/** A WeChat Pay node of uni-pay/config.js (vk-uni-pay layout) plus the gateway override. */
export interface WxpayNodeConfig {
  appId: string;
  mchId: string;
  /** 3 (default) or 2 */
  version?: 2 | 3 | '2' | '3';
  /** API v3 key (32 characters) */
  v3Key?: string;
  /** merchant API certificate (apiclient_cert.pem); only its serial number is used */
  appCertContent?: string;
  /** merchant certificate serial, when the certificate itself is not configured */
  appCertSn?: string;
  /** merchant API private key (apiclient_key.pem) */
  appPrivateKeyContent?: string;
  /** WeChat Pay public key mode (merchants onboarded since late 2024) */
  wxpayPublicKeyContent?: string;
  wxpayPublicKeyId?: string;
  /** v2 API key and signing */
  key?: string;
  signType?: 'MD5' | 'HMAC-SHA256';
  /** mweb: `{ h5_info: { type: 'Wap', wap_url, wap_name } }` */
  sceneInfo?: { h5_info?: Record<string, string> };
  /** service-provider (服务商) mode: the default sub-merchant (特约商户) when a call names none (data.sub_mchid / data.sub_appid win) */
  subMchId?: string;
  subAppId?: string;
  /** mini program / official account secret (code2Session) */
  secret?: string;
  /** gateway base URL; default https://api.mch.weixin.qq.com (the sandbox stands in here) */
  gateway?: string;
  /** HTTP timeout in ms for gateway calls (default 10000) */
  timeout?: number;
  /** api.weixin.qq.com base for 公众号 OAuth (`/sns/oauth2/access_token`); default https://api.weixin.qq.com */
  apiBase?: string;
}

export const WXPAY_DEFAULT_GATEWAY = 'https://api.mch.weixin.qq.com';

export function isV2(config: WxpayNodeConfig): boolean {
  return String(config.version) === '2';
}
