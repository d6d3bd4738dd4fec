/** createPayment input validation: every refusal is a PayError with a code and zh/en message. */
import { PayError } from './errors';
import { assertFen } from './money';
import { ORDER_FIELDS } from './order';
import { isProviderName, sceneFacts, type PayType, type ProviderName } from './catalog';

export interface CreatePaymentData {
  out_trade_no: string;
  total_fee: number;
  subject: string;
  body?: string;
  type: string;
  openid?: string;
  custom?: Record<string, unknown>;
  other?: Record<string, unknown>;
  pid?: string;
  user_id?: string;
  nickname?: string;
  return_url?: string;
  time_expire?: number;
  [extra: string]: unknown;
}

export interface CreatePaymentOptions {
  context: unknown;
  provider: ProviderName;
  isPC?: boolean;
  needQRcode?: boolean | 'image';
  alipayAppPayToH5Pay?: boolean;
  provider_pay_method?: 'wxpay' | 'alipay' | 'auto';
  data: CreatePaymentData;
}

const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
const TYPE = /^[A-Za-z0-9_-]{1,64}$/;
const SUBJECT_MAX = 127;

/** Keys `other` may never set: the money, the order identity, where the money goes, who gets it. */
const PROTECTED_OTHER_KEYS = new Set([
  'amount',
  'total',
  'total_fee',
  'total_amount',
  'currency',
  'fee_type',
  'out_trade_no',
  'notify_url',
  'appid',
  'app_id',
  'mchid',
  'mch_id',
  'sp_appid',
  'sp_mchid',
  'seller_id',
  'trans_amount',
  'buy_quantity',
]);

/** A plain object from any realm (request bodies may be parsed in another VM context). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function optionalString(field: string, v: unknown, max = 256): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw new PayError('FIELD_INVALID', { field, reason: `string ≤ ${max}` });
  return v;
}

/** Validates and normalises; returns a copy (the caller's object is not modified). */
export function validateCreatePayment(options: unknown): CreatePaymentOptions {
  if (!isPlainObject(options)) throw new PayError('FIELD_INVALID', { field: 'options', reason: 'object' });
  const provider = options.provider;
  if (!isProviderName(provider)) throw new PayError('PROVIDER_INVALID');
  const d = options.data;
  if (!isPlainObject(d)) throw new PayError('FIELD_INVALID', { field: 'data', reason: 'object' });
  if (typeof d.out_trade_no !== 'string' || !OUT_TRADE_NO.test(d.out_trade_no)) throw new PayError('OUT_TRADE_NO_INVALID');
  const total_fee = assertFen(d.total_fee);
  if (typeof d.subject !== 'string' || !d.subject.trim() || d.subject.length > SUBJECT_MAX)
    throw new PayError('SUBJECT_REQUIRED', { max: SUBJECT_MAX });
  if (typeof d.type !== 'string' || !TYPE.test(d.type)) throw new PayError('TYPE_REQUIRED');

  const custom = d.custom === undefined ? {} : d.custom;
  if (!isPlainObject(custom)) throw new PayError('CUSTOM_INVALID', { keys: '' });
  const collisions = Object.keys(custom).filter((k) => ORDER_FIELDS.has(k));
  if (collisions.length) throw new PayError('CUSTOM_INVALID', { keys: collisions.join(', ') });

  const other = d.other === undefined ? {} : d.other;
  if (!isPlainObject(other)) throw new PayError('OTHER_INVALID');
  const protectedKeys = Object.keys(other).filter((k) => PROTECTED_OTHER_KEYS.has(k));
  if (protectedKeys.length) throw new PayError('OTHER_PROTECTED', { keys: protectedKeys.join(', ') });

  if (options.needQRcode !== undefined && options.needQRcode !== true && options.needQRcode !== false && options.needQRcode !== 'image') {
    throw new PayError('FIELD_INVALID', { field: 'needQRcode', reason: "true | false | 'image'" });
  }
  if (d.time_expire !== undefined && d.time_expire !== null) {
    if (typeof d.time_expire !== 'number' || !Number.isSafeInteger(d.time_expire) || String(d.time_expire).length !== 13) {
      throw new PayError('TIME_EXPIRE_INVALID', { min: '', pay_type: provider });
    }
  }
  return {
    context: options.context,
    provider,
    isPC: options.isPC === true,
    needQRcode: options.needQRcode === 'image' ? 'image' : options.needQRcode === true,
    alipayAppPayToH5Pay: options.alipayAppPayToH5Pay === true,
    provider_pay_method: options.provider_pay_method as CreatePaymentOptions['provider_pay_method'],
    data: {
      ...d,
      out_trade_no: d.out_trade_no,
      total_fee,
      subject: d.subject,
      body: optionalString('body', d.body, 512),
      type: d.type,
      openid: optionalString('openid', d.openid, 128),
      custom,
      other,
      pid: optionalString('pid', d.pid, 64),
      user_id: optionalString('user_id', d.user_id, 64),
      nickname: optionalString('nickname', d.nickname, 64),
      return_url: optionalString('return_url', d.return_url, 1024),
      time_expire: (d.time_expire as number | undefined) ?? undefined,
    },
  };
}

/** Minimum lead time of time_expire per pay type (catalog; undefined: the scene cannot honour it). */
export function timeExpireMinimumMs(payType: PayType): number | undefined {
  return sceneFacts(payType)?.timeExpireMinMs;
}

/** Refuses time_expire for providers that cannot honour it, or one that is too close. */
export function checkTimeExpire(provider: ProviderName, payType: PayType, timeExpire: number | undefined, now: number): void {
  if (timeExpire === undefined) return;
  const min = timeExpireMinimumMs(payType);
  if (min === undefined) throw new PayError('TIME_EXPIRE_UNSUPPORTED', { provider });
  if (timeExpire - now < min) {
    throw new PayError('TIME_EXPIRE_INVALID', { min: min >= 60_000 ? `${min / 60_000} min` : `${min / 1000} s`, pay_type: payType });
  }
}
