/**
 * Invocation core of the local uniCloud runtime: warm module instances, the cloud-object pipeline
 * (conventions §1.2–§1.6), classic functions, and the global `uniCloud`.
 */
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { AsyncLocalStorage } from 'async_hooks';
import type { ClientInfo, CloudInfo, HttpClient, HttpInfo, UniCloudServer } from '../../types/unicloud-server';
import { createConfigCenter } from './config-center';
import type { LocalDatabase } from './db';
import { defineVirtualModule, hostGlobal, isInside, nativeRequire, purgeCache, registerResolver } from './loader';
import type { FunctionDef, ProjectLayout } from './project';

export const DEFAULT_TIMEOUT_S = 60;

export type Source = 'client' | 'function' | 'http' | 'timing' | 'server';

export interface InvokeRequest {
  fn: FunctionDef;
  source: Source;
  /** cloud object: method name; classic function: ignored */
  method?: string;
  /** cloud object params (the live array handed to the method) */
  params?: unknown[];
  /** classic function event */
  event?: unknown;
  clientInfo: ClientInfo;
  uniIdToken?: string;
  httpInfo?: HttpInfo;
}

export type InvokeOutcome = { ok: true; value: unknown } | { ok: false; code: string; message: string; status: number };

interface InFlight {
  requestId: string;
  functionName: string;
  clientInfo: ClientInfo;
  cloudInfo: CloudInfo;
}

interface RequestStore {
  core: RuntimeCore;
  requestId: string;
  functionName: string;
}

// shared through the host global so that every copy of this module (jest loads one per test file)
// sees the same request context
const als: AsyncLocalStorage<RequestStore> = (hostGlobal[Symbol.for('local-unicloud.als')] ||= new AsyncLocalStorage<RequestStore>());

export function newRequestId(): string {
  return crypto.randomUUID().replace(/-/g, '');
}

function errMessage(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    if (typeof o.message === 'string') return o.message;
    if (typeof o.errMsg === 'string') return o.errMsg;
    try {
      return JSON.stringify(e);
    } catch {
      return String(e);
    }
  }
  return String(e);
}

export class RuntimeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

// ----------------------------------------------------------------- the global uniCloud (one per process)
const GLOBAL_KEY = Symbol.for('local-unicloud.cores');

function coreStack(): RuntimeCore[] {
  return (hostGlobal[GLOBAL_KEY] ||= []) as RuntimeCore[];
}

function currentCore(): RuntimeCore {
  const st = als.getStore();
  if (st) return st.core;
  const stack = coreStack();
  if (!stack.length) throw new Error('local-unicloud: no runtime is running');
  return stack[stack.length - 1];
}

function installGlobalUniCloud() {
  const uc: UniCloudServer & Record<string, unknown> = {
    database: () => currentCore().db,
    get httpclient(): HttpClient {
      return currentCore().httpclient;
    },
    getClientInfos: () =>
      currentCore()
        .inFlight(als.getStore()?.functionName)
        .map((r) => r.clientInfo),
    getCloudInfos: () =>
      currentCore()
        .inFlight(als.getStore()?.functionName)
        .map((r) => r.cloudInfo),
    getRequestList: () =>
      currentCore()
        .inFlight(als.getStore()?.functionName)
        .map((r) => r.requestId),
    /**
     * Cloud-to-cloud `uniCloud.importObject(name)`: runs the object in this runtime with source
     * 'function' (no client UI, no token); like the client SDK, an answer with an errCode rejects.
     */
    importObject(name: string) {
      const call = async (method: string, params: unknown[]) => {
        const core = currentCore();
        const fn = core.functionByName(name);
        if (!fn || fn.kind !== 'object')
          throw Object.assign(new Error(`cloud object ${name} not found`), { errCode: 'FUNCTION_NOT_FOUND' });
        const clientInfo: ClientInfo = { source: 'function', requestId: newRequestId() };
        const outcome = await core.invoke({ fn, source: 'function', method, params, clientInfo });
        if (!outcome.ok) throw Object.assign(new Error(outcome.message), { errCode: outcome.code, errMsg: outcome.message });
        const text = serialise(outcome.value);
        const value = text === undefined ? undefined : JSON.parse(text);
        if (value && value.errCode) throw Object.assign(new Error(String(value.errMsg ?? value.errCode)), value);
        return value;
      };
      return new Proxy(
        {},
        {
          get: (_t, method) =>
            typeof method === 'string' && method !== 'then' ? (...params: unknown[]) => call(method, params) : undefined,
        },
      );
    },
    initI18n(opts: { locale?: string; fallbackLocale?: string; messages?: Record<string, Record<string, string>> }) {
      let locale = opts.locale || opts.fallbackLocale || 'zh-Hans';
      const messages = opts.messages || {};
      return {
        getLocale: () => locale,
        setLocale: (l: string) => {
          locale = l;
        },
        t(key: string, values?: Record<string, unknown>) {
          const table = messages[locale] || messages[opts.fallbackLocale || ''] || {};
          const text = table[key] ?? key;
          return text.replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? String(values[k]) : m));
        },
      };
    },
  };
  // visible both to the runtime's realm and to cloud code loaded by node's own loader
  (globalThis as any).uniCloud = uc;
  hostGlobal.uniCloud = uc;
}

// ----------------------------------------------------------------- runtime core
export interface CoreOptions {
  projectDir: string;
  configDir: string;
  spaceId: string;
  layout: ProjectLayout;
  db: LocalDatabase;
  httpclient: HttpClient;
  quiet: boolean;
}

export class RuntimeCore {
  readonly db: LocalDatabase;
  readonly httpclient: HttpClient;
  readonly layout: ProjectLayout;
  readonly spaceId: string;
  private readonly quiet: boolean;
  private readonly requests = new Map<string, InFlight>();
  private readonly loaded = new Map<string, any>();
  private readonly configCenterFile: string;
  private readonly unregister: () => void;
  private readonly codeDirs: string[];

  constructor(private readonly opts: CoreOptions) {
    this.db = opts.db;
    this.httpclient = opts.httpclient;
    this.layout = opts.layout;
    this.spaceId = opts.spaceId;
    this.quiet = opts.quiet;
    this.codeDirs = [...[...opts.layout.functions.values()].map((f) => f.dir), ...[...opts.layout.commons.values()].map((c) => c.dir)];
    this.configCenterFile = path.join(opts.projectDir, '.local-unicloud', `uni-config-center.${crypto.randomBytes(6).toString('hex')}.js`);
    // fresh (warm-per-runtime) instances of all cloud code and config files
    purgeCache([...this.codeDirs, opts.configDir]);
    defineVirtualModule(this.configCenterFile, createConfigCenter(opts.configDir, nativeRequire));
    this.unregister = registerResolver({
      resolveBare: (request, parentFile) => {
        if (!isInside(parentFile, this.codeDirs) && !isInside(parentFile, [opts.configDir])) return undefined;
        if (request === 'uni-config-center') return this.configCenterFile;
        const c = opts.layout.commons.get(request);
        return c ? c.entry : undefined;
      },
    });
    installGlobalUniCloud();
    coreStack().push(this);
  }

  close() {
    this.unregister();
    const stack = coreStack();
    const i = stack.indexOf(this);
    if (i >= 0) stack.splice(i, 1);
    purgeCache([...this.codeDirs, this.opts.configDir], [this.configCenterFile]);
    this.loaded.clear();
  }

  inFlight(functionName?: string): InFlight[] {
    const all = [...this.requests.values()];
    return functionName ? all.filter((r) => r.functionName === functionName) : all;
  }

  log(line: string) {
    if (!this.quiet) process.stderr.write(`[local-unicloud] ${line}\n`);
  }

  /** The loaded module of a function (once per runtime). */
  load(fn: FunctionDef): any {
    if (!this.loaded.has(fn.name)) this.loaded.set(fn.name, nativeRequire(fn.entry));
    return this.loaded.get(fn.name);
  }

  cloudInfo(fn: FunctionDef): CloudInfo {
    return {
      provider: 'aliyun',
      spaceId: this.spaceId,
      useOldSpaceId: false,
      functionName: fn.name,
      functionType: fn.kind === 'object' ? 'cloudobject' : 'cloudfunction',
      runtimeEnv: 'local',
    };
  }

  /** Runs one request through the full pipeline; never throws. */
  async invoke(req: InvokeRequest): Promise<InvokeOutcome> {
    const { fn } = req;
    const requestId = String(req.clientInfo.requestId || newRequestId());
    const clientInfo: ClientInfo = { ...req.clientInfo, requestId };
    const cloudInfo = this.cloudInfo(fn);
    const timeoutS = Number(fn.config.timeout) > 0 ? Number(fn.config.timeout) : DEFAULT_TIMEOUT_S;
    this.requests.set(requestId, { requestId, functionName: fn.name, clientInfo, cloudInfo });
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = als.run({ core: this, requestId, functionName: fn.name }, () =>
        fn.kind === 'object'
          ? this.runObject(req, clientInfo, cloudInfo, requestId)
          : this.runFunction(req, clientInfo, cloudInfo, requestId),
      );
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new RuntimeError('FunctionTimeout', `Task timed out after ${timeoutS} seconds`, 504)),
          timeoutS * 1000,
        );
      });
      const value = await Promise.race([work, timeout]);
      return { ok: true, value };
    } catch (e) {
      if (e instanceof RuntimeError) return { ok: false, code: e.code, message: e.message, status: e.status };
      const message = errMessage(e);
      const stack = e && typeof e === 'object' && typeof (e as Error).stack === 'string' ? (e as Error).stack : message;
      this.log(`${fn.name}${req.method ? '.' + req.method : ''} threw: ${stack}`);
      return { ok: false, code: 'FunctionBizError', message, status: 500 };
    } finally {
      if (timer) clearTimeout(timer);
      this.requests.delete(requestId);
    }
  }

  private async runObject(req: InvokeRequest, clientInfo: ClientInfo, cloudInfo: CloudInfo, requestId: string) {
    let exportsObj: any;
    try {
      exportsObj = this.load(req.fn);
    } catch (e) {
      throw new RuntimeError('FunctionLoadError', `cannot load cloud object ${req.fn.name}: ${errMessage(e)}`, 500);
    }
    const method = String(req.method ?? '');
    const isTiming = req.source === 'timing';
    const own = exportsObj && Object.prototype.hasOwnProperty.call(exportsObj, method) && typeof exportsObj[method] === 'function';
    if (!method || !own || (method.startsWith('_') && !(isTiming && method === '_timing'))) {
      throw new RuntimeError('METHOD_NOT_FOUND', `Method[${method}] was not found in cloud object ${req.fn.name}`, 404);
    }
    const params: unknown[] = Array.isArray(req.params) ? req.params : [];
    const httpInfo = req.httpInfo;
    const token = req.uniIdToken;
    // fresh `this` per request; the exported methods are deliberately not on it
    const ctx: Record<string, unknown> = {
      getClientInfo: () => clientInfo,
      getCloudInfo: () => cloudInfo,
      getUniIdToken: () => token,
      getMethodName: () => method,
      getParams: () => params,
      getUniCloudRequestId: () => requestId,
      getHttpInfo: () => httpInfo,
    };
    const fnm = exportsObj[method] as (...a: unknown[]) => unknown;
    if (isTiming) {
      await fnm.apply(ctx, params);
      return undefined;
    }
    const before = typeof exportsObj._before === 'function' ? exportsObj._before : undefined;
    const after = typeof exportsObj._after === 'function' ? exportsObj._after : undefined;
    let error: unknown;
    let failed = false;
    let result: unknown;
    try {
      if (before) await before.call(ctx);
      result = await fnm.apply(ctx, params);
    } catch (e) {
      error = e;
      failed = true;
    }
    if (after) return await after.call(ctx, failed ? error : undefined, result);
    if (failed) throw error;
    return result;
  }

  private async runFunction(req: InvokeRequest, clientInfo: ClientInfo, cloudInfo: CloudInfo, requestId: string) {
    let mod: any;
    try {
      mod = this.load(req.fn);
    } catch (e) {
      throw new RuntimeError('FunctionLoadError', `cannot load cloud function ${req.fn.name}: ${errMessage(e)}`, 500);
    }
    const main = mod && (typeof mod.main === 'function' ? mod.main : typeof mod === 'function' ? mod : undefined);
    if (!main) throw new RuntimeError('FunctionLoadError', `cloud function ${req.fn.name} has no exports.main`, 500);
    const ci = clientInfo as Record<string, any>;
    const context = {
      SOURCE: req.source,
      CLIENTIP: ci.clientIP,
      CLIENTUA: ci.userAgent,
      APPID: ci.appId,
      PLATFORM: ci.uniPlatform || ci.platform,
      OS: ci.osName,
      DEVICEID: ci.deviceId,
      LOCALE: ci.locale,
      SPACEINFO: { provider: 'aliyun', spaceId: cloudInfo.spaceId },
      FUNCTION_NAME: req.fn.name,
      requestId,
      getClientInfo: () => clientInfo,
      getCloudInfo: () => cloudInfo,
      getUniIdToken: () => req.uniIdToken,
    };
    const value = await main(req.event, context);
    return req.source === 'timing' ? undefined : value;
  }

  /**
   * Fires a function's timer trigger now, as uniCloud's scheduler does: a cloud object's `_timing`
   * (no `_before`/`_after`) or a cloud function's `main`, source 'timing', with the timer event.
   */
  async fireTiming(name: string): Promise<InvokeOutcome> {
    const fn = this.functionByName(name);
    if (!fn) return { ok: false, code: 'FUNCTION_NOT_FOUND', message: `cloud function ${name} not found`, status: 404 };
    const now = new Date();
    const trigger = Array.isArray(fn.config.triggers) ? fn.config.triggers[0] : undefined;
    const event = {
      Time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      TriggerName: trigger?.name || 'timer',
      Type: 'Timer',
      triggerName: 'TIMER_LATEST',
      triggerTime: now.toISOString(),
    };
    const clientInfo: ClientInfo = { clientIP: '127.0.0.1', userAgent: '', source: 'timing', requestId: newRequestId() };
    return fn.kind === 'object'
      ? this.invoke({ fn, source: 'timing', method: '_timing', params: [event], clientInfo })
      : this.invoke({ fn, source: 'timing', event, clientInfo });
  }

  functionByName(name: string): FunctionDef | undefined {
    return this.layout.functions.get(name);
  }

  /** Reads a file relative to the project (used by the server for static files). */
  static exists(file: string): boolean {
    try {
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  }
}

/** JSON text of a result as the transport would carry it (undefined stays undefined). */
export function serialise(value: unknown): string | undefined {
  return JSON.stringify(value);
}
