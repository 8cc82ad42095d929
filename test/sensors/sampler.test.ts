import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { BoundedQueue } from '../../src/pipeline/bounded-queue.ts';
import type { SensorDriver } from '../../src/sensors/driver.ts';
import { Sampler, type Reading } from '../../src/sensors/sampler.ts';
import { RateLimitedLog } from '../../src/telemetry/logger.ts';
import { waitUntil } from '../support/wait.ts';

/** A driver whose n-th read (from 0) is whatever `read` says; counts reads and closes. */
function scriptedDriver(read: (n: number, signal: AbortSignal) => Promise<number>) {
  const d = { reads: 0, closed: false };
  const driver: SensorDriver = {
    read: (signal) => read(d.reads++, signal),
    close: async () => {
      d.closed = true;
    },
  };
  return Object.assign(d, { driver });
}

/** Rejects when `signal` aborts, like a well-behaved driver stuck on slow hardware. */
const untilAborted = (signal: AbortSignal) =>
  new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

interface Harness {
  sampler: Sampler;
  queue: BoundedQueue<Reading>;
  /** Every onError reason, in order. */
  errors: ('error' | 'timeout')[];
  /** Log lines written, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves once `predicate` holds; re-checked on every sample, error and log line. */
  until(predicate: () => boolean, what: string): Promise<void>;
}

function harness(
  t: TestContext,
  driver: SensorDriver,
  o: { intervalMs?: number; timeoutMs?: number; capacity?: number } = {},
): Harness {
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => (logs.push(JSON.parse(line) as Record<string, unknown>), changed()) });
  const queue = new BoundedQueue<Reading>({ capacity: o.capacity ?? 1000, policy: 'drop-oldest' });
  const errors: ('error' | 'timeout')[] = [];
  const sampler = new Sampler({
    sensor: 'probe',
    intervalMs: o.intervalMs ?? 2,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    driver,
    queue,
    log,
    onSample: changed,
    onError: (reason) => (errors.push(reason), changed()),
  });
  // Bounded, so a regression that hangs stop() fails the test instead of hanging the run.
  t.after(() => sampler.stop(), { timeout: 5000 });
  sampler.start();
  return {
    sampler, queue, errors, logs,
    until: (predicate, what) =>
      waitUntil({
        check: () => (predicate() ? true : undefined),
        subscribe: (recheck) => (listeners.add(recheck), () => listeners.delete(recheck)),
        timeoutMs: 10_000,
        describe: () => `${what}; stats ${JSON.stringify(sampler.stats)}, ${logs.length} log lines`,
      }).then(() => undefined),
  };
}

describe('Sampler', () => {
  test('pushes readings with the sensor id and a timestamp, and tracks the last value and the rate', async (t) => {
    const d = scriptedDriver(async (n) => n);
    const h = harness(t, d.driver, { intervalMs: 5 });
    await h.until(() => h.queue.size >= 10, '10 readings');
    const readings = h.queue.drain();
    assert.deepEqual(readings.slice(0, 3).map((r) => [r.sensor, r.value]), [['probe', 0], ['probe', 1], ['probe', 2]]);
    for (let i = 1; i < readings.length; i++) assert.ok(readings[i]!.ts >= readings[i - 1]!.ts);
    assert.equal(h.sampler.stats.lastValue, readings.at(-1)!.value);
    assert.ok(h.sampler.rateHz() > 20 && h.sampler.rateHz() <= 400, `rate ${h.sampler.rateHz()} Hz at a 5 ms interval`);
    assert.equal(h.sampler.rateHz(Date.now() + 60_000), 0, 'a channel gone quiet reports 0 Hz');
  });

  test('a failing driver is counted and logged once per window, and the channel keeps going', async (t) => {
    const d = scriptedDriver(async (n) => {
      if (n < 40) throw new Error(`i2c nack ${n}`);
      return 20 + n;
    });
    const h = harness(t, d.driver);
    await h.until(() => h.queue.size >= 5, 'readings after the failures stopped');
    assert.equal(h.sampler.stats.errors, 40);
    assert.equal(h.sampler.stats.timeouts, 0);
    assert.deepEqual(new Set(h.errors), new Set(['error']));
    assert.equal(h.errors.length, 40);
    assert.equal(h.sampler.stats.lastError, 'i2c nack 39');
    assert.equal(h.queue.drain()[0]!.value, 60);
    // 40 failures within the 10 s rate window: one line, the first.
    assert.equal(h.logs.length, 1, JSON.stringify(h.logs));
    assert.equal(h.logs[0]!.msg, 'sensor read failed');
    assert.equal(h.logs[0]!.sensor, 'probe');
    assert.equal(h.logs[0]!.reason, 'error');
    assert.equal(h.logs[0]!.err, 'i2c nack 0');
  });

  test('a value that is not a finite number is a read error, not a reading', async (t) => {
    const d = scriptedDriver(async (n) => (n < 3 ? [NaN, Infinity, -Infinity][n]! : 1));
    const h = harness(t, d.driver);
    await h.until(() => h.queue.size >= 1, 'a reading');
    assert.equal(h.sampler.stats.errors, 3);
    assert.deepEqual(h.queue.drain().map((r) => r.value).slice(0, 1), [1]);
  });

  test('a slow read is aborted at timeout_ms, counted as a timeout, and sampling goes on', async (t) => {
    const d = scriptedDriver((n, signal) => (n < 3 ? untilAborted(signal) : Promise.resolve(n)));
    const h = harness(t, d.driver, { intervalMs: 5, timeoutMs: 15 });
    await h.until(() => h.queue.size >= 3, 'readings after the slow ones');
    assert.equal(h.sampler.stats.timeouts, 3);
    assert.equal(h.sampler.stats.errors, 0);
    assert.deepEqual(h.errors, ['timeout', 'timeout', 'timeout']);
    assert.ok(h.sampler.overruns > 0, 'ticks that fell while a read hung are counted');
    assert.equal(h.logs.length, 1);
    assert.equal(h.logs[0]!.reason, 'timeout');
  });

  test('a driver that ignores the abort signal still cannot stop the channel', async (t) => {
    const d = scriptedDriver((n) => (n === 0 ? new Promise<number>(() => {}) : Promise.resolve(n)));
    const h = harness(t, d.driver, { intervalMs: 5, timeoutMs: 15 });
    await h.until(() => h.queue.size >= 3, 'readings after the hung read');
    assert.equal(h.sampler.stats.timeouts, 1);
  });

  test('never waits for the consumer: a full queue drops the oldest and counts it', async (t) => {
    const d = scriptedDriver(async (n) => n);
    const h = harness(t, d.driver, { capacity: 3 });
    await h.until(() => h.sampler.stats.samples >= 10, '10 samples');
    await h.sampler.stop();
    const samples = h.sampler.stats.samples;
    assert.equal(h.queue.drops['overflow-oldest'], samples - 3);
    assert.deepEqual(h.queue.drain().map((r) => r.value), [samples - 3, samples - 2, samples - 1]);
  });

  test('stop aborts a read in progress without counting it, and closes the driver', async (t) => {
    let started: () => void = () => {};
    const reading = new Promise<void>((resolve) => (started = resolve));
    const d = scriptedDriver((_, signal) => (started(), untilAborted(signal)));
    const h = harness(t, d.driver, { intervalMs: 5, timeoutMs: 60_000 });
    await reading;
    await h.sampler.stop();
    assert.equal(d.closed, true);
    assert.deepEqual(h.errors, []);
    assert.equal(h.sampler.stats.timeouts + h.sampler.stats.errors, 0);
  });
});

describe('RateLimitedLog', () => {
  test('emits the first hit, then at most one line per window carrying the number suppressed', () => {
    const rl = new RateLimitedLog(1000);
    const emitted: [number, number][] = [];
    for (let ms = 0; ms < 2500; ms += 100) rl.hit((suppressed) => emitted.push([ms, suppressed]), ms);
    assert.deepEqual(emitted, [[0, 0], [1000, 9], [2000, 9]]);
  });
});
