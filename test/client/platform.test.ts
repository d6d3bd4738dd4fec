import { detectEnv, isPCPlatform, normalizePlatform } from '../../uni_modules/vk-uni-pay/js_sdk/platform';
import { alipayAppLink, appendQuery, getPageParam, withPageParams } from '../../uni_modules/vk-uni-pay/js_sdk/url';
import { CloudCallError, checkCloudResult, createUniCloudCaller, type UniCloudLike } from '../../uni_modules/vk-uni-pay/js_sdk/cloud';
import { normalizeQrImage, qrDataUrl } from '../../uni_modules/vk-uni-pay/js_sdk/qrcode';
import { ALIPAY_NAV, PC_NAV, PHONE_NAV, WEIXIN_NAV } from './fakes';

describe('platform detection', () => {
  test('compile-time platform names are normalised', () => {
    expect(normalizePlatform('web')).toBe('h5');
    expect(normalizePlatform('h5')).toBe('h5');
    expect(normalizePlatform('app-plus')).toBe('app');
    expect(normalizePlatform('app')).toBe('app');
    expect(normalizePlatform('mp-weixin')).toBe('mp-weixin');
    expect(normalizePlatform('mp-alipay')).toBe('mp-alipay');
    expect(normalizePlatform('mp-toutiao')).toBe('mp-toutiao');
    expect(normalizePlatform('mp-baidu')).toBe('other');
    expect(normalizePlatform(undefined)).toBe('other');
  });

  test.each([
    ['Win32', true],
    ['MacIntel', true],
    ['X11', true],
    ['Linux x86_64', true],
    ['Linux armv8l', false],
    ['Linux aarch64', false],
    ['iPhone', false],
    ['', false],
  ])('navigator.platform %p → isPC %p', (p, pc) => {
    expect(isPCPlatform(p)).toBe(pc);
  });

  test('isPC and browsers only count on H5', () => {
    expect(detectEnv('h5', PC_NAV)).toEqual({ platform: 'h5', isPC: true, inWeixin: false, inAlipay: false });
    expect(detectEnv('h5', PHONE_NAV)).toEqual({ platform: 'h5', isPC: false, inWeixin: false, inAlipay: false });
    expect(detectEnv('h5', WEIXIN_NAV).inWeixin).toBe(true);
    expect(detectEnv('h5', ALIPAY_NAV)).toMatchObject({ isPC: false, inAlipay: true });
    // an Android phone whose navigator.platform says Linux but whose UA says Android is not a PC
    expect(detectEnv('h5', { platform: 'Linux x86_64', userAgent: 'Mozilla/5.0 (Linux; Android 12)' }).isPC).toBe(false);
    // the WeChat desktop browser is PC (QR payment)
    expect(
      detectEnv('h5', { platform: 'Win32', userAgent: 'Mozilla/5.0 (Windows NT 10.0) MicroMessenger/3.9 WindowsWechat' }),
    ).toMatchObject({ isPC: true, inWeixin: true });
    expect(detectEnv('mp-weixin', PC_NAV)).toEqual({ platform: 'mp-weixin', isPC: false, inWeixin: false, inAlipay: false });
    expect(detectEnv('app', undefined).isPC).toBe(false);
  });
});

describe('url helpers', () => {
  test('hash-route page parameters go into the hash part', () => {
    const u = withPageParams('http://h/app/#/pages/index/index?user=u1', { confirmShow: 'true', out_trade_no: 'T 1' });
    expect(u).toBe('http://h/app/#/pages/index/index?user=u1&confirmShow=true&out_trade_no=T+1');
    expect(getPageParam(u, 'out_trade_no')).toBe('T 1');
    expect(withPageParams(u, { confirmShow: null, out_trade_no: null })).toBe('http://h/app/#/pages/index/index?user=u1');
  });

  test('history-route parameters go into the search part', () => {
    const u = withPageParams('http://h/pages/index/index?x=1#frag', { confirmShow: 'true' });
    expect(u).toBe('http://h/pages/index/index?x=1&confirmShow=true#frag');
    expect(getPageParam(u, 'confirmShow')).toBe('true');
    expect(getPageParam('http://h/', 'confirmShow')).toBeNull();
  });

  test('appendQuery encodes and keeps the existing query', () => {
    expect(appendQuery('http://gw/mweb?prepay_id=1', 'redirect_url', 'http://a/#/p?x=1&y=2')).toBe(
      'http://gw/mweb?prepay_id=1&redirect_url=http%3A%2F%2Fa%2F%23%2Fp%3Fx%3D1%26y%3D2',
    );
    expect(appendQuery('http://gw/mweb', 'k', 'v')).toBe('http://gw/mweb?k=v');
  });

  test('the Alipay deep link carries the QR URL', () => {
    const link = alipayAppLink('https://qr.alipay.com/abc');
    expect(link.startsWith('alipays://platformapi/startapp?saId=10000007&qrcode=')).toBe(true);
    expect(decodeURIComponent(link.split('qrcode=')[1])).toBe('https://qr.alipay.com/abc?_s=web-other');
  });
});

describe('cloud caller', () => {
  function fakeUniCloud(objResult: unknown, fnResult: unknown) {
    const seen: { kind: string; name: string; data: unknown; options?: unknown }[] = [];
    const uc: UniCloudLike = {
      importObject(name, options) {
        return {
          async queryPayment(data: unknown) {
            seen.push({ kind: 'object', name, data, options });
            if (objResult instanceof Error) throw objResult;
            return objResult;
          },
        };
      },
      async callFunction({ name, data }) {
        seen.push({ kind: 'function', name, data });
        return { result: fnResult };
      },
    };
    return { uc, seen };
  }

  test('a cloud object method is called with customUI and the data', async () => {
    const { uc, seen } = fakeUniCloud({ errCode: 0, orderPaid: true }, null);
    const call = createUniCloudCaller(() => uc);
    await expect(call({ name: 'vk-pay', method: 'queryPayment' }, { out_trade_no: 'T' })).resolves.toEqual({ errCode: 0, orderPaid: true });
    expect(seen).toEqual([{ kind: 'object', name: 'vk-pay', data: { out_trade_no: 'T' }, options: { customUI: true } }]);
  });

  test('a router function gets {action, data} (keys configurable)', async () => {
    const { uc, seen } = fakeUniCloud(null, { code: 0, orderPaid: false });
    const call = createUniCloudCaller(() => uc);
    await call({ name: 'router', action: 'pay/queryPayment', actionKey: '$url' }, { a: 1 });
    expect(seen[0]).toEqual({ kind: 'function', name: 'router', data: { $url: 'pay/queryPayment', data: { a: 1 } } });
  });

  test('errors in both conventions become CloudCallError', async () => {
    const thrown = Object.assign(new Error('订单不存在'), { errCode: 'vk-pay-order-not-found', errMsg: '订单不存在' });
    const { uc } = fakeUniCloud(thrown, { code: 1001, msg: 'bad' });
    const call = createUniCloudCaller(() => uc);
    await expect(call({ name: 'vk-pay', method: 'queryPayment' }, {})).rejects.toMatchObject({
      errCode: 'vk-pay-order-not-found',
      errMsg: '订单不存在',
    });
    await expect(call('fn', {})).rejects.toBeInstanceOf(CloudCallError);
    await expect(call('fn', {})).rejects.toMatchObject({ errCode: 1001, errMsg: 'bad' });
    await expect(call({ name: 'vk-pay', method: 'nope' }, {})).rejects.toMatchObject({ errCode: 'METHOD_NOT_FOUND' });
  });

  test('checkCloudResult accepts errCode 0 and code 0, rejects others', () => {
    expect(checkCloudResult({ errCode: 0, a: 1 })).toEqual({ errCode: 0, a: 1 });
    expect(checkCloudResult({ code: 0 })).toEqual({ code: 0 });
    expect(() => checkCloudResult({ errCode: 'X', errMsg: 'm' })).toThrow('m');
    expect(() => checkCloudResult(undefined)).toThrow(CloudCallError);
  });
});

describe('qrcode', () => {
  test('server images are normalised to data URLs', () => {
    expect(normalizeQrImage('iVBORw0')).toBe('data:image/png;base64,iVBORw0');
    expect(normalizeQrImage('data:image/png;base64,x')).toBe('data:image/png;base64,x');
    expect(normalizeQrImage(undefined)).toBe('');
  });

  test('qrDataUrl renders a PNG data URL', async () => {
    const url = await qrDataUrl('weixin://wxpay/bizpayurl?pr=abc');
    expect(url.startsWith('data:image/png;base64,')).toBe(true);
    expect(Buffer.from(url.split(',')[1], 'base64').subarray(1, 4).toString()).toBe('PNG');
  });
});
