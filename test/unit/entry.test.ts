/** The common module's public surface, as `require('vk-uni-pay')` gives it. */
import vkPay = require('../../uni_modules/vk-uni-pay/server/entry/index');

test('every documented function is exported', () => {
  const fns = [
    'createPayment',
    'queryPayment',
    'closeOrder',
    'refund',
    'queryRefund',
    'code2SessionWeixinMP',
    'code2SessionWeixinH5',
    'code2SessionAlipay',
    'createVkPay',
    'isPayError',
    'doctor',
    'verifyApplePurchase',
    'notifyProvideGoods',
    // vk-uni-pay's own entry points (drop-in)
    'paymentNotify',
    'checkTokenReturnUserId',
    'getUserNickname',
    'initUniPayInstance',
    // documented by vk-uni-pay, answered with error 5010 (not implemented yet)
    'transfer',
    'cancelTransfer',
    'queryTransfer',
    'transferNotify',
    'verifyTransferNotify',
    'queryAccountBalance',
    'getWxpayVirtualManager',
  ];
  for (const name of fns) expect(typeof (vkPay as Record<string, unknown>)[name]).toBe('function');
  expect(typeof vkPay.appleiap.verifyReceipt).toBe('function');
  expect(typeof vkPay.wxpayVirtual.notifyProvideGoods).toBe('function');
  expect(typeof vkPay.crypto.aes.encrypt).toBe('function');
  expect(typeof vkPay.wxpay.fetchCertificates).toBe('function');
  expect(Object.keys(vkPay).sort()).toEqual([...fns, 'appleiap', 'wxpayVirtual', 'crypto', 'wxpay', 'PayError', 'ERRORS'].sort());
});

test('bad input to a module function is a {code, msg} result, never a throw', async () => {
  await expect(vkPay.createPayment({ provider: 'paypal', data: {} })).resolves.toMatchObject({
    code: 1001,
    msg: expect.stringContaining('provider'),
  });
  await expect(vkPay.closeOrder({})).resolves.toMatchObject({ code: 1021 });
});

test('the vk-uni-pay namespaces call the same rows of the API table', async () => {
  // an instance without config answers a coded error: the namespace and the row give the same answer
  const viaRow = await vkPay.notifyProvideGoods({ out_trade_no: 42 as never });
  const viaNamespace = await vkPay.wxpayVirtual.notifyProvideGoods({ out_trade_no: 42 as never });
  expect(viaNamespace).toEqual(viaRow);
  expect(typeof (viaRow as { code: unknown }).code).toBe('number');
  expect((viaRow as { code: number }).code).not.toBe(0);
});
