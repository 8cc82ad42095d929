// One channel end to end (sampler → bounded queue → stage → sink) when the consumer falls behind: each queue policy
// does what the docs say, and every reading is either delivered or counted as dropped.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { resolveConfig } from '../../src/app/config.ts';
import type { SensorConfig } from '../../src/config/schema.ts';
import type { RecordDraft } from '../../src/pipeline/record.ts';
import { Channel } from '../../src/sensors/channel.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { waitUntil } from '../support/wait.ts';

interface Options {
  policy: 'drop-oldest' | 'drop-newest' | 'block';
  capacity?: number;
  timeoutMs?: number;
}

/**
 * A channel reading 0, 1, 2, … every 2 ms into a sink the test holds: while held, the sink takes one record and
 * does not return, so the queue behind it fills.
 */
function harness(t: TestContext, o: Options) {
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  let n = 0;
  const driver = { read: async () => (queueMicrotask(changed), n++), close: async () => {} };
  const [config] = resolveConfig({
    sensors: [{ id: 'c1', driver: 'simulated', interval_ms: 2, timeout_ms: o.timeoutMs ?? 5000, queue: { capacity: o.capacity ?? 4, policy: o.policy } }],
  }).sensors as SensorConfig[];
  const delivered: number[] = [];
  let held = true;
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const sink = (d: RecordDraft) => {
    delivered.push(d.data.value as number);
    changed();
    return held ? gate : undefined;
  };
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => (logs.push(JSON.parse(line) as Record<string, unknown>), changed()) });
  const metrics = new Metrics();
  const channel = new Channel({ config: config as SensorConfig, driver, sink, metrics, log });
  t.after(() => channel.stop(), { timeout: 5000 });
  channel.start();
  return {
    channel,
    delivered,
    logs,
    metrics,
    reads: () => n,
    open: () => {
      held = false;
      release();
    },
    until: (predicate: () => boolean, what: string) =>
      waitUntil({
        check: () => (predicate() ? true : undefined),
        subscribe: (recheck) => (listeners.add(recheck), () => listeners.delete(recheck)),
        timeoutMs: 10_000,
        describe: () => `${what}; reads ${n}, delivered ${delivered.length}, drops ${JSON.stringify(channel.queue.drops)}, sampler ${JSON.stringify(channel.sampler.stats)}`,
      }),
  };
}

/** Every reading taken is delivered or counted as dropped: nothing disappears without a count. */
function assertAccounted(h: ReturnType<typeof harness>): void {
  const samples = h.channel.sampler.stats.samples;
  assert.equal(h.delivered.length + h.channel.drops, samples, `delivered ${h.delivered.length} + dropped ${h.channel.drops} vs ${samples} read`);
  for (let i = 1; i < h.delivered.length; i++) assert.ok(h.delivered[i]! > h.delivered[i - 1]!, 'in order');
}

describe('Channel with a consumer that falls behind', () => {
  test('drop-oldest: sampling goes on, the oldest readings make room and are counted', async (t) => {
    const h = harness(t, { policy: 'drop-oldest', capacity: 4 });
    await h.until(() => h.channel.queue.drops['overflow-oldest'] >= 10, '10 readings dropped');
    assert.equal(h.channel.sampler.stats.queueWaits, 0, 'never waits');
    assert.equal(h.channel.queue.size, 4);
    h.open();
    await h.channel.stop();
    assertAccounted(h);
    assert.equal(h.channel.queue.drops['overflow-newest'] + h.channel.queue.drops['block-timeout'], 0);
    // The first reading went to the sink before it was held; what waited then were the newest four.
    const dropped = h.channel.queue.drops['overflow-oldest'];
    assert.deepEqual(h.delivered.slice(1, 5), [dropped + 1, dropped + 2, dropped + 3, dropped + 4]);
    assert.match(await h.metrics.render(), new RegExp(`edgeloop_drops_total\\{stage="queue",reason="overflow-oldest"\\} ${dropped}`));
  });

  test('drop-newest: sampling goes on, new readings are refused and counted, what was queued is kept', async (t) => {
    const h = harness(t, { policy: 'drop-newest', capacity: 4 });
    await h.until(() => h.channel.queue.drops['overflow-newest'] >= 10, '10 readings refused');
    assert.equal(h.channel.sampler.stats.queueWaits, 0, 'never waits');
    h.open();
    await h.channel.stop();
    assertAccounted(h);
    assert.deepEqual(h.delivered.slice(0, 5), [0, 1, 2, 3, 4], 'the reading in the sink, then the four queued');
  });

  test('block: the sampler waits for room instead of reading on, says so, and loses nothing when room comes in time', async (t) => {
    const h = harness(t, { policy: 'block', capacity: 4, timeoutMs: 60_000 });
    await h.until(() => h.channel.sampler.stats.queueWaits === 1, 'the sampler waiting');
    const reads = h.reads();
    // One in the sink, four queued, one held by the waiting sampler.
    assert.equal(reads, 6);
    // Time passes: ticks fall while the sampler waits and are counted as overruns, and nothing more is read. Nothing
    // happens to signal a skipped tick, so the condition is re-checked on the clock.
    await waitUntil({
      check: () => (h.channel.sampler.overruns >= 10 ? true : undefined),
      subscribe: (recheck) => {
        const timer = setInterval(recheck, 5);
        return () => clearInterval(timer);
      },
      timeoutMs: 10_000,
      describe: () => `overruns ${h.channel.sampler.overruns}`,
    });
    assert.equal(h.reads(), reads, 'no read while the queue is full');
    assert.equal(h.channel.drops, 0);
    const line = h.logs.find((l) => l.msg === 'queue full: sampling waits for room (policy block)');
    assert.ok(line, JSON.stringify(h.logs));
    assert.equal(line.sensor, 'c1');
    assert.equal(line.max_wait_ms, 60_000);
    h.open();
    await h.until(() => h.delivered.length >= reads + 5, 'sampling resumed');
    await h.channel.stop();
    assertAccounted(h);
    assert.equal(h.channel.drops, 0);
    assert.deepEqual(h.delivered, h.delivered.map((_, i) => i), 'every reading, in order, none lost');
  });

  test('block: a reading still without room after the read timeout is dropped as block-timeout and counted', async (t) => {
    const h = harness(t, { policy: 'block', capacity: 2, timeoutMs: 20 });
    await h.until(() => h.channel.queue.drops['block-timeout'] >= 3, 'three readings given up');
    assert.ok(h.channel.sampler.stats.queueWaits >= 3);
    assert.equal(h.channel.queue.size, 2, 'what was queued stays');
    const drops = h.channel.queue.drops['block-timeout'];
    assert.match(await h.metrics.render(), new RegExp(`edgeloop_drops_total\\{stage="queue",reason="block-timeout"\\} ${drops}`));
    h.open();
    await h.channel.stop();
    assertAccounted(h);
  });

  test('block: stopping a channel whose sampler waits returns at once and counts the reading it held', async (t) => {
    const h = harness(t, { policy: 'block', capacity: 1, timeoutMs: 600_000 });
    await h.until(() => h.channel.sampler.stats.queueWaits === 1, 'the sampler waiting');
    const stopping = h.channel.stop();
    h.open();
    await stopping;
    assert.equal(h.channel.queue.drops['block-timeout'], 1);
    assertAccounted(h);
  });
});
