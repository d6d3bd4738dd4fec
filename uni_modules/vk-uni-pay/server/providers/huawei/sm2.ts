/**
 * SM2 signatures (GB/T 32918.2, the curve and the user id of GM/T 0009) on node:crypto's SM3.
 * Huawei Pay signs its answers and notifications with SM2 and, as its docs' sm-crypto sample does
 * (`hash: true, der: true`), hashes e = SM3(Z_A ‖ M) with the default user id "1234567812345678",
 * DER-encoding (r, s). Node's own SM2 signing omits that user id (OpenSSL only adds it when a
 * distinguishing id is set, which node cannot do), so the curve arithmetic is done here, in BigInt
 * (node's SM2 ECDH was measured: slower here than this). Merchants may also sign their requests with SM2.
 */
import { createHash, createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';

const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

/** GM/T 0009 default signer id */
export const SM2_DEFAULT_ID = '1234567812345678';

export interface Sm2Point {
  x: bigint;
  y: bigint;
}

const mod = (a: bigint, m: bigint) => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function inv(a: bigint, m: bigint): bigint {
  // extended Euclid; a is never 0 mod m where it is called
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

/** Jacobian coordinates (X, Y, Z) ↔ affine (X/Z², Y/Z³); Z = 0 is the point at infinity. */
type Jac = [bigint, bigint, bigint];
const INFINITY: Jac = [1n, 1n, 0n];

function double([x, y, z]: Jac): Jac {
  if (z === 0n || y === 0n) return INFINITY;
  const yy = mod(y * y, P);
  const s = mod(4n * x * yy, P);
  const zz = mod(z * z, P);
  const m = mod(3n * x * x + A * zz * zz, P);
  const x3 = mod(m * m - 2n * s, P);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, P);
  return [x3, y3, mod(2n * y * z, P)];
}

function add(p: Jac, q: Jac): Jac {
  if (p[2] === 0n) return q;
  if (q[2] === 0n) return p;
  const z1z1 = mod(p[2] * p[2], P);
  const z2z2 = mod(q[2] * q[2], P);
  const u1 = mod(p[0] * z2z2, P);
  const u2 = mod(q[0] * z1z1, P);
  const s1 = mod(p[1] * q[2] * z2z2, P);
  const s2 = mod(q[1] * p[2] * z1z1, P);
  if (u1 === u2) return s1 === s2 ? double(p) : INFINITY;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const hh = mod(h * h, P);
  const hhh = mod(h * hh, P);
  const v = mod(u1 * hh, P);
  const x3 = mod(r * r - hhh - 2n * v, P);
  const y3 = mod(r * (v - x3) - s1 * hhh, P);
  return [x3, y3, mod(p[2] * q[2] * h, P)];
}

function multiply(k: bigint, pt: Sm2Point): Jac {
  let acc = INFINITY;
  let base: Jac = [pt.x, pt.y, 1n];
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) acc = add(acc, base);
    base = double(base);
  }
  return acc;
}

/** u·G + v·Q in one pass over the bits (Shamir's trick): half the doublings of two multiplications. */
function multiplyTwo(u: bigint, v: bigint, q: Sm2Point): Jac {
  const g: Jac = [GX, GY, 1n];
  const qj: Jac = [q.x, q.y, 1n];
  const both = add(g, qj);
  let acc = INFINITY;
  for (let i = BigInt(Math.max(u.toString(2).length, v.toString(2).length) - 1); i >= 0n; i--) {
    acc = double(acc);
    const a = (u >> i) & 1n;
    const b = (v >> i) & 1n;
    if (a || b) acc = add(acc, a && b ? both : a ? g : qj);
  }
  return acc;
}

function affineX(p: Jac): bigint | undefined {
  if (p[2] === 0n) return undefined;
  return mod(p[0] * inv(mod(p[2] * p[2], P), P), P);
}

export function isOnCurve({ x, y }: Sm2Point): boolean {
  if (x < 0n || x >= P || y < 0n || y >= P) return false;
  return mod(y * y - (x * x * x + A * x + B), P) === 0n;
}

const G: Sm2Point = { x: GX, y: GY };
const be32 = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
const num = (b: Buffer) => BigInt('0x' + (b.toString('hex') || '0'));

/** e = SM3(Z_A ‖ M), Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) */
function digest(message: Buffer, pub: Sm2Point, id: string): bigint {
  const idBytes = Buffer.from(id, 'utf8');
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(idBytes.length * 8);
  const z = createHash('sm3')
    .update(Buffer.concat([entl, idBytes, be32(A), be32(B), be32(GX), be32(GY), be32(pub.x), be32(pub.y)]))
    .digest();
  return num(createHash('sm3').update(z).update(message).digest());
}

// ---- DER (r, s): SEQUENCE { INTEGER r, INTEGER s }

function derInt(n: bigint): Buffer {
  let b = be32(n);
  while (b.length > 1 && b[0] === 0 && b[1] < 0x80) b = b.subarray(1);
  if (b[0] >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

export function encodeSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** Strict DER (short lengths: an SM2 signature is at most 72 bytes); undefined when malformed. */
export function decodeSignature(der: Buffer): { r: bigint; s: bigint } | undefined {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined;
  const ints: bigint[] = [];
  let i = 2;
  for (let k = 0; k < 2; k++) {
    if (der[i] !== 0x02) return undefined;
    const len = der[i + 1];
    if (!len || len > 33 || i + 2 + len > der.length) return undefined;
    const v = der.subarray(i + 2, i + 2 + len);
    if (v[0] >= 0x80 || (v.length > 1 && v[0] === 0 && v[1] < 0x80)) return undefined; // negative or padded
    ints.push(num(v));
    i += 2 + len;
  }
  return i === der.length ? { r: ints[0], s: ints[1] } : undefined;
}

export function sm2Verify(message: Buffer, der: Buffer, pub: Sm2Point, id = SM2_DEFAULT_ID): boolean {
  const sig = decodeSignature(der);
  if (!sig || !isOnCurve(pub)) return false;
  const { r, s } = sig;
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const t = mod(r + s, N);
  if (t === 0n) return false;
  const x1 = affineX(multiplyTwo(s, t, pub));
  return x1 !== undefined && mod(digest(message, pub, id) + x1, N) === r;
}

export function sm2Sign(message: Buffer, d: bigint, pub: Sm2Point, id = SM2_DEFAULT_ID): Buffer {
  const e = digest(message, pub, id);
  for (;;) {
    const k = mod(num(randomBytes(40)), N - 1n) + 1n;
    const x1 = affineX(multiply(k, G))!;
    const r = mod(e + x1, N);
    if (r === 0n || r + k === N) continue;
    const s = mod(inv(1n + d, N) * (k - r * d), N);
    if (s !== 0n) return encodeSignature(r, s);
  }
}

/** The public point of a private scalar. */
export function sm2PublicOf(d: bigint): Sm2Point {
  const p = multiply(d, G);
  const x = affineX(p)!;
  const zi = inv(p[2], P);
  return { x, y: mod(p[1] * zi * zi * zi, P) };
}

/** DER of the SM2 curve OID 1.2.156.10197.1.301 (node names SM2 keys read from PEM by no type, so the OID decides) */
const SM2_OID = Buffer.from('06082a811ccf5501822d', 'hex');

/** The uncompressed point `04 ‖ x ‖ y` at the end of an SM2 SubjectPublicKeyInfo. */
function pointOfKey(key: KeyObject): Sm2Point | undefined {
  const spki = key.export({ type: 'spki', format: 'der' });
  const pt = spki.subarray(spki.length - 65);
  if (!spki.includes(SM2_OID) || pt[0] !== 4) return undefined;
  return { x: num(pt.subarray(1, 33)), y: num(pt.subarray(33)) };
}

/**
 * The SM2 public key as merchants get it: the hex point Huawei's merchant platform shows (`04…`,
 * 130 hex digits, or 128 without the prefix), a PEM public key or certificate, or base64 DER SPKI.
 * Undefined when it is none of these or not a point on the curve.
 */
export function parseSm2PublicKey(text: string): Sm2Point | undefined {
  const t = text.trim();
  let pt: Sm2Point | undefined;
  const hex = /^(04)?([0-9a-fA-F]{128})$/.exec(t);
  try {
    if (hex) pt = { x: BigInt('0x' + hex[2].slice(0, 64)), y: BigInt('0x' + hex[2].slice(64)) };
    else if (t.includes('BEGIN CERTIFICATE')) pt = pointOfKey(new X509Certificate(t).publicKey);
    else if (t.includes('BEGIN')) pt = pointOfKey(createPublicKey(t));
    else if (/^[A-Za-z0-9+/=\s]+$/.test(t))
      pt = pointOfKey(createPublicKey({ key: Buffer.from(t, 'base64'), format: 'der', type: 'spki' }));
  } catch {
    return undefined;
  }
  return pt && isOnCurve(pt) ? pt : undefined;
}

/** The private scalar of an SM2 key (node reads PEM or DER PKCS#8 / SEC1), undefined for any other key. */
export function sm2PrivateScalar(key: KeyObject): bigint | undefined {
  if (key.type !== 'private') return undefined;
  // PKCS#8 { …, OID sm2, OCTET STRING { SEC1 { INTEGER 1, OCTET STRING d(32), … } } }
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const at = der.indexOf(Buffer.from([0x02, 0x01, 0x01, 0x04, 0x20]));
  return der.includes(SM2_OID) && at >= 0 ? num(der.subarray(at + 5, at + 37)) : undefined;
}
