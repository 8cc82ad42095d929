// The outbox on SQLite (node:sqlite, WAL). Rows are ordered by an AUTOINCREMENT sequence (never reused, never the
// wall clock). Group commit: the caller hands over a batch and it becomes one transaction.
import { closeSync, existsSync, fdatasync, openSync, renameSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { messageOf } from '../errors.ts';
import { MarkFile, type Marks } from './mark-file.ts';
import type { DeadLetter, NewRow, OutboxStore, StoreBreakdown, StoreTotals, StoredRow } from './store.ts';
import { Tally } from './tally.ts';

export type Durability = 'batch' | 'each' | 'os';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  oseq     INTEGER PRIMARY KEY AUTOINCREMENT,
  id       TEXT    NOT NULL,
  topic    TEXT    NOT NULL,
  priority INTEGER NOT NULL,
  ts       REAL    NOT NULL,
  created  INTEGER NOT NULL,
  bytes    INTEGER NOT NULL,
  pending  INTEGER NOT NULL,
  payload  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_priority ON records (priority, oseq);

CREATE TABLE IF NOT EXISTS seqs (source TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('id', randomblob(16));
CREATE TABLE IF NOT EXISTS marks (
  route    INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  oseq     INTEGER NOT NULL,
  PRIMARY KEY (route, priority)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
  oseq        INTEGER NOT NULL,
  route       TEXT    NOT NULL,
  id          TEXT    NOT NULL,
  topic       TEXT    NOT NULL,
  reason_code INTEGER NOT NULL,
  reason      TEXT    NOT NULL,
  failed_at   INTEGER NOT NULL,
  payload     TEXT    NOT NULL,
  PRIMARY KEY (oseq, route)
);
`;

type Removed = { rows: number; bytes: number };
/** Rows deleted, as `RETURNING topic, priority, bytes` or a `GROUP BY topic` gives them. */
type Gone = { topic: string; priority: number; rows?: number; bytes: number };
const EXPIRE_PAGE = 1000;

export interface OpenResult {
  store: SqliteStore;
  /** Set when a corrupt file was moved aside: its new name and why. */
  quarantined?: { path: string; reason: string };
}

/** Opens the outbox file; a corrupt one is moved aside (never deleted) and a fresh one is created. */
export function openSqliteStore(path: string, durability: Durability): OpenResult {
  try {
    return { store: new SqliteStore(path, durability) };
  } catch (err) {
    const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm', '-marks']) {
      if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
    }
    return { store: new SqliteStore(path, durability), quarantined: { path: aside, reason: messageOf(err) } };
  }
}

export class SqliteStore implements OutboxStore {
  readonly kind = 'sqlite';
  readonly path: string;
  #db: DatabaseSync;
  /** `batch`: commits do not wait for the disk; `sync()` then fsyncs the WAL on a libuv thread. */
  #deferSync: boolean;
  /** `each`: SQLite fsyncs every commit (synchronous = FULL). */
  #full: boolean;
  #walFd: number | undefined;
  #syncsInFlight = 0;
  #marks: Marks = new Map();
  /** The marks as they were at the last sweep. */
  #swept: Marks = new Map();
  /** Marks newer than the ones in the database: in the mark file until the next sweep stores them. */
  #marksDirty = false;
  #markFile: MarkFile;
  /** Rows and bytes by topic and priority, kept as rows come and go (status reads cost no scan). */
  #tally = new Tally();
  #deadLetters: number;
  #s: Record<
    | 'insert' | 'seq' | 'fetch' | 'mark' | 'clearBit' | 'delDone' | 'evict' | 'oldest' | 'deleteUpTo' | 'moveDead'
    | 'purge' | 'doneRange' | 'sweepRange' | 'head' | 'begin' | 'commit' | 'rollback',
    StatementSync
  >;

  constructor(path: string, durability: Durability) {
    this.path = path;
    const db = new DatabaseSync(path);
    this.#db = db;
    try {
      // Set before the file is first written (ignored afterwards): 1 KB records fit 16 to a page, which halves the
      // cost of an insert measured against the 4 KB default; checkpoints every 2000 pages (32 MB of WAL).
      db.exec('PRAGMA page_size = 16384');
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA wal_autocheckpoint = 2000');
      const check = db.prepare('PRAGMA quick_check').all() as { quick_check: string }[];
      const verdict = check.map((r) => r.quick_check).join('; ');
      if (verdict !== 'ok') throw new Error(`integrity check failed: ${verdict}`);
      // each: SQLite fsyncs the WAL at every commit. batch: commits only write the WAL and `sync()` fsyncs it off the
      // JavaScript thread before the records are released (survives power loss). os: the OS flushes (survives a crash).
      db.exec(`PRAGMA synchronous = ${durability === 'each' ? 'FULL' : 'NORMAL'}`);
      db.exec(SCHEMA);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#deferSync = durability === 'batch';
    this.#full = durability === 'each';
    const p = (sql: string) => db.prepare(sql);
    const ids = 'SELECT value FROM json_each(?)';
    // Rows of one priority in (after, upTo] whose routes are all among `allowed` (a bitmask).
    const range = 'FROM records WHERE priority = ? AND oseq > ? AND oseq <= ? AND (pending & ~?) = 0';
    this.#s = {
      insert: p(
        'INSERT INTO records (id, topic, priority, ts, created, bytes, pending, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      seq: p('INSERT INTO seqs (source, seq) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET seq = excluded.seq'),
      fetch: p(
        'SELECT oseq, id, topic, priority, ts, payload FROM records WHERE priority = ? AND oseq > ? AND oseq <= ? AND (pending & ?) != 0 ORDER BY oseq LIMIT ?',
      ),
      mark: p(
        'INSERT INTO marks (route, priority, oseq) VALUES (?, ?, ?) ON CONFLICT (route, priority) DO UPDATE SET oseq = max(oseq, excluded.oseq)',
      ),
      // Counted first (by topic, for the tally), then deleted without RETURNING: no JavaScript object per deleted row.
      doneRange: p(`SELECT topic, priority, count(*) AS rows, total(bytes) AS bytes ${range} GROUP BY topic`),
      sweepRange: p(`DELETE ${range}`),
      clearBit: p(`UPDATE records SET pending = pending & ~? WHERE oseq IN (${ids}) AND (pending & ?) != 0`),
      delDone: p(`DELETE FROM records WHERE oseq IN (${ids}) AND pending = 0 RETURNING topic, priority, bytes`),
      evict: p('DELETE FROM records WHERE oseq IN (SELECT oseq FROM records ORDER BY priority, oseq LIMIT ?) RETURNING topic, priority, bytes'),
      oldest: p('SELECT oseq, created FROM records ORDER BY oseq LIMIT ?'),
      head: p('SELECT created FROM records ORDER BY oseq LIMIT 1'),
      deleteUpTo: p('DELETE FROM records WHERE oseq <= ? RETURNING topic, priority, bytes'),
      moveDead: p(
        `INSERT OR REPLACE INTO dead_letters (oseq, route, id, topic, reason_code, reason, failed_at, payload)
         SELECT oseq, ?, id, topic, ?, ?, ?, payload FROM records WHERE oseq = ?`,
      ),
      purge: p('DELETE FROM records'),
      begin: p('BEGIN'),
      commit: p('COMMIT'),
      rollback: p('ROLLBACK'),
    };
    // The one scan of the tally: at open.
    const groups = db.prepare('SELECT topic, priority, count(*) AS rows, total(bytes) AS bytes FROM records GROUP BY topic, priority').all();
    for (const g of groups as unknown as Required<Gone>[]) this.#tally.add(g.topic, g.priority, g.rows, g.bytes);
    this.#deadLetters = (db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n;
    const marks = db.prepare('SELECT route, priority, oseq FROM marks').all() as { route: number; priority: number; oseq: number }[];
    for (const m of marks) this.#routeMarks(m.route).set(m.priority, m.oseq);
    const { value: identity } = db.prepare("SELECT value FROM meta WHERE key = 'id'").get() as { value: Uint8Array };
    this.#markFile = new MarkFile(`${path}-marks`, Buffer.from(identity));
    // A mark past the last oseq ever given belongs to rows a power loss took back (durability os): not trusted.
    const last = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'records'").get() as { seq: number } | undefined;
    const newer = this.#markFile.read();
    if (newer && [...newer.values()].every((m) => [...m.values()].every((oseq) => oseq <= (last?.seq ?? 0)))) {
      for (const [route, m] of newer) this.#raise(route, m);
    }
  }

  loadSeqs(): Map<string, number> {
    const rows = this.#db.prepare('SELECT source, seq FROM seqs').all() as { source: string; seq: number }[];
    return new Map(rows.map((r) => [r.source, r.seq]));
  }

  append(rows: NewRow[]): number[] {
    const oseqs = this.#tx(() => {
      const last = new Map<string, number>();
      const oseqs = rows.map((r) => {
        last.set(r.source, r.seq);
        const out = this.#s.insert.run(r.id, r.topic, r.priority, r.ts, r.created, r.bytes, r.pending, r.payload);
        return Number(out.lastInsertRowid);
      });
      for (const [source, seq] of last) this.#s.seq.run(source, seq);
      return oseqs;
    });
    for (const r of rows) this.#tally.add(r.topic, r.priority, 1, r.bytes);
    return oseqs;
  }

  sync(): Promise<void> {
    if (!this.#deferSync || !this.#db.isOpen) return Promise.resolve();
    // fdatasync on our own descriptor flushes the file, whichever descriptor wrote it. The WAL exists once a
    // transaction has been written, and SQLite keeps the same file while the database is open.
    return new Promise((resolve, reject) => {
      let fd: number;
      try {
        fd = this.#walFd ??= openSync(`${this.path}-wal`, 'r');
      } catch (err) {
        reject(err);
        return;
      }
      this.#syncsInFlight++;
      fdatasync(fd, (err) => {
        if (--this.#syncsInFlight === 0 && !this.#db.isOpen) this.#closeWal();
        if (err) reject(err);
        else resolve();
      });
    });
  }

  fetch(routeBit: number, priority: number, after: number, upTo: number, limit: number): StoredRow[] {
    return this.#s.fetch.all(priority, after, upTo, routeBit, limit) as unknown as StoredRow[];
  }

  priorities(): number[] {
    const rows = this.#db.prepare('SELECT DISTINCT priority FROM records ORDER BY priority DESC').all();
    return rows.map((r) => (r as { priority: number }).priority);
  }

  mark(route: number, marks: Iterable<[number, number]>): void {
    if (this.#raise(route, marks)) this.#markFile.write(this.#marks);
  }

  marks(route: number): Map<number, number> {
    return new Map(this.#marks.get(route));
  }

  /**
   * Only rows a mark has passed since the last sweep can have become deliverable: for each mark that moved, its new
   * range is split at the other routes' marks, and in each piece a row goes when all its routes are among those
   * whose mark reaches that far. A dead route's rows are thus not read again at every sweep.
   */
  sweep(): Removed {
    const gone: Gone[] = [];
    this.#tx(() => {
      this.#storeMarks();
      for (const [route, m] of this.#marks) {
        for (const [priority, at] of m) {
          const from = this.#swept.get(route)?.get(priority) ?? 0;
          if (at > from) this.#sweepRange(priority, from, at, gone);
        }
      }
    }, true);
    this.#swept = new Map([...this.#marks].map(([route, m]) => [route, new Map(m)]));
    return this.#gone(gone);
  }

  #sweepRange(priority: number, lo: number, hi: number, gone: Gone[]): void {
    const marks = [...this.#marks].map(([route, m]) => ({ bit: 2 ** route, at: m.get(priority) ?? 0 }));
    marks.sort((a, b) => a.at - b.at);
    // Routes that never marked anything are not in `allowed`: rows they carry stay.
    let allowed = marks.reduce((mask, m) => mask + m.bit, 0);
    let after = 0;
    for (const m of marks) {
      const from = Math.max(after, lo);
      const to = Math.min(m.at, hi);
      if (to > from) {
        const done = this.#s.doneRange.all(priority, from, to, allowed) as unknown as Gone[];
        if (done.length > 0) {
          this.#s.sweepRange.run(priority, from, to, allowed);
          gone.push(...done);
        }
      }
      after = Math.max(after, m.at);
      allowed -= m.bit;
    }
  }

  deadLetter(routeBit: number, letter: Omit<DeadLetter, 'payload' | 'id' | 'topic'>): Removed {
    const gone = this.#tx(() => {
      this.#s.moveDead.run(letter.route, letter.reasonCode, letter.reason, letter.failedAt, letter.oseq);
      const list = JSON.stringify([letter.oseq]);
      this.#s.clearBit.run(routeBit, list, routeBit);
      return this.#s.delDone.all(list) as unknown as Gone[];
    });
    this.#deadLetters++;
    return this.#gone(gone);
  }

  evict(count: number): Removed {
    return this.#gone(this.#s.evict.all(count) as unknown as Gone[]);
  }

  /**
   * Rows enter in `created` order, so the expired ones are a prefix in oseq order: read the head in pages and cut
   * there, without an index on `created` to maintain on every insert and delete.
   */
  expire(before: number): Removed {
    const total = { rows: 0, bytes: 0 };
    for (;;) {
      const head = this.#s.oldest.all(EXPIRE_PAGE) as { oseq: number; created: number }[];
      const fresh = head.findIndex((r) => r.created >= before);
      const last = head[(fresh === -1 ? head.length : fresh) - 1];
      if (last === undefined) return total;
      const removed = this.#gone(this.#s.deleteUpTo.all(last.oseq) as unknown as Gone[]);
      total.rows += removed.rows;
      total.bytes += removed.bytes;
      if (fresh !== -1 || head.length < EXPIRE_PAGE) return total;
    }
  }

  /** From the tally and the head of the table (the primary key): no scan. */
  totals(): StoreTotals {
    const head = this.#s.head.get() as { created: number } | undefined;
    return { rows: this.#tally.rows, bytes: this.#tally.bytes, oldestCreated: head?.created ?? null };
  }

  breakdown(): StoreBreakdown {
    return this.#tally.breakdown();
  }

  deadLetters(limit: number): DeadLetter[] {
    return this.#db
      .prepare(
        `SELECT oseq, id, topic, route, reason_code AS reasonCode, reason, failed_at AS failedAt, payload
         FROM dead_letters ORDER BY failed_at DESC LIMIT ?`,
      )
      .all(limit)
      .map((r) => ({ ...r })) as unknown as DeadLetter[];
  }

  deadLetterCount(): number {
    return this.#deadLetters;
  }

  purge(): Removed {
    const removed = { rows: this.#tally.rows, bytes: this.#tally.bytes };
    this.#s.purge.run();
    this.#tally.clear();
    return removed;
  }

  /** Takes deleted rows off the tally; returns how many rows and bytes they were. */
  #gone(rows: Gone[]): Removed {
    const total = { rows: 0, bytes: 0 };
    for (const r of rows) {
      const n = r.rows ?? 1;
      this.#tally.add(r.topic, r.priority, -n, -r.bytes);
      total.rows += n;
      total.bytes += r.bytes;
    }
    return total;
  }

  close(): void {
    if (this.#db.isOpen) {
      this.#tx(() => this.#storeMarks(), true);
      this.#markFile.close();
      // Closing checkpoints the WAL into the database file, with fsyncs.
      this.#db.close();
    }
    if (this.#syncsInFlight === 0) this.#closeWal();
  }

  #closeWal(): void {
    if (this.#walFd !== undefined) closeSync(this.#walFd);
    this.#walFd = undefined;
  }

  /** Moves the route's marks forward; true when one moved. */
  #raise(route: number, marks: Iterable<[number, number]>): boolean {
    const mine = this.#routeMarks(route);
    let moved = false;
    for (const [priority, oseq] of marks) {
      if (oseq > (mine.get(priority) ?? 0)) {
        mine.set(priority, oseq);
        moved = true;
      }
    }
    this.#marksDirty ||= moved;
    return moved;
  }

  #storeMarks(): void {
    if (!this.#marksDirty) return;
    for (const [route, m] of this.#marks) for (const [priority, oseq] of m) this.#s.mark.run(route, priority, oseq);
    this.#marksDirty = false;
  }

  #routeMarks(route: number): Map<number, number> {
    const m = this.#marks.get(route) ?? new Map<number, number>();
    this.#marks.set(route, m);
    return m;
  }

  /** One transaction; `relaxed`: without an fsync even when every commit has one (`each`). */
  #tx<T>(fn: () => T, relaxed = false): T {
    // Not prepared statements: SQLite applies this pragma when it is compiled, not when it runs.
    const full = relaxed && this.#full;
    if (full) this.#db.exec('PRAGMA synchronous = NORMAL');
    this.#s.begin.run();
    try {
      const out = fn();
      this.#s.commit.run();
      return out;
    } catch (err) {
      this.#s.rollback.run();
      throw err;
    } finally {
      if (full) this.#db.exec('PRAGMA synchronous = FULL');
    }
  }
}
