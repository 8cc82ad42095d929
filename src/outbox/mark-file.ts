// Acknowledgement marks between sweeps: rewritten in place (one small pwrite, no fsync) after every turn that settled
// records, because a SQLite transaction per turn costs ~15 times as much. The file only has to survive a process
// crash; after a power loss a torn or stale file is recognised (checksum, database identity) and the marks stored in
// the database at the last sweep are used instead, which can only mean duplicates.
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

export type Marks = Map<number, Map<number, number>>;

const MAGIC = 0x4b4d4c45; // "ELMK"
const HEAD = 4 + 16 + 2;
const ENTRY = 1 + 1 + 8;
/** 31 routes × 10 priorities fit. */
const MAX_BYTES = HEAD + 31 * 10 * ENTRY + 4;

export class MarkFile {
  #fd: number;
  #identity: Buffer;
  #buf = Buffer.alloc(MAX_BYTES);

  /** `identity`: 16 bytes that name the database these marks belong to. */
  constructor(path: string, identity: Buffer) {
    // Not 'a+': with O_APPEND, Linux ignores the offset of a positioned write.
    this.#fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    this.#identity = identity;
  }

  /** The marks last written for this database, or undefined when there are none or they cannot be trusted. */
  read(): Marks | undefined {
    const buf = this.#buf;
    const n = readSync(this.#fd, buf, 0, MAX_BYTES, 0);
    if (n < HEAD + 4 || buf.readUInt32LE(0) !== MAGIC || !buf.subarray(4, 20).equals(this.#identity)) return undefined;
    const count = buf.readUInt16LE(20);
    const end = HEAD + count * ENTRY;
    if (end + 4 > n || buf.readUInt32LE(end) !== crc32(buf.subarray(0, end))) return undefined;
    const marks: Marks = new Map();
    for (let at = HEAD; at < end; at += ENTRY) {
      const route = buf.readUInt8(at);
      const m = marks.get(route) ?? new Map<number, number>();
      m.set(buf.readUInt8(at + 1), buf.readDoubleLE(at + 2));
      marks.set(route, m);
    }
    return marks;
  }

  write(marks: Marks): void {
    const buf = this.#buf;
    buf.writeUInt32LE(MAGIC, 0);
    this.#identity.copy(buf, 4);
    let at = HEAD;
    for (const [route, m] of marks) {
      for (const [priority, oseq] of m) {
        buf.writeUInt8(route, at);
        buf.writeUInt8(priority, at + 1);
        buf.writeDoubleLE(oseq, at + 2);
        at += ENTRY;
      }
    }
    buf.writeUInt16LE((at - HEAD) / ENTRY, 20);
    buf.writeUInt32LE(crc32(buf.subarray(0, at)), at);
    writeSync(this.#fd, buf, 0, at + 4, 0);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
