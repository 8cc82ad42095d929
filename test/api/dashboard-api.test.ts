// What the API does for the dashboard: the page at `/` (public, gzipped, revalidated, with its boot data), the
// WebSocket token in a subprotocol, current values on subscribe, batched delivery, the process's load in the status.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { WS_PROTOCOL, WS_TOKEN_PROTOCOL_PREFIX } from '../../src/api/auth.ts';
import { simulatedSensors, startGateway, type RunningGateway } from '../integration/gateway-fixture.ts';
import { waitUntil } from '../support/wait.ts';

const TOKEN = 'dashboard-api-token-77';
let g: RunningGateway;
let url: string;

before(async () => {
  g = await startGateway({ device: { id: 'dash-api' }, sensors: simulatedSensors(3, 50), outbox: { store: 'memory' }, api: { host: '127.0.0.1', port: 0, token: TOKEN } });
  url = (g.gw.api as { url: string }).url;
  await waitUntil({
    check: () => (g.gw.sensors().every((s) => s.seq >= 2) ? true : undefined),
    subscribe: (recheck) => g.gw.bus.subscribe(recheck),
    timeoutMs: 10_000,
    describe: () => 'sensors not sampling',
  });
});
after(() => g?.stop());

describe('GET /', () => {
  test('serves the page without a token, gzipped, with its boot data and security headers', async () => {
    const res = await fetch(`${url}/`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    // fetch inflates the body itself; the length on the wire is the header's.
    const wire = Number(res.headers.get('content-length'));
    const html = await res.text();
    assert.ok(wire > 0 && wire < html.length / 2, `${wire} bytes on the wire for ${html.length}`);
    const boot = JSON.parse(/<script type="application\/json" id="boot">([^<]*)<\/script>/.exec(html)?.[1] ?? 'null') as unknown;
    assert.deepEqual(boot, { auth: true, features: [] });
    assert.ok(!html.includes(TOKEN));
  });

  test('answers 304 to a matching If-None-Match, and plain HTML to a client without gzip', async () => {
    const first = await fetch(`${url}/`);
    const etag = first.headers.get('etag');
    assert.match(etag ?? '', /^"[\w-]+"$/);
    assert.equal((await fetch(`${url}/`, { headers: { 'if-none-match': etag as string } })).status, 304);
    const plain = await fetch(`${url}/`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.match(await plain.text(), /^<!doctype html>/);
  });
});

/** Opens /ws with `protocols` and resolves with the socket, the protocol chosen and a log of its messages. */
function openWs(protocols: string[], query = ''): Promise<{ ws: WebSocket; messages: Record<string, unknown>[]; next: (n: number) => Promise<Record<string, unknown>[]> }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws${query}`, protocols);
  after(() => ws.terminate());
  const messages: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (d) => {
    messages.push(JSON.parse(d.toString()) as Record<string, unknown>);
    listeners.forEach((l) => l());
  });
  const next = (n: number) =>
    waitUntil({
      check: () => (messages.length >= n ? messages.slice(0, n) : undefined),
      subscribe: (recheck) => (listeners.add(recheck), () => listeners.delete(recheck)),
      timeoutMs: 10_000,
      describe: () => `${n} messages; got ${JSON.stringify(messages)}`,
    });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, next }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

const tokenProtocol = (t: string) => WS_TOKEN_PROTOCOL_PREFIX + Buffer.from(t).toString('base64url');

describe('WebSocket for the dashboard', () => {
  test('takes the token from a subprotocol and answers with the plain one, never echoing the token', async () => {
    const c = await openWs([WS_PROTOCOL, tokenProtocol(TOKEN)]);
    assert.equal(c.ws.protocol, WS_PROTOCOL);
    await assert.rejects(openWs([WS_PROTOCOL, tokenProtocol('wrong-token')]), /upgrade refused: 401/);
    await assert.rejects(openWs([WS_PROTOCOL]), /upgrade refused: 401/);
  });

  test('a subscriber gets the current value of each matching topic at once, flagged retained', async () => {
    const c = await openWs([WS_PROTOCOL, tokenProtocol(TOKEN)]);
    c.ws.send(JSON.stringify({ subscribe: ['sensors/+'] }));
    const [ack, ...first] = await c.next(4);
    assert.equal(ack!.type, 'subscribed');
    assert.deepEqual(first.map((m) => [m.type, m.topic, m.retained]).sort(), [
      ['record', 'sensors/s01', true], ['record', 'sensors/s02', true], ['record', 'sensors/s03', true],
    ]);
    // Subscribing again to a filter that matches the same topics sends nothing twice.
    const before = c.messages.length;
    c.ws.send(JSON.stringify({ subscribe: ['sensors/s01'] }));
    await c.next(before + 1);
    const afterAck = c.messages.slice(before + 1);
    assert.equal(afterAck.filter((m) => m.retained === true).length, 0);
  });

  test('with batch_ms, records arrive grouped in `records` frames, in seq order per sensor', async () => {
    const c = await openWs([WS_PROTOCOL, tokenProtocol(TOKEN)]);
    c.ws.send(JSON.stringify({ subscribe: ['sensors/+'], batch_ms: 300 }));
    const [ack] = await c.next(1);
    assert.deepEqual(ack, { type: 'subscribed', topics: ['sensors/+'], batch_ms: 300 });
    const frames = await c.next(4);
    const batches = frames.slice(1);
    for (const f of batches) assert.equal(f.type, 'records');
    assert.equal((batches[0]!.records as { retained?: boolean }[]).every((r) => r.retained === true), true, 'the first frame is the snapshot');
    // 3 sensors at 20 Hz over 300 ms: a frame carries several records.
    const live = batches.slice(1).flatMap((f) => f.records as { topic: string; record: { seq: number } }[]);
    assert.ok(live.length >= 2 * 6, `${live.length} records in two frames`);
    for (const id of ['s01', 's02', 's03']) {
      const seqs = live.filter((r) => r.topic === `sensors/${id}`).map((r) => r.record.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), `${id} in order without a gap`);
    }
  });
});

test('GET /api/v1/status carries the process load, the outbox age and drops by stage and reason', async () => {
  const res = await fetch(`${url}/api/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const s = (await res.json()) as {
    process: Record<string, unknown> & { event_loop_lag_ms: Record<string, number> };
    outbox: Record<string, unknown>;
    drops: unknown[];
  };
  assert.deepEqual(Object.keys(s.process).sort(), ['cpu_percent', 'event_loop_lag_ms', 'heap_used_bytes', 'rss_bytes']);
  assert.ok((s.process.rss_bytes as number) > 10 * 2 ** 20);
  assert.ok((s.process.cpu_percent as number) >= 0);
  assert.deepEqual(Object.keys(s.process.event_loop_lag_ms).sort(), ['max', 'p50', 'p99']);
  assert.ok('oldest_age_s' in s.outbox && typeof s.outbox.drops === 'object');
  assert.ok(Array.isArray(s.drops));
});
