// The CoAP adapter (RFC 7252, the `coap` package): each record is a confirmable POST to `<url>/<topic>` (the topic as
// a resource, as CoAP publish-subscribe brokers do), or a batch is one confirmable POST of a JSON array to `<url>`.
// A 2.xx answer in the acknowledgement means delivered; 4.xx refuses; 5.xx, or no answer within `timeout_ms`
// (retransmissions included), "loses" the connection. UDP has none to speak of: as for HTTP (request-route.ts), a
// probe (GET /.well-known/core, which any answer passes) "connects" the route.
// Commands come down by observation (RFC 7641): per topic filter, the route observes the resource of the filter's
// levels before its first wildcard (`edgeloop/gw-01/ota/+` → `<url>/edgeloop/gw-01/ota`); each notification is a
// JSON `{topic, payload}`, and a confirmable registration gets confirmable notifications (acknowledged: at least once).
import { createSocket, type Socket } from 'node:dgram';
import { Agent, request, type IncomingMessage, type ObserveReadStream, type OutgoingMessage } from 'coap';
import { Type, type Static } from '@sinclair/typebox';
import { Int, UrlString } from '../config/schema.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import { RateLimitedLog } from '../telemetry/logger.ts';
import { ROUTE_FIELDS, RouteNameSchema, type AdapterContext, type AdapterDefinition, type Downlink } from './adapter.ts';
import { batchBody, BatchSchema, type BatchItem } from './batch.ts';
import { RequestRoute, type Verdict } from './request-route.ts';
import { Subscriptions } from './subscriptions.ts';

export const CoapRouteSchema = Type.Object(
  {
    ...ROUTE_FIELDS,
    name: RouteNameSchema,
    /** coap://host[:port]/path: records go to `<path>/<topic>` (batches to `<path>`). */
    url: UrlString(['coap']),
    /** Records per request; a body over 1024 bytes travels block-wise. */
    batch: BatchSchema(1024),
    /** A request not acknowledged within this (retransmissions included) is a lost connection. */
    timeout_ms: Int(100, 600_000, 5000),
    /** Requests awaiting their acknowledgement at once (RFC 7252 NSTART is 1). */
    window: Int(1, 64, 1),
    /**
     * While connected, the probe is repeated this often (0: never), so that an idle route notices a server that went
     * away, and observations lost with it are made again.
     */
    keepalive_ms: Int(0, 3_600_000, 30_000),
  },
  { additionalProperties: false },
);

export type CoapRouteConfig = Static<typeof CoapRouteSchema>;

export const coapAdapter: AdapterDefinition<CoapRouteConfig> = {
  options: CoapRouteSchema,
  default: [],
  create: (route, context) => new CoapAdapter(route, context),
};

/** One "connection": the UDP socket (agent), the requests awaiting their answer and the observations on it. */
interface Connection {
  socket: Socket;
  agent: Agent;
  requests: Set<OutgoingMessage>;
  observations: Map<string, ObserveReadStream>;
  keepalive?: NodeJS.Timeout;
}

/** The resource path that carries the commands of a topic filter: its levels before the first wildcard. */
export function observedPath(filter: string): string {
  const levels = filter.split('/');
  const wild = levels.findIndex((l) => l === '+' || l === '#');
  return (wild === -1 ? levels : levels.slice(0, wild)).join('/');
}

/** `4.04` → 0x84: the code byte of RFC 7252 (class × 32 + detail). */
export function codeNumber(code: string): number {
  const [cls, detail] = code.split('.').map(Number);
  return (cls ?? 0) * 32 + (detail ?? 0);
}

export class CoapAdapter extends RequestRoute<Connection> {
  readonly refusal = 'COAP_UPSTREAM' as const;
  readonly downlink: Downlink = { subscribe: (filter, handler) => this.#subscriptions.add(filter, handler) };
  #route: CoapRouteConfig & { name: string };
  #host: string;
  #port: number;
  #path: string;
  #subscriptions: Subscriptions;
  #commandErrors = new RateLimitedLog(60_000);

  constructor(route: CoapRouteConfig & { name: string }, context: AdapterContext) {
    const { log, onState, onReconnectAttempt } = context;
    super({
      name: route.name, kind: 'coap', url: route.url, reconnect: route.reconnect, log, onState, onReconnectAttempt,
      requests: route.window, batch: route.batch,
    });
    this.#route = route;
    this.#subscriptions = new Subscriptions({
      route: route.name,
      log,
      follow: (filter) => {
        if (this.conn && this.state === 'connected') void this.#observe(this.conn, filter).catch((err: unknown) => this.lose(this.conn as Connection, err));
      },
      unfollow: (filter) => {
        const path = observedPath(filter);
        if (this.#subscriptions.filters.some((f) => observedPath(f) === path)) return;
        this.conn?.observations.get(path)?.close();
        this.conn?.observations.delete(path);
      },
    });
    const url = new URL(route.url);
    this.#host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = url.port === '' ? 5683 : Number(url.port);
    this.#path = url.pathname.replace(/\/+$/, '');
  }

  start(): void {
    this.connect();
  }

  protected connect(): void {
    // Our own socket: an agent that owns its socket closes it whenever no request is open, under requests about to go.
    const socket = createSocket(this.#host.includes(':') ? 'udp6' : 'udp4');
    const conn: Connection = { socket, agent: new Agent({ socket }), requests: new Set(), observations: new Map() };
    conn.agent.on('error', (err: Error) => this.lose(conn, err));
    this.conn = conn;
    this.setState('connecting');
    this.#probe(conn)
      // Ready only once the observations are in place, so a command sent after `ready` is never missed.
      .then(() => Promise.all(this.#subscriptions.filters.map((filter) => this.#observe(conn, filter))))
      .then(() => {
        if (conn !== this.conn || this.stopping) return;
        this.connected();
        const every = this.#route.keepalive_ms;
        if (every > 0) {
          conn.keepalive = setInterval(() => void this.#probe(conn).catch((err: unknown) => this.lose(conn, err)), every);
          conn.keepalive.unref();
        }
      })
      .catch((err: unknown) => this.lose(conn, err));
  }

  /** Any answer but 5.xx shows a CoAP server there, even a 4.04. */
  async #probe(conn: Connection): Promise<void> {
    const res = await this.#request(conn, 'GET', '/.well-known/core', undefined);
    if (res.code.startsWith('5')) throw new Error(`the probe was answered ${res.code}`);
  }

  /** Observes the resource of `filter` on `conn` (once per resource, whatever the number of filters on it). */
  async #observe(conn: Connection, filter: string): Promise<void> {
    const path = observedPath(filter);
    if (conn.observations.has(path)) return;
    const res = (await this.#request(conn, 'GET', `${this.#path}/${path}`, undefined, true)) as ObserveReadStream;
    if (!res.code.startsWith('2')) throw new Error(`observing ${path} was answered ${describe(res)}`);
    conn.observations.set(path, res);
    const deliver = (payload: Buffer) => {
      if (payload.length === 0) return;
      try {
        const { topic, payload: body } = JSON.parse(payload.toString('utf8')) as { topic: unknown; payload: unknown };
        if (typeof topic !== 'string') throw new Error('no topic');
        const data = typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body ?? null));
        this.#subscriptions.dispatch(topic, data, 1);
      } catch (err) {
        const e = new EdgeloopError('COAP_UPSTREAM', `a notification of ${path} is not a JSON {topic, payload}: ${messageOf(err)}`);
        this.#commandErrors.hit((suppressed) => this.log.warn({ route: this.name, code: e.code, suppressed }, e.describe()));
      }
    };
    // The first chunk is the answer to the registration: the current state (an old command, if any), not a new one.
    let skip = true;
    res.on('data', (chunk: Buffer) => {
      if (skip) skip = false;
      else deliver(chunk);
    });
    res.once('end', () => {
      // The server ended the observation (a restart, a 4.04): probe and observe again.
      if (conn.observations.get(path) === res) this.lose(conn, `the observation of ${path} ended`);
    });
  }

  /** A record to its topic's resource, or a batch to the route's. */
  protected async send(conn: Connection, items: BatchItem[]): Promise<Verdict> {
    const first = items[0] as BatchItem;
    const res = this.batched
      ? await this.#request(conn, 'POST', this.#path, batchBody(items))
      : await this.#request(conn, 'POST', `${this.#path}/${first.topic}`, first.payload);
    if (res.code.startsWith('2')) return { ok: true };
    if (res.code.startsWith('4')) return { refused: { code: codeNumber(res.code), reason: describe(res) } };
    return { later: `POST answered ${describe(res)}` };
  }

  protected release(conn: Connection): void {
    clearInterval(conn.keepalive);
    for (const res of conn.observations.values()) res.close();
    conn.observations.clear();
    for (const req of conn.requests) conn.agent.abort(req);
    conn.requests.clear();
    conn.agent.close();
    conn.socket.close();
  }

  protected failure(message: string, cause: unknown): EdgeloopError {
    return new EdgeloopError('COAP_UPSTREAM', `${this.#route.url}: ${message}`, { cause });
  }

  /** A confirmable request and its answer, or a rejection after `timeout_ms`; `observe` registers an observation. */
  #request(conn: Connection, method: 'GET' | 'POST', pathname: string, body: string | undefined, observe = false): Promise<IncomingMessage> {
    const timeoutMs = this.#route.timeout_ms;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({
        hostname: this.#host,
        port: this.#port,
        pathname,
        method,
        confirmable: true,
        agent: conn.agent,
        ...(observe ? { observe: true } : {}),
        ...(body === undefined ? {} : { contentFormat: 'application/json' }),
      });
      conn.requests.add(req);
      const done = () => {
        clearTimeout(timer);
        conn.requests.delete(req);
      };
      const timer = setTimeout(() => {
        done();
        conn.agent.abort(req);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('response', (res: IncomingMessage) => {
        done();
        resolve(res);
      });
      req.on('error', (err: Error) => {
        done();
        reject(err);
      });
      req.end(body === undefined ? undefined : Buffer.from(body));
    });
  }
}

function describe(res: IncomingMessage): string {
  const text = res.payload.toString('utf8').slice(0, 200).trim();
  return `${res.code}${text ? `: ${text}` : ''}`;
}
