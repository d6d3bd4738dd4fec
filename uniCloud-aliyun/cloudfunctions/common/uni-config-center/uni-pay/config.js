// vk-uni-pay 配置模板（部署到你的服务空间前填写）。节点结构同 vk-uni-pay。
// 本地开发与测试不读这个文件：`npm start` 和测试会在 .data/config 下生成指向沙箱网关的配置。
// Template for a real deployment; local runs generate a sandbox config under .data/config instead.
const path = require('path');
const cert = (file) => path.join(__dirname, file);

module.exports = {
  // 每个服务空间一个异步回调地址（云对象 vk-pay 的 URL化地址）
  notifyUrl: {
    'your-space-id': 'https://fc-your-space-id.next.bspapp.com/http/vk-pay',
  },
  wxpay: {
    'mp-weixin': {
      appId: '',
      secret: '',
      mchId: '',
      version: 3,
      v3Key: '',
      appCertPath: cert('wxpay/apiclient_cert.pem'),
      appPrivateKeyPath: cert('wxpay/apiclient_key.pem'),
      wxpayPublicKeyPath: cert('wxpay/pub_key.pem'),
      wxpayPublicKeyId: '',
    },
    'app-plus': {
      appId: '',
      mchId: '',
      version: 3,
      v3Key: '',
      appCertPath: cert('wxpay/apiclient_cert.pem'),
      appPrivateKeyPath: cert('wxpay/apiclient_key.pem'),
      wxpayPublicKeyPath: cert('wxpay/pub_key.pem'),
      wxpayPublicKeyId: '',
    },
    h5: {
      appId: '',
      mchId: '',
      version: 3,
      v3Key: '',
      appCertPath: cert('wxpay/apiclient_cert.pem'),
      appPrivateKeyPath: cert('wxpay/apiclient_key.pem'),
      wxpayPublicKeyPath: cert('wxpay/pub_key.pem'),
      wxpayPublicKeyId: '',
    },
    'h5-weixin': {
      appId: '',
      secret: '',
      mchId: '',
      version: 3,
      v3Key: '',
      appCertPath: cert('wxpay/apiclient_cert.pem'),
      appPrivateKeyPath: cert('wxpay/apiclient_key.pem'),
      wxpayPublicKeyPath: cert('wxpay/pub_key.pem'),
      wxpayPublicKeyId: '',
    },
    mweb: {
      appId: '',
      mchId: '',
      version: 3,
      v3Key: '',
      appCertPath: cert('wxpay/apiclient_cert.pem'),
      appPrivateKeyPath: cert('wxpay/apiclient_key.pem'),
      wxpayPublicKeyPath: cert('wxpay/pub_key.pem'),
      wxpayPublicKeyId: '',
      sceneInfo: { h5_info: { type: 'Wap', wap_url: 'https://your.domain', wap_name: '你的网站' } },
    },
    // 商家转账（transfer / queryTransfer / cancelTransfer 的默认节点，仅 API v3）：appId 为收款用户 openid 所属的应用
    transfer: {
      appId: '',
      mchId: '',
      version: 3,
      v3Key: '',
      appCertPath: cert('wxpay/apiclient_cert.pem'),
      appPrivateKeyPath: cert('wxpay/apiclient_key.pem'),
      wxpayPublicKeyPath: cert('wxpay/pub_key.pem'),
      wxpayPublicKeyId: '',
    },
  },
  alipay: {
    'mp-alipay': { appId: '', privateKey: '', alipayPublicKey: '' },
    'app-plus': {
      appId: '',
      privateKey: '',
      appCertPath: cert('alipay/appCertPublicKey.crt'),
      alipayPublicCertPath: cert('alipay/alipayCertPublicKey_RSA2.crt'),
      alipayRootCertPath: cert('alipay/alipayRootCert.crt'),
    },
    h5: {
      appId: '',
      privateKey: '',
      appCertPath: cert('alipay/appCertPublicKey.crt'),
      alipayPublicCertPath: cert('alipay/alipayCertPublicKey_RSA2.crt'),
      alipayRootCertPath: cert('alipay/alipayRootCert.crt'),
    },
    // 单笔转账（transfer 的默认节点）：资金类接口要求公钥证书模式
    transfer: {
      appId: '',
      privateKey: '',
      appCertPath: cert('alipay/appCertPublicKey.crt'),
      alipayPublicCertPath: cert('alipay/alipayCertPublicKey_RSA2.crt'),
      alipayRootCertPath: cert('alipay/alipayRootCert.crt'),
    },
  },
  appleiap: {
    'app-plus': {
      bundleId: '',
      password: '',
      sandbox: false,
      receiptExpiresIn: 86400,
      products: {/* productId: { total_fee: 600 } */},
      appAppleId: 0,
    },
  },
  'wxpay-virtual': {
    'mp-weixin': {
      appId: '',
      secret: '',
      mchId: '',
      offerId: '',
      appKey: '',
      sandboxAppKey: '',
      rate: 100,
      token: '',
      encodingAESKey: '',
      sandbox: false,
    },
  },
  vkspay: { mchId: '', key: '' },
  // 华为支付（鸿蒙应用 / 鸿蒙元服务）：商户号、证书 ID、商户私钥（RSA ≥ 3072 位或 SM2，PEM），华为支付证书公钥（04 开头的十六进制）
  huawei: {
    'app-harmony': { appId: '', mchId: '', mchAuthId: '', mchPrivateKey: '', platformPublicKey: '', clientType: 'app-harmony' },
    'mp-harmony': { appId: '', mchId: '', mchAuthId: '', mchPrivateKey: '', platformPublicKey: '', clientType: 'mp-harmony' },
  },
  // 抖音小程序担保支付：SALT 签名请求，Token 校验异步通知（抖音开放平台 → 支付设置）
  douyin: {
    'mp-toutiao': { appId: '', secret: '', mchId: '', salt: '', token: '', sandbox: false },
  },
};
