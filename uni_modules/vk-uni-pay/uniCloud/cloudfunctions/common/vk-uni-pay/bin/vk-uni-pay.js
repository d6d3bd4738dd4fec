#!/usr/bin/env node
// `npx vk-uni-pay doctor --config <uni-config-center/uni-pay/config.js> [--online]` (or `node <this file> doctor …`).
// dist/doctor-cli.js is built from uni_modules/vk-uni-pay/server/entry/doctor-cli.ts (npm run build).
const [command, ...rest] = process.argv.slice(2);
if (command !== 'doctor') {
  process.stderr.write('用法 / usage: vk-uni-pay doctor --config <uni-pay/config.js> [--online] [--space <spaceId>] [--json]\n');
  process.exit(2);
}
require('../dist/doctor-cli.js')
  .main(rest)
  .then((code) => {
    process.exitCode = code;
  });
