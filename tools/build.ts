/**
 * Builds what uniCloud runs from the TypeScript sources (no npm install needed on upload):
 *   common/vk-uni-pay/dist/index.js               core (no provider SDK inside)
 *   common/vk-uni-pay/dist/providers/<name>.js     one lazily required file per provider adapter
 *   common/vk-uni-pay/dist/vendor/qrcode.js        QR images, loaded only when asked for
 *   common/vk-uni-pay/dist/vendor/app-store-server-library.js
 *                                                  Apple's library, loaded only where signed App Store
 *                                                  data is verified (never by createPayment); its HTTP
 *                                                  client (node-fetch, for the online checks we keep off)
 *                                                  is left out: 0.45 MB instead of 0.76 MB
 *   vk-pay/dist/index.obj.js                       the cloud object, requiring the common module
 *   common/vk-uni-pay/dist/doctor-cli.js           the `vk-uni-pay doctor` CLI (bin/vk-uni-pay.js)
 * Files are overwritten in place (never deleted first), so a build never leaves a window in which
 * a running runtime or test finds them missing. Usage: tsx tools/build.ts
 */
import * as esbuild from 'esbuild';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { PROVIDERS } from '../uni_modules/vk-uni-pay/server/core/catalog';

const root = path.resolve(__dirname, '..');
const plugin = path.join(root, 'uni_modules/vk-uni-pay');
const server = path.join(plugin, 'server');
const commonDist = path.join(plugin, 'uniCloud/cloudfunctions/common/vk-uni-pay/dist');
const objectDist = path.join(plugin, 'uniCloud/cloudfunctions/vk-pay/dist');
export { PROVIDERS };

/** Keeps lazy boundaries as runtime requires between the built files. */
const boundaries: esbuild.Plugin = {
  name: 'vk-pay-boundaries',
  setup(b) {
    b.onResolve({ filter: /^\.\/common$/ }, (args) =>
      args.importer === path.join(server, 'entry/cloud-object.ts') ? { path: 'vk-uni-pay', external: true } : undefined,
    );
    b.onResolve({ filter: /^qrcode$/ }, (args) =>
      args.importer.startsWith(server) ? { path: './vendor/qrcode.js', external: true } : undefined,
    );
    b.onResolve({ filter: /^@apple\/app-store-server-library$/ }, (args) =>
      args.importer.startsWith(server) ? { path: '../vendor/app-store-server-library.js', external: true } : undefined,
    );
    b.onResolve({ filter: /^uni-config-center$/ }, () => ({ path: 'uni-config-center', external: true }));
  },
};

/** OCSP (online checks) is off, so Apple's library never fetches: its fetch fails loudly if ever called. */
const noFetch: esbuild.Plugin = {
  name: 'vk-pay-no-fetch',
  setup(b) {
    b.onResolve({ filter: /^node-fetch$/ }, () => ({ path: 'node-fetch', namespace: 'vk-pay-no-fetch' }));
    b.onLoad({ filter: /.*/, namespace: 'vk-pay-no-fetch' }, () => ({
      contents:
        "function fetch() { throw new Error('vk-uni-pay: the App Store library may not use the network (online checks are off)'); }\n" +
        'class Headers extends Map { append(k, v) { this.set(k, v); } }\n' +
        'module.exports = fetch; module.exports.default = fetch; module.exports.Headers = Headers;',
      loader: 'js',
    }));
  },
};

const common: esbuild.BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  legalComments: 'eof',
  logLevel: 'warning',
  logOverride: { 'unsupported-require-call': 'silent' },
  plugins: [boundaries],
  // providers/registry.ts requires `${dir}/<name>`: in the bundle each adapter is dist/providers/<name>.js
  define: { VK_PAY_PROVIDERS_DIR: '"./providers"' },
};

export async function build(): Promise<void> {
  const missing = PROVIDERS.filter((name) => !existsSync(path.join(server, `providers/${name}/index.ts`)));
  if (missing.length && process.env.VK_BUILD_ALLOW_MISSING !== '1') throw new Error(`provider sources missing: ${missing.join(', ')}`);
  await Promise.all([
    // minified (the shipped plugin must stay within 1 MB); PayError sets its own name, so nothing depends on class names
    esbuild.build({
      ...common,
      minify: true,
      entryPoints: [path.join(server, 'entry/index.ts')],
      outfile: path.join(commonDist, 'index.js'),
    }),
    ...PROVIDERS.filter((name) => !missing.includes(name)).map((name) =>
      esbuild.build({
        ...common,
        minify: true,
        entryPoints: [path.join(server, `providers/${name}/index.ts`)],
        outfile: path.join(commonDist, `providers/${name}.js`),
      }),
    ),
    esbuild.build({
      ...common,
      minify: true,
      entryPoints: [require.resolve('qrcode')],
      outfile: path.join(commonDist, 'vendor/qrcode.js'),
    }),
    esbuild.build({
      ...common,
      minify: true,
      plugins: [noFetch],
      entryPoints: [require.resolve('@apple/app-store-server-library')],
      outfile: path.join(commonDist, 'vendor/app-store-server-library.js'),
    }),
    esbuild.build({
      ...common,
      minify: true,
      entryPoints: [path.join(server, 'entry/cloud-object.ts')],
      outfile: path.join(objectDist, 'index.obj.js'),
    }),
    // the doctor CLI (bin/vk-uni-pay.js); not loaded by uniCloud
    esbuild.build({
      ...common,
      minify: true,
      entryPoints: [path.join(server, 'entry/doctor-cli.ts')],
      outfile: path.join(commonDist, 'doctor-cli.js'),
    }),
  ]);
}

if (require.main === module) {
  const t = Date.now();
  build().then(
    () => console.log(`built vk-uni-pay and vk-pay in ${Date.now() - t} ms`),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
