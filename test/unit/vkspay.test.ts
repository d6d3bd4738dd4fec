import { createHash } from 'node:crypto';
import {
  vksPaySign,
  vksPaySignString,
  vksPayNonce,
  vksPayAmount,
  parseVksPayForm,
  vkspayAdapter,
} from '../../uni_modules/vk-uni-pay/server/providers/vkspay';
import { fenToYuan } from '../../uni_modules/vk-uni-pay/server/core/money';
import type { RawHttpRequest } from '../../uni_modules/vk-uni-pay/server/providers/types';

describe('VksPay MD5 signature (as the adapter header documents it)', () => {
  test('sorted k=v pairs, &key=, lower-case md5 — vector written out by hand from the spec', () => {
    const params = {
      method: 'webpay',
      merchantno: 'M1001',
      signaturenonce: '12345678',
      timestamp: 1700000000,
      version: '2.0',
      total_fee: 0.01,
      notify_url: 'https://x.test/n',
      out_trade_no: 'VK20240001',
      return_url: undefined,
    };
    // by hand: keys sorted in code-unit order, values as JS prints them, no URL-encoding, undefined dropped
    const byHand =
      'merchantno=M1001&method=webpay&notify_url=https://x.test/n&out_trade_no=VK20240001&signaturenonce=12345678&timestamp=1700000000&total_fee=0.01&version=2.0&key=K3yS3cret';
    expect(vksPaySignString(params, 'K3yS3cret')).toBe(byHand);
    expect(vksPaySign(params, 'K3yS3cret')).toBe('f06ed7e5676a7638b4182657c76ab585'); // md5 computed with Python
    expect(createHash('md5').update(byHand).digest('hex')).toBe('f06ed7e5676a7638b4182657c76ab585');
    // an existing sign field is not signed
    expect(vksPaySign({ ...params, sign: 'whatever' }, 'K3yS3cret')).toBe('f06ed7e5676a7638b4182657c76ab585');
  });

  test('empty strings and null are kept (k= and k=null)', () => {
    const p = {
      method: 'orderquery',
      merchantno: 'M1001',
      signaturenonce: '99999999',
      timestamp: 1700000001,
      version: '2.0',
      a: '',
      b: null,
    };
    expect(vksPaySignString(p, 'K3yS3cret')).toBe(
      'a=&b=null&merchantno=M1001&method=orderquery&signaturenonce=99999999&timestamp=1700000001&version=2.0&key=K3yS3cret',
    );
    expect(vksPaySign(p, 'K3yS3cret')).toBe('6c7e3a587d47cfe7bd649017f2eae1b4');
  });

  test('nonce is 8 digits 1-9', () => {
    for (let i = 0; i < 50; i++) expect(vksPayNonce()).toMatch(/^[1-9]{8}$/);
  });

  test('fen → yuan goes through core/money once and prints like the demo', () => {
    expect(fenToYuan(1)).toBe('0.01');
    expect(fenToYuan(1999)).toBe('19.99');
    expect(fenToYuan(100)).toBe('1.00');
    expect([1, 10, 100, 1999, 123456789].map(vksPayAmount)).toEqual([0.01, 0.1, 1, 19.99, 1234567.89]);
    expect(String(vksPayAmount(1999))).toBe('19.99');
    expect(() => vksPayAmount(1.5)).toThrow();
  });
});

describe('VksPay notification = hint', () => {
  const req = (body: string, query: Record<string, string> = {}): RawHttpRequest => ({
    method: 'POST',
    path: '/',
    headers: {},
    query,
    body: Buffer.from(body),
  });
  const ctx = { config: {}, http: { request: () => Promise.reject(new Error('no')) }, clock: { now: () => 0 }, cache: undefined as never };

  test('form body and base64 body give a hint, never a payment', async () => {
    await expect(vkspayAdapter.verifyNotify(req('out_trade_no=VK1001&total_fee=0.01&return_code=SUCCESS'), ctx)).resolves.toEqual({
      kind: 'hint',
      out_trade_no: 'VK1001',
    });
    await expect(vkspayAdapter.verifyNotify(req(Buffer.from('out_trade_no=VK1002&x=1').toString('base64')), ctx)).resolves.toEqual({
      kind: 'hint',
      out_trade_no: 'VK1002',
    });
    expect(parseVksPayForm('a=1&b=x%20y&c')).toEqual({ a: '1', b: 'x y', c: '' });
  });

  test('malformed notifications are refused; replies', async () => {
    await expect(vkspayAdapter.verifyNotify(req('foo=bar'), ctx)).rejects.toMatchObject({ key: 'NOTIFY_MALFORMED' });
    await expect(vkspayAdapter.verifyNotify(req('out_trade_no=<script>'), ctx)).rejects.toMatchObject({ key: 'NOTIFY_MALFORMED' });
    const okReply = vkspayAdapter.notifyReply(true);
    expect(okReply.statusCode).toBe(200);
    expect(JSON.parse(okReply.body)).toEqual({ code: 'SUCCESS', msg: 'SUCCESS' });
    expect(JSON.parse(vkspayAdapter.notifyReply(false).body).code).toBe('FAIL');
  });
});
