/**
 * Unit tests of providers/wxpay/crypto (our own behaviour; the oracle cross-checks live in
 * wxpay-crypto-oracle.test.ts). Keys and certificates are generated at test time.
 */
import {
  createPrivateKey,
  createPublicKey,
  createCipheriv,
  sign as nodeSign,
  createHash,
  generateKeyPairSync,
  verify as nodeVerify,
  constants,
} from 'node:crypto';
import { issueCertificate, generateRsaKeyPair, type Issued } from '../../tools/sandbox/pki';
import { PayError } from '../../uni_modules/vk-uni-pay/server/core/errors';
import {
  nonceStr,
  createMerchantSigner,
  buildAuthorization,
  signLines,
  certificateSerial,
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
  type SignedMessage,
} from '../../uni_modules/vk-uni-pay/server/providers/wxpay/crypto';

/** the PayError key thrown by fn (fails the test when nothing or something else is thrown) */
function errorKey(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PayError);
    return (e as PayError).key;
  }
  throw new Error('expected a PayError, nothing was thrown');
}
function thrown(fn: () => unknown): PayError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PayError);
    return e as PayError;
  }
  throw new Error('expected a PayError, nothing was thrown');
}

const MCHID = '1900000001';
let merchant: Issued;
let platform: Issued; // platform certificate mode
let pubKeyPair: { privateKeyPem: string; publicKeyPem: string }; // WeChat Pay public key mode
const PUB_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000';
let signer: MerchantSigner;
let platformSigner: MerchantSigner; // "WeChat" signing responses with the platform cert key
let pubKeySigner: MerchantSigner; // "WeChat" signing with the public-key-mode key

beforeAll(async () => {
  [merchant, platform, pubKeyPair] = await Promise.all([
    issueCertificate({ subject: 'CN=1900000001, O=Sandbox Merchant, C=CN' }),
    issueCertificate({ subject: 'CN=Tenpay.com Root CA, O=Sandbox Platform, C=CN' }),
    generateRsaKeyPair(),
  ]);
  signer = createMerchantSigner({ mchid: MCHID, serialNo: merchant.serialHex, privateKeyPem: merchant.keyPem });
  platformSigner = createMerchantSigner({ mchid: 'wx', serialNo: platform.serialHex, privateKeyPem: platform.keyPem });
  pubKeySigner = createMerchantSigner({ mchid: 'wx', serialNo: 'AA', privateKeyPem: pubKeyPair.privateKeyPem });
});

function rsaVerify(message: string | Buffer, signatureB64: string, publicKeyPem: string): boolean {
  const key = createPublicKey(publicKeyPem);
  return nodeVerify(
    'sha256',
    Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8'),
    { key, padding: constants.RSA_PKCS1_PADDING },
    Buffer.from(signatureB64, 'base64'),
  );
}

// ------------------------------------------------------------------------------------------ nonce
describe('nonceStr', () => {
  it('is 32 chars of [0-9A-Za-z] by default, other lengths on request, and random', () => {
    const a = nonceStr();
    expect(a).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(nonceStr(12)).toMatch(/^[0-9A-Za-z]{12}$/);
    expect(nonceStr(1)).toHaveLength(1);
    expect(nonceStr()).not.toBe(a);
    const seen = new Set(Array.from({ length: 200 }, () => nonceStr(4)).join(''));
    expect(seen.size).toBeGreaterThan(55); // uses (nearly) the whole alphabet
    expect(errorKey(() => nonceStr(0))).toBe('INTERNAL');
    expect(errorKey(() => nonceStr(1.5))).toBe('INTERNAL');
  });
});

// ------------------------------------------------------------------------------------------ signer
describe('merchant signer', () => {
  it('rejects a bad, non-RSA or short private key with CONFIG_KEY_INVALID appPrivateKey', () => {
    for (const pem of ['', 'not a key', merchant.certPem, merchant.publicKeyPem, merchant.keyPem.replace(/[A-Z]{8}/, 'AAAAAAAA')]) {
      const e = thrown(() => createMerchantSigner({ mchid: MCHID, serialNo: merchant.serialHex, privateKeyPem: pem }));
      expect(e.key).toBe('CONFIG_KEY_INVALID');
      expect(e.message).toContain('appPrivateKey');
      expect(e.message).toContain('wxpay');
      expect(e.message).not.toContain('PRIVATE KEY');
    }
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(errorKey(() => createMerchantSigner({ mchid: MCHID, serialNo: 'AB', privateKeyPem: ec }))).toBe('CONFIG_KEY_INVALID');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(errorKey(() => createMerchantSigner({ mchid: MCHID, serialNo: 'AB', privateKeyPem: small }))).toBe('CONFIG_KEY_INVALID');
  });

  it('accepts a PKCS#1 key and refuses header-breaking mchid / serial values', () => {
    const pkcs1 = createPrivateKey(merchant.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    const s = createMerchantSigner({ mchid: MCHID, serialNo: merchant.serialHex, privateKeyPem: pkcs1 });
    expect(rsaVerify('x', s.sign('x'), merchant.publicKeyPem)).toBe(true);
    expect(() => createMerchantSigner({ mchid: '19"00', serialNo: 'AB', privateKeyPem: merchant.keyPem })).toThrow(PayError);
    expect(() => createMerchantSigner({ mchid: MCHID, serialNo: 'AB",x="', privateKeyPem: merchant.keyPem })).toThrow(PayError);
  });

  it('sign() is base64 RSA-SHA256 PKCS#1 v1.5 over UTF-8 and deterministic', () => {
    const sig = signer.sign('支付\n');
    expect(sig).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(sig, 'base64')).toHaveLength(256);
    expect(signer.sign('支付\n')).toBe(sig); // PKCS#1 v1.5 is deterministic (PSS would not be)
    expect(rsaVerify('支付\n', sig, merchant.publicKeyPem)).toBe(true);
    expect(rsaVerify('支付', sig, merchant.publicKeyPem)).toBe(false);
    expect(signer.mchid).toBe(MCHID);
    expect(signer.serialNo).toBe(merchant.serialHex);
  });

  it('buildAuthorization: exact header format, signature over the exact 5-line string', () => {
    const body = '{"mchid":"1900000001","out_trade_no":"T1","amount":{"total":1}}';
    const req = {
      method: 'post',
      canonicalUrl: '/v3/pay/transactions/jsapi',
      body,
      timestamp: 1554208460,
      nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
    };
    const header = buildAuthorization(signer, req);
    const m =
      /^WECHATPAY2-SHA256-RSA2048 mchid="([^"]*)",nonce_str="([^"]*)",signature="([^"]*)",timestamp="([^"]*)",serial_no="([^"]*)"$/.exec(
        header,
      );
    expect(m).not.toBeNull();
    const [, mchid, nonce, signature, ts, serial] = m!;
    expect([mchid, nonce, ts, serial]).toEqual([MCHID, req.nonce, '1554208460', merchant.serialHex]);
    const exact = `POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n${body}\n`;
    expect(rsaVerify(exact, signature, merchant.publicKeyPem)).toBe(true);
    // any other framing must not verify
    expect(rsaVerify(exact.slice(0, -1), signature, merchant.publicKeyPem)).toBe(false);
    expect(rsaVerify(exact.replace('POST', 'post'), signature, merchant.publicKeyPem)).toBe(false);
  });

  it('buildAuthorization: GET with query and empty body ends in "\\n\\n"', () => {
    const url = '/v3/pay/transactions/out-trade-no/X1?mchid=1900000001';
    const header = buildAuthorization(signer, { method: 'GET', canonicalUrl: url, body: '', timestamp: 1700000000, nonce: 'abc' });
    const sig = /signature="([^"]+)"/.exec(header)![1];
    expect(rsaVerify(`GET\n${url}\n1700000000\nabc\n\n`, sig, merchant.publicKeyPem)).toBe(true);
  });

  it('buildAuthorization refuses values that would change the signed framing or the header', () => {
    const ok = { method: 'GET', canonicalUrl: '/v3/x', body: '', timestamp: 1, nonce: 'n' };
    expect(() => buildAuthorization(signer, { ...ok, nonce: 'a"b' })).toThrow(PayError);
    expect(() => buildAuthorization(signer, { ...ok, nonce: 'a\nb' })).toThrow(PayError);
    expect(() => buildAuthorization(signer, { ...ok, canonicalUrl: 'https://api.mch.weixin.qq.com/v3/x' })).toThrow(PayError);
    expect(() => buildAuthorization(signer, { ...ok, canonicalUrl: '/v3/x\n' })).toThrow(PayError);
    expect(() => buildAuthorization(signer, { ...ok, timestamp: 1.5 })).toThrow(PayError);
  });

  it('signLines for JSAPI (appId,timeStamp,nonceStr,package) and APP (appid,timestamp,noncestr,prepayid)', () => {
    const jsapi = signLines(signer, [
      'wx8888888888888888',
      '1414561699',
      '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      'prepay_id=wx201410272009395522657a690389285100',
    ]);
    expect(
      rsaVerify(
        'wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n',
        jsapi,
        merchant.publicKeyPem,
      ),
    ).toBe(true);
    const app = signLines(signer, [
      'wx8888888888888888',
      '1414561699',
      '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      'wx201410272009395522657a690389285100',
    ]);
    expect(
      rsaVerify(
        'wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nwx201410272009395522657a690389285100\n',
        app,
        merchant.publicKeyPem,
      ),
    ).toBe(true);
    expect(app).not.toBe(jsapi);
    expect(() => signLines(signer, [])).toThrow(PayError);
    expect(() => signLines(signer, ['a\nb'])).toThrow(PayError);
  });

  it('certificateSerial is the upper-case hex serial; garbage is CONFIG_KEY_INVALID', async () => {
    expect(certificateSerial(merchant.certPem)).toBe(merchant.serialHex);
    expect(certificateSerial(merchant.certPem)).toMatch(/^[0-9A-F]+$/);
    const fixed = await issueCertificate({ subject: 'CN=fixed', serialHex: '5157f09efdc096de15ebe81a47057a7232f1b8e1' });
    expect(certificateSerial(fixed.certPem)).toBe('5157F09EFDC096DE15EBE81A47057A7232F1B8E1');
    expect(errorKey(() => certificateSerial('nope'))).toBe('CONFIG_KEY_INVALID');
    expect(errorKey(() => certificateSerial(merchant.keyPem))).toBe('CONFIG_KEY_INVALID');
  });
});

// ------------------------------------------------------------------------------------------ verifier
const NOW_S = 1_700_000_000;
const NOW_MS = NOW_S * 1000;

function signed(
  by: MerchantSigner,
  serial: string,
  body: Buffer | string,
  ts = String(NOW_S),
  nonce = 'c5ac7061fccab6bf3e254dcf98995b8c',
): SignedMessage {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  // sign() takes a string: build the message from the bytes exactly (tests use UTF-8 bodies)
  const signature = by.sign(`${ts}\n${nonce}\n${bytes.toString('utf8')}\n`);
  return { timestamp: ts, nonce, signature, serial, body };
}

describe('key store', () => {
  it('public-key mode, certificate mode, both in one store; serial case-insensitive for certificates', () => {
    const store = createKeyStore({
      publicKeys: { [PUB_KEY_ID]: pubKeyPair.publicKeyPem },
      certificates: { [platform.serialHex.toLowerCase()]: platform.certPem },
    });
    expect(store.get(PUB_KEY_ID)?.export({ type: 'spki', format: 'pem' })).toBe(pubKeyPair.publicKeyPem);
    expect(store.get(platform.serialHex)?.export({ type: 'spki', format: 'pem' })).toBe(platform.publicKeyPem);
    expect(store.get(platform.serialHex.toLowerCase())).toBe(store.get(platform.serialHex)); // built once
    expect(store.get('PUB_KEY_ID_0000')).toBeUndefined();
    expect(store.get('ABCDEF')).toBeUndefined();
    expect(store.get('')).toBeUndefined();
    expect(store.get('__proto__')).toBeUndefined();
    expect(store.serials().sort()).toEqual([PUB_KEY_ID, platform.serialHex].sort());
  });

  it('add() routes PUB_KEY_ID_ to public keys and anything else to certificates', async () => {
    const store = createKeyStore({});
    expect(store.serials()).toEqual([]);
    store.add(PUB_KEY_ID, pubKeyPair.publicKeyPem);
    store.add(platform.serialHex, platform.certPem);
    expect(store.get(PUB_KEY_ID)).toBeDefined();
    expect(store.get(platform.serialHex)).toBeDefined();
    // a certificate stored under a serial that is not its own is a configuration error
    const other = await issueCertificate({ subject: 'CN=other' });
    expect(errorKey(() => store.add(platform.serialHex, other.certPem))).toBe('CONFIG_KEY_INVALID');
    expect(errorKey(() => store.add('ZZZ', platform.certPem))).toBe('CONFIG_KEY_INVALID');
    expect(errorKey(() => store.add(platform.serialHex, platform.publicKeyPem))).toBe('CONFIG_KEY_INVALID');
    expect(errorKey(() => store.add('PUB_KEY_ID_1', 'garbage'))).toBe('CONFIG_KEY_INVALID');
    expect(errorKey(() => createKeyStore({ publicKeys: { NOT_A_PUB_KEY_ID: pubKeyPair.publicKeyPem } }))).toBe('CONFIG_KEY_INVALID');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(errorKey(() => store.add('PUB_KEY_ID_2', ec))).toBe('CONFIG_KEY_INVALID');
  });
});

describe('signedMessageFromHeaders', () => {
  const h = { 'wechatpay-timestamp': '1', 'wechatpay-nonce': 'n', 'wechatpay-signature': 's', 'wechatpay-serial': 'x' };
  it('reads the four headers and keeps the body as given', () => {
    const body = Buffer.from('{"a":1}');
    const m = signedMessageFromHeaders(h, body);
    expect(m).toEqual({ timestamp: '1', nonce: 'n', signature: 's', serial: 'x', body });
    expect(m.body).toBe(body);
    expect(signedMessageFromHeaders({ ...h, 'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048' }, '').timestamp).toBe('1');
  });
  it.each(['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial'])(
    'missing or empty %s → NOTIFY_MALFORMED',
    (name) => {
      expect(errorKey(() => signedMessageFromHeaders({ ...h, [name]: undefined }, ''))).toBe('NOTIFY_MALFORMED');
      expect(errorKey(() => signedMessageFromHeaders({ ...h, [name]: '' }, ''))).toBe('NOTIFY_MALFORMED');
    },
  );
  it('an unsupported signature type → NOTIFY_MALFORMED', () => {
    expect(errorKey(() => signedMessageFromHeaders({ ...h, 'wechatpay-signature-type': 'WECHATPAY2-SM2-WITH-SM3' }, ''))).toBe(
      'NOTIFY_MALFORMED',
    );
  });
});

describe('verifyMessage', () => {
  let store: ReturnType<typeof createKeyStore>;
  const body = '{"id":"EV-2018022511223320873","create_time":"2015-05-20T13:29:35+08:00","summary":"支付成功"}';
  beforeAll(() => {
    store = createKeyStore({
      publicKeys: { [PUB_KEY_ID]: pubKeyPair.publicKeyPem },
      certificates: { [platform.serialHex]: platform.certPem },
    });
  });
  const notify = { nowMs: NOW_MS, purpose: 'notify' as const };

  it('accepts a valid message: public-key mode and certificate mode in one store (migration), string or Buffer body', () => {
    expect(() => verifyMessage(store, signed(pubKeySigner, PUB_KEY_ID, body), notify)).not.toThrow();
    expect(() => verifyMessage(store, signed(platformSigner, platform.serialHex, body), notify)).not.toThrow();
    expect(() => verifyMessage(store, signed(platformSigner, platform.serialHex.toLowerCase(), Buffer.from(body)), notify)).not.toThrow();
    expect(() =>
      verifyMessage(store, signed(pubKeySigner, PUB_KEY_ID, Buffer.from(body)), { ...notify, purpose: 'response' }),
    ).not.toThrow();
  });

  it('a 204 response (empty body) verifies over "ts\\nnonce\\n\\n"', () => {
    expect(() => verifyMessage(store, signed(pubKeySigner, PUB_KEY_ID, ''), { ...notify, purpose: 'response' })).not.toThrow();
  });

  it('the key is chosen by serial: a signature by the other key fails', () => {
    expect(errorKey(() => verifyMessage(store, signed(platformSigner, PUB_KEY_ID, body), notify))).toBe('NOTIFY_SIGNATURE_INVALID');
    expect(errorKey(() => verifyMessage(store, signed(pubKeySigner, platform.serialHex, body), notify))).toBe('NOTIFY_SIGNATURE_INVALID');
  });

  it('a body tampered by one byte fails', () => {
    const raw = Buffer.from(body);
    const msg = signed(pubKeySigner, PUB_KEY_ID, raw);
    const tampered = Buffer.from(raw);
    tampered[10] ^= 0x01;
    expect(errorKey(() => verifyMessage(store, { ...msg, body: tampered }, notify))).toBe('NOTIFY_SIGNATURE_INVALID');
    expect(errorKey(() => verifyMessage(store, { ...msg, body: Buffer.concat([raw, Buffer.from(' ')]) }, notify))).toBe(
      'NOTIFY_SIGNATURE_INVALID',
    );
    expect(errorKey(() => verifyMessage(store, { ...msg, nonce: msg.nonce + 'x' }, notify))).toBe('NOTIFY_SIGNATURE_INVALID');
    expect(errorKey(() => verifyMessage(store, { ...msg, timestamp: String(NOW_S + 1) }, notify))).toBe('NOTIFY_SIGNATURE_INVALID');
  });

  it('a JSON body re-serialised (whitespace change only) fails: verification is over the raw bytes', () => {
    const pretty = '{\n  "id": "EV-1",\n  "amount": {"total": 1}\n}';
    const msg = signed(pubKeySigner, PUB_KEY_ID, Buffer.from(pretty));
    expect(() => verifyMessage(store, msg, notify)).not.toThrow();
    const reserialised = JSON.stringify(JSON.parse(pretty));
    expect(JSON.parse(reserialised)).toEqual(JSON.parse(pretty)); // same data…
    expect(errorKey(() => verifyMessage(store, { ...msg, body: reserialised }, notify))).toBe('NOTIFY_SIGNATURE_INVALID'); // …other bytes
  });

  it('non-UTF-8 raw bytes are verified as bytes, not through a string', () => {
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x80, 0x7d]);
    const signature = platformSignBytes(Buffer.concat([Buffer.from(`${NOW_S}\nn\n`), raw, Buffer.from('\n')]));
    const msg: SignedMessage = { timestamp: String(NOW_S), nonce: 'n', signature, serial: platform.serialHex, body: raw };
    expect(() => verifyMessage(store, msg, notify)).not.toThrow();
    expect(errorKey(() => verifyMessage(store, { ...msg, body: raw.toString('utf8') }, notify))).toBe('NOTIFY_SIGNATURE_INVALID');
  });

  it('timestamp window: 299 s ok, 300 s refused, in the past and in the future; configurable', () => {
    const at = (delta: number) => signed(pubKeySigner, PUB_KEY_ID, body, String(NOW_S + delta));
    expect(() => verifyMessage(store, at(-299), notify)).not.toThrow();
    expect(() => verifyMessage(store, at(299), notify)).not.toThrow();
    expect(() => verifyMessage(store, at(0), { ...notify, nowMs: NOW_MS + 299_999 })).not.toThrow(); // 299.999 s
    expect(errorKey(() => verifyMessage(store, at(-300), notify))).toBe('NOTIFY_TIMESTAMP_EXPIRED');
    expect(errorKey(() => verifyMessage(store, at(300), notify))).toBe('NOTIFY_TIMESTAMP_EXPIRED');
    expect(errorKey(() => verifyMessage(store, at(0), { ...notify, nowMs: NOW_MS + 300_000 }))).toBe('NOTIFY_TIMESTAMP_EXPIRED');
    expect(errorKey(() => verifyMessage(store, at(86_400), notify))).toBe('NOTIFY_TIMESTAMP_EXPIRED');
    expect(errorKey(() => verifyMessage(store, at(-60), { ...notify, windowSeconds: 60 }))).toBe('NOTIFY_TIMESTAMP_EXPIRED');
    expect(() => verifyMessage(store, at(-59), { ...notify, windowSeconds: 60 })).not.toThrow();
    // the window is checked before the signature: a stale message with a bad signature is "expired"
    expect(errorKey(() => verifyMessage(store, { ...at(-301), signature: 'AAAA' }, notify))).toBe('NOTIFY_TIMESTAMP_EXPIRED');
    expect(errorKey(() => verifyMessage(store, { ...at(0), timestamp: '17e8' }, notify))).toBe('NOTIFY_MALFORMED');
    expect(errorKey(() => verifyMessage(store, { ...at(0), timestamp: ' 1700000000' }, notify))).toBe('NOTIFY_MALFORMED');
  });

  it('WECHATPAY/SIGNTEST/ probes are refused first (even stale, unknown serial)', () => {
    const probe = { ...signed(pubKeySigner, PUB_KEY_ID, body), signature: 'WECHATPAY/SIGNTEST/' + 'A'.repeat(344) };
    expect(errorKey(() => verifyMessage(store, probe, notify))).toBe('NOTIFY_PROBE');
    expect(errorKey(() => verifyMessage(store, { ...probe, timestamp: '1', serial: 'NOPE' }, notify))).toBe('NOTIFY_PROBE');
  });

  it('unknown serial', () => {
    const e = thrown(() => verifyMessage(store, signed(pubKeySigner, 'PUB_KEY_ID_0999', body), notify));
    expect(e.key).toBe('NOTIFY_SERIAL_UNKNOWN');
    expect(e.detail?.serial).toBe('PUB_KEY_ID_0999');
    expect(errorKey(() => verifyMessage(store, signed(platformSigner, '00' + platform.serialHex, body), notify))).toBe(
      'NOTIFY_SERIAL_UNKNOWN',
    );
    expect(errorKey(() => verifyMessage(store, signed(pubKeySigner, PUB_KEY_ID.toLowerCase(), body), notify))).toBe(
      'NOTIFY_SERIAL_UNKNOWN',
    );
  });

  it('garbage signatures fail as NOTIFY_SIGNATURE_INVALID', () => {
    const msg = signed(pubKeySigner, PUB_KEY_ID, body);
    for (const signature of ['', 'AAAA', '!!!!', msg.signature.slice(4), msg.signature + 'AAAA', Buffer.alloc(256).toString('base64')]) {
      expect(errorKey(() => verifyMessage(store, { ...msg, signature }, notify))).toBe('NOTIFY_SIGNATURE_INVALID');
    }
  });

  it("purpose 'response' reports every failure as GATEWAY_RESPONSE_UNVERIFIED with the reason", () => {
    const response = { ...notify, purpose: 'response' as const };
    const good = signed(pubKeySigner, PUB_KEY_ID, body);
    const cases: Array<[SignedMessage, string]> = [
      [{ ...good, body: body + ' ' }, 'NOTIFY_SIGNATURE_INVALID'],
      [{ ...good, serial: 'PUB_KEY_ID_0999' }, 'NOTIFY_SERIAL_UNKNOWN'],
      [signed(pubKeySigner, PUB_KEY_ID, body, String(NOW_S - 300)), 'NOTIFY_TIMESTAMP_EXPIRED'],
      [{ ...good, signature: 'WECHATPAY/SIGNTEST/x' }, 'NOTIFY_PROBE'],
    ];
    for (const [msg, reason] of cases) {
      const e = thrown(() => verifyMessage(store, msg, response));
      expect(e.key).toBe('GATEWAY_RESPONSE_UNVERIFIED');
      expect(e.code).toBe(3003);
      expect(e.detail?.reason).toBe(reason);
    }
  });

  it('a custom store handing out a non-RSA key never verifies', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const msg = signed(pubKeySigner, 'X', body);
    expect(errorKey(() => verifyMessage({ get: () => ec.publicKey }, msg, notify))).toBe('NOTIFY_SIGNATURE_INVALID');
  });
});

function platformSignBytes(data: Buffer): string {
  return nodeSign('sha256', data, platform.keyPem).toString('base64');
}

// ------------------------------------------------------------------------------------------ cipher
describe('AEAD_AES_256_GCM resources', () => {
  const KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb'; // 32 ASCII chars
  const plain = JSON.stringify({ mchid: MCHID, out_trade_no: 'T1', trade_state: 'SUCCESS', amount: { total: 1 }, note: '支付成功' });

  it('round trip with and without associated data', () => {
    const res = encryptResource(plain, KEY, 'fdasflkja484', 'transaction');
    expect(res).toMatchObject({ algorithm: 'AEAD_AES_256_GCM', nonce: 'fdasflkja484', associated_data: 'transaction' });
    expect(Buffer.from(res.ciphertext, 'base64')).toHaveLength(Buffer.byteLength(plain) + 16);
    expect(decryptResource(res, KEY).toString('utf8')).toBe(plain);
    const noAad = encryptResource(Buffer.from(plain), KEY, 'fdasflkja484', '');
    expect(decryptResource({ ...noAad, associated_data: undefined }, KEY).toString()).toBe(plain);
  });

  it('matches an independent AES-256-GCM computation (ciphertext ‖ tag)', () => {
    const c = createCipheriv('aes-256-gcm', Buffer.from(KEY), Buffer.from('0123456789ab'));
    c.setAAD(Buffer.from('certificate'));
    const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]).toString('base64');
    expect(encryptResource(plain, KEY, '0123456789ab', 'certificate').ciphertext).toBe(ct);
  });

  it('tampered tag, tampered ciphertext, truncated tag, wrong AAD, wrong key, wrong nonce → NOTIFY_DECRYPT_FAILED', () => {
    const res = encryptResource(plain, KEY, 'fdasflkja484', 'transaction');
    const raw = Buffer.from(res.ciphertext, 'base64');
    const flip = (i: number) => {
      const b = Buffer.from(raw);
      b[i] ^= 0x01;
      return b.toString('base64');
    };
    const bad = [
      { ...res, ciphertext: flip(raw.length - 1) }, // tag
      { ...res, ciphertext: flip(0) }, // ciphertext
      { ...res, ciphertext: raw.subarray(0, raw.length - 4).toString('base64') }, // truncated tag
      { ...res, ciphertext: raw.subarray(0, 15).toString('base64') }, // shorter than a tag
      { ...res, ciphertext: res.ciphertext + '!' }, // not base64
      { ...res, associated_data: 'refund' },
      { ...res, associated_data: undefined },
      { ...res, nonce: 'fdasflkja485' },
      { ...res, nonce: 'short' },
    ];
    for (const r of bad) expect(errorKey(() => decryptResource(r, KEY))).toBe('NOTIFY_DECRYPT_FAILED');
    expect(errorKey(() => decryptResource(res, 'b' + KEY.slice(1)))).toBe('NOTIFY_DECRYPT_FAILED');
  });

  it('wrong algorithm → NOTIFY_MALFORMED; a key that is not 32 ASCII bytes → CONFIG_KEY_INVALID', () => {
    const res = encryptResource(plain, KEY, 'fdasflkja484', 'transaction');
    expect(errorKey(() => decryptResource({ ...res, algorithm: 'AEAD_AES_128_GCM' }, KEY))).toBe('NOTIFY_MALFORMED');
    expect(errorKey(() => decryptResource({ ...res, algorithm: '' }, KEY))).toBe('NOTIFY_MALFORMED');
    expect(errorKey(() => decryptResource(null as never, KEY))).toBe('NOTIFY_MALFORMED');
    for (const k of ['', KEY.slice(1), KEY + 'x', '支付'.repeat(8) + 'a'.repeat(16), 'é'.repeat(16)]) {
      const e = thrown(() => decryptResource(res, k));
      expect(e.key).toBe('CONFIG_KEY_INVALID');
      expect(e.message).not.toContain(KEY);
    }
  });
});

// ------------------------------------------------------------------------------------------ v2
describe('API v2 signatures', () => {
  // the official example of https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
  const vector = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
  const KEY2 = '192006250b4c09247ec02edce69f6a2d';

  it('official vector: MD5 and HMAC-SHA256', () => {
    expect(signV2(vector, KEY2, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(signV2(vector, KEY2, 'HMAC-SHA256')).toBe('6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6');
  });

  it('skips empty values and `sign`, ignores key order, stringifies numbers and objects', () => {
    const withNoise = {
      nonce_str: 'ibuaiVcKdpRxkhJA',
      body: 'test',
      sign: 'WHATEVER',
      empty: '',
      nothing: undefined,
      nul: null,
      device_info: '1000',
      mch_id: 10000100,
      appid: 'wxd930ea5d5a258f4f',
    };
    expect(signV2(withNoise, KEY2, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    const detail = { goods_detail: [{ goods_id: 'a', quantity: 1 }] };
    const expected = createHash('md5')
      .update(`a=1&detail=${JSON.stringify(detail)}&key=${KEY2}`)
      .digest('hex')
      .toUpperCase();
    expect(signV2({ detail, a: 1 }, KEY2, 'MD5')).toBe(expected);
    // ASCII (case-sensitive) order: upper case before lower case
    const ascii = createHash('md5').update(`B=2&a=1&key=${KEY2}`).digest('hex').toUpperCase();
    expect(signV2({ a: '1', B: '2' }, KEY2, 'MD5')).toBe(ascii);
    expect(errorKey(() => signV2(vector, '', 'MD5'))).toBe('CONFIG_KEY_INVALID');
    expect(() => signV2(vector, KEY2, 'SHA1' as never)).toThrow(PayError);
  });

  it('verifyV2 accepts genuine and rejects tampered, unknown sign_type, missing sign', () => {
    const md5 = { ...vector, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' };
    expect(verifyV2(md5, KEY2)).toBe(true);
    expect(verifyV2({ ...md5, extra_unknown: '' }, KEY2)).toBe(true); // empty extras are not signed
    expect(verifyV2({ ...md5, body: 'test2' }, KEY2)).toBe(false);
    expect(verifyV2({ ...md5, sign: md5.sign.toLowerCase() }, KEY2)).toBe(false);
    expect(verifyV2({ ...md5, sign: md5.sign.slice(0, 31) }, KEY2)).toBe(false);
    expect(verifyV2({ ...md5, sign: '' }, KEY2)).toBe(false);
    const { sign: _omit, ...unsigned } = md5;
    expect(verifyV2(unsigned as Record<string, string>, KEY2)).toBe(false);
    expect(verifyV2(md5, KEY2.replace('1', '2'))).toBe(false);
    // sign_type is a signed field and selects the algorithm
    const hm = { ...vector, sign_type: 'HMAC-SHA256' };
    const hmSigned = { ...hm, sign: signV2(hm, KEY2, 'HMAC-SHA256') };
    expect(verifyV2(hmSigned, KEY2)).toBe(true);
    expect(verifyV2({ ...hmSigned, sign_type: 'MD5' }, KEY2)).toBe(false);
    expect(verifyV2({ ...md5, sign_type: 'SHA1' }, KEY2)).toBe(false);
    expect(verifyV2({ ...md5, sign_type: 'md5' }, KEY2)).toBe(false);
    // an HMAC value presented without sign_type is checked as MD5 and fails
    expect(verifyV2({ ...vector, sign: '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6' }, KEY2)).toBe(false);
  });
});

describe('API v2 XML', () => {
  it('toXml: CDATA strings, bare numbers, JSON objects; refuses "]]>" and bad names', () => {
    expect(toXml({ appid: 'wx1', total_fee: 100, detail: { a: '<b>' }, skip: undefined })).toBe(
      '<xml><appid><![CDATA[wx1]]></appid><total_fee>100</total_fee><detail><![CDATA[{"a":"<b>"}]]></detail></xml>',
    );
    expect(errorKey(() => toXml({ attach: 'x]]><evil>1</evil><![CDATA[' }))).toBe('FIELD_INVALID');
    expect(errorKey(() => toXml({ 'a b': '1' }))).toBe('FIELD_INVALID');
    expect(errorKey(() => toXml({ '<x>': '1' }))).toBe('FIELD_INVALID');
    expect(errorKey(() => toXml({ a: 'bell\u0007' }))).toBe('FIELD_INVALID');
  });

  it('round trip incl. CDATA-looking text, multi-line, markup and non-ASCII', () => {
    const params = {
      return_code: 'SUCCESS',
      attach: 'line1\nline2\r\n  line3',
      body: '<b>商品</b> & "quotes" \'s',
      total_fee: 1,
      blank: '',
    };
    const xml = toXml(params);
    expect(parseXml(xml)).toEqual({ ...params, total_fee: '1' });
  });

  it('parseXml: plain text with entities, CDATA, mixed, multi-line, declaration, comments, empty elements, <root>', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<xml>
  <!-- a comment -->
  <return_code><![CDATA[SUCCESS]]></return_code>
  <return_msg>OK</return_msg>
  <desc>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#20013;&#x6587;</desc>
  <mixed>x<![CDATA[<&>]]>y</mixed>
  <multi><![CDATA[first
second]]></multi>
  <plainmulti>one
two</plainmulti>
  <empty></empty>
  <selfclosed/>
</xml>
`;
    expect(parseXml(xml)).toEqual({
      return_code: 'SUCCESS',
      return_msg: 'OK',
      desc: 'a <b> & "c" \'d\' 中文',
      mixed: 'x<&>y',
      multi: 'first\nsecond',
      plainmulti: 'one\ntwo',
      empty: '',
      selfclosed: '',
    });
    expect(parseXml('<root><out_refund_no><![CDATA[R1]]></out_refund_no></root>')).toEqual({ out_refund_no: 'R1' });
  });

  it('refuses DTDs and entity declarations (no expansion)', () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>';
    expect(errorKey(() => parseXml(xxe))).toBe('NOTIFY_MALFORMED');
    expect(errorKey(() => parseXml('<!doctype xml><xml><a>1</a></xml>'))).toBe('NOTIFY_MALFORMED');
    expect(errorKey(() => parseXml('<xml><a><![CDATA[<!ENTITY x "y">]]></a></xml>'))).toBe('NOTIFY_MALFORMED'); // refused anywhere
    expect(errorKey(() => parseXml('<xml><a>&xxe;</a></xml>'))).toBe('NOTIFY_MALFORMED'); // undeclared entity
  });

  it.each([
    ['empty', ''],
    ['not xml', 'return_code=SUCCESS'],
    ['unclosed root', '<xml><a>1</a>'],
    ['unclosed element', '<xml><a>1</xml>'],
    ['mismatched tag', '<xml><a>1</b></xml>'],
    ['nested element', '<xml><a><b>1</b></a></xml>'],
    ['unterminated CDATA', '<xml><a><![CDATA[1</a></xml>'],
    ['bare ampersand', '<xml><a>1 & 2</a></xml>'],
    ['trailing content', '<xml><a>1</a></xml><xml></xml>'],
    ['duplicate key', '<xml><sign>A</sign><sign>B</sign></xml>'],
    ['__proto__', '<xml><__proto__>1</__proto__></xml>'],
    ['attributes', '<xml a="1"><b>1</b></xml>'],
    ['text at root level', '<xml>hello<a>1</a></xml>'],
    ['bad char ref', '<xml><a>&#0;</a></xml>'],
  ])('malformed (%s) → NOTIFY_MALFORMED', (_, xml) => {
    expect(errorKey(() => parseXml(xml))).toBe('NOTIFY_MALFORMED');
  });

  it('parsed notifications verify with verifyV2 (signature over the parsed values)', () => {
    const KEY2 = '192006250b4c09247ec02edce69f6a2d';
    const p: Record<string, unknown> = {
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      out_trade_no: 'T1',
      total_fee: 1,
      attach: 'a&b<c>',
    };
    const xml = toXml({ ...p, sign: signV2(p, KEY2, 'MD5') });
    expect(verifyV2(parseXml(xml), KEY2)).toBe(true);
    expect(verifyV2(parseXml(xml.replace('<total_fee>1<', '<total_fee>2<')), KEY2)).toBe(false);
  });
});

describe('refund req_info (AES-256-ECB)', () => {
  const KEY2 = '192006250b4c09247ec02edce69f6a2d';
  const plaintext =
    '<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_fee><![CDATA[1]]></refund_fee><refund_status><![CDATA[SUCCESS]]></refund_status></root>';
  function encrypt(text: string, v2key: string): string {
    const key = Buffer.from(createHash('md5').update(v2key).digest('hex'));
    const c = createCipheriv('aes-256-ecb', key, null);
    return Buffer.concat([c.update(text, 'utf8'), c.final()]).toString('base64');
  }
  it('decrypts with md5(key) lower hex as the 32-byte key, output parses', () => {
    const out = decryptRefundReqInfo(encrypt(plaintext, KEY2), KEY2);
    expect(out).toBe(plaintext);
    expect(parseXml(out)).toEqual({ out_refund_no: 'R1', refund_fee: '1', refund_status: 'SUCCESS' });
  });
  it('wrong key / garbage → NOTIFY_DECRYPT_FAILED or NOTIFY_MALFORMED, never plaintext', () => {
    const ct = encrypt(plaintext, KEY2);
    const wrong = () => decryptRefundReqInfo(ct, KEY2.replace('1', '3'));
    // a wrong key yields random padding: refused by the PKCS#7 check (probability of a valid pad ~1/256)
    expect(errorKey(wrong)).toBe('NOTIFY_DECRYPT_FAILED'); // fixed inputs: deterministic
    expect(errorKey(() => decryptRefundReqInfo(ct.slice(0, -4), KEY2))).toBe('NOTIFY_DECRYPT_FAILED');
    expect(errorKey(() => decryptRefundReqInfo('not base64!', KEY2))).toBe('NOTIFY_MALFORMED');
    expect(errorKey(() => decryptRefundReqInfo('', KEY2))).toBe('NOTIFY_MALFORMED');
    expect(errorKey(() => decryptRefundReqInfo(ct, ''))).toBe('CONFIG_KEY_INVALID');
  });
});
