/**
 * The uniCloud *server* surface that vk-uni-pay uses, typed once for both sides:
 * the plugin consumes it (global `uniCloud`, cloud-object `this`), the local runtime
 * (tools/local-unicloud) implements it. Shapes follow https://doc.dcloud.net.cn/uniCloud/cloud-obj.html and the uniCloud server API docs.
 * @dcloudio/types only covers the client API, hence this file.
 */

export interface ClientInfo {
  uniPlatform?: string; // app | web | h5 | mp-weixin | mp-alipay | app-android | app-ios ...
  platform?: string;
  appId?: string;
  appName?: string;
  appVersion?: string;
  appVersionCode?: string | number;
  appWgtVersion?: string;
  deviceId?: string;
  deviceBrand?: string;
  deviceModel?: string;
  deviceType?: string;
  osName?: string;
  osVersion?: string;
  ua?: string;
  locale?: string;
  LOCALE?: string;
  channel?: string | number;
  scene?: string | number;
  /** added by the cloud */
  clientIP?: string;
  userAgent?: string;
  source?: 'client' | 'function' | 'http' | 'timing' | 'server';
  requestId?: string;
  [key: string]: unknown;
}

export interface CloudInfo {
  provider: 'aliyun' | 'tencent' | 'alipay';
  spaceId: string;
  useOldSpaceId?: boolean;
  functionName: string;
  functionType: 'cloudobject' | 'cloudfunction';
  runtimeEnv: 'local' | 'cloud';
}

/** URL化 request as `this.getHttpInfo()` returns it. `path` is relative to the object's root. */
export interface HttpInfo {
  path: string;
  httpMethod: string;
  headers: Record<string, string>;
  queryStringParameters: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

/** uniCloud integrated response (集成响应); aliyun requires the flag. */
export interface IntegratedResponse {
  mpserverlessComposedResponse: true;
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
}

export interface CloudObjectThis {
  getClientInfo(): ClientInfo;
  getCloudInfo(): CloudInfo;
  getUniIdToken(): string | undefined;
  getMethodName(): string;
  getParams(): unknown[];
  getUniCloudRequestId(): string;
  getHttpInfo(): HttpInfo | undefined;
  [key: string]: unknown;
}

// ---------------------------------------------------------------- database (classic API)

export interface AddResult {
  id: string;
}
export interface AddManyResult {
  ids: string[];
  inserted: number;
}
export interface GetResult<T = Record<string, any>> {
  data: T[];
  affectedDocs?: number;
}
export interface CountResult {
  total: number;
}
export interface UpdateResult {
  updated: number;
  upsertedId?: string;
}
export interface RemoveResult {
  deleted: number;
}
export interface UpdateAndReturnResult<T = Record<string, any>> {
  updated: number;
  doc: T | null;
}

/** An operator value produced by db.command (opaque to callers). */
export interface DbCommandValue {
  readonly __dbCommand: true;
}

export interface DbCommand {
  eq(v: unknown): DbCommandValue;
  neq(v: unknown): DbCommandValue;
  gt(v: unknown): DbCommandValue;
  gte(v: unknown): DbCommandValue;
  lt(v: unknown): DbCommandValue;
  lte(v: unknown): DbCommandValue;
  in(v: unknown[]): DbCommandValue;
  nin(v: unknown[]): DbCommandValue;
  exists(v: boolean): DbCommandValue;
  and(...conds: unknown[]): DbCommandValue;
  or(...conds: unknown[]): DbCommandValue;
  inc(n: number): DbCommandValue;
  push(v: unknown): DbCommandValue;
  set(v: unknown): DbCommandValue;
  remove(): DbCommandValue;
}

export interface DbQuery<T = Record<string, any>> {
  where(q: Record<string, unknown> | DbCommandValue): DbQuery<T>;
  field(f: Record<string, boolean>): DbQuery<T>;
  orderBy(field: string, order: 'asc' | 'desc'): DbQuery<T>;
  skip(n: number): DbQuery<T>;
  limit(n: number): DbQuery<T>;
  get(): Promise<GetResult<T>>;
  count(): Promise<CountResult>;
  update(d: Record<string, unknown>): Promise<UpdateResult>;
  updateAndReturn(d: Record<string, unknown>): Promise<UpdateAndReturnResult<T>>;
  remove(): Promise<RemoveResult>;
}

export interface DbDoc<T = Record<string, any>> {
  get(): Promise<GetResult<T>>;
  update(d: Record<string, unknown>): Promise<UpdateResult>;
  set(d: Record<string, unknown>): Promise<UpdateResult>;
  remove(): Promise<RemoveResult>;
}

export interface DbCollection<T = Record<string, any>> extends DbQuery<T> {
  doc(id: string): DbDoc<T>;
  add(doc: Record<string, unknown>): Promise<AddResult>;
  add(docs: Record<string, unknown>[]): Promise<AddManyResult>;
}

export interface Database {
  collection<T = Record<string, any>>(name: string): DbCollection<T>;
  readonly command: DbCommand;
}

// ---------------------------------------------------------------- httpclient (urllib-style)

export interface HttpClientOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  headers?: Record<string, string>;
  /** sent verbatim (string or Buffer); overrides `data` */
  content?: string | Buffer;
  data?: Record<string, unknown>;
  /** 'json' sends `data` as JSON */
  contentType?: 'json' | string;
  /** 'json' parse, 'text' string, '' (default) Buffer */
  dataType?: 'json' | 'text' | '';
  timeout?: number | [number, number];
  followRedirect?: boolean;
}

export interface HttpClientResult<D = unknown> {
  status: number;
  headers: Record<string, string>;
  data: D;
  res: { status: number; statusCode: number; headers: Record<string, string> };
}

export interface HttpClient {
  request<D = unknown>(url: string, options?: HttpClientOptions): Promise<HttpClientResult<D>>;
}

export interface UniCloudServer {
  database(): Database;
  httpclient: HttpClient;
  getClientInfos?(): ClientInfo[];
  getCloudInfos?(): CloudInfo[];
  getRequestList?(): string[];
  /** cloud-to-cloud call of a cloud object (rejects on an errCode answer) */
  importObject?(name: string): Record<string, (...params: unknown[]) => Promise<any>>;
}

declare global {
  var uniCloud: UniCloudServer;
}
