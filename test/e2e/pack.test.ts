/**
 * `npm run pack` → the plugin zip as the DCloud plugin market ships it (conventions §4: a
 * uni_modules plugin with complete dcloudext metadata). The zip is unpacked into a fresh, minimal
 * uni-app project (uni-config-center with a generated sandbox config, the sample handler copied
 * where the readme says, the user's own business cloud object), and the local runtime pays an order
 * there end to end: create → the sandbox pays → notification → handler ran → queryPayment paid.
 * Nothing of this repository's build is loaded: the runtime only sees the unpacked project.
 */
import * as path from 'node:path';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as ts from 'typescript';
import { tmpdir } from 'node:os';
import { pack, checkMetadata, isShipped, type PackResult } from '../../tools/pack';
import { readZip } from '../../tools/zip';
import { startStack, type Stack } from '../../tools/stack';
import { clientCall } from '../helpers/project';

const P = 'uni_modules/vk-uni-pay/';

/** The user's own cloud object, as the plugin readme tells them to write it. */
const SHOP = `const vkPay = require('vk-uni-pay');
module.exports = {
  async buy({ out_trade_no, user_id }) {
    const res = await vkPay.createPayment({
      context: this.getClientInfo(),
      provider: 'wxpay',
      isPC: true,
      data: { out_trade_no, total_fee: 990, subject: '充值 9.9 元', type: 'recharge', user_id, custom: { recharge_balance: 990 } },
    });
    return { errCode: res.code, errMsg: res.msg, ...res };
  },
  async account(user_id) {
    return { errCode: 0, account: (await uniCloud.database().collection('demo-accounts').doc(user_id).get()).data[0] || null };
  },
};`;

let packed: PackResult;
let files: Map<string, Buffer>;
let project: string;
let s: Stack;

const call = (object: string, method: string, params: unknown[]) =>
  clientCall(s, object, method, params, {
    uniPlatform: 'web',
    appId: '__UNI__PACK',
    locale: 'zh-Hans',
    ua: 'Mozilla/5.0 (Windows NT 10.0) Chrome/120',
  });

beforeAll(async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'vkpay-pack-'));
  packed = await pack(path.join(work, 'vk-uni-pay.zip'));
  files = new Map(readZip(readFileSync(packed.file)).map((e) => [e.name, e.data]));

  // a fresh uni-app project: the skeleton HBuilderX creates, plus uni-config-center
  project = path.join(work, 'my-app');
  const put = (rel: string, text: string | Buffer) => {
    mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
    writeFileSync(path.join(project, rel), text);
  };
  put('manifest.json', JSON.stringify({ name: 'my-app', appid: '__UNI__PACK', versionName: '1.0.0', vueVersion: '3' }));
  put('pages.json', JSON.stringify({ pages: [{ path: 'pages/index/index' }] }));
  put('App.vue', '<script>export default {}</script>\n');
  put(
    'main.js',
    "import App from './App'\nimport { createSSRApp } from 'vue'\nexport function createApp() { return { app: createSSRApp(App) } }\n",
  );
  put('pages/index/index.vue', '<template><view /></template>\n');
  const configCenter = 'uni_modules/uni-config-center/uniCloud/cloudfunctions/common/uni-config-center';
  put(`${configCenter}/package.json`, JSON.stringify({ name: 'uni-config-center', version: '0.0.3', main: 'index.js' }));
  put(`${configCenter}/index.js`, '// uni-config-center (the local runtime provides its implementation)\nmodule.exports = {};\n');
  for (const [name, data] of files) put(name, data); // unzip
  // readme step: copy the sample handler into vk-pay/pay-notify/
  cpSync(
    path.join(project, P, 'samples/pay-notify/recharge.js'),
    path.join(project, P, 'uniCloud/cloudfunctions/vk-pay/pay-notify/recharge.js'),
  );
  put('uniCloud-aliyun/cloudfunctions/shop/index.obj.js', SHOP);
  put(
    'uniCloud-aliyun/cloudfunctions/shop/package.json',
    JSON.stringify({
      name: 'shop',
      main: 'index.obj.js',
      dependencies: { 'vk-uni-pay': 'file:../../../uni_modules/vk-uni-pay/uniCloud/cloudfunctions/common/vk-uni-pay' },
    }),
  );
  s = await startStack({
    port: 0,
    quiet: true,
    projectDir: project,
    dataDir: path.join(work, 'data'),
    configDir: path.join(project, configCenter),
    retryDelaysMs: [400, 800, 1600],
  });
}, 120_000);
afterAll(() => s?.close());

test('the zip holds the market layout: built dist, types, docs, schema, samples; no sources or node_modules', () => {
  const names = [...files.keys()];
  expect(names.every((n) => n.startsWith(P))).toBe(true);
  for (const must of [
    'package.json',
    'readme.md',
    'changelog.md',
    'docs/errors.md',
    'components/vk-uni-pay/vk-uni-pay.vue',
    'js_sdk/index.ts',
    'samples/pay-notify/recharge.js',
    'samples/pay-notify/goods.js',
    'samples/refund-notify/recharge.js',
    'samples/refund-notify/goods.js',
    'uniCloud/cloudfunctions/common/vk-uni-pay/index.js',
    'uniCloud/cloudfunctions/common/vk-uni-pay/dist/index.js',
    'uniCloud/cloudfunctions/common/vk-uni-pay/dist/providers/wxpay.js',
    'uniCloud/cloudfunctions/common/vk-uni-pay/dist/errors.d.ts',
    'uniCloud/cloudfunctions/vk-pay/dist/index.obj.js',
    'uniCloud/cloudfunctions/vk-pay/package.json',
    'uniCloud/database/vk-pay-orders.schema.json',
    'uniCloud/database/vk-pay-orders.index.json',
  ])
    expect(names).toContain(P + must);
  expect(names.filter((n) => /\/server\/|node_modules|package-lock\.json|\.map$/.test(n))).toEqual([]);
  expect(names.filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts') && !n.startsWith(P + 'js_sdk/'))).toEqual([]);
  // user handlers are never shipped inside vk-pay (a plugin update must not overwrite them; .npmignore)
  expect(names.filter((n) => n.includes('vk-pay/pay-notify/') || n.includes('vk-pay/refund-notify/'))).toEqual([]);
  const pkg = JSON.parse(files.get(P + 'package.json')!.toString());
  expect(checkMetadata(pkg)).toEqual([]);
  expect(pkg.dcloudext).toMatchObject({ type: 'unicloud-template-function', declaration: { ads: '无', permissions: '无' } });
});

test('the selection rule itself refuses sources, node_modules and ignored folders', () => {
  expect(isShipped('server/entry/index.ts')).toBe(false);
  expect(isShipped('uniCloud/cloudfunctions/vk-pay/node_modules/x/index.js')).toBe(false);
  expect(isShipped('uniCloud/cloudfunctions/vk-pay/pay-notify/recharge.js')).toBe(false);
  expect(isShipped('uniCloud/cloudfunctions/vk-pay/refund-notify/recharge.js')).toBe(false);
  expect(isShipped('uniCloud/cloudfunctions/common/vk-uni-pay/dist/index.js')).toBe(true);
  expect(isShipped('js_sdk/client.ts')).toBe(true);
});

test('the unpacked plugin pays an order end to end in a fresh project (create → pay → notify → handler → queryPayment)', async () => {
  const no = `PACK${Date.now()}`;
  const created = await call('shop', 'buy', [{ out_trade_no: no, user_id: 'u-pack-1' }]);
  expect(created).toMatchObject({ errCode: 0, pay_type: 'wxpay_h5', out_trade_no: no, total_fee: 990 });
  expect(created.orderInfo.codeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
  await s.wxpay.pay(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged === true, 20_000);
  const { account } = await call('shop', 'account', ['u-pack-1']);
  expect(account).toMatchObject({ balance: 990, credited: [no] });
  const q = await call('vk-pay', 'queryPayment', [{ out_trade_no: no, await_notify: true }]);
  expect(q).toMatchObject({ errCode: 0, orderPaid: true, user_order_success: true, status: 1 });
});

/** Type-checks user files inside the unpacked project against the shipped declarations. */
function typeErrors(files: Record<string, string>): string[] {
  const roots = Object.entries(files).map(([rel, text]) => {
    const file = path.join(project, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  });
  const program = ts.createProgram(roots, {
    noEmit: true,
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? path.relative(project, d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('shipped types (package.json "types")', () => {
  const SHOP_DIR = 'uniCloud-aliyun/cloudfunctions/shop';
  beforeAll(() => {
    // what `npm install` makes of the function's "file:" dependency
    mkdirSync(path.join(project, SHOP_DIR, 'node_modules'), { recursive: true });
    symlinkSync(
      path.join(project, P, 'uniCloud/cloudfunctions/common/vk-uni-pay'),
      path.join(project, SHOP_DIR, 'node_modules/vk-uni-pay'),
      'dir',
    );
  });

  test('a user cloud function and a page compile against the common module and component types', () => {
    expect(
      typeErrors({
        [`${SHOP_DIR}/typed.ts`]: `import vkPay = require('vk-uni-pay');
export async function buy(context: Record<string, unknown>) {
  const res = await vkPay.createPayment({ context, provider: 'wxpay', needQRcode: 'image', data: { out_trade_no: 'T123456', total_fee: 100, subject: 's', type: 'recharge' } });
  if (res.code !== 0) { const code: vkPay.ErrorCode = res.code; return { code, msg: res.msg_en }; }
  const paid = await vkPay.queryPayment({ out_trade_no: res.out_trade_no, await_notify: true });
  if (paid.code === 0 && paid.orderPaid) return paid.payOrder?.status;
  const refund = await vkPay.refund({ out_trade_no: 'T123456', refund_fee: 50 });
  if (refund.code === 0) return [refund.outRefundNo, refund.refundFee, refund.state];
  return vkPay.ERRORS.TOTAL_FEE_INVALID[0];
}
`,
        'pages/index/typed.ts': `import type { VkUniPayInstance, VkUniPayProps, PaySuccessResult } from '../../uni_modules/vk-uni-pay';
export function pay(vkPay: VkUniPayInstance, props: VkUniPayProps) {
  const polling: boolean | undefined = props.polling;
  return vkPay.createPayment({ action: { name: 'shop', method: 'buy' }, data: { polling }, success: (res: PaySuccessResult) => res.out_trade_no });
}
`,
      }),
    ).toEqual([]);
  });

  test('every function the module exports at runtime is declared', () => {
    const mod = require(path.join(project, P, 'uniCloud/cloudfunctions/common/vk-uni-pay'));
    const keys = Object.keys(mod);
    expect(keys.length).toBeGreaterThan(10);
    expect(
      typeErrors({
        [`${SHOP_DIR}/keys.ts`]: `import vkPay = require('vk-uni-pay');\n${keys.map((k) => `void vkPay[${JSON.stringify(k)}];`).join('\n')}\n`,
      }),
    ).toEqual([]);
  });

  test('a wrong option type does not compile (the types can fail)', () => {
    const errors = typeErrors({
      [`${SHOP_DIR}/wrong.ts`]: `import vkPay = require('vk-uni-pay');
vkPay.createPayment({ context: {}, provider: 'wxpay', data: { out_trade_no: 'T123456', total_fee: '1.00', subject: 's', type: 'recharge' } });
vkPay.refund({ out_trade_no: 'T1', refund_fee: '5' });
vkPay.createPayment({ context: {}, provider: 'paypal', data: { out_trade_no: 'T123456', total_fee: 1, subject: 's', type: 'r' } });
`,
    });
    expect(errors).toHaveLength(3);
    expect(errors.join('\n')).toMatch(/total_fee|string.*number/);
  });
});
