// The dashboard's logic that needs no browser: where the API is, reconnect delays, the bounded chart history.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Backoff, RECONNECT_MAX_MS, RECONNECT_MIN_MS } from '../../src/web/app/backoff.ts';
import { basePath, wsUrl } from '../../src/web/app/base.ts';
import { BUCKET_S, MAX_POINTS, Series, WINDOW_S } from '../../src/web/app/series.ts';

describe('basePath', () => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['/edgeloop/', '/edgeloop/'],
    ['/edgeloop', '/edgeloop/'],
    ['/a/b/', '/a/b/'],
    ['/a/index.html', '/a/'],
  ];
  for (const [path, base] of cases) test(`${path} → ${base}`, () => assert.equal(basePath(path), base));

  test('the WebSocket URL follows the page: ws beside http, wss beside https, under the sub-path', () => {
    assert.equal(wsUrl({ protocol: 'http:', host: '10.0.0.5:8080', pathname: '/' }), 'ws://10.0.0.5:8080/ws');
    assert.equal(wsUrl({ protocol: 'https:', host: 'home.example', pathname: '/edge' }), 'wss://home.example/edge/ws');
  });
});

describe('Backoff', () => {
  test('doubles from the minimum to the maximum, each delay in [d/2, d], and starts over after reset', () => {
    const low = new Backoff(() => 0);
    const high = new Backoff(() => 1);
    const lows = Array.from({ length: 8 }, () => low.next());
    const highs = Array.from({ length: 8 }, () => high.next());
    assert.deepEqual(highs, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    assert.deepEqual(lows, highs.map((d) => d / 2));
    assert.equal(highs[0], RECONNECT_MIN_MS);
    assert.equal(Math.max(...highs), RECONNECT_MAX_MS);
    high.reset();
    assert.equal(high.next(), RECONNECT_MIN_MS);
  });
});

describe('Series', () => {
  test('keeps one point per bucket, the newest value, in time order', () => {
    const s = new Series();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 10; i++) s.add(t0 + i * 50, i); // 20 Hz for half a second
    assert.equal(s.length, Math.ceil((10 * 50) / (BUCKET_S * 1000)));
    assert.equal(s.v[s.length - 1], 9);
    assert.deepEqual([...s.t].sort((a, b) => a - b), s.t);
    s.add(t0, 99); // older than the chart's end: ignored
    assert.equal(s.v.includes(99), false);
  });

  test(`stays within ${WINDOW_S} s and ${MAX_POINTS} points`, () => {
    const s = new Series();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 20_000; i++) s.add(t0 + i * 100, i);
    assert.ok(s.length <= MAX_POINTS);
    const span = (s.t[s.length - 1] as number) - (s.t[0] as number);
    assert.ok(span <= WINDOW_S, `${span} s kept`);
    assert.ok(span >= WINDOW_S - 2 * BUCKET_S, `${span} s kept`);
  });
});
