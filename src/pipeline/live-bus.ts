// Fan-out of durable records to live listeners (WebSocket clients, the dashboard) at the moment they are committed,
// without waiting for the broker. Listeners must not throw or block: a WebSocket client has its own bounded buffer.
// Like an MQTT broker's retained messages, the bus keeps the last record of each topic, so a new subscriber sees the
// current values at once instead of an empty page until the next reading.
import type { DurableRecord } from './record.ts';

export type LiveListener = (record: DurableRecord) => void;

/** Topics whose last record is kept; past it the least recently updated topic is forgotten. */
export const RETAINED_TOPICS_MAX = 4096;

export class LiveBus {
  #listeners = new Set<LiveListener>();
  #last = new Map<string, DurableRecord>();

  subscribe(listener: LiveListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  publish(record: DurableRecord): void {
    // Delete first so the map's order stays "least recently updated first".
    this.#last.delete(record.topic);
    this.#last.set(record.topic, record);
    if (this.#last.size > RETAINED_TOPICS_MAX) this.#last.delete(this.#last.keys().next().value as string);
    for (const l of this.#listeners) l(record);
  }

  /** The last record of every topic matching `filter`, in the order their topics were last updated. */
  retained(filter: string): DurableRecord[] {
    return [...this.#last.values()].filter((r) => topicMatches(filter, r.topic));
  }
}

/** MQTT-style matching of a topic against a filter with `+` (one level) and `#` (the rest); `*` is an alias of `+`. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const part = f[i];
    if (part === '#') return true;
    if (i >= t.length) return false;
    if (part !== '+' && part !== '*' && part !== t[i]) return false;
  }
  return f.length === t.length;
}
