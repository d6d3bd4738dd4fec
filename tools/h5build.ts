/**
 * The H5 demo build (`uni build` into dist/build/h5), redone only when its inputs changed: a hash
 * of every source file is stamped into the build and compared on the next start. Used by
 * `npm start` and the browser tests.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
export const H5_DIR = path.join(ROOT, 'dist/build/h5');
const STAMP = '.vk-sources-hash';

/** Everything the H5 build reads (directories are walked). */
export const H5_SOURCES = [
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
  'package-lock.json',
];

function walk(root: string, rel: string, out: string[]): void {
  const abs = path.join(root, rel);
  if (!fs.existsSync(abs)) return;
  if (!fs.statSync(abs).isDirectory()) {
    out.push(rel);
    return;
  }
  for (const e of fs.readdirSync(abs).sort()) walk(root, path.join(rel, e), out);
}

/** sha256 over the names and contents of the sources (the build itself always runs in production mode). */
export function sourcesHash(root = ROOT, sources = H5_SOURCES): string {
  const files: string[] = [];
  for (const s of sources) walk(root, s, files);
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.split(path.sep).join('/')}\n`).update(fs.readFileSync(path.join(root, f)));
  return h.digest('hex');
}

export function h5BuildIsFresh(root = ROOT, outDir = H5_DIR): boolean {
  const stamp = path.join(outDir, STAMP);
  if (!fs.existsSync(path.join(outDir, 'index.html')) || !fs.existsSync(stamp)) return false;
  return fs.readFileSync(stamp, 'utf8').trim() === sourcesHash(root);
}

/**
 * Reuses the build when its stamp matches the sources, else runs `npm run build:h5` with its
 * output captured: the uni CLI prints DCloud notices that do not apply here (no DCloud appid for
 * uni statistics, "spaceId为：undefined" because the local runtime is given as UNI_CLOUD_PROVIDER
 * in vite.config.js, web hosting adverts). They are shown only if the build fails.
 */
export function ensureH5Build(): { rebuilt: boolean; ms: number } {
  if (h5BuildIsFresh()) return { rebuilt: false, ms: 0 };
  // two browser suites (jest workers) start together: one builds, the other waits and reuses
  return withBuildLock(() => (h5BuildIsFresh() ? { rebuilt: false, ms: 0 } : build()));
}

const LOCK = path.join(ROOT, 'dist/build/.h5build.lock');
const LOCK_STALE_MS = 10 * 60_000;

function withBuildLock<T>(fn: () => T): T {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // a builder that died leaves its lock behind
      const held = fs.statSync(LOCK, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) fs.rmSync(LOCK, { recursive: true, force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

function build(): { rebuilt: boolean; ms: number } {
  const hash = sourcesHash();
  const t0 = Date.now();
  const r = spawnSync('npm', ['run', 'build:h5'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (r.status !== 0 || !fs.existsSync(path.join(H5_DIR, 'index.html'))) {
    throw new Error(`npm run build:h5 failed (${r.status}):\n${(r.stdout || '').slice(-3000)}\n${(r.stderr || '').slice(-3000)}`);
  }
  fs.writeFileSync(path.join(H5_DIR, STAMP), hash + '\n');
  return { rebuilt: true, ms: Date.now() - t0 };
}
