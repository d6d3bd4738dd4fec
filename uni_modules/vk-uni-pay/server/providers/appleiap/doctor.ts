/** `doctor` checks of the `appleiap.app-plus` node: the fields the receipt and JWS verifiers rely on. */
import { X509Certificate } from 'node:crypto';
import { Findings, type DoctorInput, type Finding } from '../../core/doctor';

const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;

function rootCertificate(v: unknown): boolean {
  try {
    const text = Buffer.isBuffer(v) ? v : String(v).includes('-----BEGIN') ? String(v) : Buffer.from(String(v), 'base64');
    new X509Certificate(text);
    return true;
  } catch {
    return false;
  }
}

export function diagnoseAppleIap({ name, node }: DoctorInput): Finding[] {
  const f = new Findings(name);
  if (
    f.require(node, 'bundleId', ['填写 App 的 Bundle ID', "Set the app's bundle identifier"]) &&
    !/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(String(node.bundleId))
  )
    f.error('bundleId', [
      `bundleId ${node.bundleId} 不是反向域名形式（如 com.example.app）`,
      `bundleId ${node.bundleId} is not reverse-DNS (e.g. com.example.app)`,
    ]);
  if (node.products === undefined)
    f.warn('products', [
      '未配置 products 价格表：每次校验都必须传入商品 ID 列表',
      'No products price list: every verification must pass the expected product ids',
    ]);
  else if (typeof node.products !== 'object' || node.products === null)
    f.error('products', ['products 应为 { 商品ID: { total_fee } }', 'products must be { productId: { total_fee } }']);
  else
    for (const [id, p] of Object.entries(node.products as Record<string, any>))
      if (!positiveInt(p?.total_fee))
        f.error('products', [`商品 ${id} 的 total_fee 必须是正整数（分）`, `total_fee of product ${id} must be a positive integer (fen)`]);
  if (node.sandbox !== undefined && typeof node.sandbox !== 'boolean')
    f.error('sandbox', ['sandbox 必须是 true 或 false', 'sandbox must be true or false']);
  if (node.sandbox === true)
    f.warn('sandbox', [
      'sandbox: true 接受沙箱购买，正式环境必须为 false',
      'sandbox: true accepts Sandbox purchases; it must be false in production',
    ]);
  else if (!positiveInt(node.appAppleId))
    f.warn('appAppleId', [
      '正式环境校验 StoreKit 2 签名交易需要 appAppleId（App Store Connect 中的 Apple ID 数字）',
      'Production StoreKit 2 signed transactions need appAppleId (the numeric Apple ID in App Store Connect)',
    ]);
  if (node.receiptExpiresIn !== undefined && !positiveInt(node.receiptExpiresIn))
    f.error('receiptExpiresIn', ['receiptExpiresIn 必须是正整数（秒）', 'receiptExpiresIn must be a positive integer (seconds)']);
  if (node.appleRootCertificates !== undefined) {
    const list = Array.isArray(node.appleRootCertificates) ? node.appleRootCertificates : [node.appleRootCertificates];
    if (!list.length || !list.every(rootCertificate))
      f.error('appleRootCertificates', [
        'appleRootCertificates 中有无法解析的证书',
        'appleRootCertificates holds a certificate that does not parse',
      ]);
  }
  return f.list;
}

/** Apple: the plugin makes no signed read-only call with this node (verifyReceipt answers are unsigned). */
export async function probeAppleIap(name: string): Promise<Finding[]> {
  const f = new Findings(name);
  f.info('online', [
    '苹果没有可用此配置签名的只读接口，未做在线检查',
    'Apple has no signed read-only call for this node; not checked online',
  ]);
  return f.list;
}
