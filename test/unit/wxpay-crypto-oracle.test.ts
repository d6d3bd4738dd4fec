/**
 * Cross-checks of providers/wxpay/crypto against an independent implementation,
 * wechatpay-axios-plugin 0.9.6 (test-only oracle, never a runtime dependency): Rsa.sign/verify,
 * Formatter.request/response/authorization/nonce, Decorator.requestInterceptor (its request signer)
 * and Decorator.responseVerifier (its response verifier), Aes.AesGcm / Aes.AesEcb, Hash.sign,
 * Transformer.toXml/toObject, and a full round trip of its axios client against a loopback server.
 */
import { createHash, randomBytes, randomInt, verify as nodeVerify, constants, createPrivateKey, createPublicKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Wechatpay, Rsa, Aes, Hash, Formatter, Decorator, Transformer } from 'wechatpay-axios-plugin';
import { issueCertificate, generateRsaKeyPair, type Issued } from '../../tools/sandbox/pki';
import { PayError } from '../../uni_modules/vk-uni-pay/server/core/errors';
import {
  nonceStr,
  createMerchantSigner,
  buildAuthorization,
  requestMessage,
  signLines,
  createKeyStore,
  signedMessageFromHeaders,
  verifyMessage,
  decryptResource,
  encryptResource,
  signV2,
  verifyV2,
  toXml,
  parseXml,
  decryptRefundReqInfo,
  type MerchantSigner,
} from '../../uni_modules/vk-uni-pay/server/providers/wxpay/crypto';

const MCHID = '1900000001';
const PUB_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000';
let merchant: Issued;
let platform: Issued;
let wechat: { privateKeyPem: string; publicKeyPem: string };
let signer: MerchantSigner;
let wechatSigner: MerchantSigner;
let platformSigner: MerchantSigner;

beforeAll(async () => {
  [merchant, platform, wechat] = await Promise.all([
    issueCertificate({ subject: 'CN=1900000001, O=Sandbox Merchant, C=CN' }),
    issueCertificate({ subject: 'CN=Sandbox Platform, O=Sandbox, C=CN' }),
    generateRsaKeyPair(),
  ]);
  signer = createMerchantSigner({ mchid: MCHID, serialNo: merchant.serialHex, privateKeyPem: merchant.keyPem });
  wechatSigner = createMerchantSigner({ mchid: 'wechat', serialNo: 'AA', privateKeyPem: wechat.privateKeyPem });
  platformSigner = createMerchantSigner({ mchid: 'wechat', serialNo: platform.serialHex, privateKeyPem: platform.keyPem });
});

function parseAuthorization(header: string): Record<string, string> {
  const m = /^WECHATPAY2-SHA256-RSA2048 (.*)$/.exec(header);
  if (!m) throw new Error('not a WECHATPAY2-SHA256-RSA2048 header: ' + header);
  const out: Record<string, string> = {};
  for (const part of m[1].split(',')) {
    const kv = /^([a-z_]+)="([^"]*)"$/.exec(part);
    if (!kv) throw new Error('bad part ' + part);
    out[kv[1]] = kv[2];
  }
  return out;
}

function expectPayError(fn: () => unknown, key: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(PayError);
  expect((caught as PayError).key).toBe(key);
}

// ------------------------------------------------------------------------------ (1) request signing
describe('(1) request signature: ours ↔ oracle', () => {
  const body = JSON.stringify({
    appid: 'wxd678efh567hg6787',
    mchid: MCHID,
    description: 'Image形象店-深圳腾大-QQ公仔',
    out_trade_no: '1217752501201407033233368018',
    amount: { total: 100, currency: 'CNY' },
  });

  it('our Authorization verifies with the oracle (Formatter.request + Rsa.verify)', () => {
    const req = { method: 'POST', canonicalUrl: '/v3/pay/transactions/jsapi', body, timestamp: Formatter.timestamp(), nonce: nonceStr() };
    const a = parseAuthorization(buildAuthorization(signer, req));
    expect(a.mchid).toBe(MCHID);
    expect(a.serial_no).toBe(merchant.serialHex);
    const oracleMessage = Formatter.request('POST', req.canonicalUrl, a.timestamp, a.nonce_str, body);
    expect(oracleMessage).toBe(requestMessage(req)); // same canonical string
    expect(Rsa.verify(oracleMessage, a.signature, Rsa.from(merchant.publicKeyPem, 'public'))).toBe(true);
    // and the oracle notices a change
    expect(
      Rsa.verify(
        Formatter.request('POST', req.canonicalUrl, a.timestamp, a.nonce_str, body + ' '),
        a.signature,
        Rsa.from(merchant.publicKeyPem, 'public'),
      ),
    ).toBe(false);
  });

  it('GET with query and empty body: same canonical string, oracle verifies ours', () => {
    const url = '/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1900000001';
    const req = { method: 'get', canonicalUrl: url, body: '', timestamp: 1554208460, nonce: Formatter.nonce() };
    expect(requestMessage(req)).toBe(Formatter.request('GET', url, 1554208460, req.nonce, ''));
    const a = parseAuthorization(buildAuthorization(signer, req));
    expect(Rsa.verify(Formatter.request('GET', url, 1554208460, req.nonce), a.signature, merchant.publicKeyPem)).toBe(true);
  });

  it("the oracle's own request signer (Decorator.requestInterceptor) verifies with node over our canonical string", () => {
    const data = JSON.parse(body);
    const sign = Decorator.requestInterceptor();
    const config = sign({
      method: 'post',
      baseURL: 'https://api.mch.weixin.qq.com/',
      url: 'v3/pay/transactions/jsapi?x=1&y=%E4%B8%AD',
      data,
      headers: {},
      mchid: MCHID,
      serial: merchant.serialHex,
      privateKey: Rsa.from(merchant.keyPem, 'private'),
    });
    const auth = parseAuthorization(String(config.headers.get ? config.headers.get('Authorization') : config.headers.Authorization));
    expect(auth.mchid).toBe(MCHID);
    expect(auth.serial_no).toBe(merchant.serialHex);
    const ours = requestMessage({
      method: 'POST',
      canonicalUrl: '/v3/pay/transactions/jsapi?x=1&y=%E4%B8%AD',
      body: JSON.stringify(data),
      timestamp: Number(auth.timestamp),
      nonce: auth.nonce_str,
    });
    const ok = (msg: string) =>
      nodeVerify(
        'sha256',
        Buffer.from(msg),
        { key: merchant.publicKeyPem, padding: constants.RSA_PKCS1_PADDING },
        Buffer.from(auth.signature, 'base64'),
      );
    expect(ok(ours)).toBe(true);
    expect(ok(ours.replace('x=1', 'x=2'))).toBe(false);
    // same private key, same message → identical PKCS#1 v1.5 signature from both implementations
    expect(
      buildAuthorization(signer, {
        method: 'POST',
        canonicalUrl: '/v3/pay/transactions/jsapi?x=1&y=%E4%B8%AD',
        body: JSON.stringify(data),
        timestamp: Number(auth.timestamp),
        nonce: auth.nonce_str,
      }),
    ).toContain(`signature="${auth.signature}"`);
  });

  it('client pay params: signLines equals Rsa.sign over Formatter.joinedByLineFeed (JSAPI and APP)', () => {
    const key = Rsa.from(merchant.keyPem, 'private');
    const jsapi = ['wx8888888888888888', '1414561699', nonceStr(), 'prepay_id=wx201410272009395522657a690389285100'];
    expect(signLines(signer, jsapi)).toBe(Rsa.sign(Formatter.joinedByLineFeed(...jsapi), key));
    const app = ['wx8888888888888888', '1414561699', nonceStr(), 'wx201410272009395522657a690389285100'];
    const sig = signLines(signer, app);
    expect(Rsa.verify(Formatter.joinedByLineFeed(...app), sig, merchant.publicKeyPem)).toBe(true);
    expect(Rsa.verify(Formatter.joinedByLineFeed(...jsapi), sig, merchant.publicKeyPem)).toBe(false);
  });
});

// ------------------------------------------------------------------------------ (2) response/notify
describe('(2) response / notification signature: ours ↔ oracle', () => {
  const body =
    '{"id":"EV-2018022511223320873","create_time":"2015-05-20T13:29:35+08:00","event_type":"TRANSACTION.SUCCESS","summary":"支付成功"}';
  const oracleVerifier = (certs: Record<string, unknown>) => {
    const fn = Decorator.responseVerifier(certs as never);
    // called by axios as transformResponse with `this` = request config
    return (data: string, headers: Record<string, string>) =>
      fn.call({ url: '/v3/pay/transactions/id/4200000000', validateStatus: (s: number) => s >= 200 && s < 300 }, data, headers, 200);
  };

  it('signed by the oracle (Formatter.response + Rsa.sign) → verifies with our verifyMessage, both key modes', () => {
    const store = createKeyStore({
      publicKeys: { [PUB_KEY_ID]: wechat.publicKeyPem },
      certificates: { [platform.serialHex]: platform.certPem },
    });
    for (const [serial, key] of [
      [PUB_KEY_ID, wechat.privateKeyPem],
      [platform.serialHex, platform.keyPem],
    ] as const) {
      const ts = Formatter.timestamp();
      const nonce = Formatter.nonce();
      const signature = Rsa.sign(Formatter.response(ts, nonce, body), Rsa.from(key, 'private'));
      const headers = {
        'wechatpay-timestamp': String(ts),
        'wechatpay-nonce': nonce,
        'wechatpay-signature': signature,
        'wechatpay-serial': serial,
        'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      };
      const msg = signedMessageFromHeaders(headers, Buffer.from(body));
      expect(() => verifyMessage(store, msg, { nowMs: Date.now(), purpose: 'notify' })).not.toThrow();
      expect(() => verifyMessage(store, msg, { nowMs: Date.now(), purpose: 'response' })).not.toThrow();
      expectPayError(
        () =>
          verifyMessage(
            store,
            { ...msg, body: Buffer.from(body.replace('支付成功', '支付失败')) },
            { nowMs: Date.now(), purpose: 'notify' },
          ),
        'NOTIFY_SIGNATURE_INVALID',
      );
    }
  });

  it('signed by us → verifies with the oracle (Decorator.responseVerifier and Rsa.verify); tampering is caught by both', () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = nonceStr();
    const signature = wechatSigner.sign(`${ts}\n${nonce}\n${body}\n`);
    const headers = {
      'Wechatpay-Timestamp': ts,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': signature,
      'Wechatpay-Serial': PUB_KEY_ID,
    };
    expect(Rsa.verify(Formatter.response(ts, nonce, body), signature, wechat.publicKeyPem)).toBe(true);
    const verify = oracleVerifier({ [PUB_KEY_ID]: Rsa.from(wechat.publicKeyPem, 'public') });
    expect(verify(body, headers)).toBe(body); // accepted: the data is passed through
    const rejected = verify(body + ' ', headers);
    expect(rejected).toBeInstanceOf(Error); // the oracle's BusinessError
    expect((rejected as { code?: string }).code).toBe('EV3_RES_HEADER_SIGNATURE_DIGEST');
    // and ours agrees on the same inputs
    const store = createKeyStore({ publicKeys: { [PUB_KEY_ID]: wechat.publicKeyPem } });
    const msg = { timestamp: ts, nonce, signature, serial: PUB_KEY_ID, body };
    expect(() => verifyMessage(store, msg, { nowMs: Date.now(), purpose: 'response' })).not.toThrow();
    expectPayError(
      () => verifyMessage(store, { ...msg, body: body + ' ' }, { nowMs: Date.now(), purpose: 'response' }),
      'GATEWAY_RESPONSE_UNVERIFIED',
    );
  });

  it('platform certificate mode: a certificate-signed response verifies in both', () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = nonceStr();
    const signature = platformSigner.sign(`${ts}\n${nonce}\n${body}\n`);
    const verify = oracleVerifier({ [platform.serialHex]: Rsa.from(platform.certPem, 'public') });
    expect(
      verify(body, {
        'Wechatpay-Timestamp': ts,
        'Wechatpay-Nonce': nonce,
        'Wechatpay-Signature': signature,
        'Wechatpay-Serial': platform.serialHex,
      }),
    ).toBe(body);
    const store = createKeyStore({ certificates: { [platform.serialHex]: platform.certPem } });
    expect(() =>
      verifyMessage(store, { timestamp: ts, nonce, signature, serial: platform.serialHex, body }, { nowMs: Date.now(), purpose: 'notify' }),
    ).not.toThrow();
  });

  it('both refuse a stale timestamp and an unknown serial (boundary note: oracle refuses > 300 s, we refuse >= 300 s as the Go SDK)', () => {
    const ts = String(Math.floor(Date.now() / 1000) - 301);
    const nonce = nonceStr();
    const signature = wechatSigner.sign(`${ts}\n${nonce}\n${body}\n`);
    const verify = oracleVerifier({ [PUB_KEY_ID]: Rsa.from(wechat.publicKeyPem, 'public') });
    expect(
      (
        verify(body, {
          'Wechatpay-Timestamp': ts,
          'Wechatpay-Nonce': nonce,
          'Wechatpay-Signature': signature,
          'Wechatpay-Serial': PUB_KEY_ID,
        }) as { code?: string }
      ).code,
    ).toBe('EV3_RES_HEADER_TIMESTAMP_OFFSET');
    const store = createKeyStore({ publicKeys: { [PUB_KEY_ID]: wechat.publicKeyPem } });
    expectPayError(
      () => verifyMessage(store, { timestamp: ts, nonce, signature, serial: PUB_KEY_ID, body }, { nowMs: Date.now(), purpose: 'notify' }),
      'NOTIFY_TIMESTAMP_EXPIRED',
    );
    const fresh = String(Math.floor(Date.now() / 1000));
    const sig2 = wechatSigner.sign(`${fresh}\n${nonce}\n${body}\n`);
    expect(
      (
        verify(body, {
          'Wechatpay-Timestamp': fresh,
          'Wechatpay-Nonce': nonce,
          'Wechatpay-Signature': sig2,
          'Wechatpay-Serial': 'PUB_KEY_ID_0999',
        }) as { code?: string }
      ).code,
    ).toBe('EV3_RES_HEADER_PLATFORM_SERIAL');
    expectPayError(
      () =>
        verifyMessage(
          store,
          { timestamp: fresh, nonce, signature: sig2, serial: 'PUB_KEY_ID_0999', body },
          { nowMs: Date.now(), purpose: 'notify' },
        ),
      'NOTIFY_SERIAL_UNKNOWN',
    );
  });
});

// ------------------------------------------------------------------------------ full client round trip
describe('(1)+(2) the oracle axios client against a loopback peer built from our modules', () => {
  let server: Server;
  let port = 0;
  const seen: Array<{ ok: boolean }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        // verify the oracle's request with node over OUR canonical string
        let ok = false;
        try {
          const a = parseAuthorization(String(req.headers.authorization));
          const msg = requestMessage({
            method: req.method!,
            canonicalUrl: req.url!,
            body: raw,
            timestamp: Number(a.timestamp),
            nonce: a.nonce_str,
          });
          ok =
            a.mchid === MCHID &&
            a.serial_no === merchant.serialHex &&
            nodeVerify('sha256', Buffer.from(msg), merchant.publicKeyPem, Buffer.from(a.signature, 'base64'));
        } catch {
          ok = false;
        }
        seen.push({ ok });
        const out = ok
          ? JSON.stringify({ prepay_id: 'wx201410272009395522657a690389285100' })
          : JSON.stringify({ code: 'SIGN_ERROR', message: 'sign not match' });
        const ts = String(Math.floor(Date.now() / 1000));
        const nonce = nonceStr();
        const tamper = req.url!.includes('tamper');
        res.writeHead(ok ? 200 : 401, {
          'Content-Type': 'application/json',
          'Request-ID': 'sandbox-1',
          'Wechatpay-Timestamp': ts,
          'Wechatpay-Nonce': nonce,
          'Wechatpay-Serial': PUB_KEY_ID,
          'Wechatpay-Signature': wechatSigner.sign(`${ts}\n${nonce}\n${out}\n`),
        });
        res.end(tamper ? out.replace('wx2014', 'wx2099') : out);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('its signed request verifies on our side; our signed response verifies on its side; a tampered one is rejected', async () => {
    const wxpay = new (Wechatpay as unknown as new (c: object) => any)({
      mchid: MCHID,
      serial: merchant.serialHex,
      privateKey: merchant.keyPem,
      certs: { [PUB_KEY_ID]: wechat.publicKeyPem },
      baseURL: `http://127.0.0.1:${port}/`,
    });
    const r = await wxpay.v3.pay.transactions.jsapi.post({
      appid: 'wx1',
      mchid: MCHID,
      description: '测试',
      out_trade_no: 'T1',
      amount: { total: 1 },
    });
    expect(seen.at(-1)).toEqual({ ok: true });
    expect(r.data).toEqual({ prepay_id: 'wx201410272009395522657a690389285100' });
    await expect(wxpay.v3.pay.transactions.tamper.post({ a: 1 })).rejects.toThrow();
    expect(seen.at(-1)).toEqual({ ok: true });
  });
});

// ------------------------------------------------------------------------------ (3) AES-GCM
describe('(3) AEAD_AES_256_GCM: ours ↔ oracle (Aes.AesGcm)', () => {
  const KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
  const plain = JSON.stringify({
    mchid: MCHID,
    out_trade_no: 'T1',
    trade_state: 'SUCCESS',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    desc: '支付成功',
  });

  it('oracle-encrypted decrypts with ours, ours decrypts with the oracle, identical ciphertext', () => {
    const nonce = nonceStr(12);
    const ct = Aes.AesGcm.encrypt(plain, KEY, nonce, 'transaction');
    expect(
      decryptResource({ algorithm: 'AEAD_AES_256_GCM', ciphertext: ct, nonce, associated_data: 'transaction' }, KEY).toString('utf8'),
    ).toBe(plain);
    const ours = encryptResource(plain, KEY, nonce, 'transaction');
    expect(ours.ciphertext).toBe(ct);
    expect(Aes.AesGcm.decrypt(ours.ciphertext, KEY, nonce, 'transaction')).toBe(plain);
    // empty associated data (certificates may carry none)
    const ct2 = Aes.AesGcm.encrypt(plain, KEY, nonce, '');
    expect(decryptResource({ algorithm: 'AEAD_AES_256_GCM', ciphertext: ct2, nonce }, KEY).toString()).toBe(plain);
  });

  it('a tampered tag (and wrong AAD) is rejected by both', () => {
    const nonce = nonceStr(12);
    const ours = encryptResource(plain, KEY, nonce, 'transaction');
    const raw = Buffer.from(ours.ciphertext, 'base64');
    raw[raw.length - 1] ^= 0x80;
    const bad = raw.toString('base64');
    expect(() => Aes.AesGcm.decrypt(bad, KEY, nonce, 'transaction')).toThrow();
    expectPayError(() => decryptResource({ ...ours, ciphertext: bad }, KEY), 'NOTIFY_DECRYPT_FAILED');
    expect(() => Aes.AesGcm.decrypt(ours.ciphertext, KEY, nonce, 'refund')).toThrow();
    expectPayError(() => decryptResource({ ...ours, associated_data: 'refund' }, KEY), 'NOTIFY_DECRYPT_FAILED');
  });
});

// ------------------------------------------------------------------------------ (4) v2
describe('(4) API v2: ours ↔ oracle (Hash.sign, Hash.md5/hmac, Aes.AesEcb, Transformer)', () => {
  const vector = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
  const KEY2 = '192006250b4c09247ec02edce69f6a2d';

  it('official vector: signV2 equals Hash.sign for MD5 and HMAC-SHA256 (and the documented values)', () => {
    expect(signV2(vector, KEY2, 'MD5')).toBe(Hash.sign('MD5', vector, KEY2));
    expect(signV2(vector, KEY2, 'HMAC-SHA256')).toBe(Hash.sign('HMAC-SHA256', vector, KEY2));
    expect(Hash.sign('MD5', vector, KEY2)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(Hash.sign('HMAC-SHA256', vector, KEY2)).toBe('6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6');
  });

  it('random parameter sets: signV2 equals Hash.sign, and verifyV2 accepts the oracle signatures', () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
    const valueChars = 'abcXYZ019 -_.:/?#[]@!$()*+,;~中文支付😀';
    for (let round = 0; round < 200; round++) {
      const params: Record<string, string> = {};
      const n = randomInt(1, 15);
      for (let i = 0; i < n; i++) {
        // names start with a letter, as every real v2 parameter (see the integer-key note below)
        const k = alphabet[randomInt(52)] + Array.from({ length: randomInt(0, 12) }, () => alphabet[randomInt(alphabet.length)]).join('');
        if (k === 'sign') continue;
        params[k] =
          randomInt(5) === 0
            ? ''
            : Array.from({ length: randomInt(1, 20) }, () => [...valueChars][randomInt([...valueChars].length)]).join('');
      }
      const key = randomBytes(16).toString('hex');
      for (const t of ['MD5', 'HMAC-SHA256'] as const) {
        const oracle = Hash.sign(t, params, key);
        expect(signV2(params, key, t)).toBe(oracle);
        const received =
          t === 'MD5' ? { ...params, sign: oracle } : { ...params, sign_type: t, sign: Hash.sign(t, { ...params, sign_type: t }, key) };
        expect(verifyV2(received, key)).toBe(true);
      }
    }
  });

  it('known oracle divergence: integer-like names (JS object key order) — we keep the documented ASCII order', () => {
    const p = { '9': 'a', '10': 'b', x: 'c' };
    const ascii = createHash('md5').update(`10=b&9=a&x=c&key=${KEY2}`).digest('hex').toUpperCase();
    expect(signV2(p, KEY2, 'MD5')).toBe(ascii);
    expect(Hash.sign('MD5', p, KEY2)).not.toBe(ascii); // the oracle's ksort() rebuilds an object: 9 before 10
  });

  it('Hash.md5 / Hash.hmac over our signing string agree (the "&key=" suffix is inside the HMAC too)', () => {
    const stringA = 'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA';
    expect(Hash.md5(stringA, KEY2).toUpperCase()).toBe(signV2(vector, KEY2, 'MD5'));
    expect(Hash.hmac(stringA, KEY2).toUpperCase()).toBe(signV2(vector, KEY2, 'HMAC-SHA256'));
  });

  it('XML: the oracle parses our toXml, we parse the oracle toXml', () => {
    const params = { return_code: 'SUCCESS', attach: 'a&b<c>"d"', body: '商品\n第二行', total_fee: '100', sign: 'X' };
    expect(Transformer.toObject(toXml(params))).toEqual(params);
    expect(parseXml(Transformer.toXml(params))).toEqual(params);
  });

  it('refund req_info: Aes.AesEcb-encrypted (key = md5 hex of the v2 key) decrypts with ours', () => {
    const plaintext =
      '<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_status><![CDATA[SUCCESS]]></refund_status><refund_recv_accout><![CDATA[支付用户零钱]]></refund_recv_accout></root>';
    const reqInfo = Aes.AesEcb.encrypt(plaintext, createHash('md5').update(KEY2).digest('hex'));
    expect(decryptRefundReqInfo(reqInfo, KEY2)).toBe(plaintext);
    expect(parseXml(decryptRefundReqInfo(reqInfo, KEY2)).refund_recv_accout).toBe('支付用户零钱');
    const aligned = 'x'.repeat(32); // the oracle skips padding on block-aligned input; a real PKCS#7 block is always added
    expect(() => decryptRefundReqInfo(Aes.AesEcb.encrypt(aligned, createHash('md5').update(KEY2).digest('hex')), KEY2)).toThrow(PayError);
  });

  it('sanity: the key material really is the same in both worlds', () => {
    expect(createPublicKey(createPrivateKey(merchant.keyPem)).export({ type: 'spki', format: 'pem' })).toBe(
      Rsa.from(merchant.certPem, 'public').export({ type: 'spki', format: 'pem' }),
    );
  });
});

describe('(sanity) generated PKI', () => {
  it('issues distinct RSA-2048 keys', async () => {
    const k = await generateRsaKeyPair();
    expect(k.publicKeyPem).not.toBe(wechat.publicKeyPem);
    expect(createPublicKey(k.publicKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });
});
