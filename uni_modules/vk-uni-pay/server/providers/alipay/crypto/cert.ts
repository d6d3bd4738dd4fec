/**
 * Certificate mode (公钥证书, https://opendocs.alipay.com/common/056zub): the serial numbers sent as
 * `app_cert_sn` / `alipay_root_cert_sn` and matched against `alipay_cert_sn` in responses.
 *   SN of a certificate = md5 hex of (issuer DN + serial number in decimal), the DN written as Java's
 *   X500Principal.getName() does: RDNs from last to first, `type=value` joined with `,`.
 *   root SN = the SNs of the root bundle's certificates signed with sha1WithRSA or sha256WithRSA
 *   (Alipay's bundle also holds an SM2 root, which is skipped), joined with `_`.
 */
import { createHash, X509Certificate } from 'node:crypto';

export function splitPems(bundle: string | Buffer): string[] {
  return String(bundle).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export function certSn(cert: X509Certificate): string {
  // node prints one RDN per line, first to last
  const issuer = cert.issuer.split('\n').reverse().join(',');
  const serial = BigInt('0x' + cert.serialNumber).toString(10);
  return createHash('md5')
    .update(issuer + serial, 'utf8')
    .digest('hex');
}

/** DER tag-length-value at off: where the content starts and where the element ends */
function tlv(der: Buffer, off: number): { start: number; end: number } {
  const first = der[off + 1];
  if (first === undefined) throw new Error('truncated DER');
  let len = first;
  let start = off + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n < 1 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { start, end: start + len };
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, … }: the OID bytes */
export function signatureAlgorithmOid(cert: X509Certificate): string {
  const der = cert.raw;
  const outer = tlv(der, 0);
  const tbs = tlv(der, outer.start);
  const alg = tlv(der, tbs.end);
  const oid = tlv(der, alg.start);
  return der.subarray(oid.start, oid.end).toString('hex');
}

/** 1.2.840.113549.1.1.5 sha1WithRSAEncryption, 1.2.840.113549.1.1.11 sha256WithRSAEncryption */
const RSA_SIGNATURE_OIDS = new Set(['2a864886f70d010105', '2a864886f70d01010b']);

/** the root bundle's certificates (splitPems + X509Certificate) → alipay_root_cert_sn */
export function rootCertSn(certs: X509Certificate[]): string {
  return certs
    .filter((c) => RSA_SIGNATURE_OIDS.has(signatureAlgorithmOid(c)))
    .map(certSn)
    .join('_');
}
