/**
 * `doctor` checks of an Alipay node: key mode (alipayPublicKey) or certificate mode (all three
 * certificates, https://opendocs.alipay.com/common/056zub), never a mix; the app private key against
 * the app certificate; the certificate chain; the SNs sent as app_cert_sn / alipay_root_cert_sn.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { checkValidity, Findings, type DoctorInput, type Finding } from '../../core/doctor';
import { certSn, parsePrivateKey, parsePublicKey, rootCertSn, splitPems } from './crypto';

const CERTS = ['appCert', 'alipayPublicCert', 'alipayRootCert'] as const;
type CertName = (typeof CERTS)[number];
const FILES: Record<CertName, string> = {
  appCert: 'appCertPublicKey_<appId>.crt',
  alipayPublicCert: 'alipayCertPublicKey_RSA2.crt',
  alipayRootCert: 'alipayRootCert.crt',
};
const FIX_MODE: readonly [string, string] = [
  '证书模式需同时配置 appCertPath、alipayPublicCertPath、alipayRootCertPath；密钥模式则删除这三项并配置 alipayPublicKey',
  'Certificate mode needs appCertPath, alipayPublicCertPath and alipayRootCertPath together; for key mode remove all three and set alipayPublicKey',
];

const spki = (k: KeyObject) => (k.type === 'private' ? createPublicKey(k) : k).export({ type: 'spki', format: 'der' });
const blank = (v: unknown) => v === undefined || v === null || v === '';

function appPrivateKey(f: Findings, node: Record<string, any>): KeyObject | undefined {
  if (!f.require(node, 'privateKey', ['填写应用私钥（支付宝开放平台密钥工具生成）', 'Set the app private key (from the Alipay key tool)']))
    return undefined;
  try {
    const key = parsePrivateKey(String(node.privateKey), node.keyType);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not rsa');
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
      f.warn('privateKey', ['应用私钥短于 2048 位，RSA2 需要 2048 位', 'The app private key is shorter than 2048 bits; RSA2 needs 2048']);
    return key;
  } catch {
    f.error('privateKey', [
      '应用私钥无法解析（PKCS#1 / PKCS#8 PEM 或裸 base64）',
      'The app private key does not parse (PKCS#1 / PKCS#8 PEM or bare base64)',
    ]);
    return undefined;
  }
}

function keyMode(f: Findings, node: Record<string, any>, key: KeyObject | undefined): void {
  const blanks = CERTS.filter((c) => node[`${c}Path`] === '');
  if (blanks.length)
    f.info('certMode', [
      `${blanks.map((c) => `${c}Path`).join('、')} 为空：按密钥模式处理`,
      `${blanks.map((c) => `${c}Path`).join(', ')} left blank: key mode`,
    ]);
  const FIX_PUB: readonly [string, string] = [
    '在开放平台「开发设置 → 接口加签方式」复制「支付宝公钥」（不是应用公钥）',
    'Copy the "Alipay public key" (not the app public key) from Open Platform → development settings → signing method',
  ];
  if (!f.require(node, 'alipayPublicKey', FIX_PUB)) return;
  let pub: KeyObject;
  try {
    pub = parsePublicKey(String(node.alipayPublicKey));
  } catch {
    return f.error('alipayPublicKey', ['支付宝公钥无法解析', 'The Alipay public key does not parse'], FIX_PUB);
  }
  if (key && spki(key).equals(spki(pub)))
    f.error(
      'alipayPublicKey.own',
      [
        'alipayPublicKey 是应用公钥，不是支付宝公钥（应答验签会全部失败）',
        'alipayPublicKey is the app public key, not the Alipay public key (every answer fails verification)',
      ],
      FIX_PUB,
    );
  f.info('mode', ['密钥模式（公钥）', 'Key mode (public key)']);
}

function certificates(f: Findings, node: Record<string, any>, name: CertName, now: number): X509Certificate[] | undefined {
  const content = node[`${name}Content`];
  if (blank(content)) return undefined; // an unreadable path was reported when the node was read
  const certs: X509Certificate[] = [];
  try {
    for (const pem of splitPems(content)) certs.push(new X509Certificate(pem));
    if (!certs.length) throw new Error('none');
  } catch {
    f.error(name, [
      `${name} 无法解析为 PEM 证书（应为 ${FILES[name]}）`,
      `${name} does not parse as PEM certificates (expected ${FILES[name]})`,
    ]);
    return undefined;
  }
  for (const c of certs) checkValidity(f, `${name}.validity`, `${name} (${c.subject.split('\n').pop()})`, c.validFrom, c.validTo, now);
  return certs;
}

/** Walks each leaf up through the given certificates; an issuer that does not verify is an error. */
function chain(f: Findings, leaves: Array<[CertName, X509Certificate]>, pool: X509Certificate[], roots: X509Certificate[]): void {
  for (const [name, leaf] of leaves) {
    let cert = leaf;
    for (let depth = 0; depth < 5; depth++) {
      if (roots.some((r) => r.raw.equals(cert.raw))) break;
      const issuer = pool.find((c) => !c.raw.equals(cert.raw) && cert.checkIssued(c));
      if (!issuer) {
        f.warn('chain', [
          `${name} 的签发者不在所给证书中，无法核对证书链`,
          `The issuer of ${name} is not among the given certificates; the chain cannot be checked`,
        ]);
        break;
      }
      if (!cert.verify(issuer.publicKey)) {
        f.error(
          'chain',
          [`${name} 的签名不能被其签发者证书验证（证书链断裂）`, `${name} is not signed by its issuer's key (broken chain)`],
          ['重新从开放平台下载三个证书文件', 'Download the three certificate files again from the Open Platform'],
        );
        break;
      }
      cert = issuer;
    }
  }
}

function certMode(f: Findings, node: Record<string, any>, key: KeyObject | undefined, now: number): void {
  if (!blank(node.alipayPublicKey))
    f.info('alipayPublicKey', ['证书模式下 alipayPublicKey 不使用', 'alipayPublicKey is not used in certificate mode']);
  const [app, alipay, root] = CERTS.map((c) => certificates(f, node, c, now));
  if (app) {
    if (key && !app[0].checkPrivateKey(key))
      f.error(
        'appCert.match',
        [
          '应用私钥与应用公钥证书不是一对（支付宝会拒绝签名）',
          'The app private key does not belong to the app certificate (Alipay refuses the signature)',
        ],
        [
          '用生成该证书 CSR 的私钥，或重新上传 CSR 下载新证书',
          'Use the private key the certificate request was made with, or upload a new CSR and download a new certificate',
        ],
      );
    f.info('app_cert_sn', [`app_cert_sn = ${certSn(app[0])}`, `app_cert_sn = ${certSn(app[0])}`]);
  }
  if (alipay)
    f.info('alipay_cert_sn', [
      `支付宝公钥证书 SN：${alipay.map(certSn).join('、')}`,
      `Alipay certificate SN: ${alipay.map(certSn).join(', ')}`,
    ]);
  if (root) {
    const sn = rootCertSn(root);
    if (!sn)
      f.error(
        'alipayRootCert',
        [
          '根证书中没有 RSA 签名的根证书，alipay_root_cert_sn 为空',
          'The root bundle holds no RSA-signed root, so alipay_root_cert_sn is empty',
        ],
        ['配置开放平台下载的 alipayRootCert.crt', 'Use the alipayRootCert.crt downloaded from the Open Platform'],
      );
    else f.info('alipay_root_cert_sn', [`alipay_root_cert_sn = ${sn}`, `alipay_root_cert_sn = ${sn}`]);
  }
  if (app && alipay && root)
    chain(
      f,
      [
        ['appCert', app[0]],
        ['alipayPublicCert', alipay[0]],
      ],
      [...app, ...alipay, ...root],
      root,
    );
  f.info('mode', ['证书模式（公钥证书）', 'Certificate mode (public key certificates)']);
}

export function diagnoseAlipay({ name, node, now }: DoctorInput): Finding[] {
  const f = new Findings(name);
  if (f.require(node, 'appId') && !/^\d{16}$/.test(String(node.appId)))
    f.warn('appId', [
      `appId ${node.appId} 不像支付宝 APPID（16 位数字）`,
      `appId ${node.appId} does not look like an Alipay APPID (16 digits)`,
    ]);
  const signType = node.signType ?? 'RSA2';
  if (signType === 'RSA') f.warn('signType', ['signType RSA（SHA1）已淘汰，请改用 RSA2', 'signType RSA (SHA1) is legacy; use RSA2']);
  else if (signType !== 'RSA2') f.error('signType', ['signType 只能是 RSA2', 'signType must be RSA2']);
  const key = appPrivateKey(f, node);
  const present = CERTS.filter((c) => !blank(node[`${c}Content`]) || !blank(node[`${c}Path`]));
  if (present.length === 0) keyMode(f, node, key);
  else if (present.length === CERTS.length) certMode(f, node, key, now);
  else {
    const missing = CERTS.filter((c) => !present.includes(c)).map((c) => `${c}Path`);
    f.error(
      'certMode',
      [`证书模式配置不完整：缺少 ${missing.join('、')}`, `Certificate mode is incomplete: ${missing.join(', ')} missing`],
      FIX_MODE,
    );
  }
  return f.list;
}
