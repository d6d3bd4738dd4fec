/**
 * Loads cloud code with Node's own CommonJS loader (also when the runtime itself runs inside jest,
 * whose sandboxed `require('module')` is a copy) and resolves bare common-module names.
 */
import path from 'path';
import vm from 'vm';

const ModuleShim: any = require('module');

/** The real node `Module` (jest hands out a subclass of it). */
export const NodeModule: any = (() => {
  const proto = Object.getPrototypeOf(ModuleShim);
  return proto && typeof proto._load === 'function' && typeof proto._resolveFilename === 'function' ? proto : ModuleShim;
})();

/** The global object cloud code sees (the main realm, also under jest). */
export const hostGlobal: any = vm.runInThisContext('globalThis');

export interface Resolver {
  /** absolute file for a bare request from `parentFile`, or undefined */
  resolveBare(request: string, parentFile: string): string | undefined;
}

interface HookState {
  resolvers: Set<Resolver>;
}

const HOOK = Symbol.for('local-unicloud.resolveHook');

function hookState(): HookState {
  let st: HookState | undefined = NodeModule[HOOK];
  if (st) return st;
  st = { resolvers: new Set() };
  NodeModule[HOOK] = st;
  const original = NodeModule._resolveFilename;
  const state = st;
  NodeModule._resolveFilename = function (request: string, parent: any, ...rest: unknown[]) {
    if (
      typeof request === 'string' &&
      parent &&
      typeof parent.filename === 'string' &&
      !request.startsWith('.') &&
      !path.isAbsolute(request) &&
      !request.startsWith('node:')
    ) {
      for (const r of state.resolvers) {
        const hit = r.resolveBare(request, parent.filename);
        if (hit) return hit;
      }
    }
    return original.call(this, request, parent, ...rest);
  };
  return st;
}

export function registerResolver(r: Resolver): () => void {
  const st = hookState();
  st.resolvers.add(r);
  return () => st.resolvers.delete(r);
}

/** Loads a file with node's loader (cached in node's require cache). */
export function nativeRequire(file: string): any {
  return NodeModule.createRequire(file)(file);
}

/** Puts a ready-made module into node's require cache under `filename`. */
export function defineVirtualModule(filename: string, exportsValue: unknown): void {
  const m = new NodeModule(filename, null);
  m.filename = filename;
  m.paths = [];
  m.loaded = true;
  m.exports = exportsValue;
  NodeModule._cache[filename] = m;
}

/** Drops every cached module whose file lies under one of `dirs` (fresh instance per runtime). */
export function purgeCache(dirs: string[], extraFiles: string[] = []): void {
  const prefixes = dirs.map((d) => path.resolve(d) + path.sep);
  for (const key of Object.keys(NodeModule._cache)) {
    if (extraFiles.includes(key) || prefixes.some((p) => key.startsWith(p))) delete NodeModule._cache[key];
  }
}

export function isInside(file: string, dirs: string[]): boolean {
  return dirs.some((d) => file === d || file.startsWith(d + path.sep));
}
