/** Discovery of cloud functions / objects / common modules / database dirs in a uni-app project. */
import fs from 'fs';
import path from 'path';

export interface CloudFunctionConfig {
  path?: string;
  timeout?: number;
  concurrency?: number;
  triggers?: { name?: string; type?: string; config?: string }[];
  [k: string]: unknown;
}

export interface FunctionDef {
  name: string;
  dir: string;
  kind: 'object' | 'function';
  entry: string;
  config: CloudFunctionConfig;
  /** normalised URL化 root ('' = none), no trailing slash, '/' allowed */
  httpPath: string;
}

export interface CommonModuleDef {
  name: string;
  dir: string;
  entry: string;
}

export interface ProjectLayout {
  functions: Map<string, FunctionDef>;
  commons: Map<string, CommonModuleDef>;
  databaseDirs: string[];
  /** folders whose code may require common modules by bare name */
  cloudRoots: string[];
}

function readJson(file: string): any {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
}

function subdirs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() || d.isSymbolicLink())
    .map((d) => d.name)
    .filter((n) => !n.startsWith('.'))
    .sort();
}

export function normaliseHttpPath(p: unknown): string {
  if (typeof p !== 'string' || !p.trim()) return '';
  let s = p.trim();
  if (!s.startsWith('/')) s = '/' + s;
  s = s.replace(/\/+$/, '');
  return s || '/';
}

export function discoverProject(projectDir: string): ProjectLayout {
  const fnRoots = [path.join(projectDir, 'uniCloud-aliyun', 'cloudfunctions')];
  const dbDirs = [path.join(projectDir, 'uniCloud-aliyun', 'database')];
  for (const mod of subdirs(path.join(projectDir, 'uni_modules'))) {
    fnRoots.push(path.join(projectDir, 'uni_modules', mod, 'uniCloud', 'cloudfunctions'));
    dbDirs.push(path.join(projectDir, 'uni_modules', mod, 'uniCloud', 'database'));
  }
  const functions = new Map<string, FunctionDef>();
  const commons = new Map<string, CommonModuleDef>();
  for (const root of fnRoots) {
    for (const name of subdirs(root)) {
      const dir = path.join(root, name);
      if (name === 'common') {
        for (const c of subdirs(dir)) {
          const cdir = path.join(dir, c);
          const pkg = readJson(path.join(cdir, 'package.json')) || {};
          const entry = path.resolve(cdir, typeof pkg.main === 'string' && pkg.main ? pkg.main : 'index.js');
          if (!commons.has(c)) commons.set(c, { name: c, dir: cdir, entry });
        }
        continue;
      }
      const pkg = readJson(path.join(dir, 'package.json')) || {};
      let entry = '';
      let kind: FunctionDef['kind'] = 'function';
      if (fs.existsSync(path.join(dir, 'index.obj.js'))) {
        entry = path.join(dir, 'index.obj.js');
        kind = 'object';
      } else if (fs.existsSync(path.join(dir, 'index.js'))) {
        entry = path.join(dir, 'index.js');
      } else if (typeof pkg.main === 'string' && fs.existsSync(path.resolve(dir, pkg.main))) {
        entry = path.resolve(dir, pkg.main);
        kind = /\.obj\.js$/.test(entry) ? 'object' : 'function';
      } else continue;
      const config: CloudFunctionConfig = (pkg['cloudfunction-config'] as CloudFunctionConfig) || {};
      if (functions.has(name)) {
        process.stderr.write(`[local-unicloud] duplicate cloud function name ${name}: ${dir} ignored\n`);
        continue;
      }
      functions.set(name, { name, dir, kind, entry, config, httpPath: normaliseHttpPath(config.path) });
    }
  }
  return {
    functions,
    commons,
    databaseDirs: dbDirs.filter((d) => fs.existsSync(d)),
    cloudRoots: fnRoots,
  };
}
