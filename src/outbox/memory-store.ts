// The outbox in memory: same contract as the SQLite store, nothing survives the process. For tests, benchmarks and
// devices that must not write to flash (`outbox.store: memory`).
import type { DeadLetter, NewRow, OutboxStore, StoreBreakdown, StoreTotals, StoredRow } from './store.ts';
import { Tally } from './tally.ts';

interface Row extends StoredRow {
  created: number;
  bytes: number;
  pending: number;
}

type Removed = { rows: number; bytes: number };

export class MemoryStore implements OutboxStore {
  readonly kind = 'memory';
  // A Map keeps insertion order, which is oseq order.
  #rows = new Map<number, Row>();
  #seqs = new Map<string, number>();
  #dead: DeadLetter[] = [];
  #next = 1;
  /** route → priority → oseq delivered up to. */
  #marks = new Map<number, Map<number, number>>();
  #tally = new Tally();

  loadSeqs(): Map<string, number> {
    return new Map(this.#seqs);
  }

  append(rows: NewRow[]): number[] {
    return rows.map((r) => {
      const oseq = this.#next++;
      const { source: _s, seq: _q, ...rest } = r;
      this.#rows.set(oseq, { ...rest, oseq });
      this.#seqs.set(r.source, r.seq);
      this.#tally.add(r.topic, r.priority, 1, r.bytes);
      return oseq;
    });
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  fetch(routeBit: number, priority: number, after: number, upTo: number, limit: number): StoredRow[] {
    const out: StoredRow[] = [];
    for (const r of this.#rows.values()) {
      if (out.length >= limit || r.oseq > upTo) break;
      if (r.priority === priority && r.oseq > after && (r.pending & routeBit) !== 0) {
        out.push({ oseq: r.oseq, id: r.id, topic: r.topic, priority: r.priority, ts: r.ts, payload: r.payload });
      }
    }
    return out;
  }

  priorities(): number[] {
    return [...new Set([...this.#rows.values()].map((r) => r.priority))].sort((a, b) => b - a);
  }

  mark(route: number, marks: Iterable<[number, number]>): void {
    const mine = this.marks(route);
    for (const [priority, oseq] of marks) mine.set(priority, Math.max(oseq, mine.get(priority) ?? 0));
    this.#marks.set(route, mine);
  }

  marks(route: number): Map<number, number> {
    return new Map(this.#marks.get(route));
  }

  sweep(): Removed {
    const done = (r: Row) => {
      for (let bits = r.pending, route = 0; bits !== 0; bits >>>= 1, route++) {
        if ((bits & 1) !== 0 && (this.#marks.get(route)?.get(r.priority) ?? 0) < r.oseq) return false;
      }
      return true;
    };
    return this.#remove([...this.#rows.values()].filter(done).map((r) => r.oseq));
  }

  deadLetter(routeBit: number, letter: Omit<DeadLetter, 'payload' | 'id' | 'topic'>): Removed {
    const row = this.#rows.get(letter.oseq);
    if (!row) return { rows: 0, bytes: 0 };
    this.#dead.push({ ...letter, id: row.id, topic: row.topic, payload: row.payload });
    return this.#remove(this.#clear(letter.oseq, routeBit) ? [letter.oseq] : []);
  }

  evict(count: number): Removed {
    const victims = [...this.#rows.values()]
      .sort((a, b) => a.priority - b.priority || a.oseq - b.oseq)
      .slice(0, count)
      .map((r) => r.oseq);
    return this.#remove(victims);
  }

  expire(before: number): Removed {
    return this.#remove([...this.#rows.values()].filter((r) => r.created < before).map((r) => r.oseq));
  }

  totals(): StoreTotals {
    const head = this.#rows.values().next();
    return { rows: this.#tally.rows, bytes: this.#tally.bytes, oldestCreated: head.done ? null : head.value.created };
  }

  breakdown(): StoreBreakdown {
    return this.#tally.breakdown();
  }

  deadLetters(limit: number): DeadLetter[] {
    return this.#dead.slice(-limit).reverse();
  }

  deadLetterCount(): number {
    return this.#dead.length;
  }

  purge(): Removed {
    return this.#remove([...this.#rows.keys()]);
  }

  close(): void {}

  /** Clears the route's bit; true when no route needs the row any more. */
  #clear(oseq: number, routeBit: number): boolean {
    const row = this.#rows.get(oseq);
    if (!row || (row.pending & routeBit) === 0) return false;
    row.pending &= ~routeBit;
    return row.pending === 0;
  }

  #remove(oseqs: number[]): Removed {
    let bytes = 0;
    let rows = 0;
    for (const o of oseqs) {
      const r = this.#rows.get(o);
      if (!r) continue;
      bytes += r.bytes;
      rows++;
      this.#rows.delete(o);
      this.#tally.add(r.topic, r.priority, -1, -r.bytes);
    }
    return { rows, bytes };
  }
}
