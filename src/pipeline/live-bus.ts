// Fan-out of durable records to live listeners (WebSocket clients, the dashboard) at the moment they are committed,
// without waiting for the broker. Listeners must not throw or block: a WebSocket client has its own bounded buffer.
import type { DurableRecord } from './record.ts';

export type LiveListener = (record: DurableRecord) => void;

export class LiveBus {
  #listeners = new Set<LiveListener>();

  subscribe(listener: LiveListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  publish(record: DurableRecord): void {
    for (const l of this.#listeners) l(record);
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
