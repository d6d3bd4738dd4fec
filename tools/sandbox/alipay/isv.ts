/**
 * Alipay sandbox, service-provider (第三方应用 / ISV) mode: a call made for a merchant carries that
 * merchant's `app_auth_token` as a common request parameter, signed with the ISV app's key. The
 * sandbox accepts only tokens the ISV app was granted (AlipaySandboxApp.authorizations), a trade
 * belongs to the merchant whose token created it (query, close and refund must carry the same
 * token), and its notifications name that merchant (`auth_app_id`, `seller_id`).
 * The refusal code below is Alipay's as seen in public reports (inferred, not from an official table).
 */
import type { Failure } from './gateway';
import type { AlipaySandboxApp, AlipaySandboxOrder } from './state';

export interface AlipayAuthorization {
  /** the authorising merchant's app id (sent back as auth_app_id) */
  auth_app_id: string;
  /** the merchant's 2088… user id (seller_id of its trades) */
  seller_id: string;
}

/** undefined when the call names no merchant or one that authorised this app */
export function checkAppAuthToken(app: AlipaySandboxApp, params: Record<string, string>): Failure | undefined {
  const token = params.app_auth_token;
  if (!token || app.authorizations?.[token]) return undefined;
  return { code: '20001', msg: 'Insufficient Token Permissions', sub_code: 'aop.invalid-app-auth-token', sub_msg: '无效的应用授权令牌' };
}

/** whether a call acts for the merchant that owns the trade */
export function sameMerchant(o: AlipaySandboxOrder, params: Record<string, string>): boolean {
  return (o.app_auth_token ?? '') === (params.app_auth_token ?? '');
}

/** `auth_app_id` / `seller_id` of a trade's notifications */
export function merchantOf(app: AlipaySandboxApp | undefined, o: AlipaySandboxOrder, defaultSeller: string): AlipayAuthorization {
  const a = o.app_auth_token ? app?.authorizations?.[o.app_auth_token] : undefined;
  return a ?? { auth_app_id: o.app_id, seller_id: defaultSeller };
}
