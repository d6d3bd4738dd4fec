/**
 * The provider catalog (core/catalog.ts) and the adapters agree: one folder per row exporting
 * `adapter`, capabilities exactly the adapter's optional members, every scene reachable by
 * detection, and the build, registry and login table all derived from the rows.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  CATALOG,
  LOGIN_NODES,
  PROVIDERS,
  PUSH_ROUTES,
  configNodePath,
  knownPayType,
  supports,
  type Capability,
} from '../../uni_modules/vk-uni-pay/server/core/catalog';
import { detectPayType } from '../../uni_modules/vk-uni-pay/server/core/platform';
import { timeExpireMinimumMs } from '../../uni_modules/vk-uni-pay/server/core/validate';
import { adapterWith, loadAdapter } from '../../uni_modules/vk-uni-pay/server/providers/registry';
import { CAPABILITY_MEMBER, type ProviderAdapter } from '../../uni_modules/vk-uni-pay/server/providers/types';
import { PROVIDERS as BUILD_ENTRIES } from '../../tools/build';

const SERVER = path.resolve(__dirname, '../../uni_modules/vk-uni-pay/server');

test.each(PROVIDERS.map((p) => [p]))('%s: its folder exports the adapter the registry loads', (name) => {
  expect(existsSync(path.join(SERVER, 'providers', name, 'index.ts'))).toBe(true);
  const adapter = loadAdapter(name);
  expect(adapter.provider).toBe(name);
  expect(loadAdapter(name)).toBe(adapter); // loaded once
});

test.each(CATALOG.map((p) => [p.name, p]))('%s: capabilities are exactly the adapter members', (_name, entry) => {
  const adapter = loadAdapter(entry.name) as unknown as Record<string, unknown>;
  for (const [capability, member] of Object.entries(CAPABILITY_MEMBER)) {
    expect([capability, typeof adapter[member] === 'function']).toEqual([
      capability,
      entry.capabilities.includes(capability as Capability),
    ]);
  }
});

test('an operation a provider lacks is OPERATION_UNSUPPORTED (3005), decided by the adapter contract', () => {
  expect(() => adapterWith('appleiap', 'refund')).toThrow(expect.objectContaining({ key: 'OPERATION_UNSUPPORTED', code: 3005 }));
  expect(typeof adapterWith('wxpay', 'closeOrder').closeOrder).toBe('function');
  expect(() => loadAdapter('paypal' as never)).toThrow(expect.objectContaining({ key: 'PROVIDER_INVALID' }));
});

test('the build bundles one adapter per catalog row', () => {
  expect([...BUILD_ENTRIES]).toEqual([...PROVIDERS]);
});

test('every scene of a row is reachable by detection, and detection yields only the row’s scenes', () => {
  const uniPlatforms = ['web', 'app', 'mp-weixin', 'mp-alipay', 'mp-toutiao'];
  for (const entry of CATALOG) {
    const seen = new Set<string>();
    for (const uniPlatform of uniPlatforms)
      for (const isPC of [false, true])
        for (const needQRcode of [false, true])
          for (const userAgent of ['Mozilla/5.0', 'Mozilla/5.0 MicroMessenger/8.0'])
            for (const alipayAppPayToH5Pay of [false, true]) {
              try {
                seen.add(
                  detectPayType({ provider: entry.name, uniPlatform, userAgent, isPC, needQRcode, alipayAppPayToH5Pay }).platformKey,
                );
              } catch (e) {
                expect(e).toMatchObject({ key: 'PLATFORM_UNSUPPORTED' });
              }
            }
    expect([...seen].sort()).toEqual(Object.keys(entry.scenes).sort());
  }
});

test('rules come from the rows: time_expire minimum, config node, known pay types', () => {
  expect(timeExpireMinimumMs('wxpay_h5')).toBe(60_000);
  expect(timeExpireMinimumMs('wxpay_mp-weixin')).toBe(300_000);
  expect(timeExpireMinimumMs('alipay_app-plus')).toBe(1_000);
  expect(timeExpireMinimumMs('appleiap_app-plus')).toBeUndefined();
  expect(configNodePath('vkspay', 'h5')).toEqual(['vkspay']);
  expect(configNodePath('wxpay-virtual', 'mp-weixin')).toEqual(['wxpay-virtual', 'mp-weixin']);
  expect(knownPayType('wxpay', 'mweb')).toBe('wxpay_mweb');
  expect(knownPayType('vkspay', 'mweb')).toBeUndefined();
  expect(knownPayType('paypal', 'h5')).toBeUndefined();
});

test('push routes and logins name providers that can serve them', () => {
  expect(PUSH_ROUTES.map((r) => r.method).sort()).toEqual(['appleNotify', 'wxpayVirtualNotify']);
  for (const r of PUSH_ROUTES) expect(CATALOG.find((p) => p.name === r.provider)!.scenes[r.platformKey]).toBeDefined();
  for (const nodes of Object.values(LOGIN_NODES))
    for (const [provider, platformKey] of nodes) {
      expect(supports(provider, 'login')).toBe(true);
      expect(CATALOG.find((p) => p.name === provider)!.scenes[platformKey]).toBeDefined();
    }
});

test('the adapter contract is checked by tsc (an adapter missing a member or with a misspelt hook does not compile)', () => {
  // @ts-expect-error createOrder, queryOrder, verifyNotify and notifyReply are required
  const incomplete: ProviderAdapter = { provider: 'wxpay' };
  const misspelt: ProviderAdapter = {
    ...loadAdapter('wxpay'),
    // @ts-expect-error hooks have fixed names (`provideGoods`), so renaming one fails the typecheck
    provideGoodz: async () => undefined,
  };
  expect(incomplete && misspelt).toBeTruthy();
});
