// The outbox layer: group commit, per-source seq, route masks, limits, TTL; and the publisher driving an adapter.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { resolveConfig } from '../../src/app/config.ts';
import { MemoryStore } from '../../src/outbox/memory-store.ts';
import { Outbox, type OutboxRoute } from '../../src/outbox/outbox.ts';
import { Publisher } from '../../src/outbox/publisher.ts';
import { uuidv7, type DurableRecord, type RecordDraft } from '../../src/pipeline/record.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import type { AdapterEvents, AdapterInfo, ConnectionState, PublishOutcome } from '../../src/transport/adapter.ts';

const log = createLogger('silent', { pretty: false });

function makeOutbox<S extends MemoryStore = MemoryStore>(
  outbox: Record<string, unknown> = {},
  routes: OutboxRoute[] = [{ name: 'default', topics: ['#'] }],
  store: S = new MemoryStore() as S,
) {
  const config = resolveConfig({ outbox: { store: 'memory', ...outbox } }).outbox;
  const metrics = new Metrics();
  return { ob: new Outbox({ store, config, device: 'dev1', routes, log, metrics }), store, metrics };
}

function draft(source = 's1', over: Partial<RecordDraft> = {}): RecordDraft {
  return { id: uuidv7(), kind: 'reading', source, topic: `sensors/${source}`, ts: Date.now(), priority: 1, data: { sensor: source, value: 1 }, ...over };
}

/** A store whose syncs complete when the test says so. */
class SlowSync extends MemoryStore {
  release: (() => void)[] = [];
  override sync() {
    return new Promise<void>((resolve) => this.release.push(resolve));
  }
}

const committed = (ob: Outbox) =>
  new Promise<DurableRecord[]>((resolve) => ob.once('committed', resolve));

describe('Outbox', () => {
  test('records added in one turn are committed together, numbered per source', async () => {
    const { ob, metrics } = makeOutbox();
    const done = committed(ob);
    ob.add(draft('a'));
    ob.add(draft('b'));
    ob.add(draft('a'));
    const records = await done;
    assert.deepEqual(records.map((r) => [r.source, r.seq]), [['a', 1], ['b', 1], ['a', 2]]);
    assert.equal((await metrics.registry.getSingleMetric('edgeloop_outbox_commits_total')!.get()).values[0]!.value, 1);
    const payload = JSON.parse(records[2]!.json);
    assert.equal(payload.seq, 2);
    assert.equal(payload.device, 'dev1');
    assert.match(payload.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(ob.rows, 3);
  });

  test('durability each: one commit per record', async () => {
    const { ob, metrics } = makeOutbox({ durability: 'each' });
    for (let i = 0; i < 5; i++) ob.add(draft());
    assert.equal(ob.rows, 5, 'committed as they came, not at the end of the turn');
    assert.equal((await metrics.registry.getSingleMetric('edgeloop_outbox_commits_total')!.get()).values[0]!.value, 5);
  });

  test('a failed commit is retried: nothing is lost and no seq is skipped', async () => {
    class FailOnce extends MemoryStore {
      failures = 1;
      override append(rows: Parameters<MemoryStore['append']>[0]) {
        if (this.failures-- > 0) throw new Error('disk I/O error');
        return super.append(rows);
      }
    }
    const { ob } = makeOutbox({}, undefined, new FailOnce());
    const done = committed(ob);
    ob.add(draft('s1'));
    ob.add(draft('s1'));
    ob.flush();
    assert.equal(ob.rows, 0, 'the first attempt failed');
    assert.deepEqual((await done).map((r) => r.seq), [1, 2]);
    assert.equal(ob.rows, 2);
    assert.equal(ob.drops['write-error'], 0);
    ob.close();
  });

  test('seq continues from what the store remembers', async () => {
    const store = new MemoryStore();
    store.append([{ id: 'x', source: 's1', seq: 41, topic: 't', priority: 1, ts: 0, created: 0, payload: '{}', bytes: 2, pending: 1 }]);
    const { ob } = makeOutbox({}, undefined, store);
    const done = committed(ob);
    ob.add(draft('s1'));
    assert.equal((await done)[0]!.seq, 42);
  });

  test('drop-oldest evicts to stay within max_rows, and counts it', async () => {
    const { ob } = makeOutbox({ max_rows: 5 });
    for (let i = 0; i < 8; i++) ob.add(draft());
    ob.flush();
    assert.equal(ob.rows, 5);
    assert.equal(ob.drops['outbox-full'], 3);
  });

  test('reject-new refuses what does not fit; the seq gap shows the loss', async () => {
    const { ob } = makeOutbox({ max_rows: 3, on_full: 'reject-new' });
    const seen: number[] = [];
    ob.on('committed', (rs) => seen.push(...rs.map((r) => r.seq)));
    for (let i = 0; i < 5; i++) ob.add(draft());
    ob.flush();
    ob.add(draft());
    await ob.synced();
    assert.equal(ob.rows, 3);
    assert.equal(ob.drops['outbox-rejected'], 3);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(ob.lastSeq('s1'), 6);
  });

  test('max_bytes is a bound too', async () => {
    const { ob } = makeOutbox({ max_bytes: 2048 });
    for (let i = 0; i < 100; i++) ob.add(draft('s1', { data: { pad: 'x'.repeat(100) } }));
    ob.flush();
    assert.ok(ob.bytes <= 2048, `${ob.bytes} bytes kept`);
    assert.ok(ob.drops['outbox-full'] > 0);
  });

  test('ttl expires unsent records and counts them', async () => {
    const { ob } = makeOutbox({ ttl_s: 60 });
    ob.add(draft());
    ob.flush();
    assert.equal(ob.expire(Date.now() + 30_000), 0);
    assert.equal(ob.expire(Date.now() + 61_000), 1);
    assert.equal(ob.drops.expired, 1);
    ob.close();
  });

  test('each route gets the records its filters match; fetch serves higher priorities first', async () => {
    const { ob } = makeOutbox({}, [
      { name: 'all', topics: ['#'] },
      { name: 'alarms', topics: ['alarms/+'] },
    ]);
    ob.add(draft('s1'));
    ob.add(draft('fire', { topic: 'alarms/fire', priority: 9 }));
    ob.add(draft('s2'));
    await ob.synced();
    assert.deepEqual(ob.fetch(0, 10).map((r) => r.topic), ['alarms/fire', 'sensors/s1', 'sensors/s2']);
    assert.deepEqual(ob.fetch(0, 10), [], 'the cursor moved');
    ob.rewind(0);
    assert.equal(ob.fetch(0, 10).length, 3, 'rewind hands out the unacknowledged rows again');
    assert.deepEqual(ob.fetch(1, 10).map((r) => r.topic), ['alarms/fire']);
  });

  test('a commit is visible only once the store has synced it', async () => {
    const { ob, store } = makeOutbox({}, undefined, new SlowSync());
    const seen: number[] = [];
    ob.on('committed', (rs) => seen.push(...rs.map((r) => r.seq)));
    ob.add(draft());
    ob.flush();
    const second = draft();
    ob.add(second);
    ob.flush();
    assert.equal(store.release.length, 1, 'one sync at a time; the second commit waits for the next one');
    assert.deepEqual(ob.fetch(0, 10), [], 'nothing past the horizon');
    assert.deepEqual(seen, []);
    store.release.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, [1]);
    assert.equal(ob.fetch(0, 10).length, 1, 'the synced record, not the one still waiting');
    assert.equal(store.release.length, 1, 'the second commit gets its own sync');
    store.release.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(ob.fetch(0, 10).map((r) => r.id), [second.id]);
    assert.deepEqual(ob.fetch(0, 10), [], 'handed out once');
  });

  test('a failed sync is logged and the records still go out: they are committed', async () => {
    class FailingSync extends MemoryStore {
      override sync() {
        return Promise.reject(new Error('EIO'));
      }
    }
    const { ob } = makeOutbox({}, undefined, new FailingSync());
    const done = committed(ob);
    ob.add(draft());
    assert.equal((await done).length, 1);
    assert.equal(ob.fetch(0, 10).length, 1);
  });

  test('a caught-up route gets new records from memory, not from the store', async () => {
    class Counting extends MemoryStore {
      fetches = 0;
      override fetch(...args: Parameters<MemoryStore['fetch']>) {
        this.fetches++;
        return super.fetch(...args);
      }
    }
    const { ob, store } = makeOutbox({}, undefined, new Counting());
    assert.deepEqual(ob.fetch(0, 10), []);
    const before = store.fetches;
    ob.add(draft('s1'));
    ob.add(draft('s2', { priority: 9 }));
    await ob.synced();
    assert.deepEqual(ob.fetch(0, 10).map((r) => r.topic), ['sensors/s2', 'sensors/s1'], 'higher priority first');
    assert.equal(store.fetches, before, 'no read-back');
    ob.rewind(0);
    assert.equal(ob.fetch(0, 10).length, 2, 'after a rewind the store is read again');
    assert.ok(store.fetches > before);
  });

  test('rows evicted while their commit waits for the sync are never handed out', async () => {
    const { ob, store } = makeOutbox({ max_rows: 3 }, undefined, new SlowSync());
    assert.deepEqual(ob.fetch(0, 10), [], 'caught up');
    for (let i = 0; i < 5; i++) ob.add(draft());
    ob.flush();
    assert.equal(ob.drops['outbox-full'], 2);
    assert.deepEqual(ob.fetch(0, 10), [], 'nothing synced yet; the route is caught up again');
    store.release.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ob.fetch(0, 10).map((r) => r.oseq), [3, 4, 5], 'the three kept, read from the store');
  });

  test('a failing mark write is logged, not thrown: it can only mean duplicates', async () => {
    class BadMarks extends MemoryStore {
      override mark(): void {
        throw new Error('disk I/O error');
      }
    }
    const { ob } = makeOutbox({}, undefined, new BadMarks());
    ob.add(draft());
    await ob.synced();
    const [row] = ob.fetch(0, 10);
    assert.doesNotThrow(() => ob.delivered(0, new Map([[1, row!.oseq]]), 1));
    ob.sweep();
    assert.equal(ob.rows, 1, 'kept: it will be sent again rather than lost');
    ob.close();
  });

  test('delivered rows are swept, and a new outbox resumes after the marks', async () => {
    const { ob, store } = makeOutbox();
    for (let i = 0; i < 3; i++) ob.add(draft());
    await ob.synced();
    const [, second, third] = ob.fetch(0, 10);
    ob.delivered(0, new Map([[1, second!.oseq]]), 2);
    assert.equal(ob.rows, 3, 'marked, not yet swept');
    ob.rewind(0);
    assert.deepEqual(ob.fetch(0, 10).map((r) => r.oseq), [third!.oseq], 'a rewind starts after the marks');
    ob.sweep();
    assert.equal(ob.rows, 1);
    const { ob: again } = makeOutbox({}, undefined, store);
    assert.deepEqual(again.fetch(0, 10).map((r) => r.oseq), [third!.oseq]);
  });
});

describe('Outbox accounting: only undelivered records count as lost', () => {
  /** `n` records committed, the first `delivered` of them acknowledged (marked) but not yet swept. */
  const withDelivered = async (n: number, delivered: number, outbox: Record<string, unknown> = {}) => {
    const made = makeOutbox(outbox);
    for (let i = 0; i < n; i++) made.ob.add(draft());
    await made.ob.synced();
    const rows = made.ob.fetch(0, n);
    made.ob.delivered(0, new Map([[1, rows[delivered - 1]!.oseq]]), delivered);
    assert.equal(made.ob.rows, n, 'delivered rows wait for the sweep');
    return made;
  };

  test('purge deletes and counts exactly the records not yet delivered', async () => {
    const { ob, metrics } = await withDelivered(10, 6);
    for (let i = 0; i < 4; i++) ob.add(draft());
    await ob.synced();
    assert.equal(ob.purge(), 8, '4 of the first 10 were not delivered, and the 4 new ones');
    assert.equal(ob.drops.purged, 8);
    assert.equal(ob.rows, 0);
    assert.equal(ob.bytes, 0);
    assert.match(await metrics.render(), /^edgeloop_drops_total\{stage="outbox",reason="purged"\} 8$/m);
    ob.close();
  });

  test('purging an outbox whose records were all delivered purges nothing', async () => {
    const { ob } = await withDelivered(5, 5);
    assert.equal(ob.purge(), 0);
    assert.equal(ob.drops.purged, 0);
    ob.close();
  });

  test('expiry counts exactly the records not yet delivered', async () => {
    const { ob } = await withDelivered(10, 7, { ttl_s: 60 });
    assert.equal(ob.expire(Date.now() + 61_000), 3);
    assert.equal(ob.drops.expired, 3);
    assert.equal(ob.rows, 0);
    ob.close();
  });

  test('reads write nothing: rows, bytes, age, breakdown and a metrics scrape leave delivered rows for the sweep', async () => {
    const { ob, store, metrics } = await withDelivered(10, 4);
    const calls: string[] = [];
    for (const m of ['sweep', 'append', 'mark', 'evict', 'expire', 'purge', 'deadLetter', 'fetch'] as const) {
      const original = store[m].bind(store) as (...args: unknown[]) => unknown;
      (store as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => (calls.push(m), original(...args));
    }
    void ob.rows;
    void ob.bytes;
    ob.oldestAgeMs();
    store.breakdown();
    store.deadLetterCount();
    await metrics.render();
    assert.deepEqual(calls, []);
    assert.equal(ob.rows, 10);
    ob.sweep();
    assert.deepEqual(calls, ['sweep']);
    assert.equal(ob.rows, 6);
    ob.close();
  });
});

/** An adapter whose far end the test answers by hand. */
class ScriptedAdapter extends EventEmitter<AdapterEvents> {
  readonly name = 'scripted';
  readonly downlink = null;
  readonly refusal = 'MQTT_REFUSED' as const;
  state: ConnectionState = 'disconnected';
  window = 3;
  sent: { topic: string; id: string; done: (o: PublishOutcome) => void }[] = [];
  start() {
    this.connect();
  }
  connect() {
    this.state = 'connected';
    this.emit('state', 'connected');
    this.emit('ready');
  }
  drop() {
    this.state = 'disconnected';
    this.emit('state', 'disconnected');
  }
  publish(topic: string, _payload: string, id: string, done: (o: PublishOutcome) => void) {
    this.sent.push({ topic, id, done });
  }
  async stop() {}
  info(): AdapterInfo {
    return {
      name: this.name, kind: 'test', url: '', state: this.state, window: this.window, connects: 0, reconnect_attempts: 0,
      backoff_ms: 0, last_error: null, connected_since: null, downlink: false,
    };
  }
}

describe('Publisher', () => {
  const setup = () => {
    const { ob, metrics } = makeOutbox();
    const adapter = new ScriptedAdapter();
    const pub = new Publisher({ outbox: ob, route: 0, adapter, topicPrefix: 'edgeloop/dev1/', metrics, log });
    pub.start();
    return { ob, adapter, pub };
  };
  const settleAcks = () => new Promise((resolve) => setImmediate(resolve));

  test('publishes in order, never more than the window in flight, and deletes on ack', async () => {
    const { ob, adapter, pub } = setup();
    for (let i = 0; i < 5; i++) ob.add(draft());
    await ob.synced();
    assert.equal(adapter.sent.length, 3, 'window of 3');
    assert.equal(pub.inflight, 3);
    assert.equal(adapter.sent[0]!.topic, 'edgeloop/dev1/sensors/s1');
    adapter.sent[0]!.done({ ok: true });
    await settleAcks();
    assert.equal(adapter.sent.length, 4, 'an ack opens the window');
    for (const s of adapter.sent.slice(1)) s.done({ ok: true });
    await settleAcks();
    adapter.sent[4]!.done({ ok: true });
    await settleAcks();
    ob.sweep();
    assert.equal(ob.rows, 0);
    assert.equal(pub.published, 5);
  });

  test('a slot is freed only when every record before it is settled too', async () => {
    const { ob, adapter, pub } = setup();
    for (let i = 0; i < 4; i++) ob.add(draft());
    await ob.synced();
    const ack = async (i: number) => {
      adapter.sent[i]!.done({ ok: true });
      await settleAcks();
      ob.sweep();
      return { inflight: pub.inflight, sent: adapter.sent.length, rows: ob.rows };
    };
    assert.deepEqual(await ack(1), { inflight: 3, sent: 3, rows: 4 }, 'the second is acknowledged, the first not: nothing marked');
    assert.deepEqual(await ack(0), { inflight: 2, sent: 4, rows: 2 }, 'both marked at once; the fourth went out');
  });

  test('a disconnect rewinds: unacknowledged records are sent again after ready', async () => {
    const { ob, adapter } = setup();
    for (let i = 0; i < 3; i++) ob.add(draft());
    await ob.synced();
    const first = adapter.sent.map((s) => s.id);
    adapter.sent[0]!.done({ ok: true });
    adapter.drop();
    adapter.sent[1]!.done({ ok: false });
    adapter.sent = [];
    adapter.connect();
    assert.deepEqual(adapter.sent.map((s) => s.id), first.slice(1), 'the acknowledgement before the drop was marked');
  });

  test('a refused record goes to the dead letters instead of looping', async () => {
    const { ob, adapter, pub } = setup();
    ob.add(draft());
    await ob.synced();
    adapter.sent[0]!.done({ ok: false, refused: { code: 0x87, reason: 'Not authorized' } });
    assert.equal(ob.rows, 0);
    assert.equal(ob.store.deadLetterCount(), 1);
    assert.equal(pub.deadLettered, 1);
    assert.equal(adapter.sent.length, 1, 'not sent again');
  });

  test('outcomes of an old connection are ignored', async () => {
    const { ob, adapter, pub } = setup();
    ob.add(draft());
    await ob.synced();
    const stale = adapter.sent[0]!;
    adapter.drop();
    adapter.connect();
    stale.done({ ok: true });
    await settleAcks();
    assert.equal(pub.inflight, 1, 'the resent copy is still in flight');
    adapter.sent[1]!.done({ ok: true });
    await settleAcks();
    ob.sweep();
    assert.equal(ob.rows, 0);
  });
});
