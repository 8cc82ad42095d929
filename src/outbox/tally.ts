// What a store holds, by topic and by priority, kept up to date as rows come and go, so the figures a status read
// shows cost nothing: no scan, no GROUP BY over the whole outbox. Both stores keep one.
import type { StoreBreakdown } from './store.ts';

interface Count {
  rows: number;
  bytes: number;
}

export class Tally {
  #topics = new Map<string, Count>();
  #priorities = new Map<number, number>();
  rows = 0;
  bytes = 0;

  /** Rows of one topic and priority came (`rows` > 0) or went (`rows` < 0). */
  add(topic: string, priority: number, rows: number, bytes: number): void {
    const t = this.#topics.get(topic) ?? { rows: 0, bytes: 0 };
    t.rows += rows;
    t.bytes += bytes;
    if (t.rows > 0) this.#topics.set(topic, t);
    else this.#topics.delete(topic);
    const p = (this.#priorities.get(priority) ?? 0) + rows;
    if (p > 0) this.#priorities.set(priority, p);
    else this.#priorities.delete(priority);
    this.rows += rows;
    this.bytes += bytes;
  }

  clear(): void {
    this.#topics.clear();
    this.#priorities.clear();
    this.rows = 0;
    this.bytes = 0;
  }

  breakdown(): StoreBreakdown {
    return {
      byTopic: [...this.#topics].map(([topic, c]) => ({ topic, rows: c.rows, bytes: c.bytes })).sort((a, b) => (a.topic < b.topic ? -1 : 1)),
      byPriority: [...this.#priorities].map(([priority, rows]) => ({ priority, rows })).sort((a, b) => b.priority - a.priority),
    };
  }
}
