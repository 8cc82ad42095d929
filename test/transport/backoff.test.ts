import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/transport/adapter.ts';

/** The delays of `n` attempts with a fixed random draw. */
const delays = (b: Backoff, n: number) => Array.from({ length: n }, () => b.next());

test('doubles from min at each attempt up to max, and counts attempts', () => {
  const b = new Backoff(100, 1000, () => 1);
  assert.deepEqual(delays(b, 7), [100, 200, 400, 800, 1000, 1000, 1000]);
  assert.equal(b.attempt, 7);
});

test('jitter: between half the delay (random 0) and the whole delay (random 1)', () => {
  assert.deepEqual(delays(new Backoff(100, 1000, () => 0), 5), [50, 100, 200, 400, 500]);
  assert.deepEqual(delays(new Backoff(100, 1000, () => 0.5), 5), [75, 150, 300, 600, 750]);
  const b = new Backoff(100, 1000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const ceiling = Math.min(1000, 100 * 2 ** attempt);
    const d = b.next();
    assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d} outside [${ceiling / 2}, ${ceiling}]`);
  }
});

test('stays capped after very many attempts', () => {
  const b = new Backoff(10, 30_000, () => 1);
  b.attempt = 10_000;
  assert.equal(b.next(), 30_000);
});

test('a max below min is raised to min', () => {
  const b = new Backoff(500, 100, () => 1);
  assert.equal(b.maxMs, 500);
  assert.deepEqual(delays(b, 3), [500, 500, 500]);
});

test('reset starts again from min', () => {
  const b = new Backoff(100, 1000, () => 1);
  delays(b, 4);
  b.reset();
  assert.equal(b.attempt, 0);
  assert.equal(b.next(), 100);
});
