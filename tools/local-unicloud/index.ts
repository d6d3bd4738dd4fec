/**
 * Local uniCloud runtime (dev and tests only, never shipped): runs the built cloud objects,
 * cloud functions and common modules of a uni-app project with the uniCloud server APIs they use,
 * on an embedded SQLite database, behind an HTTP server.
 */
import fs from 'fs';
import path from 'path';
import type { AddressInfo } from 'net';
import type { ClientInfo, Database, HttpClient } from '../../types/unicloud-server';
import { createDatabase as createDb, type LocalDatabase } from './db';
import { createHttpClient as createClient } from './httpclient';
import { discoverProject } from './project';
import { newRequestId, RuntimeCore, serialise } from './runtime';
import { createServer } from './server';

export { signClientRequest, callCloudObject } from './client';
export type { CallCloudObjectOptions, CloudCallReply } from './client';
export { DuplicateKeyError, newObjectId } from './db';

export interface RuntimeOptions {
  projectDir: string;
  dataDir: string;
  configDir?: string;
  /** 0 = ephemeral; default 8080 */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** default 'local-space' */
  spaceId?: string;
  /** default 'local-secret' */
  clientSecret?: string;
  staticDir?: string;
  quiet?: boolean;
}

export interface RuntimeHandle {
  url: string;
  port: number;
  spaceId: string;
  clientSecret: string;
  database: Database;
  close(): Promise<void>;
  /** fires the function's timer trigger now (a cloud object's `_timing`), as `POST /__runtime/timing/<name>` does; rejects with {code, message} on failure */
  fireTiming(name: string): Promise<void>;
  /** in-process, same pipeline as a client call (source 'client'); rejects with {code, message} on failure */
  callObject(name: string, method: string, params: unknown[], opts?: { clientInfo?: ClientInfo; uniIdToken?: string }): Promise<unknown>;
}

export function createDatabase(opts: { file: string; indexDirs?: string[] }): Database & { close(): void } {
  return createDb(opts);
}

export function createHttpClient(): HttpClient {
  return createClient();
}

/** Error thrown by `callObject` for a failed call (`code` as the client would see it). */
export class CloudCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CloudCallError';
  }
}

export async function startRuntime(opts: RuntimeOptions): Promise<RuntimeHandle> {
  const projectDir = fs.realpathSync(path.resolve(opts.projectDir));
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const configDirRaw = path.resolve(
    opts.configDir || path.join(projectDir, 'uniCloud-aliyun', 'cloudfunctions', 'common', 'uni-config-center'),
  );
  const configDir = fs.existsSync(configDirRaw) ? fs.realpathSync(configDirRaw) : configDirRaw;
  const spaceId = opts.spaceId || 'local-space';
  const clientSecret = opts.clientSecret || 'local-secret';
  const quiet = !!opts.quiet;

  const layout = discoverProject(projectDir);
  const db: LocalDatabase = createDb({ file: path.join(dataDir, 'unicloud.sqlite'), indexDirs: layout.databaseDirs });
  const core = new RuntimeCore({
    projectDir,
    configDir,
    spaceId,
    layout,
    db,
    httpclient: createClient(),
    quiet,
  });
  const server = createServer({ core, clientSecret, staticDir: opts.staticDir, quiet });
  const host = opts.host || '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 8080, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    core.close();
    db.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closed = false;

  return {
    url,
    port,
    spaceId,
    clientSecret,
    database: db,
    async callObject(name, method, params, callOpts = {}) {
      const fn = core.functionByName(name);
      if (!fn || fn.kind !== 'object') throw new CloudCallError('FUNCTION_NOT_FOUND', `cloud object ${name} not found`);
      const requestId = newRequestId();
      const outcome = await core.invoke({
        fn,
        source: 'client',
        method,
        params,
        clientInfo: { ...(callOpts.clientInfo || {}), clientIP: '127.0.0.1', userAgent: '', source: 'client', requestId },
        uniIdToken: callOpts.uniIdToken,
      });
      if (!outcome.ok) throw new CloudCallError(outcome.code, outcome.message);
      const text = serialise(outcome.value);
      return text === undefined ? undefined : JSON.parse(text);
    },
    async fireTiming(name) {
      const outcome = await core.fireTiming(name);
      if (!outcome.ok) throw new CloudCallError(outcome.code, outcome.message);
    },
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      core.close();
      db.close();
    },
  };
}
