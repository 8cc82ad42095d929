// An MQTT.js client that keeps every message it receives (with its retain flag and MQTT 5 user properties), and
// the checks every published reading must pass.
import assert from 'node:assert/strict';
import { connectAsync, type MqttClient } from 'mqtt';
import { waitUntil } from '../support/wait.ts';

export interface Received {
  topic: string;
  text: string;
  retain: boolean;
  userProperties: Record<string, string | string[]> | undefined;
}

export interface Collector {
  readonly messages: Received[];
  /** Resolves once `predicate` holds over the messages so far; re-checked on every message. */
  waitFor(predicate: (messages: Received[]) => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): Promise<void>;
}

export async function collect(url: string, topic: string, protocolVersion: 4 | 5 = 5): Promise<Collector> {
  const client: MqttClient = await connectAsync(url, { protocolVersion, reconnectPeriod: 0, clean: true }, false);
  const messages: Received[] = [];
  const listeners = new Set<() => void>();
  client.on('message', (t, payload, packet) => {
    messages.push({ topic: t, text: payload.toString(), retain: packet.retain, userProperties: packet.properties?.userProperties });
    listeners.forEach((l) => l());
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return {
    messages,
    waitFor: (predicate, timeoutMs, what) =>
      waitUntil({
        check: () => (predicate(messages) ? true : undefined),
        subscribe: (recheck) => (listeners.add(recheck), () => listeners.delete(recheck)),
        timeoutMs,
        describe: () => `${what}; ${messages.length} messages on ${topic}, last: ${JSON.stringify(messages.slice(-3))}`,
      }).then(() => undefined),
    close: () => client.endAsync(true),
  };
}

/** The first message a fresh subscription to `topic` gets: the retained one, if any. */
export async function retainedOn(url: string, topic: string, protocolVersion: 4 | 5 = 5): Promise<Received> {
  const c = await collect(url, topic, protocolVersion);
  try {
    await c.waitFor((m) => m.length > 0, 5000, `a retained message on ${topic}`);
    return c.messages[0] as Received;
  } finally {
    await c.close();
  }
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface Reading {
  id: string;
  device: string;
  sensor: string;
  seq: number;
  ts: string;
  value: number;
  unit: string;
}

/** Parses a reading published on `edgeloop/<device>/sensors/<sensor>` and checks every field's form. */
export function checkReading(topic: string, text: string, device: string, unit: string): Reading {
  const m = /^edgeloop\/([^/]+)\/sensors\/([^/]+)$/.exec(topic);
  assert.ok(m, `unexpected topic ${topic}`);
  assert.equal(m[1], device);
  const r = JSON.parse(text) as Reading;
  assert.match(r.id, UUID_V7, text);
  assert.equal(r.device, device);
  assert.equal(r.sensor, m[2]);
  assert.ok(Number.isInteger(r.seq) && r.seq >= 1, text);
  assert.match(r.ts, ISO_MS_UTC, text);
  assert.ok(Math.abs(Date.parse(r.ts) - Date.now()) < 60_000, `ts ${r.ts} is not now`);
  assert.equal(typeof r.value, 'number', text);
  assert.equal(r.unit, unit);
  return r;
}

/** Per sensor, the seqs in arrival order. */
export function seqsBySensor(readings: Reading[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of readings) {
    const list = out.get(r.sensor) ?? [];
    list.push(r.seq);
    out.set(r.sensor, list);
  }
  return out;
}

/** Each sensor's seqs must go up by exactly 1 (no gap, duplicate or reordering), from 1 unless `fromOne` is false. */
export function assertConsecutive(seqs: Map<string, number[]>, fromOne = true): void {
  for (const [sensor, list] of seqs) {
    const first = fromOne ? 1 : (list[0] ?? 1);
    assert.deepEqual(list, list.map((_, i) => first + i), `seqs of ${sensor}`);
  }
}
