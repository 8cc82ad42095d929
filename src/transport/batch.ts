// Gathers the records published in one turn of the event loop (the publisher fills its window in one go) into
// batches bounded by count and bytes, so a request-per-message route (HTTP, CoAP) sends one request per batch.
// With `maxRecords` 1 every record leaves at once, alone.
import { Type } from '@sinclair/typebox';
import type { PublishOutcome } from './adapter.ts';

/** The `batch` block of an HTTP or CoAP route. */
export const BatchSchema = (maxBytes: number) =>
  Type.Object(
    {
      /** Records per request: 1 sends each record as it is; more sends a JSON array of `{topic, payload}`. */
      max_records: Type.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
      /** Bytes of a request body; a record larger than this travels alone. */
      max_bytes: Type.Integer({ minimum: 64, maximum: 64 * 1024 * 1024, default: maxBytes }),
    },
    { additionalProperties: false, default: {} },
  );

export interface BatchItem {
  topic: string;
  payload: string;
  id: string;
  done: (outcome: PublishOutcome) => void;
}

/** Bytes an item adds to a batch body besides its payload: `{"topic":…,"payload":…},`. */
const ENVELOPE = 24;

export class Batcher {
  #maxRecords: number;
  #maxBytes: number;
  #send: (items: BatchItem[]) => void;
  #pending: BatchItem[] = [];
  #bytes = 0;
  #scheduled = false;

  constructor(maxRecords: number, maxBytes: number, send: (items: BatchItem[]) => void) {
    this.#maxRecords = maxRecords;
    this.#maxBytes = maxBytes;
    this.#send = send;
  }

  add(item: BatchItem): void {
    const size = Buffer.byteLength(item.payload) + Buffer.byteLength(item.topic) + ENVELOPE;
    if (this.#pending.length > 0 && this.#bytes + size > this.#maxBytes) this.flush();
    this.#pending.push(item);
    this.#bytes += size;
    if (this.#pending.length >= this.#maxRecords) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    const items = this.#pending;
    this.#pending = [];
    this.#bytes = 0;
    this.#send(items);
  }

  /** The connection went away before these were sent: they are lost (the outbox sends them again). */
  drop(): void {
    const items = this.#pending;
    this.#pending = [];
    this.#bytes = 0;
    for (const item of items) item.done({ ok: false });
  }
}

/** A batch as a request body: a JSON array of `{topic, payload}`, each payload the record exactly as published. */
export function batchBody(items: readonly BatchItem[]): string {
  return `[${items.map((i) => `{"topic":${JSON.stringify(i.topic)},"payload":${i.payload}}`).join(',')}]`;
}
