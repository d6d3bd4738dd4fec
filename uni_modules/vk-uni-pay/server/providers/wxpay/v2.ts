/** WeChat Pay API v2 client (XML, MD5 or HMAC-SHA256) for one merchant node. */
import { PayError } from '../../core/errors';
import type { ProviderContext } from '../types';
import type { WxpayNodeConfig } from './config';
import { WXPAY_DEFAULT_GATEWAY } from './config';
import { nonceStr, parseXml, signV2, toXml, verifyV2, type V2SignType } from './crypto';

export function v2SignType(config: WxpayNodeConfig): V2SignType {
  return config.signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
}

export function v2Key(config: WxpayNodeConfig): string {
  if (!config.key || config.key.length !== 32) throw new PayError('CONFIG_FIELD_MISSING', { node: 'wxpay', field: 'key (32 characters)' });
  return config.key;
}

export class WxpayV2Client {
  private readonly gateway: string;

  constructor(
    private readonly config: WxpayNodeConfig,
    private readonly ctx: ProviderContext<WxpayNodeConfig>,
  ) {
    this.gateway = (config.gateway || WXPAY_DEFAULT_GATEWAY).replace(/\/+$/, '');
  }

  /** Signs and posts; returns the verified answer. Business failures (result_code FAIL) throw GATEWAY_ERROR. */
  async request(path: string, params: Record<string, unknown>, opts: { allowResultFail?: boolean } = {}): Promise<Record<string, string>> {
    const key = v2Key(this.config);
    const signType = v2SignType(this.config);
    const payload: Record<string, unknown> = {
      appid: this.config.appId,
      mch_id: this.config.mchId,
      nonce_str: nonceStr(),
      sign_type: signType,
      ...params,
    };
    payload.sign = signV2(payload, key, signType);
    let text: string;
    try {
      const res = await this.ctx.http.request({
        method: 'POST',
        url: this.gateway + path,
        headers: { 'Content-Type': 'text/xml; charset=utf-8' },
        body: toXml(payload),
      });
      text = res.body.toString('utf8');
    } catch {
      throw new PayError('GATEWAY_UNREACHABLE');
    }
    const answer = parseXml(text);
    if (answer.return_code !== 'SUCCESS')
      throw new PayError('GATEWAY_ERROR', { providerCode: answer.return_code ?? 'FAIL', providerMsg: answer.return_msg ?? '' });
    // the answer is signed with the request's sign type and does not name it
    if (!verifyV2(answer, key, signType)) throw new PayError('GATEWAY_RESPONSE_UNVERIFIED');
    if (answer.mch_id && answer.mch_id !== this.config.mchId) throw new PayError('GATEWAY_RESPONSE_UNVERIFIED');
    if (answer.result_code !== 'SUCCESS' && !opts.allowResultFail) {
      throw new PayError(
        'GATEWAY_ERROR',
        { providerCode: answer.err_code ?? 'FAIL', providerMsg: answer.err_code_des ?? '' },
        { providerCode: answer.err_code },
      );
    }
    return answer;
  }
}
