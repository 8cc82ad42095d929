// An MQTT.js subscriber that audits delivery: per sensor, which sequence
// numbers arrived, which were missing and which arrived twice. It uses a
// persistent QoS 1 session, so messages published while it is offline (or
// while the broker restarts) are queued by the broker and still counted.
import { connect } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { waitUntil } from './wait.ts';

export interface SubscriberOptions {
  url: string;
  topic: string;
  /** Fixed so that a later subscriber with the same id resumes the session. */
  clientId: string;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
}

export interface SensorStats {
  /** Messages received, duplicates included. */
  count: number;
  /** Distinct seqs received. */
  distinct: number;
  minSeq: number;
  maxSeq: number;
  /** Seqs between minSeq and maxSeq never received, ascending. */
  gaps: number[];
  /** Messages whose id or seq this sensor had already delivered. */
  duplicates: number;
  /** New seqs that arrived after a higher one (filled a gap late). */
  reordered: number;
}

export interface SubscriberStats {
  received: number;
  duplicates: number;
  /** Payloads that were not JSON objects with a string `sensor` and an integer `seq`. */
  malformed: number;
  perSensor: Map<string, SensorStats>;
}

export interface Subscriber {
  /** Resolves once `predicate` holds; re-evaluated on every message. */
  waitFor(predicate: (stats: SubscriberStats) => boolean, timeoutMs: number): Promise<void>;
  stats(): SubscriberStats;
  /** Disconnects, keeping the broker-side session and its queue. */
  close(): Promise<void>;
}

interface SensorState {
  count: number;
  seqs: Set<number>;
  minSeq: number;
  maxSeq: number;
  /** Maintained incrementally so stats() stays cheap when waitFor runs it per message. */
  missing: Set<number>;
  duplicates: number;
  reordered: number;
}

// MQTT 5 caps the session expiry at 2^32-1 s, which means "never expires".
const SESSION_NEVER_EXPIRES = 0xffffffff;

function parse(payload: Buffer): { id: unknown; sensor: string; seq: number } | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { id, sensor, seq } = value as Record<string, unknown>;
    if (typeof sensor !== 'string' || typeof seq !== 'number' || !Number.isInteger(seq)) return undefined;
    return { id, sensor, seq };
  } catch {
    return undefined;
  }
}

export async function startSubscriber(opts: SubscriberOptions): Promise<Subscriber> {
  const protocolVersion = opts.protocolVersion ?? 5;
  const sensors = new Map<string, SensorState>();
  const ids = new Set<unknown>();
  const listeners = new Set<() => void>();
  let received = 0;
  let duplicates = 0;
  let malformed = 0;

  const record = (payload: Buffer): void => {
    received += 1;
    const message = parse(payload);
    if (message === undefined) {
      malformed += 1;
      return;
    }
    const { id, sensor, seq } = message;
    let state = sensors.get(sensor);
    if (state === undefined) {
      state = { count: 0, seqs: new Set(), minSeq: seq, maxSeq: seq, missing: new Set(), duplicates: 0, reordered: 0 };
      sensors.set(sensor, state);
    }
    state.count += 1;
    const idSeen = id !== undefined && ids.has(id);
    if (id !== undefined) ids.add(id);
    if (idSeen || state.seqs.has(seq)) {
      state.duplicates += 1;
      duplicates += 1;
      return;
    }
    if (state.seqs.size > 0 && seq < state.maxSeq) state.reordered += 1;
    state.seqs.add(seq);
    state.missing.delete(seq);
    for (let s = state.maxSeq + 1; s < seq; s += 1) state.missing.add(s);
    for (let s = seq + 1; s < state.minSeq; s += 1) state.missing.add(s);
    state.maxSeq = Math.max(state.maxSeq, seq);
    state.minSeq = Math.min(state.minSeq, seq);
  };

  const stats = (): SubscriberStats => ({
    received,
    duplicates,
    malformed,
    perSensor: new Map(
      [...sensors].map(([sensor, s]) => [
        sensor,
        {
          count: s.count,
          distinct: s.seqs.size,
          minSeq: s.minSeq,
          maxSeq: s.maxSeq,
          gaps: [...s.missing].sort((a, b) => a - b),
          duplicates: s.duplicates,
          reordered: s.reordered,
        },
      ]),
    ),
  });

  const client: MqttClient = connect(opts.url, {
    clientId: opts.clientId,
    clean: false,
    protocolVersion,
    reconnectPeriod: 200,
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } } : {}),
    ...(opts.username === undefined ? {} : { username: opts.username, password: opts.password }),
  });
  // Listen before the connection is up: a resumed session delivers its queue
  // right behind CONNACK, possibly in the same read, before a promise continuation runs.
  client.on('message', (_topic, payload) => {
    record(payload);
    for (const listener of listeners) listener();
  });
  // Kept for timeout messages; also stops an 'error' event from crashing the test process.
  let lastError: Error | undefined;
  client.on('error', (err) => (lastError = err));
  await new Promise<void>((resolve, reject) => {
    const onConnect = (): void => {
      client.off('error', onError);
      resolve();
    };
    const onError = (err: Error): void => {
      client.off('connect', onConnect);
      client.end(true);
      reject(err);
    };
    client.once('connect', onConnect);
    client.once('error', onError);
  });
  await client.subscribeAsync(opts.topic, { qos: 1 });

  const describe = (): string => {
    const s = stats();
    const sensorsText = [...s.perSensor]
      .map(([name, v]) => `${name}: count=${v.count} distinct=${v.distinct} seq=${v.minSeq}..${v.maxSeq} gaps=[${v.gaps.slice(0, 20).join(',')}${v.gaps.length > 20 ? ',…' : ''}] dups=${v.duplicates}`)
      .join('; ');
    return `subscriber ${opts.clientId} on ${opts.topic}: received=${s.received} duplicates=${s.duplicates} malformed=${s.malformed} {${sensorsText}}${lastError === undefined ? '' : ` last error: ${lastError.message}`}`;
  };

  return {
    waitFor: (predicate, timeoutMs) =>
      waitUntil({
        check: () => (predicate(stats()) ? true : undefined),
        subscribe: (recheck) => {
          listeners.add(recheck);
          return () => listeners.delete(recheck);
        },
        timeoutMs,
        describe: () => `predicate never held; ${describe()}`,
      }).then(() => undefined),
    stats,
    close: () => client.endAsync(),
  };
}
