// A Modbus TCP device for the tests: modbus-serial's server (a protocol implementation of its own, not ours) over
// tables the test fills per unit id. It logs every register request, answers an address it does not hold with
// exception 2 (illegal data address), and can leave a unit's requests unanswered.
import { once } from 'node:events';
import type { Server } from 'node:net';
import ModbusRTU from 'modbus-serial';
import { freePort } from '../support/ports.ts';

type Callback<T> = (err: Error | null, value: T) => void;

export interface ModbusUnit {
  holding: Map<number, number>;
  input: Map<number, number>;
  coils: Map<number, boolean>;
  discrete: Map<number, boolean>;
}

export interface LoggedRequest {
  unit: number;
  table: 'holding' | 'input';
  address: number;
  count: number;
}

export interface ModbusTestServer {
  port: number;
  unit(id: number): ModbusUnit;
  /** Register requests in arrival order (coils and discrete inputs are not logged). */
  requests: LoggedRequest[];
  /** Requests to this unit are left unanswered until `answer()`. */
  silence(unit: number): void;
  /** Answers the held requests and stops holding. */
  answer(): void;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Big-endian 16-bit registers holding `buffer` (whose length is even). */
export function registers(buffer: Buffer): number[] {
  return Array.from({ length: buffer.length / 2 }, (_, i) => buffer.readUInt16BE(i * 2));
}

export async function startModbusServer(): Promise<ModbusTestServer> {
  const units = new Map<number, ModbusUnit>();
  const unit = (id: number) => {
    let u = units.get(id);
    if (!u) {
      u = { holding: new Map(), input: new Map(), coils: new Map(), discrete: new Map() };
      units.set(id, u);
    }
    return u;
  };
  const requests: LoggedRequest[] = [];
  const silenced = new Set<number>();
  let held: (() => void)[] = [];

  const respond = <T>(id: number, cb: Callback<T>, answer: () => T) => {
    const run = () => {
      let value: T;
      try {
        value = answer();
      } catch (err) {
        cb(err as Error, undefined as T);
        return;
      }
      cb(null, value);
    };
    if (silenced.has(id)) held.push(run);
    else run();
  };
  const lookup = <T>(table: Map<number, T>, address: number): T => {
    const value = table.get(address);
    if (value === undefined) throw Object.assign(new Error('illegal data address'), { modbusErrorCode: 2 });
    return value;
  };
  const many = (table: 'holding' | 'input') => (address: number, count: number, id: number, cb: Callback<number[]>) => {
    requests.push({ unit: id, table, address, count });
    respond(id, cb, () => Array.from({ length: count }, (_, i) => lookup(unit(id)[table], address + i)));
  };
  const one = (table: 'holding' | 'input') => (address: number, id: number, cb: Callback<number>) => {
    requests.push({ unit: id, table, address, count: 1 });
    respond(id, cb, () => lookup(unit(id)[table], address));
  };
  const bit = (table: 'coils' | 'discrete') => (address: number, id: number, cb: Callback<boolean>) =>
    respond(id, cb, () => lookup(unit(id)[table], address));

  const port = await freePort();
  const server = new ModbusRTU.ServerTCP(
    {
      getHoldingRegister: one('holding'),
      getInputRegister: one('input'),
      getMultipleHoldingRegisters: many('holding'),
      getMultipleInputRegisters: many('input'),
      getCoil: bit('coils'),
      getDiscreteInput: bit('discrete'),
    },
    // 255: answer every unit id, each with its own tables.
    { host: '127.0.0.1', port, unitID: 255 },
  );
  await once(server, 'initialized');
  let connections = 0;
  const tcp = (server as unknown as { _server: Server })._server;
  tcp.on('connection', () => connections++);

  return {
    port,
    unit,
    requests,
    silence: (id) => silenced.add(id),
    answer() {
      silenced.clear();
      const runs = held;
      held = [];
      for (const run of runs) run();
    },
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of server.socks.keys()) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
