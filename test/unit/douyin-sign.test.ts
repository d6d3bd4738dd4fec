import { createHash } from 'node:crypto';
import {
  douyinCallbackSign,
  douyinCallbackSignatureValid,
  douyinRequestSign,
  douyinRequestSignString,
} from '../../uni_modules/vk-uni-pay/server/providers/douyin/sign';

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');
const sha1 = (s: string) => createHash('sha1').update(s, 'utf8').digest('hex');

describe('Douyin request signature (salt, MD5)', () => {
  // the create_order case of Douyin's official demos (bytedance/open-pay-signature-go-demo utils/sign_test.go
  // and -java-demo SignTest.java): same parameters, same salt, same expected sign
  const official = {
    app_id: 'ttcfdbb9xxxxxxxxxxx',
    thirdparty_id: 'tta4bad200000xxxxxx',
    out_order_no: 'test-02167569xxxxxx',
    total_amount: 2376,
    subject: 'test-payment_subject-test-paym...',
    body: '强烈推荐！经典腊汁肉夹馍团购价仅需7.92元！',
    valid_time: 172800,
    notify_url: 'https://www.xxx.com',
    disable_msg: 0,
    msg_page: 'pages/user/orderDetail/orderDetail?id=997979879879879879',
    sign: 'edc608b160a1be3de0xxxxxx',
  };

  test("reproduces the official demo vector 54f102e7115f8a6a3e6af4633dc33959 (salt 'your_payment_salt')", () => {
    expect(douyinRequestSign(official, 'your_payment_salt')).toBe('54f102e7115f8a6a3e6af4633dc33959');
  });

  test('the signed string, written out by hand: values only (0 kept), salt added, code-unit order, "&"', () => {
    const byHand = [
      '0',
      '172800',
      '2376',
      'https://www.xxx.com',
      'pages/user/orderDetail/orderDetail?id=997979879879879879',
      'test-02167569xxxxxx',
      'test-payment_subject-test-paym...',
      'your_payment_salt',
      '强烈推荐！经典腊汁肉夹馍团购价仅需7.92元！',
    ].join('&');
    expect(douyinRequestSignString(official, 'your_payment_salt')).toBe(byHand);
    expect(md5(byHand)).toBe('54f102e7115f8a6a3e6af4633dc33959');
  });

  test('a second published vector (yansongda/pay AddPayloadSignaturePluginTest, its test salt)', () => {
    const salt = 'oDxWDBr4U7FAAQ8hnGDm29i4A6pbTMDKme4WLLvA';
    const p = {
      out_order_no: '202406100423024876',
      total_amount: 1,
      subject: '闫嵩达 - test - subject - 01',
      body: '闫嵩达 - test - body - 01',
      valid_time: 600,
      notify_url: 'https://yansongda.cn/douyin/notify',
    };
    expect(douyinRequestSign(p, salt)).toBe('771c1952ffb5e0744fc0ad1337aafa6a');
  });

  test('identity fields, empty, "null", null and undefined values are not signed; quotes and spaces are stripped', () => {
    const base = { out_order_no: 'A1', total_amount: 100 };
    const s = douyinRequestSign(base, 'S');
    expect(s).toBe(md5('100&A1&S'));
    expect(
      douyinRequestSign(
        {
          ...base,
          app_id: 'tt1',
          thirdparty_id: 'tp',
          sign: 'x',
          other_settle_params: 'o',
          cp_extra: '',
          msg_page: 'null',
          a: null,
          b: undefined,
        },
        'S',
      ),
    ).toBe(s);
    expect(douyinRequestSign({ out_order_no: ' "A1" ', total_amount: '100 ' }, 'S')).toBe(s);
    // any signed value changes the sign
    expect(douyinRequestSign({ ...base, total_amount: 101 }, 'S')).not.toBe(s);
    expect(douyinRequestSign(base, 'T')).not.toBe(s);
  });
});

describe('Douyin callback signature (token, SHA-1)', () => {
  test('reproduces the official demo vector c9df04a40645c4ec15c13bc542cea589eac57e64', () => {
    // sign_test.go Test_CallbackSign: token, timestamp, nonce, msg
    const fields = { timestamp: '1652675265', nonce: '9999', msg: '80850852', type: 'payment' };
    expect(douyinCallbackSign(fields, 'fdsifakhflasjfxxxxxxxxx')).toBe('c9df04a40645c4ec15c13bc542cea589eac57e64');
    // independently: sorted strings concatenated with nothing between
    expect(sha1(['1652675265', '80850852', '9999', 'fdsifakhflasjfxxxxxxxxx'].join(''))).toBe('c9df04a40645c4ec15c13bc542cea589eac57e64');
  });

  test('msg_signature and type are not signed; a numeric timestamp signs like its digits', () => {
    const msg = JSON.stringify({ appid: 'tt1', cp_orderno: 'A1', total_amount: 1, status: 'SUCCESS' });
    const f = { timestamp: 1700000000, nonce: '797', msg, type: 'payment' };
    const sig = sha1(['tok', '1700000000', '797', msg].sort().join(''));
    expect(douyinCallbackSign(f, 'tok')).toBe(sig);
    expect(douyinCallbackSignatureValid({ ...f, msg_signature: sig }, 'tok')).toBe(true);
    expect(douyinCallbackSignatureValid({ ...f, msg_signature: sig.toUpperCase() }, 'tok')).toBe(true);
    expect(douyinCallbackSignatureValid({ ...f, type: 'refund', msg_signature: sig }, 'tok')).toBe(true);
  });

  test('tampering with any signed field, the wrong token or a malformed signature fails', () => {
    const f = { timestamp: '1700000000', nonce: '797', msg: '{"cp_orderno":"A1","total_amount":1}' };
    const sig = douyinCallbackSign(f, 'tok');
    expect(douyinCallbackSignatureValid({ ...f, msg_signature: sig }, 'other')).toBe(false);
    expect(douyinCallbackSignatureValid({ ...f, msg: f.msg.replace('1}', '2}'), msg_signature: sig }, 'tok')).toBe(false);
    expect(douyinCallbackSignatureValid({ ...f, nonce: '798', msg_signature: sig }, 'tok')).toBe(false);
    expect(douyinCallbackSignatureValid({ ...f, msg_signature: sig.slice(2) }, 'tok')).toBe(false);
    expect(douyinCallbackSignatureValid({ ...f, msg_signature: 'zz' + sig.slice(2) }, 'tok')).toBe(false);
    expect(douyinCallbackSignatureValid({ ...f }, 'tok')).toBe(false);
    expect(() => douyinCallbackSign({ ...f, msg: { nested: true } }, 'tok')).toThrow();
  });
});
