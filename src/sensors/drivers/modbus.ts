// A value from a Modbus TCP device (energy meters, PLCs, inverters, RS-485 gateways): holding or input registers,
// coils or discrete inputs; 16, 32 or 64-bit integers or IEEE floats in any byte and word order; then scale and
// offset. Channels on the same device share one connection and their reads of one poll share requests
// (modbus-tcp.ts).
import { Type, type Static } from '@sinclair/typebox';
import type { DriverDefinition, SensorDriver } from '../driver.ts';
import { acquire, release, type Table } from './modbus-tcp.ts';

const literals = <T extends string>(values: readonly T[], def: T) =>
  Type.Union(values.map((v) => Type.Literal(v)), { default: def });

export const VALUE_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];
type Order = 'big' | 'little';

const Options = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65_535, default: 502 }),
    /** The slave (unit) id; 255 or 0 for a device that ignores it, 1–247 behind a gateway. */
    unit_id: Type.Integer({ minimum: 0, maximum: 255, default: 1 }),
    table: literals<Table>(['holding', 'input', 'coil', 'discrete'], 'holding'),
    /** Protocol address, from 0 (register 40001 of the "4x" notation is holding address 0). */
    address: Type.Integer({ minimum: 0, maximum: 65_535 }),
    /** How the registers are read (coils and discrete inputs are 0 or 1). */
    type: literals<ValueType>(VALUE_TYPES, 'uint16'),
    /** Order of the two bytes in each register; the Modbus standard is big. */
    byte_order: literals<Order>(['big', 'little'], 'big'),
    /** Order of the registers of a 32 or 64-bit value: big = most significant first. */
    word_order: literals<Order>(['big', 'little'], 'big'),
    /** value = raw × scale + offset */
    scale: Type.Number({ default: 1 }),
    offset: Type.Number({ default: 0 }),
    /** A request (or connection attempt) not answered within this fails the read as a timeout. */
    request_timeout_ms: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  },
  { additionalProperties: false },
);
type ModbusOptions = Static<typeof Options>;

const REGISTERS: Record<ValueType, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, float64: 4 };

/** The number the registers hold, as received on the wire (each register big-endian unless `byteOrder` says not). */
export function decodeRegisters(data: Buffer, type: ValueType, byteOrder: Order, wordOrder: Order): number {
  const words = [];
  for (let i = 0; i < data.length; i += 2) {
    const word = data.subarray(i, i + 2);
    words.push(byteOrder === 'little' ? Buffer.from([word[1] as number, word[0] as number]) : word);
  }
  if (wordOrder === 'little') words.reverse();
  const b = Buffer.concat(words);
  switch (type) {
    case 'int16': return b.readInt16BE(0);
    case 'uint16': return b.readUInt16BE(0);
    case 'int32': return b.readInt32BE(0);
    case 'uint32': return b.readUInt32BE(0);
    case 'float32': return b.readFloatBE(0);
    case 'float64': return b.readDoubleBE(0);
  }
}

function create(o: ModbusOptions): SensorDriver {
  const conn = acquire(o.host, o.port);
  const bits = o.table === 'coil' || o.table === 'discrete';
  const count = bits ? 1 : REGISTERS[o.type];
  const plain = o.scale === 1 && o.offset === 0;
  let closed = false;
  return {
    async read(signal) {
      const data = await conn.read({ unit: o.unit_id, table: o.table, address: o.address, count, timeoutMs: o.request_timeout_ms, signal });
      const raw = bits ? (data[0] as number) : decodeRegisters(data, o.type, o.byte_order, o.word_order);
      // 15 significant digits hide binary noise such as 215 × 0.1 = 21.500000000000004.
      return plain ? raw : Number((raw * o.scale + o.offset).toPrecision(15));
    },
    async close() {
      if (closed) return;
      closed = true;
      release(conn);
    },
  };
}

function check(o: ModbusOptions): { key: string; message: string }[] {
  const last = o.address + (o.table === 'coil' || o.table === 'discrete' ? 1 : REGISTERS[o.type]) - 1;
  return last > 65_535 ? [{ key: 'address', message: `a ${o.type} at ${o.address} would end past register 65535` }] : [];
}

export const modbus: DriverDefinition<ModbusOptions> = { options: Options, check, create };
