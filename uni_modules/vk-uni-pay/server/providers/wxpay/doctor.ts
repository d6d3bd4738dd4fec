/**
 * `doctor` checks of a WeChat Pay node (v3 and v2): the merchant key against its certificate and
 * serial, the APIv3 key, the WeChat Pay public key, the v2 key, and `version` against the fields.
 * Field facts: https://pay.weixin.qq.com/doc/v3/merchant/4012365342 (API keys and certificates).
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { checkValidity, Findings, type DoctorInput, type Finding } from '../../core/doctor';
import { PUB_KEY_ID_PREFIX } from './crypto';

const FIX_KEY: readonly [string, string] = [
  '在商户平台「账户中心 → API安全」下载 API 证书，appPrivateKeyPath 指向 apiclient_key.pem',
  'Download the API certificate (merchant platform → Account → API security); appPrivateKeyPath points to apiclient_key.pem',
];
const FIX_CERT: readonly [string, string] = [
  'appCertPath 指向与 apiclient_key.pem 同一次申请的 apiclient_cert.pem',
  'appCertPath points to the apiclient_cert.pem issued together with apiclient_key.pem',
];

const serialOf = (cert: X509Certificate) => cert.serialNumber.replace(/[^0-9A-Fa-f]/g, '').toUpperCase();

function privateKey(f: Findings, pem: string): KeyObject | undefined {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return key;
  } catch {
    // reported below
  }
  f.error(
    'appPrivateKey',
    ['商户 API 私钥无法解析为 RSA-2048 私钥', 'The merchant API private key does not parse as an RSA-2048 key'],
    FIX_KEY,
  );
  return undefined;
}

function merchantCertificate(f: Findings, node: Record<string, any>, key: KeyObject | undefined, now: number): void {
  const sn = typeof node.appCertSn === 'string' ? node.appCertSn : undefined;
  if (!node.appCertContent) {
    if (node.appCertPath) return; // unreadable: reported when the node was read
    if (!sn)
      return f.error(
        'appCert',
        ['缺少商户 API 证书（appCertPath）或证书序列号（appCertSn）', 'Neither appCertPath nor appCertSn is set'],
        FIX_CERT,
      );
    if (!/^[0-9A-Fa-f]{8,40}$/.test(sn))
      return f.error('appCertSn', ['appCertSn 不是十六进制证书序列号', 'appCertSn is not a hexadecimal serial number']);
    return f.info('appCertSn', [
      `只配置了 appCertSn=${sn}，无法核对它与私钥是否对应；建议改为配置 appCertPath`,
      `Only appCertSn=${sn} is set, so it cannot be matched to the private key; prefer appCertPath`,
    ]);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(node.appCertContent);
  } catch {
    return f.error(
      'appCert',
      ['商户 API 证书无法解析（不是 PEM 证书）', 'The merchant API certificate does not parse (not a PEM certificate)'],
      FIX_CERT,
    );
  }
  const serial = serialOf(cert);
  f.info('appCert.serial', [`商户证书序列号 ${serial}`, `Merchant certificate serial ${serial}`]);
  checkValidity(f, 'appCert.validity', '商户 API 证书 / merchant API certificate', cert.validFrom, cert.validTo, now);
  if (key && !cert.checkPrivateKey(key))
    f.error(
      'appCert.match',
      [
        '商户私钥与商户证书不是一对（签名会被微信拒绝：SIGN_ERROR）',
        'The merchant private key does not belong to the merchant certificate (WeChat answers SIGN_ERROR)',
      ],
      FIX_CERT,
    );
  if (sn && sn.toUpperCase() !== serial)
    f.error(
      'appCertSn.match',
      [`appCertSn=${sn} 与证书序列号 ${serial} 不一致`, `appCertSn=${sn} is not the certificate's serial ${serial}`],
      [
        '删除 appCertSn（从证书读取），或改为证书的序列号',
        "Remove appCertSn (it is read from the certificate) or set it to the certificate's serial",
      ],
    );
}

function wechatpayPublicKey(f: Findings, node: Record<string, any>, key: KeyObject | undefined): void {
  const id = node.wxpayPublicKeyId;
  const pem = node.wxpayPublicKeyContent;
  if (!id && !pem && !node.wxpayPublicKeyPath) {
    return f.info('wxpayPublicKey', [
      '未配置微信支付公钥：使用平台证书模式（用 v3Key 下载平台证书）',
      'No WeChat Pay public key: platform certificate mode (certificates are downloaded with v3Key)',
    ]);
  }
  const FIX_PUB: readonly [string, string] = [
    '在商户平台「API安全 → 微信支付公钥」下载 pub_key.pem，并复制公钥 ID（PUB_KEY_ID_ 开头）',
    'Download pub_key.pem and copy its ID (PUB_KEY_ID_…) from merchant platform → API security → WeChat Pay public key',
  ];
  if (!id)
    f.error(
      'wxpayPublicKeyId',
      ['配置了微信支付公钥但缺少 wxpayPublicKeyId', 'wxpayPublicKeyId is missing for the WeChat Pay public key'],
      FIX_PUB,
    );
  else if (typeof id !== 'string' || !new RegExp(`^${PUB_KEY_ID_PREFIX}[0-9A-Za-z]+$`).test(id))
    f.error(
      'wxpayPublicKeyId',
      [
        `wxpayPublicKeyId 应形如 ${PUB_KEY_ID_PREFIX}0114…（现为 ${String(id).slice(0, 24)}）`,
        `wxpayPublicKeyId must look like ${PUB_KEY_ID_PREFIX}0114… (it is ${String(id).slice(0, 24)})`,
      ],
      FIX_PUB,
    );
  if (!pem && node.wxpayPublicKeyPath) return;
  if (!pem)
    return f.error(
      'wxpayPublicKey',
      [
        '配置了 wxpayPublicKeyId 但缺少公钥文件（wxpayPublicKeyPath）',
        'wxpayPublicKeyId is set but the key file (wxpayPublicKeyPath) is missing',
      ],
      FIX_PUB,
    );
  let pub: KeyObject;
  try {
    pub = createPublicKey(pem);
    if (pub.asymmetricKeyType !== 'rsa') throw new Error('not rsa');
  } catch {
    return f.error(
      'wxpayPublicKey',
      ['微信支付公钥无法解析为 RSA 公钥', 'The WeChat Pay public key does not parse as an RSA public key'],
      FIX_PUB,
    );
  }
  if (
    key &&
    createPublicKey(key)
      .export({ type: 'spki', format: 'der' })
      .equals(pub.export({ type: 'spki', format: 'der' }))
  )
    f.error(
      'wxpayPublicKey.own',
      [
        'wxpayPublicKey 是商户自己的公钥，不是微信支付公钥',
        'wxpayPublicKey is the merchant’s own public key, not the WeChat Pay public key',
      ],
      FIX_PUB,
    );
}

function checkV2Key(f: Findings, node: Record<string, any>, required: boolean): void {
  const key = node.key;
  if (!key) {
    if (required)
      f.error(
        'key',
        ['version 为 2 时必须配置 API v2 密钥 key', 'version 2 needs the API v2 key (key)'],
        ['商户平台「API安全 → 设置APIv2密钥」', 'Merchant platform → API security → API v2 key'],
      );
    return;
  }
  if (typeof key !== 'string' || key.length !== 32) {
    const msg: [string, string] = [
      `API v2 密钥 key 必须是 32 个字符（现为 ${String(key).length} 个）`,
      `The API v2 key must be 32 characters (it has ${String(key).length})`,
    ];
    if (required) f.error('key', msg);
    else f.warn('key', msg);
  }
}

export function diagnoseWxpay({ name, node, now }: DoctorInput): Finding[] {
  const f = new Findings(name);
  if (f.require(node, 'appId') && !/^wx[0-9a-f]{16}$/.test(String(node.appId)))
    f.warn('appId', [
      `appId ${node.appId} 不像微信 AppID（wx 加 16 位十六进制）`,
      `appId ${node.appId} does not look like a WeChat AppID (wx + 16 hex)`,
    ]);
  if (f.require(node, 'mchId') && !/^\d{8,12}$/.test(String(node.mchId)))
    f.warn('mchId', [
      `mchId ${node.mchId} 不像微信支付商户号（纯数字）`,
      `mchId ${node.mchId} does not look like a WeChat Pay merchant id (digits)`,
    ]);
  const version = node.version === undefined ? '3' : String(node.version);
  if (version !== '2' && version !== '3') {
    f.error('version', [`version 只能是 2 或 3（现为 ${node.version}）`, `version must be 2 or 3 (it is ${node.version})`]);
    return f.list;
  }
  const hasV3 = !!(
    node.appPrivateKeyContent ||
    node.appPrivateKeyPath ||
    node.v3Key ||
    node.appCertContent ||
    node.appCertPath ||
    node.appCertSn
  );
  if (version === '2') {
    if (!node.key && hasV3) {
      f.error(
        'version',
        ['version 为 2，但只配置了 v3 的密钥与证书', 'version is 2 but only v3 keys and certificates are configured'],
        ['使用 API v3 请删除 version 或写 version: 3', 'For API v3 remove version or set version: 3'],
      );
      return f.list;
    }
    checkV2Key(f, node, true);
    if (node.signType !== undefined && node.signType !== 'MD5' && node.signType !== 'HMAC-SHA256')
      f.error('signType', ['v2 的 signType 只能是 MD5 或 HMAC-SHA256', 'The v2 signType must be MD5 or HMAC-SHA256']);
    f.info(
      'version',
      [
        'version 2：退款需要 .p12 双向证书，本插件不支持 v2 退款',
        'version 2: refunds need the .p12 client certificate, which this plugin does not support',
      ],
      ['建议配置 API v3（version: 3）', 'Prefer API v3 (version: 3)'],
    );
    return f.list;
  }
  if (!hasV3 && node.key) {
    f.error(
      'version',
      ['version 为 3（默认），但只配置了 v2 的 key', 'version is 3 (the default) but only the v2 key is configured'],
      [
        '使用 API v2 请写 version: 2；使用 v3 请配置 v3Key、appCertPath、appPrivateKeyPath',
        'For API v2 set version: 2; for v3 configure v3Key, appCertPath and appPrivateKeyPath',
      ],
    );
    return f.list;
  }
  const key = f.require(node, 'appPrivateKeyContent', FIX_KEY) ? privateKey(f, node.appPrivateKeyContent) : undefined;
  merchantCertificate(f, node, key, now);
  const FIX_V3: readonly [string, string] = [
    '商户平台「API安全 → 设置APIv3密钥」（32 个字符）',
    'Merchant platform → API security → APIv3 key (32 characters)',
  ];
  if (f.require(node, 'v3Key', FIX_V3) && Buffer.byteLength(String(node.v3Key), 'utf8') !== 32)
    f.error(
      'v3Key',
      [
        `APIv3 密钥必须正好 32 字节（现为 ${Buffer.byteLength(String(node.v3Key), 'utf8')} 字节）`,
        `The APIv3 key must be exactly 32 bytes (it is ${Buffer.byteLength(String(node.v3Key), 'utf8')})`,
      ],
      FIX_V3,
    );
  wechatpayPublicKey(f, node, key);
  checkV2Key(f, node, false);
  return f.list;
}
