/**
 * The BUILT plugin (npm test builds first; for a single run: npx tsx tools/build.ts): what ships and
 * what a createPayment loads. Sizes only, no timings (those are in `npm run bench`).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { issueCertificate } from '../../tools/sandbox/pki';

const plugin = path.resolve(__dirname, '../../uni_modules/vk-uni-pay/uniCloud/cloudfunctions');
const commonDist = path.join(plugin, 'common/vk-uni-pay/dist');
const DIST_DIRS = [commonDist, path.join(plugin, 'vk-pay/dist')];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

test('the shipped plugin (built common module + cloud object) is at most 1 MB', () => {
  const bytes = DIST_DIRS.flatMap(files).reduce((n, f) => n + statSync(f).size, 0);
  expect(bytes).toBeGreaterThan(100_000); // built
  expect(bytes).toBeLessThanOrEqual(1_000_000);
});

test('no provider chunk carries alipay-sdk; appleiap loads Apple’s library only to verify signed data', async () => {
  const root = await issueCertificate({ subject: 'CN=Bundle Test Root, O=Test, C=CN', isCa: true, keyType: 'ec' });
  const script = `
    const path = require('path');
    const vendor = () => Object.keys(require.cache).some((f) => f.endsWith(path.join('vendor', 'app-store-server-library.js')));
    const { appleiapAdapter, verifySignedTransaction } = require(${JSON.stringify(path.join(commonDist, 'providers/appleiap.js'))});
    const input = { out_trade_no: 'BUNDLE0001', total_fee: 600, subject: 's', extra: { productid: 'coins_600' }, other: {} };
    (async () => {
      await appleiapAdapter.createOrder(input, { config: {} });
      const afterCreate = vendor();
      const ctx = { config: { bundleId: 'com.example', appleRootCertificates: [${JSON.stringify(root.certPem)}], sandbox: true }, clock: { now: () => Date.now() } };
      const err = await verifySignedTransaction('a.b.c', ctx).then(() => undefined, (e) => e.key);
      console.log(JSON.stringify({ afterCreate, afterVerify: vendor(), err }));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout.trim())).toEqual({ afterCreate: false, afterVerify: true, err: 'APPLE_RECEIPT_INVALID' });
  for (const f of files(path.join(commonDist, 'providers'))) {
    const text = readFileSync(f, 'utf8');
    expect(text).not.toContain('alipay-sdk-nodejs'); // the SDK's user agent
    expect(text).not.toContain('@fidm/x509');
  }
});
