/**
 * Huawei Pay signing and verification against independent vectors: the signed-string example of
 * Huawei's REST overview, SM2 signatures made by OpenSSL 3 (`pkeyutl -digest sm3 -pkeyopt
 * distid:1234567812345678`) and by sm-crypto (the library Huawei's docs verify with), RSA-PSS
 * checked by jsrsasign (`SHA256withRSAandMGF1`, Huawei's JavaScript signing sample).
 */
import { constants, generateKeyPairSync, verify } from 'node:crypto';
import {
  buildOrderStr,
  huaweiSignString,
  merchantSign,
  parseMerchantKey,
  parseSm2PublicKey,
  payMercAuth,
  verifyHuaweiSigned,
} from '../../uni_modules/vk-uni-pay/server/providers/huawei/sign';
import {
  decodeSignature,
  encodeSignature,
  sm2PublicOf,
  sm2Sign,
  sm2Verify,
} from '../../uni_modules/vk-uni-pay/server/providers/huawei/sm2';

const { sm2: smCrypto } = require('sm-crypto');
const jsrsasign = require('jsrsasign');

/** made once with OpenSSL 3.0 (see the file comment); the certificate is self-signed over the same key */
const OPENSSL = {
  publicKeyPem: `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE1mV93nUoGphaC3RbIEGXoBnd0krP
t69Qs08+tUcdTsJofsqkF3ZjgQDiOgZfO4/OlrAM8mZFBFzkpr2EDckLjA==
-----END PUBLIC KEY-----
`,
  publicKeyHex:
    '04d6657dde75281a985a0b745b204197a019ddd24acfb7af50b34f3eb5471d4ec2687ecaa41776638100e23a065f3b8fce96b00cf26645045ce4a6bd840dc90b8c',
  certificatePem: `-----BEGIN CERTIFICATE-----
MIIBmTCCAT+gAwIBAgIUaZiDCOHBl7xbUzKNYnUS2/1r+NgwCgYIKoEcz1UBg3Uw
IjEgMB4GA1UEAwwXSHVhd2VpIFBheSBzYW5kYm94IHRlc3QwHhcNMjYxMjAxMDMy
MzIwWhcNMzYxMTI4MDMyMzIwWjAiMSAwHgYDVQQDDBdIdWF3ZWkgUGF5IHNhbmRi
b3ggdGVzdDBZMBMGByqGSM49AgEGCCqBHM9VAYItA0IABNZlfd51KBqYWgt0WyBB
l6AZ3dJKz7evULNPPrVHHU7CaH7KpBd2Y4EA4joGXzuPzpawDPJmRQRc5Ka9hA3J
C4yjUzBRMB0GA1UdDgQWBBRLC0EXzJwNFbeBiPKa8iUbjb4W+jAfBgNVHSMEGDAW
gBRLC0EXzJwNFbeBiPKa8iUbjb4W+jAPBgNVHRMBAf8EBTADAQH/MAoGCCqBHM9V
AYN1A0gAMEUCIQCyZ7GAW0oyzhRCwvpSusyGsxBasTh1XpWF/FTDZowM0wIgNsgC
tNPAS2ERXKRLwMlG9zxCMIunFZpYn7cwXoAtxBE=
-----END CERTIFICATE-----
`,
  /** the message signed: the signed string of NOTIFICATION below */
  message: 'callbackId=abc&mercOrderNo=T20261201&orderStatus=TRX_SUCCESS&totalAmount=100&tradeSummary=测试',
  signature: 'MEQCIBAo8cFAPccYVjQ9l0jZxj6rlSR0KTqJHFWxa5/k1FvnAiBgD1WhYJmOBvwiXw/+TZ8thGoNMuXxTaOXu57H8baDmg==',
};
const NOTIFICATION = { callbackId: 'abc', mercOrderNo: 'T20261201', orderStatus: 'TRX_SUCCESS', totalAmount: 100, tradeSummary: '测试' };

const hexOf = (p: { x: bigint; y: bigint }) => '04' + p.x.toString(16).padStart(64, '0') + p.y.toString(16).padStart(64, '0');

describe('the signed string (REST overview, 签名规则)', () => {
  test("Huawei's own example: sorted keys, lists of objects joined with ','", () => {
    const body = {
      appId: '5765880207854262xxx',
      callbackUrl: 'https://www.xxx.com/hw_notify',
      currency: 'CNY',
      mercNo: '101723200xxx',
      mercOrderNo: '2405171027547xxx',
      payload: 'shop|h8ahnJA8xxRXVw',
      totalAmount: 5,
      tradeSummary: 'test',
      subOrders: [
        { mercNo: '101723200xxx', mercOrderNo: 'abcxxx1' },
        { mercNo: '101723201xxx', mercOrderNo: 'abcxxx2' },
      ],
    };
    // copied from the docs' 加签内容
    expect(huaweiSignString(body)).toBe(
      'appId=5765880207854262xxx&callbackUrl=https://www.xxx.com/hw_notify&currency=CNY&mercNo=101723200xxx&mercOrderNo=2405171027547xxx&payload=shop|h8ahnJA8xxRXVw&subOrders=mercNo=101723200xxx&mercOrderNo=abcxxx1,mercNo=101723201xxx&mercOrderNo=abcxxx2&totalAmount=5&tradeSummary=test',
    );
  });

  test('sign is left out, null and absent fields are skipped, empty strings are signed', () => {
    expect(huaweiSignString({ b: '', a: null, c: undefined, sign: 'x', d: 0, e: false })).toBe('b=&d=0&e=false');
  });
});

describe('SM2 (Huawei answers and notifications)', () => {
  const key = parseSm2PublicKey(OPENSSL.publicKeyPem)!;

  test('the public key reads the same from hex (with or without 04), PEM, base64 SPKI and a certificate', () => {
    expect(hexOf(key)).toBe(OPENSSL.publicKeyHex);
    for (const form of [
      OPENSSL.publicKeyHex,
      OPENSSL.publicKeyHex.slice(2).toUpperCase(),
      OPENSSL.certificatePem,
      OPENSSL.publicKeyPem.replace(/-----[A-Z ]+-----|\n/g, ''),
    ])
      expect(parseSm2PublicKey(form)).toEqual(key);
  });

  test('keys that are not SM2 points are refused', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const offCurve = OPENSSL.publicKeyHex.slice(0, -1) + (OPENSSL.publicKeyHex.endsWith('c') ? 'd' : 'c');
    for (const bad of [rsa, p256, offCurve, '', 'not a key', '04' + '0'.repeat(128)]) expect(parseSm2PublicKey(bad)).toBeUndefined();
  });

  test("an OpenSSL signature over a notification's signed string verifies; any change does not", () => {
    expect(huaweiSignString(NOTIFICATION)).toBe(OPENSSL.message);
    const sig = Buffer.from(OPENSSL.signature, 'base64');
    expect(sm2Verify(Buffer.from(OPENSSL.message), sig, key)).toBe(true);
    expect(verifyHuaweiSigned({ ...NOTIFICATION, sign: OPENSSL.signature }, key)).toBe(true);
    expect(verifyHuaweiSigned({ ...NOTIFICATION, totalAmount: 1, sign: OPENSSL.signature }, key)).toBe(false);
    expect(verifyHuaweiSigned({ ...NOTIFICATION, extra: 'x', sign: OPENSSL.signature }, key)).toBe(false);
    expect(verifyHuaweiSigned({ ...NOTIFICATION }, key)).toBe(false);
    expect(verifyHuaweiSigned({ ...NOTIFICATION, sign: 'not base64!' }, key)).toBe(false);
    // another signer id gives another digest
    expect(sm2Verify(Buffer.from(OPENSSL.message), sig, key, 'ALICE123@YAHOO.COM')).toBe(false);
  });

  test('malformed or out-of-range (r, s) are refused without throwing', () => {
    const { r, s } = decodeSignature(Buffer.from(OPENSSL.signature, 'base64'))!;
    const msg = Buffer.from(OPENSSL.message);
    const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
    expect(sm2Verify(msg, encodeSignature(r, s), key)).toBe(true); // our DER round-trips OpenSSL's
    for (const [rr, ss] of [
      [0n, s],
      [r, 0n],
      [r + N, s],
      [r, s + N],
      [N - s, s], // r + s = N
    ])
      expect(sm2Verify(msg, encodeSignature(rr, ss), key)).toBe(false);
    const der = Buffer.from(OPENSSL.signature, 'base64');
    for (const bad of [Buffer.alloc(0), der.subarray(0, 20), Buffer.concat([der, Buffer.from([0])]), Buffer.from('3000', 'hex')])
      expect(sm2Verify(msg, bad, key)).toBe(false);
  });

  test('both ways with sm-crypto (hash: true, der: true), on fresh keys', () => {
    for (let i = 0; i < 3; i++) {
      const pair = smCrypto.generateKeyPairHex();
      const pub = parseSm2PublicKey(pair.publicKey)!;
      const d = BigInt('0x' + pair.privateKey);
      expect(sm2PublicOf(d)).toEqual(pub);
      const msg = `mercOrderNo=N${i}&tradeSummary=会员&totalAmount=${i + 1}`;
      const theirs = smCrypto.doSignature(msg, pair.privateKey, { hash: true, der: true, publicKey: pair.publicKey });
      expect(sm2Verify(Buffer.from(msg), Buffer.from(theirs, 'hex'), pub)).toBe(true);
      const ours = sm2Sign(Buffer.from(msg), d, pub);
      expect(smCrypto.doVerifySignature(msg, ours.toString('hex'), pair.publicKey, { hash: true, der: true })).toBe(true);
      expect(smCrypto.doVerifySignature(msg + '&x=1', ours.toString('hex'), pair.publicKey, { hash: true, der: true })).toBe(false);
    }
  });
});

describe('merchant signatures', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

  test('RSA: SHA256WithRSA/PSS with a 32-byte salt, checked by jsrsasign (SHA256withRSAandMGF1)', () => {
    const key = parseMerchantKey(rsaPem)!;
    expect(key.kind).toBe('rsa');
    const content = 'mercNo=1015&mercOrderNo=T1&totalAmount=1&tradeSummary=测试';
    const sig = merchantSign(content, key);
    const v = new jsrsasign.KJUR.crypto.Signature({ alg: 'SHA256withRSAandMGF1', psssaltlen: 32 });
    v.init(rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    v.updateString(content);
    expect(v.verify(Buffer.from(sig, 'base64').toString('hex'))).toBe(true);
    expect(
      verify(
        'sha256',
        Buffer.from(content),
        { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        Buffer.from(sig, 'base64'),
      ),
    ).toBe(true);
  });

  test("the key also reads as the bare base64 PKCS#8 body of Huawei's Java config, and with literal \\n", () => {
    const body = rsaPem.replace(/-----[A-Z ]+-----|\n/g, '');
    expect(parseMerchantKey(body)?.kind).toBe('rsa');
    expect(parseMerchantKey(rsaPem.replace(/\n/g, '\\n'))?.kind).toBe('rsa');
    expect(parseMerchantKey('garbage')).toBeUndefined();
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(parseMerchantKey(p256)).toBeUndefined();
  });

  test('SM2 merchant keys sign what sm-crypto verifies', () => {
    const sm2Pem = generateKeyPairSync('ec', { namedCurve: 'SM2' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const key = parseMerchantKey(sm2Pem)!;
    expect(key.kind).toBe('sm2');
    const sig = merchantSign('a=1', key);
    const pubHex = key.kind === 'sm2' ? hexOf(key.pub) : '';
    expect(smCrypto.doVerifySignature('a=1', Buffer.from(sig, 'base64').toString('hex'), pubHex, { hash: true, der: true })).toBe(true);
  });

  test('PayMercAuth: bodySign over the body string, headerSign over the other header fields', () => {
    const key = parseMerchantKey(rsaPem)!;
    const check = (content: string, sig: string) =>
      verify(
        'sha256',
        Buffer.from(content),
        { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        Buffer.from(sig, 'base64'),
      );
    const auth = JSON.parse(
      payMercAuth({ mchId: '101540000089', authId: '1202917', bodyContent: '/api/x?mercNo=1', key, now: 1764558000000 }),
    );
    expect(Object.keys(auth).sort()).toEqual(['authId', 'bodySign', 'callerId', 'headerSign', 'time', 'traceId']);
    expect(auth).toMatchObject({ callerId: '101540000089', authId: '1202917', time: 1764558000000 });
    expect(auth.traceId.length).toBeLessThanOrEqual(32);
    expect(check('/api/x?mercNo=1', auth.bodySign)).toBe(true);
    const { headerSign, ...rest } = auth;
    expect(
      check(`authId=1202917&bodySign=${auth.bodySign}&callerId=101540000089&time=1764558000000&traceId=${auth.traceId}`, headerSign),
    ).toBe(true);
    expect(check(huaweiSignString(rest), headerSign)).toBe(true);
  });

  test('orderStr: the Payment Kit fields, signed over all but sign', () => {
    const key = parseMerchantKey(rsaPem)!;
    const s = JSON.parse(
      buildOrderStr({ appId: '5765880207854', mchId: '1015', authId: '1202', prepayId: 'pp1', key, now: 1764558000123 }),
    );
    expect(s).toMatchObject({ app_id: '5765880207854', merc_no: '1015', prepay_id: 'pp1', timestamp: '1764558000123', auth_id: '1202' });
    expect(s.noncestr).toMatch(/^[0-9a-f]{32}$/);
    expect(
      verify(
        'sha256',
        Buffer.from(huaweiSignString(s)),
        { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        Buffer.from(s.sign, 'base64'),
      ),
    ).toBe(true);
  });
});
