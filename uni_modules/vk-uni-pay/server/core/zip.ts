/**
 * A small ZIP reader (stored and deflate entries, no encryption, no zip64): enough for Alipay's
 * statement archives and for checking our own plugin package. Entry names without the UTF-8 flag
 * are read as GBK (Alipay names its files in Chinese, e.g. `…_业务明细.csv`). Every entry's CRC-32
 * is checked: an archive cut short or altered in transit is refused, never half read.
 */
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  /** forward-slash path inside the archive */
  name: string;
  data: Buffer;
}

let table: Uint32Array | undefined;

export function crc32(buf: Buffer): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < buf.length; i++) crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** GBK text (Alipay statements and their file names). */
export function decodeGbk(buf: Buffer): string {
  return new TextDecoder('gbk').decode(buf);
}

/** Every file of a plain ZIP; throws (plain Error) on anything malformed or a CRC mismatch. */
export function readZip(zip: Buffer): ZipEntry[] {
  const endAt = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0 || endAt + 22 > zip.length) throw new Error('not a zip file');
  const count = zip.readUInt16LE(endAt + 10);
  let p = zip.readUInt32LE(endAt + 16);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (p + 46 > zip.length || zip.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const flags = zip.readUInt16LE(p + 8);
    const method = zip.readUInt16LE(p + 10);
    const size = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const localAt = zip.readUInt32LE(p + 42);
    const rawName = zip.subarray(p + 46, p + 46 + nameLen);
    const name = flags & 0x0800 ? rawName.toString('utf8') : decodeGbk(rawName);
    if (localAt + 30 > zip.length || zip.readUInt32LE(localAt) !== 0x04034b50) throw new Error(`corrupt zip entry: ${name}`);
    const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    if (dataAt + size > zip.length) throw new Error(`zip entry cut short: ${name}`);
    const raw = zip.subarray(dataAt, dataAt + size);
    if (method !== 0 && method !== 8) throw new Error(`unsupported zip method ${method}: ${name}`);
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
    if (crc32(data) !== zip.readUInt32LE(p + 16)) throw new Error(`crc mismatch: ${name}`);
    if (!name.endsWith('/')) out.push({ name, data });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
