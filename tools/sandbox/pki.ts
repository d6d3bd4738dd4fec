/**
 * Test PKI for the sandbox gateways: RSA or EC key pairs and X.509 certificates (self-signed
 * roots, intermediates, leaves with custom extension OIDs), generated locally at start or in
 * tests, never downloaded. Built on @peculiar/x509 over node's WebCrypto.
 */
import 'reflect-metadata';
import { webcrypto, KeyObject, X509Certificate, createPublicKey, createPrivateKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyType = 'rsa' | 'ec';

export interface Issued {
  /** PEM of the certificate */
  certPem: string;
  /** PKCS#8 PEM private key */
  keyPem: string;
  /** SPKI PEM public key */
  publicKeyPem: string;
  /** upper-case hex serial without separators (WeChat style) */
  serialHex: string;
  /** node's parsed certificate */
  cert: X509Certificate;
  /** WebCrypto keys, for issuing further certificates */
  keys: CryptoKeyPair;
  /** subject DN in x509 string form, e.g. `CN=Test, O=Sandbox, C=CN` */
  subject: string;
  keyType: KeyType;
}

export interface IssueOptions {
  /** e.g. `CN=WeChat Pay Sandbox Platform, O=Sandbox, C=CN` */
  subject: string;
  /** issuer; self-signed when absent */
  issuer?: Issued;
  keyType?: KeyType;
  /** hex serial; random when absent */
  serialHex?: string;
  isCa?: boolean;
  /** validity, default from 1 day ago to 365 days ahead */
  notBefore?: Date;
  notAfter?: Date;
  /** extra non-critical extensions carrying an ASN.1 NULL, by OID (Apple marker OIDs) */
  markerOids?: string[];
}

const RSA_ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' };
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 86_400_000;

async function generateKeys(type: KeyType): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(type === 'rsa' ? RSA_ALG : EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function randomSerialHex(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f; // positive INTEGER
  b[0] |= 0x10; // no leading zero byte, stable length
  return Buffer.from(b).toString('hex').toUpperCase();
}

/** Issues a certificate (self-signed when no issuer is given). */
export async function issueCertificate(opts: IssueOptions): Promise<Issued> {
  const keyType = opts.keyType ?? 'rsa';
  const keys = await generateKeys(keyType);
  const serialHex = (opts.serialHex ?? randomSerialHex()).toUpperCase();
  const now = Date.now();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(!!opts.isCa, undefined, true),
    new x509.KeyUsagesExtension(
      opts.isCa
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature
        : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ...(opts.markerOids ?? []).map((oid) => new x509.Extension(oid, false, new Uint8Array([0x05, 0x00]))),
  ];
  const issuerType = opts.issuer?.keyType ?? keyType;
  const signingAlgorithm = issuerType === 'rsa' ? RSA_ALG : EC_SIGN;
  const notBefore = opts.notBefore ?? new Date(now - DAY);
  const notAfter = opts.notAfter ?? new Date(now + 365 * DAY);
  const generated = opts.issuer
    ? await x509.X509CertificateGenerator.create({
        serialNumber: serialHex,
        subject: opts.subject,
        issuer: opts.issuer.subject,
        notBefore,
        notAfter,
        signingAlgorithm,
        publicKey: keys.publicKey,
        signingKey: opts.issuer.keys.privateKey,
        extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(opts.issuer.keys.publicKey)],
      })
    : await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serialHex,
        name: opts.subject,
        notBefore,
        notAfter,
        signingAlgorithm,
        keys,
        extensions,
      });
  const certPem = generated.toString('pem') + '\n';
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = new X509Certificate(certPem);
  return {
    certPem,
    keyPem,
    publicKeyPem: createPublicKey(certPem).export({ type: 'spki', format: 'pem' }).toString(),
    serialHex: cert.serialNumber.toUpperCase(),
    cert,
    keys,
    subject: generated.subject,
    keyType,
  };
}

/** A bare RSA-2048 key pair (no certificate), PEM encoded. */
export async function generateRsaKeyPair(): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  const keys = await generateKeys('rsa');
  return {
    privateKeyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: KeyObject.from(keys.publicKey).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** PKCS#1 (`BEGIN RSA PRIVATE KEY`) form of a PKCS#8 PEM, as Alipay's tools hand out. */
export function toPkcs1(privateKeyPem: string): string {
  return createPrivateKey(privateKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
}
