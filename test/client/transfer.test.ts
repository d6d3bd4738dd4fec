/** The payee's confirmation of a WeChat merchant transfer (js_sdk/transfer.ts) with fake uni / WeixinJSBridge. */
import { confirmTransfer, type MerchantTransferOptions } from '../../uni_modules/vk-uni-pay/js_sdk';
import type { PayEnv } from '../../uni_modules/vk-uni-pay/js_sdk/types';

const options: MerchantTransferOptions = { mchId: '1900000001', appId: 'wx1000000000000001', package: 'ABBQO+pkg', openId: 'o-1' };
const env = (platform: string, inWeixin = false): PayEnv => ({ platform, isPC: false, inWeixin, inAlipay: false }) as PayEnv;

test('mini program: uni.requestMerchantTransfer gets mchId, appId, package and openId; ok / cancel / fail are told apart', async () => {
  for (const [answer, result] of [
    [{ ok: true, errMsg: 'requestMerchantTransfer:ok' }, 'confirmed'],
    [{ ok: false, errMsg: 'requestMerchantTransfer:fail cancel' }, 'cancelled'],
    [{ ok: false, errMsg: 'requestMerchantTransfer:fail system error' }, 'failed'],
  ] as const) {
    const seen: Array<Record<string, unknown>> = [];
    const uni = {
      requestMerchantTransfer: (o: any) => {
        seen.push(o);
        if (answer.ok) o.success({ errMsg: answer.errMsg });
        else o.fail({ errMsg: answer.errMsg });
      },
    };
    expect(await confirmTransfer(options, { env: env('mp-weixin'), uni })).toEqual({ result, errMsg: answer.errMsg });
    expect(seen[0]).toMatchObject({ mchId: '1900000001', appId: 'wx1000000000000001', package: 'ABBQO+pkg', openId: 'o-1' });
  }
});

test('official-account H5: WeixinJSBridge.invoke("requestMerchantTransfer"); outside WeChat it is unsupported', async () => {
  const calls: unknown[][] = [];
  const bridge = {
    invoke: (name: string, params: Record<string, unknown>, cb: (r: { err_msg: string }) => void) => {
      calls.push([name, params]);
      cb({ err_msg: 'requestMerchantTransfer:ok' });
    },
  };
  const r = await confirmTransfer(options, { env: env('h5', true), getWeixinJSBridge: async () => bridge as any });
  expect(r.result).toBe('confirmed');
  expect(calls[0][0]).toBe('requestMerchantTransfer');
  expect(calls[0][1]).toMatchObject({ package: 'ABBQO+pkg' });
  expect((await confirmTransfer(options, { env: env('h5', false) })).result).toBe('unsupported');
  expect((await confirmTransfer(options, { env: env('app') })).result).toBe('unsupported');
  expect((await confirmTransfer({ ...options, package: '' }, { env: env('mp-weixin') })).result).toBe('failed');
});
