import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { isEdgeloopError } from '../../src/errors.ts';
import type { SensorDriver } from '../../src/sensors/driver.ts';
import { decodeRegisters, VALUE_TYPES, type ValueType } from '../../src/sensors/drivers/modbus.ts';
import { freePort } from '../support/ports.ts';
import { driverFromConfig } from './driver-suite.ts';
import { registers, startModbusServer, type ModbusTestServer } from './modbus-server.ts';

const live = new AbortController().signal;

/** The wire bytes of `value` as `type`, big-endian, then with bytes and/or words swapped. */
function encode(value: number, type: ValueType, byteOrder: 'big' | 'little', wordOrder: 'big' | 'little'): Buffer {
  const size = { int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 }[type];
  const b = Buffer.alloc(size);
  ({
    int16: () => b.writeInt16BE(value),
    uint16: () => b.writeUInt16BE(value),
    int32: () => b.writeInt32BE(value),
    uint32: () => b.writeUInt32BE(value),
    float32: () => b.writeFloatBE(value),
    float64: () => b.writeDoubleBE(value),
  })[type]();
  let words = Array.from({ length: size / 2 }, (_, i) => b.subarray(i * 2, i * 2 + 2));
  if (wordOrder === 'little') words = words.reverse();
  if (byteOrder === 'little') words = words.map((w) => Buffer.from([w[1] as number, w[0] as number]));
  return Buffer.concat(words);
}

const SAMPLES: Record<ValueType, number> = {
  int16: -1234, uint16: 54321, int32: -123456789, uint32: 3_000_000_000, float32: 3.5, float64: -1234.5678,
};

async function server(t: TestContext): Promise<ModbusTestServer> {
  const s = await startModbusServer();
  t.after(() => s.close());
  return s;
}

function driver(t: TestContext, port: number, options: Record<string, unknown>): SensorDriver {
  const d = driverFromConfig('modbus', { host: '127.0.0.1', port, ...options }, '/nonexistent');
  t.after(() => d.close());
  return d;
}

function setRegisters(table: Map<number, number>, address: number, bytes: Buffer): void {
  registers(bytes).forEach((word, i) => table.set(address + i, word));
}

describe('modbus driver', () => {
  test('decodes every type in every byte and word order', () => {
    for (const type of VALUE_TYPES) {
      for (const byteOrder of ['big', 'little'] as const) {
        for (const wordOrder of ['big', 'little'] as const) {
          const bytes = encode(SAMPLES[type], type, byteOrder, wordOrder);
          assert.equal(decodeRegisters(bytes, type, byteOrder, wordOrder), SAMPLES[type], `${type} ${byteOrder}/${wordOrder}`);
        }
      }
    }
    // The common names: ABCD is big/big, CDAB (word swap) is big bytes with little word order.
    assert.equal(decodeRegisters(Buffer.from([0x00, 0x00, 0x41, 0x20]), 'float32', 'big', 'little'), 10);
  });

  test('reads holding and input registers, coils and discrete inputs, with scale and offset', async (t) => {
    const s = await server(t);
    const u = s.unit(1);
    setRegisters(u.holding, 0, encode(SAMPLES.float32, 'float32', 'big', 'little'));
    setRegisters(u.holding, 2, encode(SAMPLES.uint32, 'uint32', 'big', 'big'));
    setRegisters(u.holding, 4, encode(SAMPLES.float64, 'float64', 'little', 'little'));
    setRegisters(u.input, 7, encode(-40, 'int16', 'big', 'big'));
    u.coils.set(3, true);
    u.discrete.set(5, false);
    const cases: [Record<string, unknown>, number][] = [
      [{ address: 0, type: 'float32', word_order: 'little' }, 3.5],
      [{ address: 2, type: 'uint32' }, 3_000_000_000],
      [{ address: 4, type: 'float64', byte_order: 'little', word_order: 'little' }, -1234.5678],
      [{ table: 'input', address: 7, type: 'int16', scale: 0.5, offset: 100 }, 80],
      [{ table: 'coil', address: 3 }, 1],
      [{ table: 'discrete', address: 5 }, 0],
    ];
    for (const [options, expected] of cases) {
      assert.equal(await driver(t, s.port, options).read(live), expected, JSON.stringify(options));
    }
  });

  test('reads of one poll share requests per unit and table, over one connection', async (t) => {
    const s = await server(t);
    for (const a of [10, 11, 12, 13, 40]) s.unit(1).holding.set(a, a);
    s.unit(1).input.set(10, 7);
    s.unit(2).holding.set(10, 99);
    const channels = [
      driver(t, s.port, { address: 10 }),
      driver(t, s.port, { address: 13 }),
      driver(t, s.port, { address: 11, type: 'uint32' }),
      driver(t, s.port, { address: 40 }),
      driver(t, s.port, { address: 10, table: 'input' }),
      driver(t, s.port, { address: 10, unit_id: 2 }),
    ];
    const values = await Promise.all(channels.map((d) => d.read(live)));
    assert.deepEqual(values, [10, 13, (11 << 16) + 12, 40, 7, 99]);
    const sorted = [...s.requests].sort((a, b) => a.unit - b.unit || a.table.localeCompare(b.table) || a.address - b.address);
    assert.deepEqual(sorted, [
      { unit: 1, table: 'holding', address: 10, count: 4 },
      { unit: 1, table: 'holding', address: 40, count: 1 },
      { unit: 1, table: 'input', address: 10, count: 1 },
      { unit: 2, table: 'holding', address: 10, count: 1 },
    ]);
    assert.equal(s.connections(), 1);
  });

  test('an exception response fails the read with its code; a coalesced neighbour still reads', async (t) => {
    const s = await server(t);
    s.unit(1).holding.set(20, 5);
    const good = driver(t, s.port, { address: 20 });
    const bad = driver(t, s.port, { address: 21 });
    const [ok, failed] = await Promise.allSettled([good.read(live), bad.read(live)]);
    assert.deepEqual(ok, { status: 'fulfilled', value: 5 });
    assert.equal(failed.status, 'rejected');
    const err = (failed as PromiseRejectedResult).reason;
    assert.ok(isEdgeloopError(err, 'SENSOR_READ'), String(err));
    assert.match(err.message, /^modbus 127\.0\.0\.1:\d+ unit 1, holding registers 21: exception 2 \(illegal data address\)$/);
    assert.deepEqual(err.details, { modbus_exception: 2 });
  });

  test('an unanswered request times out; its late answer is dropped and the next read gets its own', async (t) => {
    const s = await server(t);
    s.unit(1).holding.set(0, 111);
    s.unit(3).holding.set(0, 333);
    const slow = driver(t, s.port, { unit_id: 3, address: 0, request_timeout_ms: 100 });
    const other = driver(t, s.port, { unit_id: 1, address: 0 });
    s.silence(3);
    const t0 = performance.now();
    await assert.rejects(slow.read(live), (err) => {
      assert.ok(isEdgeloopError(err, 'SENSOR_TIMEOUT'), String(err));
      assert.match(err.message, /unit 3, holding registers 0: no answer within 100 ms/);
      return true;
    });
    assert.ok(performance.now() - t0 < 1000);
    // The late answer (333, transaction of the timed-out request) arrives while the next request is in flight.
    const next = other.read(live);
    s.answer();
    assert.equal(await next, 111);
    assert.equal(await slow.read(live), 333);
    assert.equal(s.connections(), 1);
  });

  test('nothing listening: a clear error, and no reconnection storm', async (t) => {
    const port = await freePort();
    const d = driver(t, port, { address: 0, request_timeout_ms: 200 });
    await assert.rejects(d.read(live), (err) => isEdgeloopError(err, 'SENSOR_READ') && /cannot connect \(.*ECONNREFUSED.*\); check host, port/.test(err.message));
    await assert.rejects(d.read(live), (err) => isEdgeloopError(err, 'SENSOR_READ') && /not connected \(next attempt in \d+ ms\)/.test(err.message));
  });

  test('the address check: a value may not end past register 65535', async () => {
    const { configIssues } = await import('../config/issues.ts');
    const issues = configIssues({ sensors: [{ id: 'm', driver: 'modbus', host: 'h', address: 65_535, type: 'float32' }] });
    assert.deepEqual(issues.map((i) => i.path), ['sensors[0].address']);
  });
});
