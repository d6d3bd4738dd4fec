/**
 * The local runtime in a child process on a test stack's project and database, so a test can
 * SIGKILL it at a crash point and start it again, or run two of them on one database.
 */
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as esbuild from 'esbuild';
import { ROOT } from '../../tools/stack';
import type { TestStack } from '../helpers/project';

export interface ChildRuntime {
  url: string;
  child: ChildProcess;
  /** resolves with the signal (or exit code) the process ended with */
  exited: Promise<string>;
  kill(): Promise<string>;
}

let bundled: Promise<string> | undefined;

/** The runtime's CLI compiled once per test file: a restart then takes a fraction of a second, not seconds of tsx. */
function runtimeCli(): Promise<string> {
  return (bundled ??= (async () => {
    const outfile = path.join(mkdtempSync(path.join(tmpdir(), 'vkpay-cli-')), 'cli.js');
    await esbuild.build({
      entryPoints: [path.join(ROOT, 'tools/local-unicloud/cli.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      external: ['better-sqlite3', 'mingo'],
      nodePaths: [path.join(ROOT, 'node_modules')],
      logLevel: 'error',
    });
    return outfile;
  })());
}

/** Starts `tools/local-unicloud/cli.ts` on the stack's project, data and config; `env` adds crash points. */
export async function startChildRuntime(s: TestStack, env: Record<string, string> = {}, port = 0): Promise<ChildRuntime> {
  const dataDir = path.dirname(s.configDir);
  const projectDir = path.dirname(dataDir);
  const cli = await runtimeCli();
  const child = spawn(
    process.execPath,
    [
      cli,
      ...['--project', projectDir, '--data', dataDir, '--config', s.configDir, '--port', String(port), '--quiet'],
      ...['--space-id', s.runtime.spaceId, '--client-secret', s.runtime.clientSecret],
    ],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), VK_PAY_LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? String(code))));
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
    if (process.env.VK_TEST_CHILD_STDERR) process.stderr.write(c);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    exited.then((how) => reject(new Error(`runtime child ended (${how}) before listening: ${stderr.slice(0, 2000)}`)));
  });
  return {
    url,
    child,
    exited,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}
