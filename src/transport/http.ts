// The HTTP webhook adapter: each record is POSTed as its JSON payload to the route's url, or records are POSTed in
// batches (a JSON array, bounded by count and bytes, optionally gzipped). Connection, probe and batches work as for
// every request-per-message route (request-route.ts): a HEAD probe "connects" it, and any answer that means "not
// now" (408, 429, 5xx, a network error, a timeout) "loses" it; the records sent again carry their idempotency-key.
// node:http(s) rather than fetch: fetch takes a private CA only through undici's Agent, which Node does not expose.
import { readFileSync } from 'node:fs';
import http, { STATUS_CODES } from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Type, type Static } from '@sinclair/typebox';
import { Int, Str, UrlString } from '../config/schema.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import { redact } from '../lib/redact.ts';
import { ROUTE_FIELDS, RouteNameSchema, type AdapterContext, type AdapterDefinition } from './adapter.ts';
import { batchBody, BatchSchema, type BatchItem } from './batch.ts';
import { RequestRoute, type Verdict } from './request-route.ts';

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
    batch: BatchSchema(1024 * 1024),
    /** gzip: request bodies are compressed (`content-encoding: gzip`). */
    compress: Type.Union([Type.Literal('none'), Type.Literal('gzip')], { default: 'none' }),
    /** Sent as `authorization: Bearer <token>` (hidden in the API's config view). */
    token: Type.Optional(Str({ minLength: 1 })),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Str({ minLength: 1, description: 'path to a PEM CA bundle' })),
          cert: Type.Optional(Str({ minLength: 1, description: 'path to the PEM client certificate (mTLS)' })),
          key: Type.Optional(Str({ minLength: 1, description: 'path to the PEM client key (mTLS)' })),
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
  const issues = Object.keys(route.headers)
    .filter((name) => !HEADER_NAME.test(name))
    .map((name) => ({ key: `headers.${name}`, message: 'is not a valid HTTP header name' }));
  if (route.tls && (route.tls.cert === undefined) !== (route.tls.key === undefined)) {
    issues.push({ key: route.tls.cert === undefined ? 'tls.cert' : 'tls.key', message: 'mutual TLS needs both tls.cert and tls.key' });
  }
  return issues;
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
  /** What a 429 or 503 asked for in `Retry-After`. */
  retryAfterMs: number | undefined;
}

/** `Retry-After` in seconds or as an HTTP date. */
function retryAfterMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

const gzipAsync = promisify(gzip);

/** How much of a refusal's body goes into the dead letter's reason. */
const REASON_BODY_CHARS = 200;

export class HttpAdapter extends RequestRoute<Connection> {
  /** A webhook only sends: nothing comes down. */
  readonly downlink = null;
  readonly refusal = 'HTTP_UPSTREAM' as const;
  #route: HttpRouteConfig;
  #url: URL;
  #secure: boolean;
  #ca: Buffer | undefined;
  #cert: Buffer | undefined;
  #key: Buffer | undefined;
  /** The route's headers, then the bearer token: sent with every request. */
  #headers: Record<string, string>;

  constructor(route: HttpRouteConfig, context: AdapterContext) {
    const { log, onState, onReconnectAttempt } = context;
    super({
      name: route.name, kind: 'http', url: route.url, reconnect: route.reconnect, log, onState, onReconnectAttempt,
      requests: route.window, batch: route.batch,
    });
    this.#route = route;
    this.#url = new URL(route.url);
    this.#secure = this.#url.protocol === 'https:';
    this.#headers = { ...route.headers, ...(route.token === undefined ? {} : { authorization: `Bearer ${route.token}` }) };
  }

  start(): void {
    const tls = this.#route.tls;
    this.#ca = this.#readTlsFile('ca', tls?.ca);
    this.#cert = this.#readTlsFile('cert', tls?.cert);
    this.#key = this.#readTlsFile('key', tls?.key);
    this.connect();
  }

  protected connect(): void {
    // At most `window` sockets, kept alive between requests.
    const agentOptions = { keepAlive: true, maxSockets: this.#route.window };
    const tls = this.#route.tls;
    const agent = this.#secure
      ? new https.Agent({
          ...agentOptions,
          rejectUnauthorized: tls?.reject_unauthorized ?? true,
          ...(this.#ca ? { ca: this.#ca } : {}),
          ...(this.#cert && this.#key ? { cert: this.#cert, key: this.#key } : {}),
        })
      : new http.Agent(agentOptions);
    const conn: Connection = { agent, requests: new Set() };
    this.conn = conn;
    this.setState('connecting');
    this.#request(conn, 'HEAD', {}).then(({ status, body }) => {
      // A server without HEAD (501) is up all the same: the POSTs will tell.
      if (verdictOf(status) === 'lost' && status !== 501) this.lose(conn, `HEAD answered ${describeAnswer(status, body)}`);
      else if (conn === this.conn && !this.stopping) this.connected();
    }, (err: unknown) => this.lose(conn, err));
  }

  /** One record alone goes as it is, with its id and topic in the headers; a batch as a JSON array. */
  protected async send(conn: Connection, items: BatchItem[]): Promise<Verdict> {
    const first = items[0] as BatchItem;
    const headers: Record<string, string> = this.batched
      ? { 'content-type': 'application/json', 'x-edgeloop-batch': String(items.length) }
      : { 'content-type': 'application/json', 'idempotency-key': first.id, 'x-edgeloop-topic': headerSafe(first.topic) };
    let body: Buffer | string = this.batched ? batchBody(items) : first.payload;
    if (this.#route.compress === 'gzip') {
      headers['content-encoding'] = 'gzip';
      // zlib runs in the thread pool: a large batch does not hold the event loop.
      body = await gzipAsync(body);
    }
    const { status, body: text, retryAfterMs } = await this.#request(conn, 'POST', headers, body);
    const verdict = verdictOf(status);
    if (verdict === 'ok') return { ok: true };
    if (verdict === 'refused') return { refused: { code: status, reason: describeAnswer(status, text) } };
    return { later: `POST answered ${describeAnswer(status, text)}`, retryAfterMs };
  }

  protected release(conn: Connection): void {
    for (const abort of conn.requests) abort.abort();
    conn.agent.destroy();
  }

  protected failure(message: string, cause: unknown): EdgeloopError {
    return new EdgeloopError('HTTP_UPSTREAM', `${redact(this.#route.url)}: ${message}`, { cause });
  }

  #readTlsFile(key: 'ca' | 'cert' | 'key', path: string | undefined): Buffer | undefined {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new EdgeloopError('HTTP_UPSTREAM', `cannot read tls.${key} ${path} of http route ${this.name}: ${messageOf(cause)}`, { cause });
    }
  }

  #request(conn: Connection, method: 'HEAD' | 'POST', headers: Record<string, string>, body?: Buffer | string): Promise<Answer> {
    const timeoutMs = this.#route.timeout_ms;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    conn.requests.add(abort);
    // The route's headers first, so they cannot replace the ones the far end relies on.
    const options = { method, agent: conn.agent, signal: abort.signal, headers: { ...this.#headers, ...headers } };
    return new Promise<Answer>((resolve, reject) => {
      const fail = (err: unknown) => reject(timedOut ? new Error(`no answer within ${timeoutMs} ms`) : err);
      const req = (this.#secure ? https : http).request(this.#url, options, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < REASON_BODY_CHARS) text += chunk;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          resolve({ status, body: text.slice(0, REASON_BODY_CHARS).trim(), retryAfterMs: retryAfterMs(res.headers['retry-after']) });
        });
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end(body);
    }).finally(() => {
      clearTimeout(timer);
      conn.requests.delete(abort);
    });
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

