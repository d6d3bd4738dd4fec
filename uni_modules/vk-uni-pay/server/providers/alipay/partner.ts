/**
 * Alipay service-provider (第三方应用 / ISV) mode: the node's app is the service provider's
 * third-party app, and each call made for a merchant carries that merchant's authorisation token
 * `app_auth_token` as a common request parameter (signed like the others). The token of an order
 * is `data.app_auth_token` of createPayment, else the node's `appAuthToken`; it is stored on the
 * order so that query, close and refund act for the same merchant. See docs/partner.md.
 */
import { PayError } from '../../core/errors';
import type { PrepareCreateInput, PrepareCreateResult, ProviderContext } from '../types';
import type { AlipayNodeConfig } from './config';

const TOKEN = /^[0-9A-Za-z_.-]{1,128}$/;

function token(field: string, v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !TOKEN.test(v)) throw new PayError('FIELD_INVALID', { field, reason: 'an Alipay app_auth_token' });
  return v;
}

/** createPayment: the merchant the order is made for, kept on the order (before anything is sent) */
export async function alipayPrepareCreate(input: PrepareCreateInput, ctx: ProviderContext<AlipayNodeConfig>): Promise<PrepareCreateResult> {
  const t = token('app_auth_token', input.extra.app_auth_token) ?? token('appAuthToken', ctx.config.appAuthToken);
  return t ? { orderFields: { app_auth_token: t } } : {};
}
