// The adapter rows of `npm run bench -- outbox` (alone: `--adapters-only`; `--adapter-messages 5000 --adapter-rounds 3`):
// for HTTP, NATS JetStream and CoAP, durable msgs/s through edgeloop (SQLite outbox, durability batch, the route's
// adapter, the producer keeping ten windows ahead) against that protocol's raw client sending the same 1 KB records
// with the same window and nothing persisted, in alternating rounds of one run. The HTTP and CoAP servers answer from
// a process of their own (bench/far-ends.ts); NATS is a nats-server with JetStream. MQTT is the main row above.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent as CoapAgent, request as coapRequest } from 'coap';
import { connect, nanos } from 'nats';
import { resolveConfig } from '../src/app/config.ts';
import { Outbox } from '../src/outbox/outbox.ts';
import { Publisher } from '../src/outbox/publisher.ts';
import { SqliteStore } from '../src/outbox/sqlite-store.ts';
import { payloadOf, uuidv7, type RecordDraft } from '../src/pipeline/record.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { Metrics } from '../src/telemetry/metrics.ts';
import type { Adapter } from '../src/transport/adapter.ts';
import { CoapAdapter, type CoapRouteConfig } from '../src/transport/coap.ts';
import { HttpAdapter, type HttpRouteConfig } from '../src/transport/http.ts';
import { NatsAdapter, subjectOf, type NatsRouteConfig } from '../src/transport/nats.ts';
import { startNatsServer } from '../test/support/nats-server.ts';
import type { BenchArgs } from './run.ts';
import { median, numberArg } from './stats.ts';

const log = createLogger('warn', { pretty: false });
const PAD = 'x'.repeat(900);
const DEVICE = 'bench';
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

const record = (i: number): RecordDraft => ({
  id: uuidv7(), kind: 'reading', source: `s${i % 16}`, topic: `bench/s${i % 16}`, ts: Date.now(), priority: 1, data: { pad: PAD },
});

/** One upstream: its adapter as the gateway builds it, and its raw client's way of sending one message. */
interface Kind {
  window: number;
  adapter(): Adapter;
  /** Sends message `i` (full topic, payload, id) and calls `done` at its acknowledgement. */
  raw(): Promise<{ send(topic: string, payload: string, id: string, done: () => void): void; close(): Promise<void> }>;
}

/** `n` messages through `send`, at most `window` unacknowledged, as the publisher keeps them. */
function pump(n: number, window: number, send: (i: number, done: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    const next = () => {
      if (++acked === n) resolve();
      else if (sent < n) send(sent++, next);
    };
    for (; sent < Math.min(window, n); ) send(sent++, next);
  });
}

async function rawRun(kind: Kind, n: number): Promise<number> {
  const client = await kind.raw();
  const messages = Array.from({ length: n }, (_, i) => {
    const d = record(i);
    return { topic: `edgeloop/${DEVICE}/${d.topic}`, payload: payloadOf({ ...d, seq: Math.floor(i / 16) + 1 }, DEVICE), id: d.id };
  });
  const t0 = performance.now();
  await pump(n, kind.window, (i, done) => {
    const m = messages[i] as (typeof messages)[number];
    client.send(m.topic, m.payload, m.id, done);
  });
  const ms = performance.now() - t0;
  await client.close();
  return ms;
}

/** The same records through a durable outbox and the kind's adapter; the producer stays ten windows ahead. */
async function edgeloopRun(kind: Kind, n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-adapter-'));
  const config = resolveConfig({ outbox: { durability: 'batch', ttl_s: 0 } }).outbox;
  const metrics = new Metrics();
  const adapter = kind.adapter();
  const outbox = new Outbox({ store: new SqliteStore(join(dir, 'outbox.db'), 'batch'), config, device: DEVICE, routes: [{ name: adapter.name, topics: ['#'] }], log, metrics });
  const publisher = new Publisher({ outbox, route: 0, adapter, topicPrefix: `edgeloop/${DEVICE}/`, metrics, log });
  const ahead = Math.max(1000, 10 * kind.window);
  let acked = 0;
  let added = 0;
  let room: (() => void) | undefined;
  const all = new Promise<void>((resolve) =>
    publisher.on('acked', () => {
      if (++acked === n) resolve();
      if (room && added - acked < ahead / 2) room();
    }),
  );
  const ready = new Promise<void>((resolve) => adapter.once('ready', () => resolve()));
  publisher.start();
  await ready;
  const t0 = performance.now();
  while (added < n) {
    if (added - acked >= ahead) await new Promise<void>((resolve) => (room = resolve));
    room = undefined;
    // Chunks a turn apart, as sources hand records over, so publishing interleaves with committing.
    const end = Math.min(n, added + 250);
    while (added < end) outbox.add(record(added++));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await all;
  const ms = performance.now() - t0;
  publisher.stop();
  await adapter.stop(2000);
  outbox.close();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

async function startFarEnds(): Promise<{ http: number; coap: number; stop(): void }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'far-ends.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench/far-ends.ts exited with ${code}`)));
  });
  return { ...(JSON.parse(first) as { http: number; coap: number }), stop: () => child.stdin.end() };
}

export async function adapterRows(args: BenchArgs): Promise<Record<string, unknown>> {
  const n = numberArg(args, 'adapter-messages', 5000);
  const rounds = numberArg(args, 'adapter-rounds', 3);
  const far = await startFarEnds();
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'BENCH', subjects: [`edgeloop.${DEVICE}.>`], duplicate_window: nanos(120_000) });
  const context = { device: DEVICE, log };
  /** A route of `kind` named after it, as the config completes it. */
  const route = <R>(kind: string, options: Record<string, unknown>) => {
    const config = resolveConfig({ [kind]: [{ name: kind, reconnect: { min_ms: 100, max_ms: 1000 }, ...options }] });
    return { ...(config[kind] as R[])[0], name: kind } as R & { name: string };
  };
  const kinds: Record<string, Kind> = {
    http: {
      window: 8,
      adapter: () => new HttpAdapter(route<HttpRouteConfig>('http', { url: `http://127.0.0.1:${far.http}/ingest` }), context),
      raw: async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
        return {
          send: (topic, payload, id, done) => {
            const headers = { 'content-type': 'application/json', 'idempotency-key': id, 'x-edgeloop-topic': topic };
            http.request(`http://127.0.0.1:${far.http}/ingest`, { method: 'POST', agent, headers }, (res) => res.resume().on('end', done)).end(payload);
          },
          close: async () => agent.destroy(),
        };
      },
    },
    nats: {
      window: 256,
      adapter: () => new NatsAdapter(route<NatsRouteConfig>('nats', { url: nats.url, stream: { name: 'BENCH', create: false } }), context),
      raw: async () => {
        const raw = await connect({ servers: nats.url });
        const js = raw.jetstream();
        return {
          send: (topic, payload, id, done) => void js.publish(subjectOf(topic), payload, { msgID: id }).then(done),
          close: () => raw.close(),
        };
      },
    },
    coap: {
      window: 4,
      adapter: () => new CoapAdapter(route<CoapRouteConfig>('coap', { url: `coap://127.0.0.1:${far.coap}/ps`, window: 4 }), context),
      raw: async () => {
        const agent = new CoapAgent({ type: 'udp4' });
        return {
          send: (topic, payload, _id, done) => {
            const req = coapRequest({ hostname: '127.0.0.1', port: far.coap, pathname: `/ps/${topic}`, method: 'POST', confirmable: true, agent, contentFormat: 'application/json' });
            req.on('response', () => done());
            req.end(Buffer.from(payload));
          },
          close: async () => void agent.close(),
        };
      },
    },
  };
  try {
    const warm = Math.min(n, 1000);
    for (const kind of Object.values(kinds)) {
      await rawRun(kind, warm);
      await edgeloopRun(kind, warm);
    }
    const rows: Record<string, unknown> = {};
    for (const [name, kind] of Object.entries(kinds)) {
      const raw: number[] = [];
      const edgeloop: number[] = [];
      for (let i = 0; i < rounds; i++) {
        raw.push(rate(n, await rawRun(kind, n)));
        edgeloop.push(rate(n, await edgeloopRun(kind, n)));
      }
      const paired = median(edgeloop.map((e, i) => e / (raw[i] as number)));
      rows[name] = {
        window: kind.window,
        raw_msgs_per_s: median(raw),
        edgeloop_durable_msgs_per_s: median(edgeloop),
        ratio: Math.round((median(edgeloop) / median(raw)) * 100) / 100,
        ratio_paired_median: Math.round(paired * 100) / 100,
        rounds: { raw, edgeloop },
      };
    }
    return { config: { messages: n, rounds, payload_bytes: 1024, durability: 'batch', target_ratio: 0.8 }, ...rows };
  } finally {
    await nc.close();
    await nats.close();
    far.stop();
  }
}
