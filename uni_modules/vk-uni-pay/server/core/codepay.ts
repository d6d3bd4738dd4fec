/**
 * Codepay (付款码) rules that need no I/O: the shape of a buyer's code, the bounded poll schedule
 * and the outcome the cashier acts on (docs/codepay.md).
 */
import { providerEntry, supports, type PayType, type PlatformKey, type ProviderName } from './catalog';
import { PayError } from './errors';

/** What the cashier is told: paid / cancelled at the deadline / refused / not known yet (query later). */
export type CodepayState = 'PAID' | 'CANCELLED' | 'FAILED' | 'WAITING';

/** A provider's payment-code format (catalog row `codepay`). */
export interface AuthCodeRule {
  pattern: RegExp;
  /** the rule in words, for the error message */
  text: string;
}

/** The code, or AUTH_CODE_INVALID before anything is written or sent. */
export function checkAuthCode(rule: AuthCodeRule, code: unknown): string {
  if (typeof code !== 'string' || !rule.pattern.test(code)) throw new PayError('AUTH_CODE_INVALID', { rule: rule.text });
  return code;
}

/**
 * createPayment with `data.auth_code`: the codepay scene (`<provider>_codepay`, config node
 * `<provider>.codepay`) of a provider with the capability, the code checked against its format.
 * Any other provider is refused: an auth_code never turns into an order of another scene.
 */
export function codepayScene(provider: ProviderName, code: unknown): { payType: PayType; platformKey: PlatformKey; qr: false } {
  const entry = providerEntry(provider);
  const scene = Object.entries(entry?.scenes ?? {}).find(([, facts]) => facts.byInput === 'auth_code')?.[0] as PlatformKey | undefined;
  if (!entry?.authCode || !scene || !supports(provider, 'codepay'))
    throw new PayError('OPERATION_UNSUPPORTED', { provider, operation: 'codepay (data.auth_code)' });
  checkAuthCode(entry.authCode, code);
  return { payType: `${provider}_${scene}` as PayType, platformKey: scene, qr: false };
}

export interface CodepayTiming {
  /** how long the buyer may take to confirm before the trade is cancelled */
  waitMs: number;
  /** pause between two queries */
  pollMs: number;
}

export const CODEPAY_WAIT_MS = 30_000;
export const CODEPAY_POLL_MS = 5_000;
/** the vk-pay cloud object runs at most 60 s: the wait, the last query and the cancel must fit */
const MAX_WAIT_MS = 45_000;
const MAX_POLL_MS = 10_000;

const bounded = (v: unknown, fallback: number, min: number, max: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? Math.min(Math.max(Math.round(v), min), max) : fallback;

/** The node's `codepayWaitMs` / `codepayPollMs`, kept inside bounds (tiny values serve tests only). */
export function codepayTiming(node: { codepayWaitMs?: unknown; codepayPollMs?: unknown }): CodepayTiming {
  return {
    waitMs: bounded(node.codepayWaitMs, CODEPAY_WAIT_MS, 0, MAX_WAIT_MS),
    pollMs: bounded(node.codepayPollMs, CODEPAY_POLL_MS, 5, MAX_POLL_MS),
  };
}

/** Cancel attempts at the deadline (a lost answer is asked again with the same order number). */
export const CODEPAY_CANCEL_ATTEMPTS = 3;
