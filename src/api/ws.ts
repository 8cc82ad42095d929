// WebSocket live push on /ws. A client sends `{"subscribe": ["sensors/*"]}` and receives every matching record as
// `{"topic": …, "record": {…}}` the moment it is durable. A client that cannot keep up (more than
// api.ws_max_buffered_bytes waiting) is disconnected and counted; it never slows anything else down.
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
  Type.Object({ subscribe: Filters }, { additionalProperties: false }),
  Type.Object({ unsubscribe: Filters }, { additionalProperties: false }),
]);
const checkMessage = TypeCompiler.Compile(ClientMessage);

/** Close code for a client dropped as too slow (RFC 6455 1013: try again later). */
export const WS_CLOSE_SLOW = 1013;
/** How long a dropped client has to answer the close before its socket is cut. */
const WS_CLOSE_GRACE_MS = 2000;
/** Largest message a client may send. */
export const WS_MAX_PAYLOAD = 16 * 1024;

export function wsRoute(app: FastifyInstance, gw: GatewayView, maxBufferedBytes: number): { clients: () => number } {
  let clients = 0;
  app.get('/ws', { websocket: true }, (socket: WebSocket) => {
    clients++;
    gw.metrics.wsClients.set(clients);
    const filters = new Set<string>();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clients--;
      gw.metrics.wsClients.set(clients);
      unsubscribe();
    };
    const send = (text: string) => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > maxBufferedBytes) {
        gw.metrics.drops.inc({ stage: 'ws', reason: 'slow-client' });
        release();
        socket.close(WS_CLOSE_SLOW, 'too slow: send buffer full');
        // A client that does not read will not answer the close either: cut it after a grace period.
        setTimeout(() => socket.terminate(), WS_CLOSE_GRACE_MS).unref();
        return;
      }
      socket.send(text);
    };
    const error = (message: string) =>
      send(JSON.stringify({ type: 'error', error: errorCode('BAD_REQUEST'), message }));
    const unsubscribe = gw.bus.subscribe((record: DurableRecord) => {
      for (const f of filters) {
        if (topicMatches(f, record.topic)) {
          send(`{"type":"record","topic":${JSON.stringify(record.topic)},"record":${record.json}}`);
          return;
        }
      }
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
        error(`expected {"subscribe": [filters]} or {"unsubscribe": [filters]}${first ? ` (${first.path || '/'}: ${first.message})` : ''}`);
        return;
      }
      const m = msg as Static<typeof ClientMessage>;
      if ('subscribe' in m) m.subscribe.forEach((f) => filters.add(f));
      else m.unsubscribe.forEach((f) => filters.delete(f));
      send(JSON.stringify({ type: 'subscribed', topics: [...filters] }));
    });
    socket.on('close', release);
  });
  return { clients: () => clients };
}
