// `npm run build:h5`: copies the plugin in, then runs uni-app's Vue 2 H5 build (vue-cli-service uni-build).
const fs = require('fs');
const path = require('path');
const Module = require('module');

const root = path.resolve(__dirname, '..');
if (!fs.existsSync(path.join(root, 'node_modules'))) {
  console.error('test/vue2-h5 has its own toolchain: run `npm ci --prefix test/vue2-h5` first');
  process.exit(1);
}

// The whole plugin goes where a uni-app project keeps it: easycom finds the components in
// src/uni_modules, and the build compiles them (and the TypeScript js_sdk) like the project's own
// sources. Its server/ sources are cloud code (excluded in tsconfig.json, see README.md).
const from = path.resolve(root, '../../uni_modules/vk-uni-pay');
const to = path.join(root, 'src/uni_modules/vk-uni-pay');
fs.rmSync(to, { recursive: true, force: true });
for (const part of fs.readdirSync(from)) {
  fs.cpSync(path.join(from, part), path.join(to, part), { recursive: true });
}

// vue-cli-plugin-uni posts a daily update check to dcloud when loaded outside HBuilderX; the
// tests build offline, so that module is replaced by a no-op before the CLI loads it.
const checkUpdate = require.resolve('@dcloudio/vue-cli-plugin-uni/lib/check-update', { paths: [root] });
const stub = new Module(checkUpdate);
stub.exports = async () => {};
stub.loaded = true;
require.cache[checkUpdate] = stub;

process.chdir(root);
process.env.NODE_ENV = 'production';
process.env.UNI_PLATFORM = 'h5';
process.argv = [process.argv[0], 'vue-cli-service', 'uni-build'];
require(require.resolve('@vue/cli-service/bin/vue-cli-service', { paths: [root] }));
