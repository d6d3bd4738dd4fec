/**
 * Cross-checks of providers/alipay/crypto against the official alipay-sdk 4 (test-only oracle, never a
 * runtime dependency), in both directions and both modes: requests signed by us verify in the SDK and
 * SDK-signed requests verify with us; responses and notifications signed by us pass the SDK's checks;
 * certificate SNs (app, Alipay, root bundle with an EC root, a CA with a non-ASCII DN) equal the SDK's.
 */
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { AlipaySdk, type AlipaySdkConfig } from 'alipay-sdk';
import { issueCertificate, type Issued } from '../../tools/sandbox/pki';
import { getAlipayRuntime } from '../../uni_modules/vk-uni-pay/server/providers/alipay/config';
import { signedParamString, verifiedAnswer } from '../../uni_modules/vk-uni-pay/server/providers/alipay/gateway';
import {
  certModeVerifier,
  certSn,
  createAlipaySigner,
  keyModeVerifier,
  parsePrivateKey,
  rootCertSn,
  signContent,
  splitPems,
  verifyNotifyFields,
  verifyWith,
} from '../../uni_modules/vk-uni-pay/server/providers/alipay/crypto';

const rsa = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
const app = rsa();
const alipay = rsa();
const NOW = Date.UTC(2026, 0, 1, 16, 30, 5);
const BIZ = { out_trade_no: 'ORACLE-1', total_amount: '0.01', subject: '测试 & = + % 中文', extend_params: { a: [1, '"q"'] } };

let root: Issued;
let cnRoot: Issued;
let ecRoot: Issued;
let appCert: Issued;
let alipayCert: Issued;
let alipayCert2: Issued;

beforeAll(async () => {
  root = await issueCertificate({ subject: 'CN=Oracle Root CA, OU=Certification Authority, O=Oracle Test, C=CN', isCa: true });
  cnRoot = await issueCertificate({ subject: 'CN=蚂蚁测试根证书, OU=证书中心, O=蚂蚁测试, C=CN', isCa: true });
  ecRoot = await issueCertificate({ subject: 'CN=Oracle EC Root, O=Oracle Test, C=CN', isCa: true, keyType: 'ec' });
  [appCert, alipayCert, alipayCert2] = await Promise.all([
    issueCertificate({ subject: 'CN=2021000000000001, OU=Alipay OpenAPI, O=Merchant, C=CN', issuer: root }),
    issueCertificate({ subject: 'CN=支付宝(中国)网络技术有限公司, OU=Alipay OpenAPI, O=Oracle Test, C=CN', issuer: root }),
    issueCertificate({ subject: 'CN=支付宝 rotated, OU=Alipay OpenAPI, O=Oracle Test, C=CN', issuer: cnRoot }),
  ]);
});

const keyConfig = {
  appId: '2021000000000001',
  privateKey: app.privateKey,
  alipayPublicKey: alipay.publicKey,
  gateway: 'http://127.0.0.1:9/gateway.do',
};
const certConfig = () => ({
  appId: '2021000000000001',
  privateKey: appCert.keyPem,
  appCertContent: appCert.certPem,
  alipayPublicCertContent: alipayCert.certPem,
  alipayRootCertContent: root.certPem + ecRoot.certPem + cnRoot.certPem,
  gateway: 'http://127.0.0.1:9/gateway.do',
});

/** an SDK acting as the gateway: it checks request signatures with the app's public key */
function sdkAsGateway(appPublicKeyPem: string): AlipaySdk {
  return new AlipaySdk({ appId: 'x', privateKey: alipay.privateKey, keyType: 'PKCS8', alipayPublicKey: appPublicKeyPem });
}

const verifyGatewayResponse = (rt: ReturnType<typeof getAlipayRuntime>, method: string, raw: string) =>
  verifiedAnswer(rt, method, { status: 200, headers: {}, body: Buffer.from(raw) });
const parseQuery = (q: string) => Object.fromEntries(new URLSearchParams(q)) as Record<string, string>;

describe('request signatures', () => {
  test('key mode: ours verifies in alipay-sdk; the SDK signature verifies with ours', () => {
    const rt = getAlipayRuntime(keyConfig);
    const params = parseQuery(signedParamString(rt, 'alipay.trade.precreate', BIZ, { notify_url: 'https://n.example/x?a=1&b=2' }, NOW));
    expect(params).toMatchObject({ app_id: keyConfig.appId, sign_type: 'RSA2', timestamp: '2026-01-02 00:30:05', charset: 'utf-8' });
    expect(JSON.parse(params.biz_content)).toEqual(BIZ);
    expect(sdkAsGateway(app.publicKey).checkNotifySignV2(params)).toBe(true);
    expect(sdkAsGateway(alipay.publicKey).checkNotifySignV2(params)).toBe(false);

    const sdk = new AlipaySdk({ appId: keyConfig.appId, privateKey: app.privateKey, keyType: 'PKCS8', alipayPublicKey: alipay.publicKey });
    const theirs = parseQuery(sdk.sdkExecute('alipay.trade.precreate', { bizContent: BIZ }, { bizContentAutoSnakeCase: false }));
    expect(verifyWith(createPublicKey(app.publicKey), 'RSA2', signContent(theirs), theirs.sign)).toBe(true);
    expect(verifyWith(createPublicKey(app.publicKey), 'RSA2', signContent({ ...theirs, subject: 'x' }), theirs.sign)).toBe(false);
  });

  test('cert mode: SNs equal the SDK’s, and both signatures cross-verify', () => {
    const cfg = certConfig();
    const rt = getAlipayRuntime(cfg);
    const sdk = new AlipaySdk({ ...cfg, keyType: 'PKCS8' });
    const sc = sdk.config as AlipaySdkConfig;
    expect(rt.appCertSn).toBe(sc.appCertSn);
    expect(rt.alipayRootCertSn).toBe(sc.alipayRootCertSn);
    expect(rt.alipayRootCertSn!.split('_')).toHaveLength(2); // the EC root is skipped
    expect(rt.verifier.certSns).toEqual([sc.alipayCertSn]);

    const ours = parseQuery(signedParamString(rt, 'alipay.trade.query', { out_trade_no: 'X1' }, {}, NOW));
    expect(ours).toMatchObject({ app_cert_sn: sc.appCertSn, alipay_root_cert_sn: sc.alipayRootCertSn });
    expect(sdkAsGateway(appCert.publicKeyPem).checkNotifySignV2(ours)).toBe(true);
    const theirs = parseQuery(sdk.sdkExecute('alipay.trade.query', { bizContent: { out_trade_no: 'X1' } }));
    expect(theirs.app_cert_sn).toBe(rt.appCertSn);
    expect(verifyWith(createPublicKey(appCert.publicKeyPem), 'RSA2', signContent(theirs), theirs.sign)).toBe(true);
  });

  test('empty values are neither signed nor sent (Alipay skips them when it verifies)', () => {
    const rt = getAlipayRuntime(keyConfig);
    const q = signedParamString(rt, 'alipay.trade.query', {}, { notify_url: '', params: { grant_type: '' } }, NOW);
    expect(parseQuery(q)).not.toHaveProperty('notify_url');
    expect(parseQuery(q)).not.toHaveProperty('biz_content');
    expect(q).not.toMatch(/grant_type/);
  });
});

describe('certificate SNs', () => {
  test('certSn and rootCertSn equal alipay-sdk’s for ASCII and non-ASCII issuer DNs', () => {
    for (const leaf of [appCert, alipayCert, alipayCert2]) {
      const sdk = new AlipaySdk({
        appId: '1',
        privateKey: app.privateKey,
        keyType: 'PKCS8',
        appCertContent: leaf.certPem,
        alipayPublicCertContent: leaf.certPem,
        alipayRootCertContent: cnRoot.certPem + root.certPem,
      });
      const sc = sdk.config as AlipaySdkConfig;
      expect(certSn(new X509Certificate(leaf.certPem))).toBe(sc.appCertSn);
      expect(rootCertSn(splitPems(cnRoot.certPem + root.certPem).map((p) => new X509Certificate(p)))).toBe(sc.alipayRootCertSn);
    }
  });

  test('a root bundle with only an EC root has no SN (and the config is refused)', () => {
    expect(rootCertSn([new X509Certificate(ecRoot.certPem)])).toBe('');
    expect(() => getAlipayRuntime({ ...certConfig(), alipayRootCertContent: ecRoot.certPem })).toThrow(
      expect.objectContaining({ key: 'CONFIG_KEY_INVALID' }),
    );
  });
});

describe('responses and notifications', () => {
  const signer = createAlipaySigner(parsePrivateKey(alipay.privateKey));
  const response = (inner: string, extra = '') => `{"alipay_trade_query_response":${inner}${extra},"sign":"${signer.sign(inner)}"}`;

  test('a response signed by us passes the SDK’s checkResponseSign; ours accepts it and rejects a change', () => {
    const inner = '{"code":"10000","msg":"Success","out_trade_no":"A\\u0026B","subject":"中文 {x}","trade_status":"TRADE_SUCCESS"}';
    const raw = response(inner);
    const sdk = new AlipaySdk({ appId: '1', privateKey: app.privateKey, keyType: 'PKCS8', alipayPublicKey: alipay.publicKey });
    expect(() => sdk.checkResponseSign(raw, 'alipay_trade_query_response', JSON.parse(raw).sign, 'trace')).not.toThrow();
    const rt = getAlipayRuntime(keyConfig);
    expect(verifyGatewayResponse(rt, 'alipay.trade.query', raw)).toMatchObject({ code: '10000' });
    expect(() => verifyGatewayResponse(rt, 'alipay.trade.query', raw.replace('TRADE_SUCCESS', 'TRADE_CLOSED'))).toThrow(
      expect.objectContaining({ key: 'GATEWAY_RESPONSE_UNVERIFIED' }),
    );
  });

  test('cert mode: the key is chosen by alipay_cert_sn; an unknown SN is a coded error naming it', () => {
    const certSigner = createAlipaySigner(parsePrivateKey(alipayCert2.keyPem));
    const inner = '{"code":"10000","msg":"Success","trade_status":"WAIT_BUYER_PAY"}';
    const sn2 = certSn(new X509Certificate(alipayCert2.certPem));
    const raw = `{"alipay_trade_query_response":${inner},"alipay_cert_sn":"${sn2}","sign":"${certSigner.sign(inner)}"}`;
    const old = getAlipayRuntime(certConfig());
    const e = (() => {
      try {
        verifyGatewayResponse(old, 'alipay.trade.query', raw);
      } catch (err) {
        return err as { key: string; msgEn: string; msgZh: string };
      }
    })();
    expect(e).toMatchObject({ key: 'GATEWAY_CERT_UNKNOWN' });
    expect(e!.msgEn).toContain(sn2);
    expect(e!.msgEn).toContain('alipayPublicCertContent');
    expect(e!.msgZh).toContain(old.verifier.certSns[0]);
    // both certificates configured (rotation): the new one is picked by its SN
    const both = getAlipayRuntime({ ...certConfig(), alipayPublicCertContent: alipayCert.certPem + alipayCert2.certPem });
    expect(verifyGatewayResponse(both, 'alipay.trade.query', raw)).toMatchObject({ code: '10000' });
    // a known SN whose signature does not hold is a plain bad signature
    const sn1 = both.verifier.certSns.find((s) => s !== sn2)!;
    expect(() => verifyGatewayResponse(both, 'alipay.trade.query', raw.replace(sn2, sn1))).toThrow(
      expect.objectContaining({ key: 'GATEWAY_RESPONSE_UNVERIFIED' }),
    );
  });

  test('notifications: signed by us → SDK checkNotifySign true; our verifier agrees, in both modes', () => {
    const fields: Record<string, string> = {
      notify_type: 'trade_status_sync',
      out_trade_no: 'N1',
      total_amount: '1.00',
      subject: '中文 & =',
      trade_status: 'TRADE_SUCCESS',
    };
    const sign = signer.sign(signContent(fields, { dropSignType: true }));
    const msg = { ...fields, sign, sign_type: 'RSA2' };
    const sdk = new AlipaySdk({ appId: '1', privateKey: app.privateKey, keyType: 'PKCS8', alipayPublicKey: alipay.publicKey });
    expect(sdk.checkNotifySignV2(msg)).toBe(true);
    expect(verifyNotifyFields(keyModeVerifier(createPublicKey(alipay.publicKey)), msg)).toBe(true);
    expect(verifyNotifyFields(keyModeVerifier(createPublicKey(alipay.publicKey)), { ...msg, total_amount: '100.00' })).toBe(false);
    expect(verifyNotifyFields(keyModeVerifier(createPublicKey(alipay.publicKey)), { ...msg, sign_type: 'RSA' })).toBe(false);

    const certSigned = createAlipaySigner(parsePrivateKey(alipayCert.keyPem)).sign(signContent(fields, { dropSignType: true }));
    const certSdk = new AlipaySdk({ ...certConfig(), keyType: 'PKCS8' });
    expect(certSdk.checkNotifySignV2({ ...fields, sign: certSigned, sign_type: 'RSA2' })).toBe(true);
    const v = certModeVerifier([new X509Certificate(alipayCert2.certPem), new X509Certificate(alipayCert.certPem)]);
    expect(verifyNotifyFields(v, { ...fields, sign: certSigned })).toBe(true);
  });
});
