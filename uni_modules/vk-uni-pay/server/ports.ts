/**
 * The ports: the only ways plugin code reaches time, the network, a shared cache and the log.
 * Interfaces only (no code, no imports): `core` may use them, providers and store depend on them,
 * and each has its production implementation elsewhere (core/time.ts systemClock,
 * transport/http.ts uniCloudTransport, store/cache.ts databaseCache, services/log.ts createLogger),
 * so tests, sandboxes and benchmarks can stand in for any of them.
 */

export interface Clock {
  /** epoch milliseconds */
  now(): number;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  headers?: Record<string, string>;
  /** sent byte-exactly (signatures cover these bytes) */
  body?: string | Buffer;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** lower-case names */
  headers: Record<string, string>;
  /** raw bytes: signatures are verified over them, never over a re-serialisation */
  body: Buffer;
}

/** Adapters speak to gateways only through this (production: uniCloud.httpclient). */
export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
}

/** A small persistent key/value cache (platform certificates, access tokens). */
export interface KeyValueCache {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Structured log lines; implementations mask anything that looks secret. */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}
