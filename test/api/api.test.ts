// The REST + WebSocket API against a real gateway (embedded broker, in-memory outbox, two simulated channels).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { payloadOf, uuidv7, type DurableRecord } from '../../src/pipeline/record.ts';
import { simulatedSensors, startGateway, type RunningGateway } from '../integration/gateway-fixture.ts';
import { freePort } from '../support/ports.ts';
import { waitUntil } from '../support/wait.ts';

const TOKEN = 'api-test-token-0123';
const MQTT_PASSWORD = 'mqtt-secret-pw';
const TLS_KEY = '/etc/edgeloop/private/client.key';
const WS_MAX_BUFFERED = 64 * 1024;
const AUTH = { authorization: `Bearer ${TOKEN}` };

let g: RunningGateway;
let url: string;

before(async () => {
  g = await startGateway({
    device: { id: 'test-dev' },
    sensors: simulatedSensors(2, 20),
    outbox: { store: 'memory' },
    // The embedded broker on a free port: 1883 may belong to a system broker.
    broker: { host: '127.0.0.1', port: await freePort() },
    api: { host: '127.0.0.1', port: 0, token: TOKEN, ws_max_buffered_bytes: WS_MAX_BUFFERED },
    // The embedded broker accepts any credentials; tls is not used with mqtt:// but must still be hidden.
    mqtt: { username: 'gw', password: MQTT_PASSWORD, tls: { key: TLS_KEY } },
  });
  // Ready: both channels have records acknowledged by the broker.
  await waitUntil({
    check: () => (g.gw.status().routes.mqtt![0]!.published >= 4 && g.gw.sensors().every((s) => s.seq >= 2) ? true : undefined),
    subscribe: (recheck) => g.gw.bus.subscribe(recheck),
    timeoutMs: 10_000,
    describe: () => `gateway not publishing: ${JSON.stringify(g.gw.status().routes)}`,
  });
  url = (g.gw.api as { url: string }).url;
});
after(() => g?.stop());

async function call(path: string, init: { token?: string | null; method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
  const res = await fetch(`${url}${path}`, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  const text = await res.text();
  const json = res.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  return { status: res.status, headers: res.headers, text, json };
}

const postJson = (path: string, body: string, token?: string | null) =>
  call(path, { method: 'POST', body, headers: { 'content-type': 'application/json' }, ...(token !== undefined ? { token } : {}) });

describe('REST routes', () => {
  test('GET /api/v1/health answers without a token', async () => {
    const r = await call('/api/v1/health', { token: null });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' });
  });

  test('GET /api/v1/status: version, uptime, routes by kind, per-sensor values and counters, queue depths', async () => {
    const r = await call('/api/v1/status');
    assert.equal(r.status, 200);
    type Routes = Record<string, Record<string, unknown>[]>;
    const s = r.json as Record<string, unknown> & { routes: Routes; sensors: Record<string, unknown>[]; queues: Record<string, unknown>[] };
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    assert.equal(s.version, pkg.version);
    assert.equal(s.device, 'test-dev');
    assert.equal(typeof s.uptime_s, 'number');
    assert.ok((s.uptime_s as number) >= 0);
    assert.ok(!Number.isNaN(Date.parse(s.started_at as string)));
    assert.equal((s.broker as { embedded: boolean }).embedded, true);
    assert.deepEqual(Object.keys(s.routes).sort(), ['coap', 'http', 'mqtt', 'nats'], 'every kind of route, each under its own key');
    for (const kind of ['http', 'nats', 'coap']) assert.deepEqual(s.routes[kind], [], kind);
    const mqtt = s.routes.mqtt!;
    assert.equal(mqtt.length, 1);
    assert.equal(mqtt[0]!.name, 'default');
    assert.equal(mqtt[0]!.kind, 'mqtt');
    assert.equal(mqtt[0]!.state, 'connected');
    assert.equal(mqtt[0]!.downlink, true);
    assert.ok((mqtt[0]!.published as number) >= 4);
    assert.equal(mqtt[0]!.reconnect_attempts, 0);
    assert.ok(!Number.isNaN(Date.parse(mqtt[0]!.connected_since as string)));
    assert.deepEqual(s.sensors.map((x) => x.id), ['s01', 's02']);
    for (const x of s.sensors) {
      assert.equal(typeof x.last_value, 'number');
      assert.ok((x.rate_hz as number) > 0, `rate of ${x.id}`);
      assert.equal(x.errors, 0);
      assert.equal(x.drops, 0);
      assert.ok((x.samples as number) >= 2);
    }
    assert.deepEqual(s.queues.map((q) => q.queue), ['sensor:s01', 'sensor:s02']);
    for (const q of s.queues) {
      assert.equal(q.capacity, 1024);
      assert.equal(q.policy, 'drop-oldest');
      assert.equal(typeof q.depth, 'number');
      assert.equal(q.drops, 0);
    }
    assert.equal(typeof (s.outbox as { rows: number }).rows, 'number');
  });

  test('GET /api/v1/sensors lists every channel with its counters', async () => {
    const r = await call('/api/v1/sensors');
    assert.equal(r.status, 200);
    const sensors = (r.json as { sensors: Record<string, unknown>[] }).sensors;
    assert.deepEqual(sensors.map((x) => x.id), ['s01', 's02']);
    assert.deepEqual(Object.keys(sensors[0]!).sort(), [
      'driver', 'drops', 'errors', 'id', 'interval_ms', 'last_error', 'last_ts', 'last_value', 'overruns', 'queue_depth',
      'queue_waits', 'rate_hz', 'samples', 'seq', 'timeouts', 'unit',
    ]);
    assert.equal(sensors[0]!.driver, 'simulated');
    assert.equal(sensors[0]!.interval_ms, 20);
    assert.equal(sensors[0]!.unit, '');
    assert.match(sensors[0]!.last_ts as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test('GET /api/v1/config shows the config with api.token, mqtt.password and the TLS key redacted', async () => {
    const r = await call('/api/v1/config');
    assert.equal(r.status, 200);
    const c = r.json as { api: Record<string, unknown>; mqtt: Record<string, unknown> & { tls: Record<string, unknown> }; device: { id: string }; sensors: unknown[] };
    assert.equal(c.api.token, '[redacted]');
    assert.equal(c.mqtt.password, '[redacted]');
    assert.equal(c.mqtt.tls.key, '[redacted]');
    assert.equal(c.mqtt.username, 'gw');
    assert.equal(c.device.id, 'test-dev');
    assert.equal(c.sensors.length, 2);
    for (const secret of [TOKEN, MQTT_PASSWORD, TLS_KEY]) assert.ok(!r.text.includes(secret), `${secret} leaked`);
    // Redaction works on a copy: the running gateway keeps its secrets.
    assert.equal(g.gw.config().api.token, TOKEN);
  });

  test('GET /api/v1/outbox describes the store', async () => {
    const r = await call('/api/v1/outbox');
    assert.equal(r.status, 200);
    const o = r.json as Record<string, unknown>;
    assert.equal(o.store, 'memory');
    for (const k of ['rows', 'bytes', 'dead_letters']) assert.equal(typeof o[k], 'number', k);
    assert.deepEqual(Object.keys(o.limits as object).sort(), ['max_bytes', 'max_rows', 'on_full', 'ttl_s']);
  });

  test('GET /metrics: Prometheus text with samples, read errors, drops, queue depth, latency histogram, mqtt state', async () => {
    const r = await call('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    const m = r.text;
    assert.match(m, /^edgeloop_sensor_samples_total\{sensor="s01"\} [1-9]\d*$/m);
    assert.match(m, /^edgeloop_sensor_samples_total\{sensor="s02"\} [1-9]\d*$/m);
    assert.match(m, /^# TYPE edgeloop_sensor_read_errors_total counter$/m);
    assert.match(m, /^# TYPE edgeloop_drops_total counter$/m);
    assert.match(m, /^edgeloop_queue_depth\{queue="sensor:s01"\} \d+$/m);
    assert.match(m, /^edgeloop_publish_latency_seconds_bucket\{le="\+Inf",route="default"\} [1-9]\d*$/m);
    assert.match(m, /^edgeloop_publish_latency_seconds_count\{route="default"\} [1-9]\d*$/m);
    assert.match(m, /^edgeloop_route_state\{route="default",kind="mqtt",state="connected"\} 1$/m);
    assert.match(m, /^edgeloop_route_state\{route="default",kind="mqtt",state="disconnected"\} 0$/m);
    // Process metrics carry the prefix once, before prom-client's own names.
    assert.match(m, /^edgeloop_process_cpu_seconds_total \d/m);
    assert.match(m, /^edgeloop_nodejs_eventloop_lag_seconds \d/m);
    assert.doesNotMatch(m, /edgeloop_process_process_|edgeloop_process_nodejs_/);
  });

  test('an unknown route is a 404 in the error shape', async () => {
    const r = await call('/api/v1/nope?x=1');
    assert.equal(r.status, 404);
    assert.deepEqual(Object.keys(r.json!).sort(), ['error', 'hint', 'message']);
    assert.equal(r.json!.error, 'EDGELOOP_ERR_NOT_FOUND');
    assert.equal(r.json!.message, 'no route GET /api/v1/nope');
  });
});

describe('POST /api/v1/outbox/purge', () => {
  const badBodies: [string, string][] = [
    ['an empty object', '{}'],
    ['confirm false', '{"confirm": false}'],
    ['confirm as a number', '{"confirm": 1}'],
    ['confirm as a string', '{"confirm": "true"}'],
    ['an unknown key next to confirm', '{"confirm": true, "older_than_s": 60}'],
    ['not JSON', '{"confirm": tru'],
    ['a JSON array', '[true]'],
  ];
  for (const [what, body] of badBodies) {
    test(`refuses ${what} with 400 EDGELOOP_ERR_BAD_REQUEST`, async () => {
      const r = await postJson('/api/v1/outbox/purge', body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json!.error, 'EDGELOOP_ERR_BAD_REQUEST');
      assert.equal(typeof r.json!.message, 'string');
    });
  }

  test('refuses a missing body with 400 EDGELOOP_ERR_BAD_REQUEST', async () => {
    const r = await call('/api/v1/outbox/purge', { method: 'POST' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json!.error, 'EDGELOOP_ERR_BAD_REQUEST');
  });

  test('purges with {"confirm": true} and says how many records went', async () => {
    const r = await postJson('/api/v1/outbox/purge', '{"confirm": true}');
    assert.equal(r.status, 200, r.text);
    assert.equal(typeof (r.json as { purged: unknown }).purged, 'number');
  });
});

describe('API token', () => {
  const guarded: [string, string][] = [
    ['GET', '/api/v1/status'],
    ['GET', '/api/v1/sensors'],
    ['GET', '/api/v1/config'],
    ['GET', '/api/v1/outbox'],
    ['POST', '/api/v1/outbox/purge'],
    ['GET', '/metrics'],
    ['GET', '/api/v1/unknown'],
  ];
  const wrong: [string, Record<string, string>][] = [
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['the right token with another scheme', { authorization: `Basic ${TOKEN}` }],
    ['a token prefix', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
  ];
  for (const [method, path] of guarded) {
    for (const [what, headers] of wrong) {
      test(`${method} ${path} with ${what} → 401`, async () => {
        const r = await call(path, { method, token: null, headers });
        assert.equal(r.status, 401);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer');
        assert.equal(r.json!.error, 'EDGELOOP_ERR_UNAUTHORIZED');
      });
    }
  }

  test('?token= is accepted only on the WebSocket upgrade, not on REST routes', async () => {
    const r = await call(`/api/v1/status?token=${TOKEN}`, { token: null });
    assert.equal(r.status, 401);
  });
});

/** A WebSocket client that keeps every message it received, for waiting on. */
class WsClient {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #listeners = new Set<() => void>();

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
      this.#listeners.forEach((l) => l());
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(query = `?token=${TOKEN}`, headers: Record<string, string> = {}): Promise<WsClient> {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws${query}`, { headers });
    after(() => ws.terminate());
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WsClient(ws)));
      ws.once('error', reject);
    });
  }

  /** Resolves with the messages received from `from` on once `n` of them match `predicate`. */
  waitFor(n: number, predicate: (m: Record<string, unknown>) => boolean, from = 0): Promise<Record<string, unknown>[]> {
    return waitUntil({
      check: () => {
        const found = this.messages.slice(from).filter(predicate);
        return found.length >= n ? found.slice(0, n) : undefined;
      },
      subscribe: (recheck) => (this.#listeners.add(recheck), () => this.#listeners.delete(recheck)),
      timeoutMs: 10_000,
      describe: () => `${n} matching WebSocket messages; got ${JSON.stringify(this.messages.slice(from, from + 5))}…`,
    });
  }

  onMessage(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async subscribe(filters: string[]): Promise<void> {
    const from = this.messages.length;
    this.ws.send(JSON.stringify({ subscribe: filters }));
    await this.waitFor(1, (m) => m.type === 'subscribed', from);
  }
}

/** The HTTP status a refused upgrade answered with. */
function refusedUpgrade(query: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws${query}`, { headers });
  // Terminating a refused socket reports "closed before the connection was established": expected here.
  ws.on('error', () => {});
  after(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
  });
}

describe('WebSocket /ws', () => {
  test('with ?token=, a subscription to one sensor receives only that sensor\'s live records, in seq order', async () => {
    const c = await WsClient.open();
    const from = c.messages.length;
    c.ws.send(JSON.stringify({ subscribe: ['sensors/s02'] }));
    const [ack] = await c.waitFor(1, (m) => m.type === 'subscribed', from);
    assert.deepEqual(ack, { type: 'subscribed', topics: ['sensors/s02'] });
    const records = await c.waitFor(8, (m) => m.type === 'record', from);
    // Both channels produce at the same rate; all eight coming from s02 is the filter at work.
    for (const m of records) {
      assert.equal(m.topic, 'sensors/s02');
      const r = m.record as Record<string, unknown>;
      assert.equal(r.sensor, 's02');
      assert.equal(r.device, 'test-dev');
      assert.equal(r.unit, '');
      assert.equal(typeof r.value, 'number');
      assert.match(r.id as string, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    }
    const seqs = records.map((m) => (m.record as { seq: number }).seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i));
  });

  test('with the Authorization header, sensors/* receives every channel; unsubscribe stops them', async () => {
    const c = await WsClient.open('', AUTH);
    await c.subscribe(['sensors/*']);
    const records = await c.waitFor(10, (m) => m.type === 'record');
    assert.deepEqual(new Set(records.map((m) => m.topic)), new Set(['sensors/s01', 'sensors/s02']));
    const from = c.messages.length;
    c.ws.send(JSON.stringify({ unsubscribe: ['sensors/*'] }));
    const [ack] = await c.waitFor(1, (m) => m.type === 'subscribed', from);
    assert.deepEqual(ack!.topics, []);
    // A probe published after the ack proves nothing else is queued for this client any more.
    await c.subscribe(['probe/#']);
    const mark = c.messages.length;
    g.gw.bus.publish(bulkRecord('probe/x', 10));
    await c.waitFor(1, (m) => m.topic === 'probe/x', mark);
    assert.equal(c.messages.slice(mark).filter((m) => m.type === 'record' && m.topic !== 'probe/x').length, 0);
  });

  test('an upgrade without a token, or with a wrong one, is refused with 401', async () => {
    assert.equal(await refusedUpgrade(''), 401);
    assert.equal(await refusedUpgrade('?token=wrong-token-xyz'), 401);
    assert.equal(await refusedUpgrade('', { authorization: 'Bearer wrong-token-xyz' }), 401);
  });

  test('bad messages get an error frame and the connection stays usable', async () => {
    const c = await WsClient.open();
    const bad: (string | Buffer)[] = [
      'not json',
      '{"subscribe": "sensors/*"}',
      '{"subscribe": []}',
      '{"subscribe": [""]}',
      '{"subscribe": ["a"], "extra": 1}',
      '{"publish": ["a"]}',
      '42',
      'null',
      Buffer.from([0xff, 0x00]),
    ];
    for (const msg of bad) {
      const from = c.messages.length;
      c.ws.send(msg);
      const [frame] = await c.waitFor(1, () => true, from);
      assert.equal(frame!.type, 'error', `for ${String(msg)}`);
      assert.equal(frame!.error, 'EDGELOOP_ERR_BAD_REQUEST');
      assert.equal(typeof frame!.message, 'string');
    }
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    await c.subscribe(['sensors/s01']);
    await c.waitFor(1, (m) => m.topic === 'sensors/s01');
  });

  test('a message over the size limit closes only that connection; the gateway keeps serving', async () => {
    const c = await WsClient.open();
    c.ws.send(JSON.stringify({ subscribe: ['x'.repeat(64 * 1024)] }));
    const { code } = await c.closed;
    assert.equal(code, 1009);
    assert.equal((await call('/api/v1/health')).status, 200);
  });

  test('a slow client is dropped with 1013 and counted; other clients keep receiving and nothing stalls', async () => {
    const slow = await WsClient.open();
    const fast = await WsClient.open();
    await slow.subscribe(['bulk/#']);
    await fast.subscribe(['bulk/#']);
    let fastReceived = 0;
    fast.onMessage(() => fastReceived++);
    (slow.ws as unknown as { _socket: Socket })._socket.pause();

    const slowDrops = async () =>
      (await g.gw.metrics.drops.get()).values.find((v) => v.labels.stage === 'ws' && v.labels.reason === 'slow-client')?.value ?? 0;
    // Push until the paused client's socket and kernel buffers are full and the gateway gives up on it. Yield between
    // records, so the fast client (in this same process) can read.
    let published = 0;
    while ((await slowDrops()) === 0) {
      assert.ok(published < 5000, 'the slow client was never dropped');
      g.gw.bus.publish(bulkRecord('bulk/x', 16 * 1024));
      published++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await slowDrops(), 1);

    // The fast client is still there and gets what is published after the drop.
    const before = fastReceived;
    g.gw.bus.publish(bulkRecord('bulk/after', 100));
    await waitUntil({
      check: () => (fastReceived > before ? true : undefined),
      subscribe: (recheck) => fast.onMessage(recheck),
      timeoutMs: 10_000,
      describe: () => 'the fast client got nothing after the drop',
    });
    assert.equal(fast.ws.readyState, WebSocket.OPEN);
    assert.equal(await slowDrops(), 1, 'the fast client must not be dropped');

    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    const { code } = await slow.closed;
    assert.equal(code, 1013);
    const metrics = await call('/metrics');
    assert.match(metrics.text, /^edgeloop_drops_total\{stage="ws",reason="slow-client"\} 1$/m);
  });
});

/** A record of about `bytes` of random (incompressible) payload, for the live bus only. */
function bulkRecord(topic: string, bytes: number): DurableRecord {
  const draft = {
    id: uuidv7(), kind: 'event' as const, source: 'bulk', topic, ts: Date.now(), priority: 1, seq: 1,
    data: { pad: randomBytes(bytes / 2).toString('hex') },
  };
  return { ...draft, json: payloadOf(draft, 'test-dev') };
}
