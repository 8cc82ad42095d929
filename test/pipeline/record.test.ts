import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { payloadOf, uuidv7 } from '../../src/pipeline/record.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The 48-bit millisecond timestamp at the front of a UUIDv7. */
const msOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  test('has the RFC 9562 layout: version 7, variant 10, and the given time in its first 48 bits', () => {
    const now = Date.now();
    const id = uuidv7(now);
    assert.match(id, UUID_V7);
    const bytes = Buffer.from(id.replace(/-/g, ''), 'hex');
    assert.equal(bytes[6]! >> 4, 7, 'version nibble');
    assert.equal(bytes[8]! >> 6, 0b10, 'variant bits');
    assert.equal(msOf(id), now);
  });

  test('ids made in one millisecond are unique and sort in the order they were made, past the 12-bit counter', () => {
    const now = Date.now() + 1000;
    // More than 4096: the counter overflows into the next millisecond rather than wrapping.
    const ids = Array.from({ length: 5000 }, () => uuidv7(now));
    for (const id of ids) assert.match(id, UUID_V7);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(msOf(ids[0]!), now);
  });

  test('a clock that steps back does not break the order', () => {
    const now = Date.now() + 5000;
    const a = uuidv7(now);
    const b = uuidv7(now - 2000);
    assert.ok(b > a, `${b} should sort after ${a}`);
  });
});

describe('payloadOf', () => {
  test('publishes id, device, the data fields, seq and ts as ISO-8601 UTC with milliseconds', () => {
    const ts = Date.UTC(2025, 0, 2, 3, 4, 5, 6);
    const json = payloadOf(
      {
        id: uuidv7(ts), kind: 'reading', source: 't1', topic: 'sensors/t1', ts, priority: 1, seq: 42,
        data: { sensor: 't1', value: 21.5, unit: 'celsius' },
      },
      'dev1',
    );
    const p = JSON.parse(json) as Record<string, unknown>;
    assert.deepEqual(Object.keys(p).sort(), ['device', 'id', 'sensor', 'seq', 'ts', 'unit', 'value']);
    assert.match(p.id as string, UUID_V7);
    assert.equal(p.device, 'dev1');
    assert.equal(p.sensor, 't1');
    assert.equal(p.value, 21.5);
    assert.equal(p.unit, 'celsius');
    assert.equal(p.seq, 42);
    assert.equal(p.ts, '2025-01-02T03:04:05.006Z');
    assert.match(p.ts as string, ISO_MS_UTC);
  });

  test('data cannot override seq or ts', () => {
    const p = JSON.parse(payloadOf(
      { id: 'i', kind: 'reading', source: 's', topic: 't', ts: 0, priority: 1, seq: 1, data: { seq: 99, ts: 'x' } },
      'd',
    )) as Record<string, unknown>;
    assert.equal(p.seq, 1);
    assert.equal(p.ts, '1970-01-01T00:00:00.000Z');
  });
});
