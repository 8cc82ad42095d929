// The HTTP webhook adapter: each record is POSTed as its JSON payload to the route's url. HTTP has no connection to
// speak of, so the adapter keeps one in the Adapter's sense: a HEAD probe "connects" it, and any answer that means
// "not now" (408, 429, 5xx, a network error, a timeout) "loses" it. Then every request in flight is given up — the
// outbox sends those records again, and their idempotency-key lets the far end drop what it already had — and the
// probe is retried after the backoff, so a failing endpoint is not hammered at window speed.
// node:http(s) rather than fetch: fetch takes a private CA only through undici's Agent, which Node does not expose.
import { readFileSync } from 'node:fs';
import http, { STATUS_CODES } from 'node:http';
import https from 'node:https';
import { Type, type Static } from '@sinclair/typebox';
import { Int, Str, UrlString } from '../config/schema.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import { redact } from '../lib/redact.ts';
import { ROUTE_FIELDS, RouteNameSchema, type Adapter, type AdapterContext, type AdapterDefinition, type PublishOutcome } from './adapter.ts';
import { ConnectionLifecycle } from './lifecycle.ts';

export const HttpRouteSchema = Type.Object(
  {
    ...ROUTE_FIELDS,
    name: RouteNameSchema,
    url: UrlString(['http', 'https']),
    /** Sent with every request, e.g. `authorization: Bearer …` (values are hidden in the API's config view). */
    headers: Type.Record(Type.String(), Type.String({ pattern: '^[^\\r\\n]*$', patternMessage: 'must be one line' }), { default: {} }),
    /** A request not answered within this is a lost connection: the record is sent again after the backoff. */
    timeout_ms: Int(100, 600_000, 5000),
    /** Requests in flight at once, each on its own keep-alive connection. */
    window: Int(1, 1024, 8),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Str({ minLength: 1, description: 'path to a PEM CA bundle' })),
          reject_unauthorized: Type.Boolean({ default: true }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type HttpRouteConfig = Static<typeof HttpRouteSchema>;

/** An RFC 9110 token. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

function check(route: HttpRouteConfig) {
  return Object.keys(route.headers)
    .filter((name) => !HEADER_NAME.test(name))
    .map((name) => ({ key: `headers.${name}`, message: 'is not a valid HTTP header name' }));
}

export const httpAdapter: AdapterDefinition<HttpRouteConfig> = {
  options: HttpRouteSchema,
  check,
  default: [],
  create: (route, context) => new HttpAdapter(route, context),
};

/** One "connection": its keep-alive sockets and its requests in flight (the probe included), to give them up. */
interface Connection {
  agent: http.Agent;
  requests: Set<AbortController>;
}

interface Answer {
  status: number;
  body: string;
}

/** How much of a refusal's body goes into the dead letter's reason. */
const REASON_BODY_CHARS = 200;

export class HttpAdapter extends ConnectionLifecycle implements Adapter {
  readonly window: number;
  /** A webhook only sends: nothing comes down. */
  readonly downlink = null;
  readonly refusal = 'HTTP_UPSTREAM' as const;
  #route: HttpRouteConfig;
  #url: URL;
  #secure: boolean;
  #ca: Buffer | undefined;
  #conn: Connection | undefined;
  /** Settles each request in flight; the connection's loss or the stop settles what is left as lost. */
  #inflight = new Set<(outcome: PublishOutcome) => void>();
  #idle: (() => void) | undefined;

  constructor(route: HttpRouteConfig, context: AdapterContext) {
    const { log, onState, onReconnectAttempt } = context;
    super({ name: route.name, kind: 'http', url: route.url, reconnect: route.reconnect, log, onState, onReconnectAttempt });
    this.#route = route;
    this.window = route.window;
    this.#url = new URL(route.url);
    this.#secure = this.#url.protocol === 'https:';
  }

  start(): void {
    const ca = this.#route.tls?.ca;
    if (ca !== undefined) {
      try {
        this.#ca = readFileSync(ca);
      } catch (cause) {
        throw new EdgeloopError('HTTP_UPSTREAM', `cannot read tls.ca ${ca} of http route ${this.name}: ${messageOf(cause)}`, { cause });
      }
    }
    this.#connect();
  }

  publish(topic: string, payload: string, id: string, done: (outcome: PublishOutcome) => void): void {
    const conn = this.#conn;
    if (!conn || this.state !== 'connected') {
      done({ ok: false });
      return;
    }
    let settled = false;
    const settle = (outcome: PublishOutcome) => {
      if (settled) return;
      settled = true;
      this.#inflight.delete(settle);
      if (this.#inflight.size === 0) this.#idle?.();
      done(outcome);
    };
    this.#inflight.add(settle);
    const headers = { 'content-type': 'application/json', 'idempotency-key': id, 'x-edgeloop-topic': headerSafe(topic) };
    const lost = (cause: unknown) => {
      settle({ ok: false });
      this.#lose(conn, cause);
    };
    this.#request(conn, 'POST', headers, payload).then(({ status, body }) => {
      const verdict = verdictOf(status);
      if (verdict === 'ok') settle({ ok: true });
      else if (verdict === 'refused') settle({ ok: false, refused: { code: status, reason: describeAnswer(status, body) } });
      else lost(`POST answered ${describeAnswer(status, body)}`);
    }, lost);
  }

  async stop(timeoutMs: number): Promise<void> {
    this.beginStop();
    const conn = this.#conn;
    if (conn) {
      this.setState('disconnecting');
      // Requests already sent get until the timeout to be answered; what is left then is given up (and sent again
      // from the outbox at the next start).
      if (this.#inflight.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          this.#idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      this.#drop(conn);
    }
    this.setState('disconnected');
  }

  #connect(): void {
    // At most `window` sockets, kept alive between requests.
    const agentOptions = { keepAlive: true, maxSockets: this.window };
    const tls = this.#route.tls;
    const agent = this.#secure
      ? new https.Agent({ ...agentOptions, rejectUnauthorized: tls?.reject_unauthorized ?? true, ...(this.#ca ? { ca: this.#ca } : {}) })
      : new http.Agent(agentOptions);
    const conn: Connection = { agent, requests: new Set() };
    this.#conn = conn;
    this.setState('connecting');
    this.#request(conn, 'HEAD', {}).then(({ status, body }) => {
      // A server without HEAD (501) is up all the same: the POSTs will tell.
      if (verdictOf(status) === 'lost' && status !== 501) this.#lose(conn, `HEAD answered ${describeAnswer(status, body)}`);
      else this.#onConnect(conn);
    }, (err: unknown) => this.#lose(conn, err));
  }

  #request(conn: Connection, method: 'HEAD' | 'POST', headers: Record<string, string>, body?: string): Promise<Answer> {
    const timeoutMs = this.#route.timeout_ms;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    conn.requests.add(abort);
    // The route's headers first, so they cannot replace the ones the far end relies on.
    const options = { method, agent: conn.agent, signal: abort.signal, headers: { ...this.#route.headers, ...headers } };
    return new Promise<Answer>((resolve, reject) => {
      const fail = (err: unknown) => reject(timedOut ? new Error(`no answer within ${timeoutMs} ms`) : err);
      const req = (this.#secure ? https : http).request(this.#url, options, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < REASON_BODY_CHARS) text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text.slice(0, REASON_BODY_CHARS).trim() }));
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end(body);
    }).finally(() => {
      clearTimeout(timer);
      conn.requests.delete(abort);
    });
  }

  #onConnect(conn: Connection): void {
    if (conn !== this.#conn || this.stopping) return;
    this.connected();
  }

  /** The far end failed a request or the probe: give up everything in flight on `conn` and retry after the backoff. */
  #lose(conn: Connection, cause: unknown): void {
    if (conn !== this.#conn || this.stopping) return;
    const message = typeof cause === 'string' ? cause : messageOf(cause);
    this.failed(new EdgeloopError('HTTP_UPSTREAM', `${redact(this.#route.url)}: ${message}`, { cause }));
    this.#drop(conn);
    this.lost(() => this.#connect());
  }

  #drop(conn: Connection): void {
    for (const abort of conn.requests) abort.abort();
    conn.agent.destroy();
    if (this.#conn === conn) this.#conn = undefined;
    for (const settle of [...this.#inflight]) settle({ ok: false });
  }

}

/**
 * 2xx: taken. 4xx: refused for good, except 408 and 429, which say "not now" like 5xx do. Anything else (3xx,
 * which Node does not follow) is not a delivery either, so it is treated as "not now" and keeps the record.
 */
function verdictOf(status: number): 'ok' | 'refused' | 'lost' {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return 'refused';
  return 'lost';
}

function describeAnswer(status: number, body: string): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim() + (body ? `: ${body}` : '');
}

/**
 * A topic as a header value: header values are bytes, not UTF-8, and Node refuses most characters beyond ASCII, so
 * those (and `%`, to keep it reversible) are percent-encoded; `decodeURIComponent` gives the topic back.
 */
function headerSafe(topic: string): string {
  return topic.replace(/[^\x20-\x24\x26-\x7e]/gu, encodeURIComponent);
}

