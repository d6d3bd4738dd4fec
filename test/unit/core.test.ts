import { detectPayType, normalizeContext, legacyPlatform, needsOpenid } from '../../uni_modules/vk-uni-pay/server/core/platform';
import { fenToYuan, yuanToFen, assertFen, MAX_FEN } from '../../uni_modules/vk-uni-pay/server/core/money';
import { toRfc3339Shanghai, toCompactShanghai, toDateTimeShanghai, parseProviderTime } from '../../uni_modules/vk-uni-pay/server/core/time';
import { validateCreatePayment, checkTimeExpire } from '../../uni_modules/vk-uni-pay/server/core/validate';
import { PayError, ERRORS } from '../../uni_modules/vk-uni-pay/server/core/errors';
import { handlerData } from '../../uni_modules/vk-uni-pay/server/core/order';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as PayError).code;
  }
  return 'no error';
};

describe('pay type detection (vk-uni-pay §2)', () => {
  const WX_UA = 'Mozilla/5.0 (iPhone) MicroMessenger/8.0.40';
  const cases: Array<[string, Parameters<typeof detectPayType>[0], string]> = [
    ['wx mini program', { provider: 'wxpay', uniPlatform: 'mp-weixin', userAgent: '' }, 'wxpay_mp-weixin'],
    ['wx app', { provider: 'wxpay', uniPlatform: 'app', userAgent: '' }, 'wxpay_app-plus'],
    ['wx PC web', { provider: 'wxpay', uniPlatform: 'web', userAgent: 'Chrome', isPC: true }, 'wxpay_h5'],
    ['wx desktop WeChat browser counts as PC', { provider: 'wxpay', uniPlatform: 'web', userAgent: WX_UA, isPC: true }, 'wxpay_h5'],
    ['wx official account', { provider: 'wxpay', uniPlatform: 'web', userAgent: WX_UA }, 'wxpay_h5-weixin'],
    ['wx mobile web', { provider: 'wxpay', uniPlatform: 'web', userAgent: 'Safari' }, 'wxpay_mweb'],
    ['wx forced QR in mini program', { provider: 'wxpay', uniPlatform: 'mp-weixin', userAgent: '', needQRcode: true }, 'wxpay_h5'],
    ['wx forced QR image in app', { provider: 'wxpay', uniPlatform: 'app', userAgent: '', needQRcode: 'image' }, 'wxpay_h5'],
    ['ali mini program', { provider: 'alipay', uniPlatform: 'mp-alipay', userAgent: '' }, 'alipay_mp-alipay'],
    ['ali app', { provider: 'alipay', uniPlatform: 'app', userAgent: '' }, 'alipay_app-plus'],
    ['ali app → face-to-face', { provider: 'alipay', uniPlatform: 'app', userAgent: '', alipayAppPayToH5Pay: true }, 'alipay_h5'],
    ['ali PC web', { provider: 'alipay', uniPlatform: 'web', userAgent: '', isPC: true }, 'alipay_h5'],
    ['ali mobile web', { provider: 'alipay', uniPlatform: 'web', userAgent: 'Safari' }, 'alipay_h5'],
    ['apple', { provider: 'appleiap', uniPlatform: 'app', userAgent: '' }, 'appleiap_app-plus'],
    ['virtual', { provider: 'wxpay-virtual', uniPlatform: 'mp-weixin', userAgent: '' }, 'wxpay-virtual_mp-weixin'],
    ['vkspay web', { provider: 'vkspay', uniPlatform: 'web', userAgent: '' }, 'vkspay_h5'],
    ['vkspay mini program', { provider: 'vkspay', uniPlatform: 'mp-weixin', userAgent: '' }, 'vkspay_mp-weixin'],
  ];
  test.each(cases)('%s', (_name, input, expected) => {
    expect(detectPayType(input).payType).toBe(expected);
  });

  test.each([
    ['alipay in a WeChat mini program', { provider: 'alipay', uniPlatform: 'mp-weixin', userAgent: '' }],
    ['wxpay in an Alipay mini program', { provider: 'wxpay', uniPlatform: 'mp-alipay', userAgent: '' }],
    ['apple on the web', { provider: 'appleiap', uniPlatform: 'web', userAgent: '' }],
    ['virtual pay in an app', { provider: 'wxpay-virtual', uniPlatform: 'app', userAgent: '' }],
    ['wxpay in a toutiao mini program', { provider: 'wxpay', uniPlatform: 'mp-toutiao', userAgent: '' }],
  ] as const)('refuses %s', (_n, input) => {
    expect(codeOf(() => detectPayType(input as never))).toBe(ERRORS.PLATFORM_UNSUPPORTED[0]);
  });

  test('openid is required exactly for JSAPI-style scenes', () => {
    expect(['wxpay_mp-weixin', 'wxpay_h5-weixin', 'alipay_mp-alipay'].every((t) => needsOpenid(t as never))).toBe(true);
    expect(['wxpay_h5', 'wxpay_mweb', 'wxpay_app-plus', 'alipay_h5', 'alipay_app-plus'].some((t) => needsOpenid(t as never))).toBe(false);
  });
});

describe('context normalisation: the three shapes vk-uni-pay accepts', () => {
  test('cloud object getClientInfo()', () => {
    const c = normalizeContext({
      uniPlatform: 'web',
      clientIP: '10.1.2.3',
      userAgent: 'UA1',
      appId: '__UNI__X',
      deviceId: 'd1',
      locale: 'en',
    });
    expect(c).toMatchObject({
      uniPlatform: 'web',
      clientIP: '10.1.2.3',
      userAgent: 'UA1',
      appId: '__UNI__X',
      deviceId: 'd1',
      locale: 'en',
    });
  });
  test('VK originalParam.context / cloud function context (upper-case keys)', () => {
    const c = normalizeContext({
      PLATFORM: 'app-plus',
      CLIENTIP: '1.1.1.1',
      CLIENTUA: 'UA2',
      APPID: '__UNI__Y',
      SPACEINFO: { spaceId: 'sp1' },
    });
    expect(c).toMatchObject({ uniPlatform: 'app', clientIP: '1.1.1.1', userAgent: 'UA2', appId: '__UNI__Y', spaceId: 'sp1' });
  });
  test('h5 and app-ios fold to web and app; legacy platform names come back', () => {
    expect(normalizeContext({ PLATFORM: 'h5' }).uniPlatform).toBe('web');
    expect(normalizeContext({ uniPlatform: 'app-ios' }).uniPlatform).toBe('app');
    expect(legacyPlatform('web')).toBe('h5');
    expect(legacyPlatform('app')).toBe('app-plus');
    expect(legacyPlatform('mp-weixin')).toBe('mp-weixin');
  });
  test('a client cannot choose the space (and so the notify URL) through uploaded clientInfo', () => {
    expect(normalizeContext({ uniPlatform: 'web', spaceId: 'someone-elses-space' }).spaceId).toBeUndefined();
    expect(normalizeContext({ PLATFORM: 'h5', SPACEINFO: { spaceId: 'platform-set' } }).spaceId).toBe('platform-set');
  });
  test('a context without a platform is refused', () => {
    expect(codeOf(() => normalizeContext({}))).toBe(ERRORS.CONTEXT_INVALID[0]);
    expect(codeOf(() => normalizeContext(undefined))).toBe(ERRORS.CONTEXT_INVALID[0]);
  });
});

describe('money is integer fen; one conversion to yuan', () => {
  test.each([
    [1, '0.01'],
    [10, '0.10'],
    [100, '1.00'],
    [1999, '19.99'],
    [123456789, '1234567.89'],
  ])('%i fen = %s yuan and back', (fen, yuan) => {
    expect(fenToYuan(fen)).toBe(yuan);
    expect(yuanToFen(yuan)).toBe(fen);
  });
  test('yuan parsing refuses inexact or odd input', () => {
    expect(yuanToFen('0.001')).toBeUndefined();
    expect(yuanToFen('-1.00')).toBeUndefined();
    expect(yuanToFen('1e3')).toBeUndefined();
    expect(yuanToFen('abc')).toBeUndefined();
    expect(yuanToFen('0.1')).toBe(10);
  });
  test.each([0, -1, 1.5, NaN, '100', null, MAX_FEN + 1, Number.MAX_SAFE_INTEGER + 2])('refuses total_fee %p', (v) => {
    expect(codeOf(() => assertFen(v))).toBe(1003);
  });
});

describe('provider time is Asia/Shanghai whatever the host says (suite runs under TZ=UTC)', () => {
  const ms = Date.UTC(2026, 10, 27, 16, 30, 5); // 2026-11-28 00:30:05 in Beijing
  test('formats', () => {
    expect(process.env.TZ).toBe('UTC');
    expect(toRfc3339Shanghai(ms)).toBe('2026-11-28T00:30:05+08:00');
    expect(toCompactShanghai(ms)).toBe('20261128003005');
    expect(toDateTimeShanghai(ms)).toBe('2026-11-28 00:30:05');
  });
  test('parses each provider format back to the same instant', () => {
    expect(parseProviderTime('2026-11-28 00:30:05')).toBe(ms);
    expect(parseProviderTime('20261128003005')).toBe(ms);
    expect(parseProviderTime('2026-11-28T00:30:05+08:00')).toBe(ms);
    expect(parseProviderTime('nonsense')).toBeUndefined();
  });
});

describe('createPayment validation', () => {
  const ok = {
    context: { uniPlatform: 'web' },
    provider: 'wxpay',
    data: { out_trade_no: 'ORDER_0001', total_fee: 1, subject: 's', type: 'recharge' },
  };
  const withData = (d: Record<string, unknown>) => ({ ...ok, data: { ...ok.data, ...d } });
  test('a valid call passes and is copied', () => {
    const v = validateCreatePayment(ok);
    expect(v.data.custom).toEqual({});
    expect(v.needQRcode).toBe(false);
  });
  test.each([
    ['provider', { ...ok, provider: 'paypal' }, 1001],
    ['type missing', withData({ type: undefined }), 1002],
    ['type with a path', withData({ type: '../../evil' }), 1002],
    ['total_fee float', withData({ total_fee: 0.5 }), 1003],
    ['total_fee string', withData({ total_fee: '100' }), 1003],
    ['subject', withData({ subject: '' }), 1004],
    ['out_trade_no short', withData({ out_trade_no: 'a1' }), 1005],
    ['out_trade_no chars', withData({ out_trade_no: 'ORDER 0001' }), 1005],
    ['custom collides', withData({ custom: { total_fee: 1 } }), 1009],
    ['custom array', withData({ custom: [1] }), 1009],
    ['other overrides the amount', withData({ other: { amount: { total: 1 } } }), 1011],
    ['other overrides notify_url', withData({ other: { notify_url: 'http://evil' } }), 1011],
    ['other overrides mchid', withData({ other: { mchid: '1' } }), 1011],
    ['time_expire seconds', withData({ time_expire: 1700000000 }), 1012],
    ['needQRcode', { ...ok, needQRcode: 'yes' }, 1021],
  ] as const)('refuses %s', (_n, input, code) => {
    expect(codeOf(() => validateCreatePayment(input))).toBe(code);
  });
  test('time_expire minimums per provider (seed)', () => {
    const now = 1_800_000_000_000;
    expect(codeOf(() => checkTimeExpire('wxpay', 'wxpay_h5', now + 59_000, now))).toBe(1012);
    expect(codeOf(() => checkTimeExpire('wxpay', 'wxpay_h5', now + 60_000, now))).toBe('no error');
    expect(codeOf(() => checkTimeExpire('wxpay', 'wxpay_mweb', now + 4 * 60_000, now))).toBe(1012);
    expect(codeOf(() => checkTimeExpire('wxpay', 'wxpay_mp-weixin', now + 5 * 60_000, now))).toBe('no error');
    expect(codeOf(() => checkTimeExpire('alipay', 'alipay_h5', now + 1_000, now))).toBe('no error');
    expect(codeOf(() => checkTimeExpire('alipay', 'alipay_h5', now + 999, now))).toBe(1012);
    expect(codeOf(() => checkTimeExpire('appleiap', 'appleiap_app-plus', now + 600_000, now))).toBe(1013);
    expect(codeOf(() => checkTimeExpire('vkspay', 'vkspay_h5', now + 600_000, now))).toBe(1013);
  });
});

describe('errors', () => {
  test('every error has a code and messages in zh-Hans and en; codes are unique', () => {
    const codes = Object.values(ERRORS).map(([c]) => c);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [, zh, en] of Object.values(ERRORS)) {
      expect(zh).toMatch(/[\u4e00-\u9fa5]/);
      expect(en).toMatch(/^[\x20-\x7e]+$/);
    }
  });
  test('placeholders are filled and localized', () => {
    const e = new PayError('ORDER_AMOUNT_CHANGED', { old: 100, new: 200 });
    expect(e.msgZh).toContain('原 100 分');
    expect(e.localized('en-US')).toContain('was 100, now 200');
  });
});

test('handler data flattens custom into the order (vk-uni-pay)', () => {
  const d = handlerData({ out_trade_no: 'X', total_fee: 1, custom: { recharge_balance: 5 }, handler_lock_until: 9 } as never);
  expect(d).toMatchObject({ out_trade_no: 'X', total_fee: 1, recharge_balance: 5 });
  expect(d).not.toHaveProperty('handler_lock_until');
});
