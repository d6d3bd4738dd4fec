/**
 * The layers of server/ hold: every import of every server file is read (TypeScript's own import
 * scanner, so `import type`, `export … from` and `require('…')` all count) and checked against the
 * allowed directions. Provider folders are the catalog's names; any other folder under providers/
 * is a shared provider module (e.g. providers/wechat-api) that providers may use but that imports
 * no provider.
 */
import * as path from 'node:path';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as ts from 'typescript';
import { PROVIDERS } from '../../uni_modules/vk-uni-pay/server/core/catalog';

const SERVER = path.resolve(__dirname, '../../uni_modules/vk-uni-pay/server');

/** The layer of a file or import target, from its path relative to server/ (with or without `.ts`). */
function layerOf(rel: string): string {
  if (rel.startsWith('..')) return 'outside';
  const parts = rel.replace(/\.ts$/, '').split('/');
  if (parts.length === 1) return parts[0] === 'ports' ? 'ports' : 'unknown';
  if (parts[0] === 'providers') {
    // `providers/wxpay` (a folder's index) belongs to that folder; `providers/types` is the shared contract
    const folder = parts.length > 2 || isDirectory(path.join(SERVER, 'providers', parts[1])) || PROVIDERS.includes(parts[1] as never);
    if (!folder) return 'providers';
    return PROVIDERS.includes(parts[1] as never) ? `provider:${parts[1]}` : 'provider-shared';
  }
  return ['core', 'store', 'transport', 'services', 'entry'].includes(parts[0]) ? parts[0] : 'unknown';
}

/** What each layer may import (a provider may also import its own folder). Packages are allowed except in core and ports. */
const ALLOWED: Record<string, string[]> = {
  ports: [],
  core: ['core', 'ports'],
  transport: ['ports', 'core', 'outside'],
  store: ['store', 'core', 'ports', 'outside'],
  providers: ['providers', 'core', 'ports', 'outside'],
  'provider-shared': ['providers', 'provider-shared', 'core', 'ports', 'outside'],
  provider: ['providers', 'provider-shared', 'core', 'ports', 'outside'],
  services: ['services', 'providers', 'store', 'transport', 'core', 'ports', 'outside'],
  entry: ['entry', 'services', 'providers', 'store', 'core', 'ports', 'outside'],
};

const NO_PACKAGES = new Set(['core', 'ports']);

export interface FileImports {
  /** path relative to server/, e.g. `core/platform.ts` */
  file: string;
  /** module specifiers as written */
  imports: string[];
}

/** Every forbidden import, as `<file> → <specifier> (<from layer> → <to layer>)`. */
export function violations(files: FileImports[]): string[] {
  const out: string[] = [];
  for (const { file, imports } of files) {
    const from = layerOf(file);
    const kind = from.startsWith('provider:') ? 'provider' : from;
    for (const spec of imports) {
      let to: string;
      if (spec.startsWith('.')) to = layerOf(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
      else if (spec.startsWith('node:')) continue;
      else to = 'package';
      const ok =
        from === 'unknown'
          ? false
          : to === 'package'
            ? !NO_PACKAGES.has(from)
            : to === from || (ALLOWED[kind] ?? []).includes(to.startsWith('provider:') ? 'provider' : to);
      // the registry loads adapters by catalog name at run time, never by a static import
      if (!ok) out.push(`${file} → ${spec} (${from} → ${to})`);
    }
  }
  return out;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function serverFiles(dir = SERVER): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return serverFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

function importsOf(full: string): FileImports {
  const info = ts.preProcessFile(readFileSync(full, 'utf8'), true, true);
  return { file: path.relative(SERVER, full).split(path.sep).join('/'), imports: info.importedFiles.map((f) => f.fileName) };
}

test('no server file imports against the layers (core ← providers/store ← services ← entry; ports at the bottom)', () => {
  const files = serverFiles().map(importsOf);
  expect(files.length).toBeGreaterThan(40);
  expect(files.filter((f) => layerOf(f.file) === 'unknown').map((f) => f.file)).toEqual([]);
  expect(violations(files)).toEqual([]);
});

test('only store/ touches the database (collections); services hand the user handler its `db` and nothing else', () => {
  const outside = serverFiles()
    .map((full) => ({ file: path.relative(SERVER, full).split(path.sep).join('/'), text: readFileSync(full, 'utf8') }))
    .filter(({ file, text }) => !file.startsWith('store/') && /\.collection\(|uniCloud\.database\(/.test(text));
  expect(outside.map((f) => f.file)).toEqual([]);
});

/** String literals (not comments) in a file that are exactly a provider's name. */
function providerNamesIn(full: string): string[] {
  const source = ts.createSourceFile(full, readFileSync(full, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && PROVIDERS.includes(node.text as never))
      found.push(`${path.relative(SERVER, full)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} '${node.text}'`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test('services, store and entry never name a provider (they read the catalog, a capability or a hook)', () => {
  const files = serverFiles().filter((f) => /^(services|store|entry)\//.test(path.relative(SERVER, f).split(path.sep).join('/')));
  expect(files.flatMap(providerNamesIn)).toEqual([]);
});

test('the provider-name check sees a name in code, not in a comment', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'layers-'));
  const file = path.join(dir, 'x.ts');
  writeFileSync(file, "// config.wxpay['mp-weixin']\nif (order.provider === 'appleiap') run();\n");
  expect(providerNamesIn(file)).toHaveLength(1);
  rmSync(dir, { recursive: true, force: true });
});

test('the scanner sees every kind of import', () => {
  const info = ts.preProcessFile(
    "import type { A } from '../a';\nexport { b } from './b';\nconst c = require('../c');\nimport d = require('./d');",
    true,
    true,
  );
  expect(info.importedFiles.map((f) => f.fileName)).toEqual(['../a', './b', '../c', './d']);
});

describe('the check fails on each forbidden direction', () => {
  test.each<[string, string]>([
    ['core/platform.ts', '../providers/types'],
    ['core/platform.ts', '../store/config'],
    ['core/platform.ts', '../services/deps'],
    ['core/platform.ts', '../entry/common'],
    ['core/platform.ts', '../transport/http'],
    ['core/platform.ts', 'alipay-sdk'],
    ['ports.ts', './core/errors'],
    ['providers/wxpay/index.ts', '../alipay/oauth'],
    ['providers/wxpay/index.ts', '../wxpay-virtual/api'],
    ['providers/wxpay-virtual/api.ts', '../../store/cache'],
    ['providers/alipay/gateway.ts', '../../transport/http'],
    ['providers/alipay/gateway.ts', '../../services/deps'],
    ['providers/wechat-api/index.ts', '../wxpay/config'],
    ['providers/types.ts', './wxpay'],
    ['store/orders.ts', '../services/deps'],
    ['store/orders.ts', '../providers/types'],
    ['services/notify.ts', '../providers/appleiap/jws'],
    ['services/notify.ts', '../entry/common'],
    ['entry/common.ts', '../providers/wxpay'],
    ['newlayer/x.ts', '../core/errors'],
  ])('%s importing %s', (file, spec) => {
    expect(violations([{ file, imports: [spec] }])).toHaveLength(1);
  });

  test.each<[string, string]>([
    ['core/platform.ts', './catalog'],
    ['core/time.ts', '../ports'],
    ['providers/wxpay/index.ts', './v3'],
    ['providers/wxpay/index.ts', '../wechat-api'],
    ['providers/wxpay/index.ts', '../types'],
    ['providers/wxpay/index.ts', '../../core/errors'],
    ['providers/wxpay/v3.ts', '../../ports'],
    ['store/cache.ts', '../ports'],
    ['services/notify.ts', '../providers/registry'],
    ['entry/common.ts', '../services/deps'],
  ])('but allows %s importing %s', (file, spec) => {
    expect(violations([{ file, imports: [spec] }])).toEqual([]);
  });
});
