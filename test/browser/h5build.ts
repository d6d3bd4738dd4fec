/** Makes sure an H5 build is a build of its current sources (rebuilds when stale). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const H5_DIR = path.join(ROOT, 'dist/build/h5');

const SOURCES = [
  'App.vue',
  'main.js',
  'index.html',
  'vite.config.js',
  'manifest.json',
  'pages.json',
  'uni.scss',
  'pages',
  'static',
  'uni_modules/vk-uni-pay/components',
  'uni_modules/vk-uni-pay/js_sdk',
  'package.json',
];

export interface H5Build {
  /** project folder where `npm run build:h5` runs */
  cwd: string;
  /** the build output (holds index.html) */
  outDir: string;
  /** files and folders (relative to ROOT) whose changes call for a rebuild */
  sources: string[];
}

const DEMO: H5Build = { cwd: ROOT, outDir: H5_DIR, sources: SOURCES };

function newestMtime(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

export function h5BuildIsFresh(build: H5Build = DEMO): boolean {
  const index = path.join(build.outDir, 'index.html');
  if (!fs.existsSync(index)) return false;
  const built = fs.statSync(index).mtimeMs;
  return build.sources.every((s) => newestMtime(path.join(ROOT, s)) <= built);
}

/** Reuses the build when it is newer than every source, else runs `npm run build:h5`. */
export function ensureH5Build(build: H5Build = DEMO, timeoutMs = 300_000): { rebuilt: boolean; ms: number } {
  if (h5BuildIsFresh(build)) return { rebuilt: false, ms: 0 };
  const t0 = Date.now();
  const r = spawnSync('npm', ['run', 'build:h5'], {
    cwd: build.cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (r.status !== 0 || !fs.existsSync(path.join(build.outDir, 'index.html'))) {
    throw new Error(`npm run build:h5 failed (${r.status}):\n${(r.stdout || '').slice(-3000)}\n${(r.stderr || '').slice(-3000)}`);
  }
  return { rebuilt: true, ms: Date.now() - t0 };
}
