/**
 * `npm start`: the local runtime + sandbox gateways + the H5 demo, on an embedded database in
 * ./.data. The H5 demo is rebuilt only when its sources changed. Prints one URL, last
 * (port from PORT, default 8080).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ensureH5Build, H5_DIR } from './h5build';
import { startStack } from './stack';

/** The demo's merchant view needs an admin key (demo-shop checks it): generated once per data dir. */
function ensureAdminKey(configDir: string): string {
  const file = path.join(configDir, 'demo-shop', 'config.json');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ adminKey: randomBytes(18).toString('base64url') }, null, 2) + '\n', { mode: 0o600 });
  }
  return file;
}

async function main() {
  process.stdout.write('H5 demo: ');
  const build = ensureH5Build();
  console.log(
    build.rebuilt ? `built in ${(build.ms / 1000).toFixed(1)} s (sources changed)` : 'up to date (sources unchanged, build reused)',
  );
  const stack = await startStack({
    port: Number(process.env.PORT || 8080),
    dataDir: process.env.UNICLOUD_DATA_DIR,
    staticDir: H5_DIR,
    retryDelaysMs: [2000, 5000, 15000, 30000, 60000],
  });
  const keyFile = ensureAdminKey(stack.configDir);
  console.log(`merchant view: open 商户后台 in the demo; its admin key is in ${path.relative(process.cwd(), keyFile)}`);
  console.log(`\nvk-uni-pay demo: ${stack.url}/\n`);
  const stop = async () => {
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
