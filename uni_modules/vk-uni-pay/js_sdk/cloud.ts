/** Turns uniCloud into a {@link CloudCaller}. Only read at call time, never at module load. */
import type { CloudAction, CloudCaller } from './types';

/** The part of the `uniCloud` client used here. */
export interface UniCloudLike {
  importObject(name: string, options?: { customUI?: boolean }): Record<string, unknown>;
  callFunction(options: { name: string; data: unknown }): Promise<{ result?: unknown }>;
}

/** An error as the flow reports it: `errCode` + `errMsg`. */
export class CloudCallError extends Error {
  readonly errCode: number | string;
  readonly errMsg: string;
  constructor(errCode: number | string, errMsg: string) {
    super(errMsg);
    this.name = 'CloudCallError';
    this.errCode = errCode;
    this.errMsg = errMsg;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/**
 * Checks a result in either response convention: uniCloud's `errCode` (0 = ok) or vk's `code`
 * (0 = ok). A non-zero code becomes a {@link CloudCallError}.
 */
export function checkCloudResult(value: unknown): Record<string, unknown> {
  if (!isObject(value)) throw new CloudCallError('INVALID_RESPONSE', 'empty response from the server');
  const code = value.errCode !== undefined ? value.errCode : value.code;
  if (code !== undefined && code !== 0 && code !== '0' && code !== '' && code !== null) {
    const msg = value.errMsg ?? value.msg ?? value.message ?? `error ${String(code)}`;
    throw new CloudCallError(code as number | string, String(msg));
  }
  return value;
}

/** Normalises anything thrown by a cloud call or a platform API. */
export function toCallError(e: unknown): CloudCallError {
  if (e instanceof CloudCallError) return e;
  if (isObject(e)) {
    const code = (e.errCode ?? e.code ?? 'SYS_ERR') as number | string;
    const msg = e.errMsg ?? e.message ?? e.msg ?? String(code);
    return new CloudCallError(code, String(msg));
  }
  return new CloudCallError('SYS_ERR', String(e));
}

/** Builds a caller on the uniCloud client (`customUI: true`: the flow owns the loading and alerts). */
export function createUniCloudCaller(getUniCloud: () => UniCloudLike): CloudCaller {
  return async (action: CloudAction, data: Record<string, unknown>) => {
    const uniCloud = getUniCloud();
    try {
      if (typeof action === 'string') {
        const r = await uniCloud.callFunction({ name: action, data });
        return checkCloudResult(r.result);
      }
      if ('method' in action) {
        const obj = uniCloud.importObject(action.name, { customUI: true });
        const fn = obj[action.method];
        if (typeof fn !== 'function') throw new CloudCallError('METHOD_NOT_FOUND', `${action.name}.${action.method} is not a function`);
        return checkCloudResult(await (fn as (p: unknown) => Promise<unknown>).call(obj, data));
      }
      const r = await uniCloud.callFunction({
        name: action.name,
        data: { [action.actionKey || 'action']: action.action, [action.dataKey || 'data']: data },
      });
      return checkCloudResult(r.result);
    } catch (e) {
      throw toCallError(e);
    }
  };
}
