/**
 * npx tsx tools/local-unicloud/cli.ts --project . --data .data --config DIR --port 8080 \
 *   --space-id local-space --client-secret local-secret --static DIR [--host 127.0.0.1] [--quiet]
 * Env fallbacks: PORT, UNICLOUD_DATA_DIR, UNICLOUD_CONFIG_DIR.
 */
import path from 'path';
import { startRuntime } from './index';

function parseArgs(argv: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = true;
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(
      'usage: tsx tools/local-unicloud/cli.ts --project DIR --data DIR [--config DIR] [--port N] [--host H]\n' +
        '       [--space-id ID] [--client-secret S] [--static DIR] [--quiet]\n',
    );
    return;
  }
  const str = (k: string) => (typeof args[k] === 'string' ? (args[k] as string) : undefined);
  const portText = str('port') ?? process.env.PORT;
  const port = portText === undefined ? 8080 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port ${portText}`);
  const projectDir = path.resolve(str('project') || '.');
  const handle = await startRuntime({
    projectDir,
    dataDir: path.resolve(str('data') || process.env.UNICLOUD_DATA_DIR || path.join(projectDir, '.data')),
    configDir: str('config') || process.env.UNICLOUD_CONFIG_DIR || undefined,
    port,
    host: str('host'),
    spaceId: str('space-id'),
    clientSecret: str('client-secret'),
    staticDir: str('static'),
    quiet: args.quiet === true,
  });
  process.stdout.write(`local-unicloud listening on ${handle.url}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    handle.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`local-unicloud: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
