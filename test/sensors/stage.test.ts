import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AggregateConfig, DeadbandConfig } from '../../src/config/schema.ts';
import { createStage, type Emission, type Stage } from '../../src/sensors/stage.ts';

const ALL_STATS: Exclude<AggregateConfig, 'none'>['stats'] = ['min', 'max', 'mean', 'last', 'count'];

/** Pushes [ts, value] pairs and returns everything emitted, in order. */
function feed(stage: Stage, readings: [number, number][]): Emission[] {
  return readings.flatMap(([ts, value]) => stage.push({ sensor: 's', ts, value }));
}
const values = (es: Emission[]) => es.map((e) => e.value);

describe('pass-through stage', () => {
  test('emits every reading as it is, and nothing on flush', () => {
    const stage = createStage('none', undefined);
    assert.deepEqual(feed(stage, [[1, 10], [2, 11]]), [{ ts: 1, value: 10 }, { ts: 2, value: 11 }]);
    assert.deepEqual(stage.flush(), []);
  });
});

describe('aggregate stage', () => {
  const T = 1_700_000_000_000; // a multiple of 100: windows are aligned to the epoch

  test('closes a window when the first reading of the next one arrives, with min/max/mean/last/count', () => {
    const stage = createStage({ window_ms: 100, stats: ALL_STATS }, undefined);
    assert.deepEqual(feed(stage, [[T, 4], [T + 30, 1], [T + 60, 7], [T + 99, 2]]), []);
    const [e, ...rest] = feed(stage, [[T + 100, 50]]);
    assert.deepEqual(rest, []);
    assert.deepEqual(e, { ts: T + 99, value: 3.5, stats: { min: 1, max: 7, mean: 3.5, last: 2, count: 4 }, window_ms: 100 });
  });

  test('a reading exactly on the boundary starts the next window', () => {
    const stage = createStage({ window_ms: 100, stats: ['count', 'last'] }, undefined);
    const out = feed(stage, [[T, 1], [T + 100, 2], [T + 199, 3], [T + 200, 4]]);
    assert.deepEqual(out.map((e) => e.stats), [{ count: 1, last: 1 }, { count: 2, last: 3 }]);
  });

  test('a gap of several windows emits only the windows that had readings', () => {
    const stage = createStage({ window_ms: 100, stats: ['count'] }, undefined);
    const out = feed(stage, [[T + 10, 1], [T + 520, 2], [T + 530, 3]]);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.stats, { count: 1 });
    assert.deepEqual(stage.flush()[0]!.stats, { count: 2 });
  });

  test('windows are aligned to the epoch, not to the first reading', () => {
    const stage = createStage({ window_ms: 100, stats: ['count'] }, undefined);
    // 50 and 120 are 70 ms apart but fall in different aligned windows.
    assert.equal(feed(stage, [[T + 50, 1], [T + 120, 2]]).length, 1);
  });

  test('flush emits the partial window once, then nothing; the next window starts clean', () => {
    const stage = createStage({ window_ms: 1000, stats: ALL_STATS }, undefined);
    feed(stage, [[T + 1, -2], [T + 2, 6]]);
    assert.deepEqual(stage.flush(), [{ ts: T + 2, value: 2, stats: { min: -2, max: 6, mean: 2, last: 6, count: 2 }, window_ms: 1000 }]);
    assert.deepEqual(stage.flush(), []);
    feed(stage, [[T + 3, 10]]);
    assert.deepEqual(stage.flush()[0]!.stats, { min: 10, max: 10, mean: 10, last: 10, count: 1 });
  });

  test('only the configured stats are published; the value is the mean if asked for, else the last', () => {
    const withMean = createStage({ window_ms: 100, stats: ['max', 'mean'] }, undefined);
    feed(withMean, [[T, 1], [T + 1, 3]]);
    assert.deepEqual(withMean.flush()[0], { ts: T + 1, value: 2, stats: { max: 3, mean: 2 }, window_ms: 100 });
    const withoutMean = createStage({ window_ms: 100, stats: ['min'] }, undefined);
    feed(withoutMean, [[T, 1], [T + 1, 3]]);
    assert.deepEqual(withoutMean.flush()[0], { ts: T + 1, value: 3, stats: { min: 1 }, window_ms: 100 });
  });
});

describe('deadband stage', () => {
  const run = (deadband: DeadbandConfig, readings: [number, number][]) => {
    const stage = createStage('none', deadband);
    return feed(stage, readings);
  };

  test('absolute: reports the first reading, then only moves larger than the band from the last reported', () => {
    const out = run(0.5, [[0, 10], [1, 10.3], [2, 10.6], [3, 10.2], [4, 10.5], [5, 10.0], [6, 9.8]]);
    // 10.3 and 10.5 are within 0.5 of 10; 10.6 moved 0.6 (reported), 10.2 and 10.5 are within 0.5 of 10.6; 10.0 moved 0.6.
    assert.deepEqual(values(out), [10, 10.6, 10.0]);
  });

  test('absolute given as an object, and a move exactly equal to the band is not reported', () => {
    assert.deepEqual(values(run({ absolute: 1 }, [[0, 5], [1, 6], [2, 7.5]])), [5, 7.5]);
  });

  test('percent: the band is a fraction of the last reported value', () => {
    const out = run({ percent: 10 }, [[0, 100], [1, 109], [2, 111], [3, 101], [4, 99]]);
    // 109 is within 10 % of 100; 111 is not; then the band is 11.1 around 111: 101 is within, 99 is not.
    assert.deepEqual(values(out), [100, 111, 99]);
  });

  test('absolute and percent together: a move must exceed both', () => {
    const out = run({ absolute: 5, percent: 1 }, [[0, 100], [1, 103], [2, 106], [3, 106.5]]);
    // 103 exceeds 1 % but not 5; 106 exceeds both; 106.5 exceeds neither.
    assert.deepEqual(values(out), [100, 106]);
  });

  test('max_interval_ms: an unchanged value is still reported as a heartbeat', () => {
    const readings: [number, number][] = Array.from({ length: 26 }, (_, i) => [i * 100, 20]);
    const out = run({ absolute: 1, max_interval_ms: 1000 }, readings);
    assert.deepEqual(out.map((e) => e.ts), [0, 1000, 2000]);
  });

  test('a reported move restarts the heartbeat interval', () => {
    const out = run({ absolute: 1, max_interval_ms: 1000 }, [[0, 1], [600, 5], [1200, 5], [1600, 5]]);
    assert.deepEqual(out.map((e) => e.ts), [0, 600, 1600]);
  });

  test('flush of a pass-through deadband emits nothing', () => {
    const stage = createStage('none', 1);
    feed(stage, [[0, 1]]);
    assert.deepEqual(stage.flush(), []);
  });
});

describe('aggregate then deadband', () => {
  const T = 1_700_000_000_000;

  test('the deadband filters window results (by their mean), including the one flushed at shutdown', () => {
    const stage = createStage({ window_ms: 100, stats: ['mean', 'count'] }, { absolute: 1 });
    const out = feed(stage, [
      [T, 10], [T + 50, 12], // mean 11: first, reported
      [T + 100, 11], [T + 150, 11.8], // mean 11.4: within 1 of 11
      [T + 200, 14], // mean 14: reported
      [T + 300, 14.2], // closes 14 window
    ]);
    assert.deepEqual(values(out), [11, 14]);
    assert.deepEqual(out.map((e) => e.stats?.count), [2, 1]);
    // The partial window (14.2) is within the band of 14: nothing to report at shutdown.
    assert.deepEqual(stage.flush(), []);
  });

  test('a partial window that moved past the band is reported by flush', () => {
    const stage = createStage({ window_ms: 100, stats: ['mean'] }, 0.5);
    feed(stage, [[T, 1], [T + 100, 3]]);
    assert.deepEqual(values(stage.flush()), [3]);
  });
});
