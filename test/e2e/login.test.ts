/**
 * Payer identity from login codes, through the vk-pay cloud object: only ids reach the client;
 * session keys and OAuth tokens stay on the server.
 */
import { startTestStack, type TestStack } from '../helpers/project';
import { WX_APPIDS } from '../../tools/stack';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack();
}, 60_000);
afterAll(() => s?.close());

const SECRET_WORDS = /session_?key|access_?token|refresh_?token/i;

test('WeChat mini program: openid back, session_key kept server side', async () => {
  const { code, openid } = s.wxapi.login();
  const r = await s.call('vk-pay', 'code2SessionWeixinMP', [{ code }], { uniPlatform: 'mp-weixin' });
  expect(r).toMatchObject({ errCode: 0, openid });
  expect(JSON.stringify(r)).not.toMatch(SECRET_WORDS);
  expect(JSON.stringify(r)).not.toContain(s.wxapi.sessionKeyOf(openid));
  // the same code cannot be used twice
  expect((await s.call('vk-pay', 'code2SessionWeixinMP', [{ code }], { uniPlatform: 'mp-weixin' })).errCode).toBe(3001);
});

test('WeChat official account OAuth: openid back, no token', async () => {
  const { code, openid } = s.wxapi.oauthLogin(undefined, WX_APPIDS.oa);
  const r = await s.call('vk-pay', 'code2SessionWeixinH5', [{ code }], { uniPlatform: 'web', ua: 'MicroMessenger' });
  expect(r).toMatchObject({ errCode: 0, openid });
  expect(JSON.stringify(r)).not.toMatch(SECRET_WORDS);
});

test('Alipay mini program: buyer id back as openid, no token', async () => {
  const { code, user_id } = s.alipay.issueAuthCode();
  const r = await s.call('vk-pay', 'code2SessionAlipay', [{ code }], { uniPlatform: 'mp-alipay' });
  expect(r).toMatchObject({ errCode: 0, openid: user_id });
  expect(JSON.stringify(r)).not.toMatch(SECRET_WORDS);
});

test.each(['code2SessionWeixinMP', 'code2SessionWeixinH5', 'code2SessionAlipay'])(
  '%s refuses a malformed code with a clear error',
  async (method) => {
    const r = await s.call('vk-pay', method, [{ code: '../x y' }]);
    expect(r).toMatchObject({ errCode: 1021, errSubject: 'vk-pay' });
    expect(r.errMsg).toContain('code');
  },
);
