// Home Assistant's side of discovery in the tests: a client on the broker that records every config message and
// keeps the retained configs as they stand (an empty message removes one).
import { EventEmitter } from 'node:events';
import type { TestContext } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { waitUntil } from '../support/wait.ts';

export interface DiscoveryWatcher {
  client: MqttClient;
  /** Every config message, in order. */
  seen: { topic: string; payload: string }[];
  retained: Map<string, string>;
  /** Waits for `check` to hold, re-checked at every message. */
  until(what: string, check: () => boolean): Promise<true>;
}

export async function watchDiscovery(t: TestContext, url: string, prefix = 'homeassistant'): Promise<DiscoveryWatcher> {
  const client = await connectAsync(url, { protocolVersion: 5 });
  t.after(() => client.endAsync(true));
  const seen: DiscoveryWatcher['seen'] = [];
  const retained = new Map<string, string>();
  const changed = new EventEmitter();
  client.on('message', (topic, payload) => {
    seen.push({ topic, payload: payload.toString() });
    if (payload.length === 0) retained.delete(topic);
    else retained.set(topic, payload.toString());
    changed.emit('change');
  });
  await client.subscribeAsync(`${prefix}/+/+/config`, { qos: 1 });
  const until = (what: string, check: () => boolean) =>
    waitUntil({
      check: () => (check() ? true : undefined),
      subscribe: (recheck) => {
        changed.on('change', recheck);
        return () => changed.off('change', recheck);
      },
      timeoutMs: 5000,
      describe: () => `${what}; retained: ${[...retained.keys()].join(', ')}`,
    });
  return { client, seen, retained, until };
}
