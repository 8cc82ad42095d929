import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { Ticker } from '../../src/pipeline/ticker.ts';

const T0 = 1_000_000;

/**
 * A virtual clock: setTimeout and Date are mocked, and performance.now follows Date, so `clock.tick(ms)` moves time
 * exactly and a timer fires late by however far the tick overshoots its due time (like a busy event loop).
 */
function virtualClock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  t.mock.method(performance, 'now', () => Date.now());
  return {
    async tick(ms: number) {
      t.mock.timers.tick(ms);
      // Let the task's promise continuations run, as the event loop would between timers.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
}

describe('Ticker', () => {
  test('tick n is scheduled at start + n × interval however late the previous ticks fired', async (t) => {
    const clock = virtualClock(t);
    const runs: { scheduledAt: number; ranAt: number }[] = [];
    const ticker = new Ticker(100, (scheduledAt) => {
      runs.push({ scheduledAt, ranAt: Date.now() });
    });
    ticker.start();
    await clock.tick(0);
    // Each step overshoots a due time by a different amount: with a naive setTimeout(interval) per tick, lateness
    // would add up (100+30, then +100 → 230, …).
    for (const step of [130, 70, 95, 5, 160, 40]) await clock.tick(step);
    await ticker.stop();
    assert.deepEqual(
      runs.map((r) => r.scheduledAt - T0),
      [0, 100, 200, 300, 400, 500],
    );
    assert.deepEqual(
      runs.map((r) => r.ranAt - T0),
      [0, 130, 200, 300, 460, 500],
    );
    assert.deepEqual(ticker.stats, { ticks: 6, overruns: 0, missed: 0 });
  });

  test('a phase delays tick 0, and the grid starts there', async (t) => {
    const clock = virtualClock(t);
    const scheduled: number[] = [];
    const ticker = new Ticker(100, (at) => {
      scheduled.push(at - T0);
    });
    ticker.start(30);
    await clock.tick(29);
    assert.deepEqual(scheduled, []);
    for (const step of [1, 100, 100]) await clock.tick(step);
    await ticker.stop();
    assert.deepEqual(scheduled, [30, 130, 230]);
  });

  test('ticks missed while the event loop was blocked are skipped and counted, not bunched', async () => {
    // Real timers: a blocked loop is what a busy CPU does to the sampler, and a mocked clock cannot drain the task's
    // promise between two timers due at the same instant.
    const interval = 20;
    const runs: number[] = [];
    let done: () => void = () => {};
    const sixRuns = new Promise<void>((resolve) => (done = resolve));
    const ticker = new Ticker(interval, (at) => {
      runs.push(at);
      if (runs.length === 1) {
        const until = performance.now() + 3.5 * interval;
        while (performance.now() < until) { /* the loop is stuck */ }
      }
      if (runs.length === 6) done();
    });
    ticker.start();
    await sixRuns;
    await ticker.stop();
    const slots = runs.map((at) => (at - runs[0]!) / interval);
    for (const s of slots) assert.ok(Math.abs(s - Math.round(s)) * interval <= 1.5, `run at slot ${s} is off the grid`);
    const indices = slots.map(Math.round);
    for (let i = 1; i < indices.length; i++) assert.ok(indices[i]! > indices[i - 1]!, `slots not increasing: ${indices}`);
    const skipped = indices.at(-1)! + 1 - indices.length;
    assert.ok(skipped >= 1, `the 70 ms block should have cost a slot: ${indices}`);
    assert.ok(ticker.stats.missed + ticker.stats.overruns >= skipped, `every skipped slot is counted: ${JSON.stringify(ticker.stats)}`);
    assert.equal(ticker.stats.ticks, 6);
  });

  test('a tick whose previous run is still going is skipped and counted as an overrun, never stacked', async (t) => {
    const clock = virtualClock(t);
    let release: () => void = () => {};
    let running = 0;
    let maxRunning = 0;
    const starts: number[] = [];
    const ticker = new Ticker(100, async (at) => {
      starts.push(at - T0);
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (starts.length === 1) await new Promise<void>((resolve) => (release = resolve));
      running--;
    });
    ticker.start();
    await clock.tick(0);
    for (let i = 0; i < 3; i++) await clock.tick(100);
    assert.deepEqual(ticker.stats, { ticks: 1, overruns: 3, missed: 0 });
    release();
    await clock.tick(0);
    await clock.tick(100);
    await ticker.stop();
    assert.deepEqual(starts, [0, 400]);
    assert.equal(maxRunning, 1);
    assert.deepEqual(ticker.stats, { ticks: 2, overruns: 3, missed: 0 });
  });

  test('a task that throws does not stop the ticker', async (t) => {
    const clock = virtualClock(t);
    let calls = 0;
    const ticker = new Ticker(10, () => {
      calls++;
      throw new Error('boom');
    });
    ticker.start();
    await clock.tick(0);
    for (let i = 0; i < 4; i++) await clock.tick(10);
    await ticker.stop();
    assert.equal(calls, 5);
  });

  test('stop waits for the run in progress and no tick fires afterwards', async (t) => {
    const clock = virtualClock(t);
    let release: () => void = () => {};
    let finished = false;
    let calls = 0;
    const ticker = new Ticker(100, async () => {
      calls++;
      await new Promise<void>((resolve) => (release = resolve));
      finished = true;
    });
    ticker.start();
    await clock.tick(0);
    let stopped = false;
    const stop = ticker.stop().then(() => (stopped = true));
    await clock.tick(0);
    assert.equal(stopped, false);
    release();
    await stop;
    assert.equal(finished, true);
    await clock.tick(1000);
    assert.equal(calls, 1);
  });

  test('with real timers the scheduled times stay on the grid', async () => {
    const interval = 10;
    const scheduled: number[] = [];
    let done: () => void = () => {};
    const tenTicks = new Promise<void>((resolve) => (done = resolve));
    const ticker = new Ticker(interval, (at) => {
      scheduled.push(at);
      if (scheduled.length === 10) done();
    });
    ticker.start();
    await tenTicks;
    await ticker.stop();
    const first = scheduled[0]!;
    // scheduledAt is converted from the monotonic clock to epoch ms, so allow for rounding only.
    for (const at of scheduled) {
      const n = Math.round((at - first) / interval);
      assert.ok(Math.abs(at - first - n * interval) <= 1.5, `tick at ${at - first} ms is off the ${interval} ms grid`);
    }
  });
});
