// `npm run bench -- outbox [--messages 50000] [--rounds 7] [--backlog 100000]`: 1 KB QoS 1 messages to a local
// Mosquitto, in one run:
// (a) raw MQTT.js sending the same messages as the outbox (each record serialised, `edgeloop-id` user property),
//     100 in flight, nothing persisted; (a0) for reference, raw MQTT.js repeating one constant payload without
//     properties;
// (b) the same records through the edgeloop outbox (SQLite, durability batch, window 100), the producer keeping at
//     most AHEAD records unacknowledged, as (a) keeps its window; (b_open) for reference, every record handed over at
//     once, 500 a turn, so a backlog builds and is read back from the store;
// (c) the drain rate of a backlog already in the outbox when the broker comes back; (d) for reference, MQTT.js
//     replaying its own offline queue.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { resolveConfig, routesOf } from '../src/app/config.ts';
import { Outbox } from '../src/outbox/outbox.ts';
import { Publisher } from '../src/outbox/publisher.ts';
import { SqliteStore } from '../src/outbox/sqlite-store.ts';
import { payloadOf, uuidv7, type RecordDraft } from '../src/pipeline/record.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { Metrics } from '../src/telemetry/metrics.ts';
import { MqttAdapter, type MqttRouteConfig } from '../src/transport/mqtt.ts';
import { startMosquitto } from '../test/support/mosquitto.ts';
import { adapterRows } from './outbox-adapters.ts';
import type { BenchArgs } from './run.ts';
import { median, numberArg } from './stats.ts';

const WINDOW = 100;
/** Records the closed-loop producer may have handed over and not yet seen acknowledged: ten windows. */
const AHEAD = 10 * WINDOW;
const CHUNK = 500;
const PAD = 'x'.repeat(900);
const log = createLogger('warn', { pretty: false });
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const turn = () => new Promise((resolve) => setImmediate(resolve));

function draft(i: number): RecordDraft {
  // ~1 KB once serialised with id, device, seq and ts.
  return { id: uuidv7(), kind: 'reading', source: `s${i % 16}`, topic: `bench/s${i % 16}`, ts: Date.now(), priority: 1, data: { pad: PAD } };
}

/** MQTT.js with `WINDOW` publishes in flight; `message(i)` gives each one's topic, payload and options. */
async function raw(url: string, n: number, message: (i: number) => [string, string, mqtt.IClientPublishOptions]): Promise<number> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'bench-raw-outbox' });
  (client.stream as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let acked = 0;
    const next = () => {
      if (++acked === n) resolve();
      else if (sent < n) send();
    };
    const send = () => {
      const [topic, payload, options] = message(sent++);
      client.publish(topic, payload, options, next);
    };
    for (let i = 0; i < Math.min(WINDOW, n); i++) send();
  });
  const ms = performance.now() - t0;
  await client.endAsync();
  return ms;
}

/** What the outbox publishes for record `i`, built the same way, by MQTT.js directly. */
const sameMessages = (i: number): [string, string, mqtt.IClientPublishOptions] => {
  const d = draft(i);
  const payload = payloadOf({ ...d, seq: Math.floor(i / 16) + 1 }, 'bench');
  return [`edgeloop/bench/${d.topic}`, payload, { qos: 1, properties: { userProperties: { 'edgeloop-id': d.id } } }];
};

const constant = JSON.stringify({ id: uuidv7(), device: 'bench', seq: 1, ts: new Date().toISOString(), pad: PAD });
const constantMessage = (i: number): [string, string, mqtt.IClientPublishOptions] => [`bench/raw/s${i % 16}`, constant, { qos: 1 }];

/** An outbox with one MQTT route on `url`, as the gateway composes it. */
function outboxRoute(url: string, dir: string) {
  const config = resolveConfig({ mqtt: { url, window: WINDOW }, outbox: { durability: 'batch', ttl_s: 0 } });
  const route = routesOf(config)[0]!;
  const metrics = new Metrics();
  const outbox = new Outbox({
    store: new SqliteStore(join(dir, 'outbox.db'), 'batch'),
    config: config.outbox,
    device: 'bench',
    routes: [{ name: route.name, topics: [...route.topics] }],
    log,
    metrics,
  });
  const adapter = new MqttAdapter({ ...(route.options as MqttRouteConfig & { name: string }), client_id: `bench-${Date.now()}` }, { device: 'bench', log });
  const publisher = new Publisher({ outbox, route: 0, adapter, topicPrefix: 'edgeloop/bench/', metrics, log });
  const acked = (n: number) =>
    new Promise<void>((resolve) => {
      let count = 0;
      publisher.on('acked', () => ++count === n && resolve());
    });
  const close = async () => {
    publisher.stop();
    await adapter.stop(2000);
    outbox.close();
  };
  return { outbox, adapter, publisher, acked, close };
}

/** Records through the outbox; `ahead`: at most this many handed over and not yet acknowledged (Infinity: open loop). */
async function throughOutbox(url: string, n: number, ahead: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-outbox-'));
  const r = outboxRoute(url, dir);
  const ready = new Promise<void>((resolve) => r.adapter.once('ready', () => resolve()));
  r.publisher.start();
  await ready;
  let acked = 0;
  let wake: (() => void) | undefined;
  const done = new Promise<void>((resolve) => {
    r.publisher.on('acked', () => {
      if (++acked === n) resolve();
      if (wake && added - acked <= ahead - CHUNK) wake();
    });
  });
  let added = 0;
  const t0 = performance.now();
  // The producer hands over chunks a turn of the event loop apart, as sources do, so publishing interleaves.
  while (added < n) {
    if (added - acked > ahead - CHUNK) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
    for (const end = Math.min(n, added + CHUNK); added < end; ) r.outbox.add(draft(added++));
    await turn();
  }
  await done;
  const ms = performance.now() - t0;
  await r.close();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

async function drain(url: string, n: number): Promise<{ fill_ms: number; drain_ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-drain-'));
  const r = outboxRoute(url, dir);
  const f0 = performance.now();
  for (let i = 0; i < n; i++) r.outbox.add(draft(i));
  r.outbox.flush();
  const fillMs = performance.now() - f0;
  const done = r.acked(n);
  const t0 = performance.now();
  r.publisher.start();
  await done;
  const drainMs = performance.now() - t0;
  await r.close();
  rmSync(dir, { recursive: true, force: true });
  return { fill_ms: Math.round(fillMs), drain_ms: Math.round(drainMs) };
}

/** MQTT.js's own way: publish while offline into its store, then connect and let it replay. */
async function mqttjsReplay(url: string, n: number): Promise<number> {
  const client = mqtt.connect(url, { protocolVersion: 5, clientId: 'bench-replay', manualConnect: true });
  const payload = JSON.stringify({ pad: PAD });
  let acked = 0;
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < n; i++) client.publish(`bench/replay/s${i % 16}`, payload, { qos: 1 }, () => ++acked === n && resolve());
  });
  const t0 = performance.now();
  client.connect();
  await done;
  const ms = performance.now() - t0;
  await client.endAsync();
  return ms;
}

export default async function (args: BenchArgs): Promise<Record<string, unknown>> {
  const n = numberArg(args, 'messages', 50_000);
  const rounds = numberArg(args, 'rounds', 7);
  const backlog = numberArg(args, 'backlog', 100_000);
  const replay = numberArg(args, 'replay', 20_000);
  if (args['adapters-only']) return { adapters: await adapterRows(args) };
  const broker = await startMosquitto({ maxInflight: 0 });
  try {
    // The phases alternate for several rounds after a warm-up of each; the medians compare them, so a burst of load
    // from elsewhere on this shared machine moves one round, not the verdict.
    const warm = Math.min(n, 10_000);
    await raw(broker.url, warm, sameMessages);
    await throughOutbox(broker.url, warm, AHEAD);
    const phases = {
      a: () => raw(broker.url, n, sameMessages),
      b: () => throughOutbox(broker.url, n, AHEAD),
      a0: () => raw(broker.url, n, constantMessage),
      b_open: () => throughOutbox(broker.url, n, Infinity),
    };
    const rounds_: Record<keyof typeof phases, number[]> = { a: [], b: [], a0: [], b_open: [] };
    for (let i = 0; i < rounds; i++) {
      for (const [name, run] of Object.entries(phases)) rounds_[name as keyof typeof phases].push(rate(n, await run()));
    }
    const d = await drain(broker.url, backlog);
    const replayMs = await mqttjsReplay(broker.url, replay);
    const m = Object.fromEntries(Object.entries(rounds_).map(([k, v]) => [k, median(v)])) as Record<keyof typeof phases, number>;
    const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
    // Each round's b against the a measured just before it: a slow drift in the machine's load cancels out.
    const paired = median(rounds_.b.map((b, i) => b / (rounds_.a[i] as number)));
    return {
      config: {
        payload_bytes: 1024, qos: 1, window: WINDOW, producer_ahead: AHEAD, messages: n, rounds, backlog, durability: 'batch',
        broker: 'mosquitto 2 (set_tcp_nodelay)',
      },
      a_raw_mqttjs_msgs_per_s: m.a,
      b_edgeloop_outbox_msgs_per_s: m.b,
      ratio_b_over_a: ratio(m.b, m.a),
      ratio_b_over_a_paired_median: Math.round(paired * 100) / 100,
      a0_raw_mqttjs_constant_payload_msgs_per_s: m.a0,
      ratio_b_over_a0: ratio(m.b, m.a0),
      b_open_loop_msgs_per_s: m.b_open,
      ratio_b_open_over_a: ratio(m.b_open, m.a),
      rounds: rounds_,
      c_backlog_fill_msgs_per_s: rate(backlog, d.fill_ms),
      c_backlog_drain_msgs_per_s: rate(backlog, d.drain_ms),
      d_mqttjs_store_replay_msgs_per_s: rate(replay, replayMs),
      targets: { ratio_b_over_a: 0.8, drain_msgs_per_s: 20_000 },
      adapters: await adapterRows(args),
    };
  } finally {
    await broker.stop();
  }
}
