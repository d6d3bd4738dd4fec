/**
 * The one failure a gateway call can end in (providers/gateway.ts throws it, nothing else does).
 * Its fields are set by the gateway step and the adapter, never inferred by a service:
 * - `verified`: the answer was authenticated as the provider's own (signature checked, or for a
 *   protocol without response signatures, a well-formed protocol answer over TLS). An unverified
 *   answer, a lost answer or no answer at all proves nothing about what the provider did.
 * - `retryable`: asking again (with the same request number) may succeed.
 * A refusal is final iff `verified && !retryable`; anything else leaves a refund or close UNKNOWN
 * until a verified query settles it. An error that is not a GatewayFailure was thrown before
 * anything was sent.
 */
import { PayError, isPayError } from './errors';

export type GatewayFailureKey =
  | 'GATEWAY_ERROR'
  | 'GATEWAY_UNREACHABLE'
  | 'GATEWAY_RESPONSE_UNVERIFIED'
  | 'GATEWAY_RESPONSE_INVALID'
  /** an Alipay answer signed with a certificate that is not configured (rotation) */
  | 'GATEWAY_CERT_UNKNOWN';

export interface GatewayFailureFields {
  /** HTTP status of the answer, when one arrived */
  httpStatus?: number;
  /** the provider's error code, read from a verified answer only */
  providerCode?: string;
  providerMessage?: string;
  verified: boolean;
  retryable: boolean;
  /** extra non-secret fields for the caller's result (e.g. WeChat `errcode`), kept from before the gateway step */
  extra?: Record<string, unknown>;
}

export class GatewayFailure extends PayError implements GatewayFailureFields {
  readonly httpStatus?: number;
  readonly providerCode?: string;
  readonly providerMessage?: string;
  readonly verified: boolean;
  readonly retryable: boolean;
  /** brand: each provider is bundled into its own file, so `instanceof` does not hold across bundles */
  readonly gatewayFailure = true;

  /** vars: extra message placeholders of the key (e.g. the unknown certificate SN) */
  constructor(key: GatewayFailureKey, f: GatewayFailureFields, vars: Record<string, unknown> = {}) {
    const providerCode = f.providerCode ?? (f.httpStatus !== undefined ? `HTTP ${f.httpStatus}` : '');
    super(
      key,
      { providerCode, providerMsg: f.providerMessage ?? '', ...vars },
      {
        ...f.extra,
        ...(f.httpStatus !== undefined ? { status: f.httpStatus } : {}),
        ...(f.providerCode !== undefined ? { providerCode: f.providerCode } : {}),
        verified: f.verified,
        retryable: f.retryable,
      },
    );
    this.name = 'PayError';
    this.httpStatus = f.httpStatus;
    this.providerCode = f.providerCode;
    this.providerMessage = f.providerMessage;
    this.verified = f.verified;
    this.retryable = f.retryable;
  }
}

export function isGatewayFailure(e: unknown): e is GatewayFailure {
  return e instanceof GatewayFailure || (isPayError(e) && (e as Partial<GatewayFailure>).gatewayFailure === true);
}

/** The provider definitely refused: its own authenticated answer says so, and asking again will not help. */
export function isFinalRefusal(e: unknown): e is GatewayFailure {
  return isGatewayFailure(e) && e.verified && !e.retryable;
}
