/**
 * `npm start`: the local runtime + sandbox gateways + the H5 demo, on an embedded database in
 * ./.data. Prints one URL (port from PORT, default 8080).
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { ROOT, startStack } from './stack';

async function main() {
  const staticDir = path.join(ROOT, 'dist/build/h5');
  const stack = await startStack({
    port: Number(process.env.PORT || 8080),
    dataDir: process.env.UNICLOUD_DATA_DIR,
    staticDir: existsSync(staticDir) ? staticDir : undefined,
    retryDelaysMs: [2000, 5000, 15000, 30000, 60000],
  });
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
