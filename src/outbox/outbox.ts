// The only way out of the gateway. Records are numbered per source and made durable in group commits before any
// route may publish them; a row leaves the store only when every route that carries it was acknowledged.
//
// A commit becomes visible (the `committed` event, `fetch`) only once the store has synced it. While a route keeps
// up, the rows released are handed to it straight from memory (its tail) instead of being read back from the store.
import { EventEmitter, once } from 'node:events';
import type { OutboxConfig } from '../config/schema.ts';
import { errorCode, messageOf, type ErrorName } from '../errors.ts';
import { topicMatches } from '../pipeline/live-bus.ts';
import { payloadOf, type DurableRecord, type RecordDraft } from '../pipeline/record.ts';
import { RateLimitedLog, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { DeadLetter, NewRow, OutboxStore, StoredRow } from './store.ts';

export type OutboxDropReason = 'outbox-full' | 'outbox-rejected' | 'expired' | 'write-error' | 'closed' | 'purged';

export interface OutboxEvents {
  /** Records just made durable, in commit order. */
  committed: [records: DurableRecord[]];
  drop: [reason: OutboxDropReason, count: number];
}

export interface OutboxRoute {
  name: string;
  topics: string[];
}

export interface OutboxOptions {
  store: OutboxStore;
  config: OutboxConfig;
  device: string;
  routes: OutboxRoute[];
  log: Logger;
  metrics: Metrics;
}

/** Records waiting for a commit after a write error, at most this many batches' worth. */
const RETRY_BATCHES = 10;
/** Delivered rows are deleted once this many have gathered, or after SWEEP_MS. */
const SWEEP_ROWS = 1024;
const SWEEP_MS = 1000;
/** Drops a person must hear of (besides the metric), with the code that tells what to do. */
const DROP_CODES: Partial<Record<OutboxDropReason, ErrorName>> = {
  'outbox-full': 'OUTBOX_FULL',
  'outbox-rejected': 'OUTBOX_FULL',
  closed: 'OUTBOX_CLOSED',
};
/** A route's tail longer than this (it is not keeping up) is dropped: it reads from the store again. */
const TAIL_MAX = 4096;

interface Unsynced {
  records: DurableRecord[];
  rows: StoredRow[];
  /** Routes' bits per row of `rows`. */
  masks: number[];
  /** False once rows were deleted meanwhile (evicted, expired, purged): routes then read the store, not this. */
  toTails: boolean;
}

export class Outbox extends EventEmitter<OutboxEvents> {
  readonly store: OutboxStore;
  readonly routes: readonly OutboxRoute[];
  readonly drops: Record<OutboxDropReason, number> = {
    'outbox-full': 0, 'outbox-rejected': 0, expired: 0, 'write-error': 0, closed: 0, purged: 0,
  };
  #o: OutboxOptions;
  #seqs: Map<string, number>;
  #pending: RecordDraft[] = [];
  #scheduled = false;
  #closed = false;
  #rows: number;
  #bytes: number;
  #priorities: Set<number>;
  /** Per route: per priority, the last oseq handed out. */
  #cursors: Map<number, number>[];
  /** Per route: rows released since it caught up with the store, or null while it reads from the store. */
  #tails: (StoredRow[] | null)[];
  /** Committed, waiting for the store's sync; in commit order. */
  #unsynced: Unsynced[] = [];
  #syncing = false;
  #unswept = 0;
  #sweepTimer: NodeJS.Timeout | undefined;
  #markErrors = new RateLimitedLog();
  #dropLogs = new Map<OutboxDropReason, RateLimitedLog>();
  #expiryTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(options: OutboxOptions) {
    super();
    if (options.routes.length > 31) throw new RangeError('at most 31 upstream routes');
    this.#o = options;
    this.store = options.store;
    this.routes = options.routes;
    this.#seqs = options.store.loadSeqs();
    options.store.sweep();
    const t = options.store.totals();
    this.#rows = t.rows;
    this.#bytes = t.bytes;
    this.#priorities = new Set(options.store.priorities());
    this.#cursors = options.routes.map((_, i) => options.store.marks(i));
    this.#tails = options.routes.map(() => null);
    const ttl = options.config.ttl_s;
    if (ttl > 0) {
      this.#expiryTimer = setInterval(() => this.expire(), Math.min(ttl * 100, 60_000));
      this.#expiryTimer.unref();
    }
    options.metrics.onCollect(() => this.#collect());
  }

  get rows(): number {
    return this.#rows;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The last seq given to `source` (0 if none yet). */
  lastSeq(source: string): number {
    return this.#seqs.get(source) ?? 0;
  }

  /** Queues a record for the next group commit (within this turn of the event loop). */
  add(draft: RecordDraft): boolean {
    if (this.#closed) {
      this.#drop('closed', 1);
      return false;
    }
    this.#pending.push(draft);
    const c = this.#o.config;
    if (c.durability === 'each' || this.#pending.length >= c.batch_max) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Commits what is pending now. */
  flush(): void {
    this.#scheduled = false;
    const c = this.#o.config;
    while (this.#pending.length > 0) {
      const n = c.durability === 'each' ? 1 : Math.min(c.batch_max, this.#pending.length);
      if (!this.#commit(this.#pending.slice(0, n))) return;
      this.#pending.splice(0, n);
    }
  }

  #commit(drafts: RecordDraft[]): boolean {
    const now = Date.now();
    const seqs = new Map<string, number>();
    const records: DurableRecord[] = [];
    const rows: NewRow[] = [];
    for (const d of drafts) {
      const seq = (seqs.get(d.source) ?? this.lastSeq(d.source)) + 1;
      seqs.set(d.source, seq);
      const record: DurableRecord = { ...d, seq, json: '' };
      const json = (record.json = payloadOf(record, this.#o.device));
      const pending = this.#routeMask(d.topic);
      records.push(record);
      if (pending !== 0) {
        const bytes = Buffer.byteLength(json);
        rows.push({ id: d.id, source: d.source, seq, topic: d.topic, priority: d.priority, ts: d.ts, created: now, payload: json, bytes, pending });
      }
    }
    const kept = this.#makeRoom(rows);
    let bytes = 0;
    let oseqs: number[];
    try {
      oseqs = this.store.append(kept);
      for (const r of kept) bytes += r.bytes;
    } catch (err) {
      this.#o.log.error({ err: messageOf(err), records: drafts.length }, 'outbox write failed; will retry');
      this.#scheduleRetry();
      return false;
    }
    for (const [s, q] of seqs) this.#seqs.set(s, q);
    this.#rows += kept.length;
    this.#bytes += bytes;
    for (const r of kept) this.#priorities.add(r.priority);
    this.#o.metrics.commits.inc();
    // Rejected rows are left out of the store and of the live view, but keep their seq: the gap shows the loss.
    const keptSet = new Set(kept);
    const rejected = new Set(rows.filter((r) => !keptSet.has(r)).map((r) => r.id));
    this.#unsynced.push({
      records: rejected.size === 0 ? records : records.filter((r) => !rejected.has(r.id)),
      rows: kept.map((r, i) => ({ oseq: oseqs[i] as number, id: r.id, topic: r.topic, priority: r.priority, ts: r.ts, payload: r.payload })),
      masks: kept.map((r) => r.pending),
      toTails: true,
    });
    this.#enforceBounds();
    this.#sync();
    return true;
  }

  /** One sync at a time; the commits made while it runs share the next one (group commit across turns). */
  #sync(): void {
    if (this.#syncing || this.#unsynced.length === 0 || this.#closed) return;
    this.#syncing = true;
    const batches = this.#unsynced.length;
    const release = () => {
      this.#syncing = false;
      if (this.#closed) return;
      for (const batch of this.#unsynced.splice(0, batches)) this.#release(batch);
      this.#sync();
    };
    this.store.sync().then(release, (err: unknown) => {
      this.#o.log.error({ err: messageOf(err) }, 'outbox sync failed; the records are committed but may not survive power loss');
      release();
    });
  }

  #release(batch: Unsynced): void {
    if (batch.toTails) this.#feedTails(batch);
    else this.#forgetTails();
    this.emit('committed', batch.records);
  }

  #feedTails({ rows, masks }: Unsynced): void {
    if (rows.length === 0) return;
    const top = rows.reduce((p, r) => Math.max(p, r.priority), 0);
    this.#tails.forEach((tail, route) => {
      if (tail === null) return;
      const bit = 1 << route;
      // Behind rows of a lower priority, a higher one must wait: the store's fetch orders them instead.
      const last = tail[tail.length - 1];
      if ((last !== undefined && last.priority < top) || tail.length + rows.length > TAIL_MAX) {
        this.#tails[route] = null;
        return;
      }
      const mine = rows.filter((_, i) => ((masks[i] as number) & bit) !== 0);
      if (mine.some((r) => r.priority !== mine[0]?.priority)) mine.sort((a, b) => b.priority - a.priority);
      tail.push(...mine);
    });
  }

  /** Resolves once everything committed so far has been released (synced). */
  async synced(): Promise<void> {
    this.flush();
    while (this.#unsynced.length > 0 && !this.#closed) await once(this, 'committed');
  }

  /** With `reject-new`, keeps only the rows that fit within max_rows / max_bytes. */
  #makeRoom(rows: NewRow[]): NewRow[] {
    const c = this.#o.config;
    if (c.on_full !== 'reject-new') return rows;
    if (this.#over(rows)) this.sweep();
    let room = c.max_rows - this.#rows;
    let roomBytes = c.max_bytes - this.#bytes;
    const kept = rows.filter((r) => {
      if (room <= 0 || roomBytes < r.bytes) return false;
      room--;
      roomBytes -= r.bytes;
      return true;
    });
    this.#drop('outbox-rejected', rows.length - kept.length);
    return kept;
  }

  #over(adding: NewRow[] = []): boolean {
    const c = this.#o.config;
    return this.#rows + adding.length > c.max_rows || this.#bytes + adding.reduce((s, r) => s + r.bytes, 0) > c.max_bytes;
  }

  /** With `drop-oldest`, evicts the oldest lowest-priority rows until both bounds hold again. */
  #enforceBounds(): void {
    const c = this.#o.config;
    // Rows already delivered go first, and they are no loss.
    if (this.#over()) this.sweep();
    while (this.#rows > c.max_rows || this.#bytes > c.max_bytes) {
      // The average row size estimates how many rows the excess bytes take.
      const avg = this.#bytes / Math.max(1, this.#rows);
      const count = Math.max(this.#rows - c.max_rows, Math.ceil((this.#bytes - c.max_bytes) / Math.max(avg, 1)), 1);
      const removed = this.store.evict(count);
      if (removed.rows === 0) break;
      this.#forgetTails();
      this.#removed(removed);
      this.#drop('outbox-full', removed.rows);
    }
  }

  #routeMask(topic: string): number {
    let mask = 0;
    this.routes.forEach((r, i) => {
      if (r.topics.some((f) => topicMatches(f, topic))) mask |= 1 << i;
    });
    return mask;
  }

  /** The next rows for a route, highest priority first, oseq order within a priority. */
  fetch(route: number, limit: number): StoredRow[] {
    const cursors = this.#cursors[route] as Map<number, number>;
    const tail = this.#tails[route];
    const out = tail ? tail.splice(0, limit) : [];
    if (!tail) {
      // Only what has been synced: the oldest commit still waiting for its sync is the horizon.
      const upTo = (this.#unsynced.find((u) => u.rows.length > 0)?.rows[0]?.oseq ?? Number.MAX_SAFE_INTEGER) - 1;
      const prios = [...this.#priorities].sort((a, b) => b - a);
      for (const p of prios) {
        if (out.length >= limit) break;
        out.push(...this.store.fetch(1 << route, p, cursors.get(p) ?? 0, upTo, limit - out.length));
      }
      // Caught up: what is released from now on comes to this route from memory.
      if (out.length < limit) this.#tails[route] = [];
    }
    for (const r of out) cursors.set(r.priority, r.oseq);
    return out;
  }

  /** After a disconnect: everything not acknowledged is fetched again from the store. */
  rewind(route: number): void {
    this.#cursors[route] = this.store.marks(route);
    this.#tails[route] = null;
  }

  /** Route `route` has delivered everything it carries up to these marks (priority → oseq): written now, deleted later. */
  delivered(route: number, marks: Map<number, number>, count: number): void {
    if (marks.size === 0 || this.#closed) return;
    // A failed write costs duplicates after a crash, never a record: log it and go on.
    this.#guard('marks', () => this.store.mark(route, marks));
    this.#unswept += count;
    if (this.#unswept >= SWEEP_ROWS) this.sweep();
    else if (this.#sweepTimer === undefined) {
      this.#sweepTimer = setTimeout(() => this.sweep(), SWEEP_MS);
      this.#sweepTimer.unref();
    }
  }

  /** Deletes the rows every route has delivered. */
  sweep(): void {
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#unswept = 0;
    if (!this.#closed) this.#guard('sweep', () => this.#removed(this.store.sweep()));
  }

  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#markErrors.hit((suppressed) =>
        this.#o.log.error({ err: messageOf(err), what, suppressed }, 'outbox could not record deliveries; they may be sent again'),
      );
    }
  }

  deadLetter(route: number, oseq: number, reasonCode: number, reason: string): void {
    const letter: Omit<DeadLetter, 'payload' | 'id' | 'topic'> = {
      oseq, route: this.routes[route]?.name ?? String(route), reasonCode, reason, failedAt: Date.now(),
    };
    this.#removed(this.store.deadLetter(1 << route, letter));
  }

  /** Drops what waited longer than the TTL; delivered rows are swept first, so only undelivered ones count as expired. */
  expire(now = Date.now()): number {
    const ttl = this.#o.config.ttl_s;
    if (ttl === 0 || this.#closed) return 0;
    this.sweep();
    const removed = this.store.expire(now - ttl * 1000);
    if (removed.rows > 0) this.#forgetTails();
    this.#removed(removed);
    this.#drop('expired', removed.rows);
    return removed.rows;
  }

  /** Deletes every record not yet delivered and returns how many; delivered ones are swept first, not counted. */
  purge(): number {
    if (this.#closed) return 0;
    this.sweep();
    const removed = this.store.purge();
    this.#removed(removed);
    this.#drop('purged', removed.rows);
    this.#forgetTails();
    return removed.rows;
  }

  oldestAgeMs(now = Date.now()): number | null {
    const oldest = this.store.totals().oldestCreated;
    return oldest === null ? null : now - oldest;
  }

  /** Commits what is pending and closes the store. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.sweep();
    this.#closed = true;
    clearInterval(this.#expiryTimer);
    clearTimeout(this.#sweepTimer);
    clearTimeout(this.#retryTimer);
    this.#drop('closed', this.#pending.length);
    this.#pending = [];
    this.store.close();
  }

  /** Rows a tail holds may have been deleted: those routes read from the store again. */
  #forgetTails(): void {
    this.#tails.fill(null);
    for (const u of this.#unsynced) u.toTails = false;
  }

  #removed(r: { rows: number; bytes: number }): void {
    this.#rows = Math.max(0, this.#rows - r.rows);
    this.#bytes = Math.max(0, this.#bytes - r.bytes);
  }

  #drop(reason: OutboxDropReason, count: number): void {
    if (count <= 0) return;
    this.drops[reason] += count;
    this.#o.metrics.drops.inc({ stage: 'outbox', reason }, count);
    this.emit('drop', reason, count);
    const name = DROP_CODES[reason];
    if (name) {
      const limiter = this.#dropLogs.get(reason) ?? this.#dropLogs.set(reason, new RateLimitedLog()).get(reason)!;
      const c = this.#o.config;
      limiter.hit((suppressed) =>
        this.#o.log.warn(
          { reason, count, suppressed, code: errorCode(name), max_rows: c.max_rows, max_bytes: c.max_bytes, on_full: c.on_full },
          name === 'OUTBOX_CLOSED' ? 'records arrived after the outbox closed: dropped' : 'outbox full: records dropped',
        ),
      );
    }
  }

  #scheduleRetry(): void {
    const cap = this.#o.config.batch_max * RETRY_BATCHES;
    if (this.#pending.length > cap) this.#drop('write-error', this.#pending.splice(0, this.#pending.length - cap).length);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.flush(), 1000);
  }

  /** A scrape reads the figures as they are: it sweeps nothing and scans nothing. */
  #collect(): void {
    const m = this.#o.metrics;
    m.outboxRows.set(this.#rows);
    m.outboxBytes.set(this.#bytes);
    m.outboxOldest.set((this.oldestAgeMs() ?? 0) / 1000);
    m.deadLetters.set(this.store.deadLetterCount());
  }
}
