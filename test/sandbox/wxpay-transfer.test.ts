/**
 * The wxpay adapter's transfer hooks against the WeChat Pay sandbox in each key mode: the payee's
 * name is encrypted for the key the request's Wechatpay-Serial names (WeChat Pay public key, or a
 * platform certificate the adapter downloads itself), and the sandbox decrypts it.
 */
import {
  createWxpayMerchant,
  startWxpaySandbox,
  type WxpaySandbox,
  type WxpaySandboxMerchant,
  type WxSignMode,
} from '../../tools/sandbox/wxpay';
import { loopbackTransport } from '../../tools/sandbox/alipay/testkit';
import { wxpayAdapter } from '../../uni_modules/vk-uni-pay/server/providers/wxpay';
import { memoryCache } from '../../uni_modules/vk-uni-pay/server/store/cache';

const modes: WxSignMode[] = ['platform-cert', 'public-key'];
const merchants: Record<string, WxpaySandboxMerchant> = {};
let sandbox: WxpaySandbox;

beforeAll(async () => {
  for (const mode of modes) merchants[mode] = await createWxpayMerchant({ signMode: mode });
  sandbox = await startWxpaySandbox({ merchants: Object.values(merchants), port: 0, retryDelaysMs: [], quiet: true });
}, 60_000);
afterAll(() => sandbox?.close());

function ctx(m: WxpaySandboxMerchant) {
  return {
    config: {
      appId: m.appids[0],
      mchId: m.mchid,
      v3Key: m.apiV3Key,
      appCertContent: m.merchant.certPem,
      appPrivateKeyContent: m.merchant.keyPem,
      ...(m.signMode === 'public-key' ? { wxpayPublicKeyId: m.publicKeyId, wxpayPublicKeyContent: m.publicKey.publicKeyPem } : {}),
      gateway: sandbox.url,
    },
    http: loopbackTransport(),
    clock: { now: () => Date.now() },
    cache: memoryCache(),
  };
}

test.each(modes)('%s: a 2000-yuan transfer carries the encrypted name the sandbox can read, and waits for the payee', async (mode) => {
  const m = merchants[mode];
  const c = ctx(m);
  const params = { transfer_amount: 200_000, transfer_remark: '大额提现', openid: 'o-big', user_name: '王五' };
  const checked = wxpayAdapter.checkTransfer!(params, c as never);
  const out_bill_no = `S${mode.replace(/\W/g, '')}${Date.now()}`.slice(0, 32);
  const answer = await wxpayAdapter.transfer!({ ...checked, out_bill_no }, c as never);
  expect(answer).toMatchObject({ state: 'WAIT_USER_CONFIRM', out_bill_no, client_options: { mchId: m.mchid, appId: m.appids[0] } });
  expect(sandbox.transfers.bill(out_bill_no)).toMatchObject({ user_name: '王五', transfer_amount: 200_000 });
  expect(await wxpayAdapter.queryTransfer!({ out_bill_no }, c as never)).toMatchObject({
    state: 'WAIT_USER_CONFIRM',
    transfer_amount: 200_000,
  });
  expect(await wxpayAdapter.queryTransfer!({ out_bill_no: 'NOPE1' }, c as never)).toBe('NOT_FOUND');
});
