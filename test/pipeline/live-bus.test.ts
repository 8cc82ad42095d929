import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveBus, RETAINED_TOPICS_MAX, topicMatches } from '../../src/pipeline/live-bus.ts';
import type { DurableRecord } from '../../src/pipeline/record.ts';

describe('topicMatches', () => {
  const cases: [string, string, boolean][] = [
    ['sensors/a', 'sensors/a', true],
    ['sensors/a', 'sensors/b', false],
    ['sensors/a', 'sensors/a/x', false],
    ['sensors/a/x', 'sensors/a', false],
    ['sensors/+', 'sensors/a', true],
    ['sensors/+', 'sensors', false],
    ['sensors/+', 'sensors/a/x', false],
    ['+/a', 'sensors/a', true],
    ['+/+', 'sensors/a', true],
    ['sensors/*', 'sensors/a', true],
    ['sensors/*', 'detections/a', false],
    ['sensors/*', 'sensors/a/x', false],
    ['*/a', 'sensors/a', true],
    ['sensors/#', 'sensors/a', true],
    ['sensors/#', 'sensors/a/x/y', true],
    ['sensors/#', 'detections/a', false],
    ['#', 'sensors/a', true],
    ['#', 'status', true],
    ['sensors/+/#', 'sensors/a/x', true],
    ['sensors/+/#', 'other/a/x', false],
  ];
  for (const [filter, topic, expected] of cases) {
    test(`${filter} ${expected ? 'matches' : 'does not match'} ${topic}`, () => {
      assert.equal(topicMatches(filter, topic), expected);
    });
  }
});

describe('LiveBus', () => {
  const record = { id: 'x', topic: 'sensors/a', json: '{}' } as DurableRecord;

  test('delivers each record to every listener until it unsubscribes', () => {
    const bus = new LiveBus();
    const a: DurableRecord[] = [];
    const b: DurableRecord[] = [];
    const offA = bus.subscribe((r) => a.push(r));
    bus.subscribe((r) => b.push(r));
    assert.equal(bus.listenerCount, 2);
    bus.publish(record);
    offA();
    bus.publish(record);
    assert.equal(bus.listenerCount, 1);
    assert.deepEqual([a.length, b.length], [1, 2]);
    assert.equal(a[0], record);
  });
});

describe('LiveBus retained records', () => {
  const rec = (topic: string, id: string) => ({ id, topic, json: '{}' }) as DurableRecord;

  test('keeps the last record of each topic and returns those matching a filter', () => {
    const bus = new LiveBus();
    bus.publish(rec('sensors/a', '1'));
    bus.publish(rec('sensors/b', '2'));
    bus.publish(rec('sensors/a', '3'));
    bus.publish(rec('cameras/c/events', '4'));
    assert.deepEqual(bus.retained('sensors/+').map((r) => r.id), ['2', '3']);
    assert.deepEqual(bus.retained('#').map((r) => r.id), ['2', '3', '4']);
    assert.deepEqual(bus.retained('ota/#'), []);
  });

  test('forgets the least recently updated topic past RETAINED_TOPICS_MAX', () => {
    const bus = new LiveBus();
    for (let i = 0; i <= RETAINED_TOPICS_MAX; i++) bus.publish(rec(`t/${i}`, String(i)));
    const kept = bus.retained('t/+');
    assert.equal(kept.length, RETAINED_TOPICS_MAX);
    assert.equal(kept[0]!.id, '1');
  });
});
