/** Runs the whole stack in its own process (argv: dataDir) so a test can read everything it prints. */
import { startStack } from '../../tools/stack';

startStack({ port: 0, dataDir: process.argv[2], retryDelaysMs: [200, 400, 800] }).then(
  (stack) => {
    console.log(`READY ${stack.url}`);
    process.on('SIGTERM', () => stack.close().then(() => process.exit(0)));
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
