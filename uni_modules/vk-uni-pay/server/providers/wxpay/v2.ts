/** WeChat Pay API v2 client (XML, MD5 or HMAC-SHA256) for one merchant node. */
import { PayError } from '../../core/errors';
import { GatewayFailure, callGateway, gatewayUrl } from '../gateway';
import type { ProviderContext } from '../types';
import type { WxpayNodeConfig } from './config';
import { WXPAY_DEFAULT_GATEWAY } from './config';
import { nonceStr, parseXml, signV2, toXml, verifyV2, type V2SignType } from './crypto';
import { partnerV2Params, storedPartner } from './partner';

export function v2SignType(config: WxpayNodeConfig): V2SignType {
  return config.signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
}

export function v2Key(config: WxpayNodeConfig): string {
  if (!config.key || config.key.length !== 32) throw new PayError('CONFIG_FIELD_MISSING', { node: 'wxpay', field: 'key (32 characters)' });
  return config.key;
}

/** v2 err_code values meaning "busy or outcome unknown: ask again with the same parameters" */
const V2_RETRYABLE = new Set(['SYSTEMERROR', 'BANKERROR', 'FREQUENCY_LIMITED', 'USERPAYING']);

export class WxpayV2Client {
  constructor(
    private readonly config: WxpayNodeConfig,
    private readonly ctx: ProviderContext<WxpayNodeConfig>,
  ) {}

  /** Signs and posts through the gateway step; returns the verified answer. A business failure (result_code FAIL) is a GatewayFailure. */
  async request(path: string, params: Record<string, unknown>): Promise<Record<string, string>> {
    const key = v2Key(this.config);
    const signType = v2SignType(this.config);
    const payload: Record<string, unknown> = {
      appid: this.config.appId,
      mch_id: this.config.mchId,
      nonce_str: nonceStr(),
      sign_type: signType,
      // service-provider mode: every call names the order's sub-merchant
      ...partnerV2Params(storedPartner(this.ctx.partner)),
      ...params,
    };
    payload.sign = signV2(payload, key, signType);
    let answer: Record<string, string> = {};
    return callGateway(this.ctx.http, {
      request: {
        method: 'POST',
        url: gatewayUrl(this.config.gateway, WXPAY_DEFAULT_GATEWAY, path),
        headers: { 'Content-Type': 'text/xml; charset=utf-8' },
        body: toXml(payload),
        timeoutMs: this.config.timeout,
      },
      verify: (res) => {
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        answer = parseXml(res.body.toString('utf8'));
        // return_code FAIL (communication or request error) is never signed: informative, proves nothing
        if (answer.return_code !== 'SUCCESS')
          throw new GatewayFailure('GATEWAY_ERROR', {
            httpStatus: res.status,
            providerCode: answer.return_code || 'FAIL',
            providerMessage: answer.return_msg,
            verified: false,
            retryable: true,
          });
        // the answer is signed with the request's sign type and does not name it
        if (!verifyV2(answer, key, signType)) throw new Error('bad signature');
        if (answer.mch_id && answer.mch_id !== this.config.mchId) throw new Error('another merchant');
      },
      refusal: () =>
        answer.result_code === 'SUCCESS'
          ? undefined
          : { code: answer.err_code || 'FAIL', message: answer.err_code_des, retryable: V2_RETRYABLE.has(answer.err_code) },
      parse: () => answer,
    });
  }
}
