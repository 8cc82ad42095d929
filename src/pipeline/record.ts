// The unit that flows through the gateway. Readings, detections and status are all records; the outbox and the live
// bus do not care which.
import { randomFillSync } from 'node:crypto';

export type RecordKind = 'reading' | 'detection' | 'status' | 'event';

/** A record before it is durable: the outbox gives it its per-source `seq`. */
export interface RecordDraft {
  /** UUIDv7: time-ordered and unique, the consumer's idempotency key. */
  id: string;
  kind: RecordKind;
  /** Who made it (sensor id, camera id, …); `seq` counts per source. */
  source: string;
  /** Topic below `edgeloop/<device>/`, e.g. `sensors/temp1`. */
  topic: string;
  /** Epoch milliseconds of the observation. */
  ts: number;
  /** 0–9 (routine readings 1): higher leaves first when a backlog drains and is dropped last when the outbox is full. */
  priority: number;
  /** Kind-specific fields, merged into the published payload. */
  data: Record<string, unknown>;
}

/** A durable record: what the live bus, the API and the publisher see. */
export interface DurableRecord extends RecordDraft {
  seq: number;
  /** The published payload, serialized once (see payloadOf). */
  json: string;
}

let lastMs = 0;
let counter = 0;
// Random bytes come from a pool refilled in one call, not one system call per id.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function random(n: number): Buffer {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += n;
  return pool.subarray(poolAt - n, poolAt);
}

/** RFC 9562 UUIDv7; a 12-bit counter keeps ids from one millisecond in order. */
export function uuidv7(at = Date.now()): string {
  const now = Math.floor(at);
  if (now > lastMs) {
    lastMs = now;
    counter = random(2).readUInt16BE() & 0x3ff;
  } else if (++counter > 0xfff) {
    lastMs += 1;
    counter = 0;
  }
  const b = Buffer.from(random(16));
  b.writeUIntBE(lastMs, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The JSON published for a record: `{id, device, seq, ts, ...data}` with `ts` as ISO-8601 UTC. */
export function payloadOf(record: RecordDraft & { seq: number }, device: string): string {
  return JSON.stringify({
    id: record.id,
    device,
    ...record.data,
    seq: record.seq,
    ts: new Date(record.ts).toISOString(),
  });
}
