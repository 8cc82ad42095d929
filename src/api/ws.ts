// WebSocket live push on /ws. A client sends `{"subscribe": ["sensors/*"]}` and receives every matching record as
// `{"type": "record", "topic": …, "record": {…}}` the moment it is durable, starting with the last record of each
// matching topic (`"retained": true`), so it has the current values at once. With `"batch_ms": N` the records come
// at most every N ms as one `{"type": "records", "records": [{topic, record}, …]}` frame: a dashboard does not need
// every reading within a millisecond, and one frame instead of hundreds is what keeps ten open pages cheap.
// A client that cannot keep up (more than api.ws_max_buffered_bytes waiting) is disconnected and counted; it never
// slows anything else down.
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { topicMatches } from '../pipeline/live-bus.ts';
import type { DurableRecord } from '../pipeline/record.ts';
import { errorCode } from '../errors.ts';
import type { GatewayView } from './view.ts';

const Filters = Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000]+$' }), { minItems: 1, maxItems: 64 });
const ClientMessage = Type.Union([
  Type.Object(
    {
      subscribe: Filters,
      batch_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description: '0: one frame per record' })),
    },
    { additionalProperties: false },
  ),
  Type.Object({ unsubscribe: Filters }, { additionalProperties: false }),
]);
const checkMessage = TypeCompiler.Compile(ClientMessage);

/** Close code for a client dropped as too slow (RFC 6455 1013: try again later). */
export const WS_CLOSE_SLOW = 1013;
/** How long a dropped client has to answer the close before its socket is cut. */
const WS_CLOSE_GRACE_MS = 2000;
/** Largest message a client may send. */
export const WS_MAX_PAYLOAD = 16 * 1024;

const item = (r: DurableRecord, retained: boolean) =>
  `"topic":${JSON.stringify(r.topic)},"record":${r.json}${retained ? ',"retained":true' : ''}`;
/** Topics whose match against a client's filters is remembered (topics are few: one per sensor or camera). */
const MATCH_CACHE_MAX = 4096;

// The bus hands the same record to every client in turn: its frame text is made once, not once per client.
let lastRecord: DurableRecord | undefined;
let lastItem = '';
function liveItem(r: DurableRecord): string {
  if (r !== lastRecord) {
    lastRecord = r;
    lastItem = item(r, false);
  }
  return lastItem;
}

export function wsRoute(app: FastifyInstance, gw: GatewayView, maxBufferedBytes: number): { clients: () => number } {
  let clients = 0;
  app.get('/ws', { websocket: true }, (socket: WebSocket) => {
    clients++;
    gw.metrics.wsClients.set(clients);
    const filters = new Set<string>();
    const matches = new Map<string, boolean>();
    let batchMs = 0;
    let pending: string[] = [];
    let pendingBytes = 0;
    let flushTimer: NodeJS.Timeout | undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clients--;
      gw.metrics.wsClients.set(clients);
      clearTimeout(flushTimer);
      pending = [];
      unsubscribe();
    };
    const dropSlow = () => {
      gw.metrics.drops.inc({ stage: 'ws', reason: 'slow-client' });
      release();
      socket.close(WS_CLOSE_SLOW, 'too slow: send buffer full');
      // A client that does not read will not answer the close either: cut it after a grace period.
      setTimeout(() => socket.terminate(), WS_CLOSE_GRACE_MS).unref();
    };
    const send = (text: string) => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > maxBufferedBytes) return dropSlow();
      socket.send(text);
    };
    const flush = () => {
      flushTimer = undefined;
      if (pending.length === 0) return;
      const text = `{"type":"records","records":[${pending.join(',')}]}`;
      pending = [];
      pendingBytes = 0;
      send(text);
    };
    const deliver = (r: DurableRecord, retained: boolean) => {
      const body = retained ? item(r, true) : liveItem(r);
      if (batchMs === 0) return send(`{"type":"record",${body}}`);
      const text = `{${body}}`;
      pending.push(text);
      pendingBytes += text.length;
      // The batch waiting here counts against the same budget as the socket's own buffer.
      if (pendingBytes + socket.bufferedAmount > maxBufferedBytes) return dropSlow();
      flushTimer ??= setTimeout(flush, batchMs);
    };
    const error = (message: string) =>
      send(JSON.stringify({ type: 'error', error: errorCode('BAD_REQUEST'), message }));
    const unsubscribe = gw.bus.subscribe((record: DurableRecord) => {
      let wanted = matches.get(record.topic);
      if (wanted === undefined) {
        wanted = [...filters].some((f) => topicMatches(f, record.topic));
        if (matches.size >= MATCH_CACHE_MAX) matches.clear();
        matches.set(record.topic, wanted);
      }
      if (wanted) deliver(record, false);
    });
    socket.on('message', (data, isBinary) => {
      let msg: unknown;
      try {
        msg = JSON.parse(isBinary ? '' : data.toString());
      } catch {
        error('not JSON: send {"subscribe": ["sensors/*"]}');
        return;
      }
      if (!checkMessage.Check(msg)) {
        const first = [...checkMessage.Errors(msg)][0];
        error(`expected {"subscribe": [filters], "batch_ms"?: N} or {"unsubscribe": [filters]}${first ? ` (${first.path || '/'}: ${first.message})` : ''}`);
        return;
      }
      const m = msg as Static<typeof ClientMessage>;
      matches.clear();
      if ('unsubscribe' in m) {
        m.unsubscribe.forEach((f) => filters.delete(f));
        send(JSON.stringify({ type: 'subscribed', topics: [...filters] }));
        return;
      }
      const added = m.subscribe.filter((f) => !filters.has(f));
      added.forEach((f) => filters.add(f));
      if (m.batch_ms !== undefined) batchMs = m.batch_ms;
      send(JSON.stringify({ type: 'subscribed', topics: [...filters], ...(batchMs > 0 ? { batch_ms: batchMs } : {}) }));
      // The current value of each topic the new filters match, once, unless an older filter already covered it.
      const seen = new Set<string>();
      for (const f of added) {
        for (const r of gw.bus.retained(f)) {
          if (seen.has(r.topic) || [...filters].some((old) => !added.includes(old) && topicMatches(old, r.topic))) continue;
          seen.add(r.topic);
          deliver(r, true);
        }
      }
      if (batchMs === 0) return;
      clearTimeout(flushTimer);
      flush();
    });
    socket.on('close', release);
  });
  return { clients: () => clients };
}
