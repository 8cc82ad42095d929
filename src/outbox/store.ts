// The OutboxStore seam: where records wait until every route that carries them has been acknowledged. Two
// implementations (SQLite for the device, memory for tests and volatile setups) pass one shared suite
// (test/outbox/store-suite.ts).

export interface NewRow {
  id: string;
  source: string;
  seq: number;
  topic: string;
  priority: number;
  /** Observation time (epoch ms), for the sample → PUBACK latency. */
  ts: number;
  /** When it entered the outbox (epoch ms), for the TTL. */
  created: number;
  payload: string;
  /** UTF-8 size of the payload (for max_bytes), measured once by the outbox. */
  bytes: number;
  /** Bit i set: route i still has to deliver it. */
  pending: number;
}

export interface StoredRow {
  oseq: number;
  id: string;
  topic: string;
  priority: number;
  ts: number;
  payload: string;
}

export interface DeadLetter {
  oseq: number;
  id: string;
  topic: string;
  route: string;
  reasonCode: number;
  reason: string;
  failedAt: number;
  payload: string;
}

export interface StoreTotals {
  rows: number;
  bytes: number;
  oldestCreated: number | null;
}

export interface StoreBreakdown {
  byTopic: { topic: string; rows: number; bytes: number }[];
  byPriority: { priority: number; rows: number }[];
}

export interface OutboxStore {
  readonly kind: string;
  /** The last persisted seq of every source, so numbering continues after a restart. */
  loadSeqs(): Map<string, number>;
  /** Persists rows and their sources' seqs atomically; returns each row's `oseq` (monotonic, never reused). */
  append(rows: NewRow[]): number[];
  /** Resolves once everything appended so far is as durable as the store promises (off the JavaScript thread). */
  sync(): Promise<void>;
  /** Rows still pending for `routeBit` at `priority` with `after < oseq <= upTo`, in oseq order. */
  fetch(routeBit: number, priority: number, after: number, upTo: number, limit: number): StoredRow[];
  /** The priorities that have rows, highest first. */
  priorities(): number[];
  /**
   * Acknowledgement marks: route `route` has delivered every row it carries at `priority` with `oseq <= mark`.
   * Marks only move forward; they are persisted (without waiting for fsync) and the rows they cover are deleted later
   * by `sweep`, in ranges, instead of one by one.
   */
  mark(route: number, marks: Iterable<[priority: number, oseq: number]>): void;
  /** The persisted marks of `route`: priority → oseq. */
  marks(route: number): Map<number, number>;
  /** Deletes the rows that every route carrying them has marked delivered. Returns rows and bytes deleted. */
  sweep(): { rows: number; bytes: number };
  /** Moves a row the broker refused to the dead-letter table for that route. */
  deadLetter(routeBit: number, letter: Omit<DeadLetter, 'payload' | 'id' | 'topic'>): { rows: number; bytes: number };
  /** Deletes up to `count` rows, lowest priority and oldest first. */
  evict(count: number): { rows: number; bytes: number };
  /** Deletes rows that entered before `created` (the TTL). */
  expire(before: number): { rows: number; bytes: number };
  /**
   * `totals`, `breakdown` and `deadLetterCount` serve status reads and metric scrapes: they must not scan the rows
   * (keep the figures as rows come and go, e.g. with a Tally) and must not write.
   */
  totals(): StoreTotals;
  breakdown(): StoreBreakdown;
  deadLetters(limit: number): DeadLetter[];
  deadLetterCount(): number;
  /** Deletes every waiting row (not the dead letters, not the seqs). */
  purge(): { rows: number; bytes: number };
  close(): void;
}
