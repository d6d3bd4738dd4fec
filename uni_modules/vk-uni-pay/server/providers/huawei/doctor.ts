/** `doctor` checks of the `huawei.app-harmony` / `huawei.mp-harmony` nodes (no network; the online probe is the order query). */
import { Findings, type DoctorInput, type Finding, type Text } from '../../core/doctor';
import { parseMerchantKey, parseSm2PublicKey } from './sign';

const FIX_MERCHANT: Text = [
  '华为支付商户平台：商户号、上传商户证书后的证书 ID 与对应私钥',
  'Huawei Pay merchant platform: merchant number, the certificate id shown after uploading the merchant public key, and its private key',
];

export function diagnoseHuawei({ name, node }: DoctorInput): Finding[] {
  const f = new Findings(name);
  f.require(node, 'appId', [
    '商户中心 > AppID 管理中已关联的应用 / 元服务 APPID',
    'The app or atomic service bound under 商户中心 > AppID 管理',
  ]);
  f.require(node, 'mchId', FIX_MERCHANT);
  f.require(node, 'mchAuthId', FIX_MERCHANT);
  if (f.require(node, 'mchPrivateKey', FIX_MERCHANT)) {
    const key = parseMerchantKey(String(node.mchPrivateKey));
    if (!key)
      f.error(
        'mchPrivateKey',
        ['mchPrivateKey 不是可读的 RSA 或 SM2 私钥', 'mchPrivateKey is not a readable RSA or SM2 private key'],
        [
          '填写 PKCS#8 私钥（-----BEGIN PRIVATE KEY----- 开头，换行写作 \\n）',
          'Use the PKCS#8 key (starting -----BEGIN PRIVATE KEY-----, line breaks as \\n)',
        ],
      );
    else if (key.kind === 'rsa' && (key.key.asymmetricKeyDetails?.modulusLength ?? 0) < 3072)
      f.warn('mchPrivateKey.size', [
        'RSA 商户私钥短于 3072 位，华为支付要求不少于 3072 位',
        'The RSA merchant key is shorter than the 3072 bits Huawei Pay asks for',
      ]);
  }
  if (
    f.require(node, 'platformPublicKey', [
      '证书管理 > 华为支付证书 中下载的公钥（04 开头的十六进制）',
      'The Huawei Pay certificate public key (hex starting 04) from 证书管理 > 华为支付证书',
    ])
  ) {
    if (!parseSm2PublicKey(String(node.platformPublicKey)))
      f.error(
        'platformPublicKey',
        [
          'platformPublicKey 不是 SM2 公钥，异步通知与应答将无法验签',
          'platformPublicKey is not an SM2 public key: notifications and answers cannot be verified',
        ],
        [
          '填写华为支付证书的公钥：04 开头的 130 位十六进制，或 PEM 公钥 / 证书',
          'Use the Huawei Pay certificate key: 130 hex digits starting 04, or a PEM public key / certificate',
        ],
      );
  }
  const expected = name.endsWith('mp-harmony') ? 'mp-harmony' : 'app-harmony';
  if (node.clientType !== undefined && node.clientType !== expected)
    f.warn('clientType', [`clientType 应为 ${expected}`, `clientType should be ${expected}`]);
  return f.list;
}
