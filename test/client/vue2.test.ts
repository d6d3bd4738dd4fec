/**
 * The same <vk-uni-pay> source under Vue 2.7 (the browser tests run it under Vue 3): its real
 * <script> block, bundled with the TypeScript js_sdk, drives a mini-program payment through a
 * fake `uni` and `uniCloud`; events reach Vue 2 listeners and beforeDestroy cleans up.
 */
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import * as esbuild from 'esbuild';

const COMPONENT = path.resolve(__dirname, '../../uni_modules/vk-uni-pay/components/vk-uni-pay/vk-uni-pay.vue');

function loadComponent(platform: string): Record<string, any> {
  const script = /<script>([\s\S]*?)<\/script>/.exec(readFileSync(COMPONENT, 'utf8'))![1];
  const out = esbuild.buildSync({
    stdin: { contents: script, resolveDir: path.dirname(COMPONENT), loader: 'js', sourcefile: 'vk-uni-pay.vue' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    write: false,
    define: { 'process.env.UNI_PLATFORM': JSON.stringify(platform) },
    logLevel: 'silent',
  });
  const mod = { exports: {} as Record<string, any> };
  new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, require);
  return mod.exports.default;
}

interface Calls {
  requestPayment: any[];
  cloud: Array<[string, string, unknown]>;
}

function fakes(calls: Calls, pay: 'ok' | 'cancel') {
  (globalThis as any).uni = {
    requestPayment(o: any) {
      calls.requestPayment.push(o);
      setTimeout(() => (pay === 'ok' ? o.success({ errMsg: 'requestPayment:ok' }) : o.fail({ errMsg: 'requestPayment:fail cancel' })), 0);
    },
    login: (o: any) => o.success({ code: 'c1' }),
    showModal: (o: any) => o.success?.({ confirm: true }),
    showLoading() {},
    hideLoading() {},
    getStorageSync: () => '',
    setStorageSync() {},
  };
  (globalThis as any).uniCloud = {
    importObject: (name: string) =>
      new Proxy(
        {},
        {
          get: (_t, method: string) => async (params: unknown) => {
            calls.cloud.push([name, method, params]);
            if (method === 'createRechargeOrder') {
              return {
                errCode: 0,
                orderInfo: { appId: 'wx1', timeStamp: '1', nonceStr: 'n', package: 'prepay_id=p', signType: 'RSA', paySign: 's' },
                out_trade_no: 'T0001',
                provider: 'wxpay',
                pay_type: 'wxpay_mp-weixin',
                needQRcode: false,
                total_fee: 1,
                platform: 'mp-weixin',
              };
            }
            return { errCode: 0, orderPaid: true, status: 1, user_order_success: true, out_trade_no: 'T0001' };
          },
        },
      ),
    callFunction: async () => ({ result: {} }),
  };
}

const Vue2 = require('vue2');

async function pay(result: 'ok' | 'cancel') {
  const calls: Calls = { requestPayment: [], cloud: [] };
  fakes(calls, result);
  const vm = new Vue2({ ...loadComponent('mp-weixin'), propsData: { autoGetOpenid: false, payOrderInfo: false } });
  const events: Array<[string, any]> = [];
  for (const ev of ['update:status', 'create', 'success', 'fail', 'cancel']) vm.$on(ev, (p: any) => events.push([ev, p]));
  await vm.createPayment({ action: { name: 'demo-shop', method: 'createRechargeOrder' }, data: { item_id: 'r1', provider: 'wxpay' } });
  for (let i = 0; i < 50 && !events.some(([e]) => e === 'success' || e === 'cancel' || e === 'fail'); i++)
    await new Promise((r) => setTimeout(r, 10));
  return { vm, events, calls };
}

test('Vue 2.7: a mini-program payment emits create, status updates and success to Vue 2 listeners', async () => {
  expect(Vue2.version).toMatch(/^2\.7\./);
  const { vm, events, calls } = await pay('ok');
  expect(calls.cloud[0]).toEqual(['demo-shop', 'createRechargeOrder', expect.objectContaining({ item_id: 'r1', provider: 'wxpay' })]);
  expect(calls.requestPayment[0]).toMatchObject({ provider: 'wxpay', package: 'prepay_id=p', paySign: 's' });
  const names = events.map(([e]) => e);
  expect(names).toContain('create');
  expect(names[names.length - 1]).toBe('success');
  expect(events.filter(([e]) => e === 'update:status').map(([, s]) => s)).toEqual([1, 2]);
  vm.$destroy(); // beforeDestroy (Vue 2's hook) stops the client without error
});

test('Vue 2.7: a cancelled payment is reported as cancel, not fail', async () => {
  const { vm, events } = await pay('cancel');
  const names = events.map(([e]) => e);
  expect(names).toContain('cancel');
  expect(names).not.toContain('fail');
  vm.$destroy();
});
