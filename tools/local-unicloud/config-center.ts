/**
 * The runtime's own `uni-config-center` (conventions §7). Cloud code that does
 * `require('uni-config-center')` receives `createConfigCenter(root, load)`.
 */
import fs from 'fs';
import path from 'path';

type AnyObj = Record<string, any>;

export interface ConfigCenterOptions {
  pluginId: string;
  defaultConfig?: AnyObj;
  customMerge?: (defaultConfig: AnyObj | undefined, userConfig: AnyObj | undefined) => AnyObj;
  root?: string;
  cache?: boolean;
}

export interface ConfigInstance {
  config(keyPath?: string, fallback?: unknown): any;
  requireFile(file: string): any;
  resolve(file: string): string;
  hasFile(file: string): boolean;
}

const isObj = (v: unknown): v is AnyObj => !!v && typeof v === 'object' && !Array.isArray(v);

function deepMerge(base: unknown, over: unknown): any {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: AnyObj = { ...base };
  for (const k of Object.keys(over)) out[k] = deepMerge(base[k], over[k]);
  return out;
}

/** `a.b[0].c` → ['a','b','0','c'] */
function splitPath(p: string): string[] {
  return p
    .replace(/\[(\w+)\]/g, '.$1')
    .split('.')
    .filter((s) => s !== '');
}

export function createConfigCenter(rootDir: string, load: (file: string) => any) {
  const instances = new Map<string, ConfigInstance>();

  function createConfig(options: ConfigCenterOptions): ConfigInstance {
    if (!options || !options.pluginId) throw new Error('uni-config-center: pluginId required');
    const { pluginId, cache = true } = options;
    if (cache && instances.has(pluginId)) return instances.get(pluginId)!;
    const dir = path.resolve(options.root || rootDir, pluginId);
    let merged: any;
    let loaded = false;

    const resolve = (file: string) => path.resolve(dir, file);

    const readConfig = () => {
      if (loaded) return merged;
      const file = resolve('config.json');
      let user: any;
      if (fs.existsSync(file)) {
        const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
        try {
          user = JSON.parse(text);
        } catch (e) {
          throw new Error(`uni-config-center: invalid JSON in ${pluginId}/config.json: ${(e as Error).message}`);
        }
      }
      if (Array.isArray(user)) merged = user;
      else if (options.customMerge) merged = options.customMerge(options.defaultConfig, user);
      else merged = deepMerge(options.defaultConfig || {}, user || {});
      if (merged === undefined) merged = {};
      loaded = true;
      return merged;
    };

    const inst: ConfigInstance = {
      config(keyPath?: string, fallback?: unknown) {
        const cfg = readConfig();
        if (!keyPath) return cfg;
        let cur: any = cfg;
        for (const seg of splitPath(keyPath)) {
          if (cur === null || cur === undefined || typeof cur !== 'object' || !(seg in cur)) return fallback;
          cur = cur[seg];
        }
        return cur === undefined ? fallback : cur;
      },
      requireFile(file: string) {
        const abs = resolve(file);
        try {
          return load(abs);
        } catch (e: any) {
          if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(abs)) return undefined;
          throw e;
        }
      },
      resolve,
      hasFile(file: string) {
        return fs.existsSync(resolve(file));
      },
    };
    if (cache) instances.set(pluginId, inst);
    return inst;
  }

  return createConfig;
}
