/** WeChat Pay sandbox, API v3: the request context and error bodies shared by the v3 and partner routes. */
import { isObj, type Json, type MerchantRt } from './state';

export interface V3Result {
  status: number;
  body?: unknown;
  /** a file served as is, unsigned (statement downloads) */
  raw?: Buffer;
}

export interface Ctx {
  rt: MerchantRt;
  query: URLSearchParams;
  body: unknown;
}

export function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.')) {
    if (!isObj(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

export function err(status: number, code: string, message: string, detail?: Json): V3Result {
  return { status, body: detail ? { code, message, detail } : { code, message } };
}

export function missing(path: string): V3Result {
  return err(400, 'PARAM_ERROR', `输入源“/body/${path.replace(/\./g, '/')}”映射到值字段必填性规则校验失败，此字段为必填项`, {
    field: `/${path.replace(/\./g, '/')}`,
    location: 'body',
    issue: '字段必填',
  });
}

export function invalid(path: string, value: unknown, issue: string): V3Result {
  return err(400, 'PARAM_ERROR', `参数格式错误：${path} ${issue}`, {
    field: `/${path.replace(/\./g, '/')}`,
    value,
    location: 'body',
    issue,
  });
}
