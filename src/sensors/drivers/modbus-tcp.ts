// A Modbus TCP connection, shared by every channel that reads the same host:port whatever its unit id (a TCP to
// RS-485 gateway often accepts only one or two connections). Reads asked for in the same turn of the event loop (the
// channels of one poll) are coalesced per unit and table into as few requests as the spec allows. One request is in
// flight at a time, as most devices process them one by one anyway; each carries a transaction id, so an answer that
// arrives after its timeout is recognised and dropped instead of being taken for the next request's.
// Written here rather than taken from a library: the Modbus clients on npm bind a connection to one unit id and
// match answers by arrival order, which desynchronises the stream after the first late answer.
import { Socket } from 'node:net';
import { EdgeloopError, messageOf } from '../../errors.ts';
import { Backoff } from '../../transport/adapter.ts';

export type Table = 'holding' | 'input' | 'coil' | 'discrete';

const FUNCTION_CODE: Record<Table, number> = { coil: 1, discrete: 2, holding: 3, input: 4 };
const TABLE_NAME: Record<Table, string> = {
  coil: 'coils', discrete: 'discrete inputs', holding: 'holding registers', input: 'input registers',
};
/** The most one request may read (Modbus application protocol 1.1b3, 6.1–6.4). */
const MAX_SPAN: Record<Table, number> = { coil: 2000, discrete: 2000, holding: 125, input: 125 };
/** Unwanted registers (bits) between two wanted ones still worth reading to save a request. */
const MAX_GAP: Record<Table, number> = { coil: 64, discrete: 64, holding: 8, input: 8 };

const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/** One channel's read: `count` registers (or bits) from `address`. */
export interface ReadRequest {
  unit: number;
  table: Table;
  address: number;
  count: number;
  timeoutMs: number;
  signal: AbortSignal;
}

interface Reader extends ReadRequest {
  settled: boolean;
  resolve(data: Buffer): void;
  reject(err: unknown): void;
}

/** One Modbus request on the wire, serving one or more readers. */
interface Request {
  unit: number;
  table: Table;
  start: number;
  count: number;
  readers: Reader[];
  tid?: number;
  timer?: NodeJS.Timeout;
}

const isBits = (table: Table) => table === 'coil' || table === 'discrete';

export class ModbusConnection {
  readonly key: string;
  /** Drivers holding this connection; it closes with the last. */
  users = 0;
  #host: string;
  #port: number;
  #socket: Socket | undefined;
  #connecting = false;
  #rx: Buffer = Buffer.alloc(0);
  /** Reads asked for in this turn, coalesced at its end. */
  #gathered: Reader[] = [];
  #queue: Request[] = [];
  #current: Request | undefined;
  #tid = 0;
  #backoff = new Backoff(500, 30_000);
  #retryAt = 0;
  #closed = false;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
    this.key = `${host}:${port}`;
  }

  read(r: ReadRequest): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const where = `modbus ${this.key} unit ${r.unit}`;
      if (r.signal.aborted) {
        reject(new EdgeloopError('SENSOR_TIMEOUT', `${where}: the read was aborted before it was sent`));
        return;
      }
      const reader: Reader = { ...r, settled: false, resolve, reject };
      const settle = (fn: () => void) => {
        if (reader.settled) return;
        reader.settled = true;
        r.signal.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => settle(() => reject(new EdgeloopError('SENSOR_TIMEOUT', `${where}: the read was aborted`)));
      r.signal.addEventListener('abort', onAbort, { once: true });
      reader.resolve = (data) => settle(() => resolve(data));
      reader.reject = (err) => settle(() => reject(err));
      if (this.#closed) {
        reader.reject(new EdgeloopError('SENSOR_READ', `${where}: the connection is closed`));
        return;
      }
      if (this.#gathered.length === 0) setImmediate(() => this.#coalesce());
      this.#gathered.push(reader);
    });
  }

  close(): void {
    this.#closed = true;
    const err = new EdgeloopError('SENSOR_READ', `modbus ${this.key}: the connection was closed`);
    this.#failAll(err);
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  /** Turns this turn's reads into requests: per unit and table, neighbours merged up to the span the spec allows. */
  #coalesce(): void {
    const groups = new Map<string, Reader[]>();
    for (const r of this.#gathered.splice(0)) {
      const key = `${r.unit}/${r.table}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    for (const readers of groups.values()) {
      readers.sort((a, b) => a.address - b.address);
      let request: Request | undefined;
      for (const r of readers) {
        const end = r.address + r.count;
        const fits =
          request !== undefined &&
          r.address - (request.start + request.count) <= MAX_GAP[r.table] &&
          Math.max(end, request.start + request.count) - request.start <= MAX_SPAN[r.table];
        if (request && fits) {
          request.count = Math.max(end, request.start + request.count) - request.start;
          request.readers.push(r);
        } else {
          request = { unit: r.unit, table: r.table, start: r.address, count: r.count, readers: [r] };
          this.#queue.push(request);
        }
      }
    }
    this.#pump();
  }

  #pump(): void {
    while (!this.#current && this.#queue.length > 0) {
      const request = this.#queue[0] as Request;
      if (request.readers.every((r) => r.settled)) {
        this.#queue.shift();
        continue;
      }
      const socket = this.#socket;
      if (!socket) {
        this.#connect();
        return;
      }
      this.#queue.shift();
      this.#send(socket, request);
    }
  }

  #connect(): void {
    if (this.#connecting) return;
    const wait = this.#retryAt - Date.now();
    if (wait > 0) {
      this.#failAll(new EdgeloopError('SENSOR_READ', `modbus ${this.key}: not connected (next attempt in ${wait} ms)`));
      return;
    }
    this.#connecting = true;
    const socket = new Socket();
    const timeoutMs = Math.max(...this.#queue.map((q) => Math.max(...q.readers.map((r) => r.timeoutMs))));
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      clearTimeout(timer);
      this.#connecting = false;
      this.#backoff.reset();
      this.#socket = socket;
      this.#rx = Buffer.alloc(0);
      this.#pump();
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      const wasConnected = this.#socket === socket;
      this.#connecting = false;
      if (wasConnected) this.#socket = undefined;
      else this.#retryAt = Date.now() + this.#backoff.next();
      const why = socket.errored ? messageOf(socket.errored) : 'closed by the device';
      const err = wasConnected
        ? new EdgeloopError('SENSOR_READ', `modbus ${this.key}: connection lost (${why})`)
        : new EdgeloopError('SENSOR_READ', `modbus ${this.key}: cannot connect (${why}); check host, port and that the device is on`);
      this.#failAll(err);
    });
    socket.connect(this.#port, this.#host);
  }

  #send(socket: Socket, request: Request): void {
    this.#current = request;
    this.#tid = (this.#tid + 1) & 0xffff;
    request.tid = this.#tid;
    const frame = Buffer.alloc(12);
    frame.writeUInt16BE(request.tid, 0);
    frame.writeUInt16BE(0, 2); // protocol id: Modbus
    frame.writeUInt16BE(6, 4); // bytes that follow: unit id + PDU
    frame.writeUInt8(request.unit, 6);
    frame.writeUInt8(FUNCTION_CODE[request.table], 7);
    frame.writeUInt16BE(request.start, 8);
    frame.writeUInt16BE(request.count, 10);
    const timeoutMs = Math.max(...request.readers.map((r) => r.timeoutMs));
    request.timer = setTimeout(() => {
      this.#finish(request, new EdgeloopError('SENSOR_TIMEOUT', `${describe(this.key, request)}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.write(frame);
  }

  #onData(chunk: Buffer): void {
    this.#rx = this.#rx.length === 0 ? chunk : Buffer.concat([this.#rx, chunk]);
    while (this.#rx.length >= 8) {
      const length = this.#rx.readUInt16BE(4);
      if (this.#rx.length < 6 + length) return;
      const frame = this.#rx.subarray(0, 6 + length);
      this.#rx = this.#rx.subarray(6 + length);
      this.#onFrame(frame);
    }
  }

  #onFrame(frame: Buffer): void {
    const request = this.#current;
    // An answer to a request that already timed out: its readers have been told; drop it.
    if (!request || frame.readUInt16BE(0) !== request.tid || frame.readUInt8(6) !== request.unit) return;
    const fc = frame.readUInt8(7);
    const expected = FUNCTION_CODE[request.table];
    if (fc === (expected | 0x80)) {
      const code = frame.readUInt8(8);
      // One unmapped address fails the whole merged request: ask again for each channel alone, so only it fails.
      if (request.readers.length > 1) {
        this.#current = undefined;
        clearTimeout(request.timer);
        this.#queue.unshift(...request.readers.map((r) => ({ unit: r.unit, table: r.table, start: r.address, count: r.count, readers: [r] })));
        this.#pump();
        return;
      }
      const name = EXCEPTION_NAMES[code] ?? 'unknown exception';
      const err = new EdgeloopError('SENSOR_READ', `${describe(this.key, request)}: exception ${code} (${name})`, {
        details: { modbus_exception: code },
      });
      this.#finish(request, err);
      return;
    }
    const bytes = frame.readUInt8(8);
    const data = frame.subarray(9, 9 + bytes);
    const want = isBits(request.table) ? Math.ceil(request.count / 8) : request.count * 2;
    if (fc !== expected || bytes !== want || data.length !== want) {
      this.#finish(request, new EdgeloopError('SENSOR_READ', `${describe(this.key, request)}: malformed answer (function ${fc}, ${data.length} bytes)`));
      return;
    }
    this.#finish(request, data);
  }

  /** Settles every reader of the request in flight, with its slice of `data` or with `err`, and sends the next. */
  #finish(request: Request, outcome: Buffer | EdgeloopError): void {
    clearTimeout(request.timer);
    if (this.#current === request) this.#current = undefined;
    for (const r of request.readers) {
      if (!(outcome instanceof Buffer)) r.reject(outcome);
      else if (isBits(request.table)) r.resolve(unpackBits(outcome, r.address - request.start, r.count));
      else r.resolve(outcome.subarray((r.address - request.start) * 2, (r.address - request.start + r.count) * 2));
    }
    this.#pump();
  }

  #failAll(err: EdgeloopError): void {
    const requests = [...(this.#current ? [this.#current] : []), ...this.#queue.splice(0)];
    this.#current = undefined;
    for (const request of requests) {
      clearTimeout(request.timer);
      for (const r of request.readers) r.reject(err);
    }
    for (const r of this.#gathered.splice(0)) r.reject(err);
  }
}

function describe(key: string, r: Request): string {
  const last = r.start + r.count - 1;
  return `modbus ${key} unit ${r.unit}, ${TABLE_NAME[r.table]} ${r.start}${last > r.start ? `–${last}` : ''}`;
}

/** Bits from `first` on, one byte (0 or 1) each; Modbus packs them least significant bit first. */
function unpackBits(packed: Buffer, first: number, count: number): Buffer {
  const out = Buffer.alloc(count);
  for (let i = 0; i < count; i++) {
    const bit = first + i;
    out[i] = ((packed[bit >> 3] as number) >> (bit & 7)) & 1;
  }
  return out;
}

const connections = new Map<string, ModbusConnection>();

/** The shared connection to host:port; give it back with `release`. */
export function acquire(host: string, port: number): ModbusConnection {
  const key = `${host}:${port}`;
  let conn = connections.get(key);
  if (!conn) {
    conn = new ModbusConnection(host, port);
    connections.set(key, conn);
  }
  conn.users++;
  return conn;
}

export function release(conn: ModbusConnection): void {
  if (--conn.users > 0) return;
  connections.delete(conn.key);
  conn.close();
}
