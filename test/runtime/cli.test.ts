import { spawn, type ChildProcess } from 'child_process';
import path from 'path';
import { callCloudObject } from '../../tools/local-unicloud';
import { createFixture, type Fixture } from './fixtures/project';

let fx: Fixture;
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  fx?.cleanup();
});

test('CLI starts, prints the URL, serves calls with its options and stops on SIGTERM', async () => {
  fx = createFixture();
  const repo = path.resolve(__dirname, '..', '..');
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(repo, 'tools/local-unicloud/cli.ts'),
      '--project',
      fx.projectDir,
      '--data',
      fx.dataDir,
      '--port',
      '0',
      '--space-id',
      'sp-cli',
      '--client-secret',
      'sec-cli',
    ],
    {
      cwd: repo,
      env: { ...process.env, UNICLOUD_CONFIG_DIR: fx.configDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child!.on('exit', (code) => reject(new Error(`cli exited ${code}: ${stderr}`)));
  });
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const r = await callCloudObject(url, 'demo-co', 'useConfig', [], { clientSecret: 'sec-cli', spaceId: 'sp-cli' });
  expect(r.success).toBe(true);
  expect(r.data.js).toEqual({ fromJs: true, appId: 'wx-local' });
  const bad = await callCloudObject(url, 'demo-co', 'useConfig', [], { clientSecret: 'local-secret', spaceId: 'sp-cli' });
  expect(bad.error!.code).toBe('SIGN_ERROR');
  const echo = await callCloudObject(url, 'demo-co', 'echo', [1], { clientSecret: 'sec-cli', spaceId: 'sp-cli' });
  expect(echo.data.cloudInfo.spaceId).toBe('sp-cli');
  const code = await new Promise<number | null>((resolve) => {
    child!.on('exit', (c) => resolve(c));
    child!.kill('SIGTERM');
  });
  expect(code).toBe(0);
  // one log line per request, no bodies/headers
  expect(stderr).toMatch(/POST \/unicloud\/client 200 \d+ms/);
  expect(stderr).not.toContain('sec-cli');
  expect(stderr).not.toContain('wx-local');
}, 30000);
