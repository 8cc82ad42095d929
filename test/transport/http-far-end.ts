// A web server playing the far end of an http route: it records every request, and the test decides each answer.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { resolveConfig } from '../../src/app/config.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { HttpAdapter, type HttpRouteConfig } from '../../src/transport/http.ts';
import { waitUntil } from '../support/wait.ts';
import { DATA_TOPIC, DEVICE, Inbox, RECONNECT, type FarEnd, type Received } from './adapter-suite.ts';

const log = createLogger('silent', { pretty: false });

export interface Request {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body as received (compressed, when it was). */
  raw: Buffer;
  /** What a POST was answered (held ones: `hold`, even once released). */
  answer?: Answer;
}

/** A POST's answer: a status, or `hold` to leave it open until released or cut. */
type Answer = number | 'hold';

export interface HttpFarEnd extends FarEnd {
  adapter: HttpAdapter;
  /** The url the adapter posts to. */
  url: string;
  /** Answers each POST; the default takes everything with 204. */
  respond: (req: IncomingMessage) => Answer;
  /** The status HEAD (the adapter's probe) gets. */
  headStatus: number;
  /** Sent as `Retry-After` with every refusal or failure. */
  retryAfter?: string;
  requests: Request[];
  /** POSTs held open now. */
  held(): number;
  /** Answers every held POST with 204. */
  release(): void;
  /** TCP connections accepted so far. */
  connections(): number;
  /** Emits `request` at every request the far end has read. */
  events: EventEmitter;
}

export interface FarEndOptions {
  route?: Partial<Omit<HttpRouteConfig, 'url'>>;
  /** Builds the route's url from the far end's port; default `http(s)://127.0.0.1:<port>/hook`. */
  url?: (port: number) => string;
  /** `ca`: client certificates are required and verified against it (mutual TLS). */
  tls?: { cert: string; key: string; ca?: string };
}

export async function startHttpFarEnd(o: FarEndOptions = {}): Promise<HttpFarEnd> {
  const inbox = new Inbox<Received>();
  const events = new EventEmitter();
  const held: ServerResponse[] = [];
  let holding = false;
  let refuse: number | undefined;
  let open = 0;
  let peak = 0;
  let connections = 0;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      const request: Request = { method: req.method ?? '', headers: req.headers, body, raw };
      far.requests.push(request);
      if (req.method === 'HEAD') {
        res.writeHead(far.headStatus).end();
      } else {
        open++;
        peak = Math.max(peak, open);
        res.once('close', () => open--);
        inbox.push({ topic: String(req.headers['x-edgeloop-topic']), payload: body, id: String(req.headers['idempotency-key']) });
        const answer = refuse ?? (holding ? 'hold' : far.respond(req));
        refuse = undefined;
        request.answer = answer;
        if (answer === 'hold') held.push(res);
        else {
          const headers = { 'content-type': 'text/plain', ...(far.retryAfter && answer >= 300 ? { 'retry-after': far.retryAfter } : {}) };
          res.writeHead(answer, headers).end(answer >= 300 ? 'not this one' : undefined);
        }
      }
      events.emit('request');
    });
  };
  const tlsFiles = o.tls && {
    cert: await readFile(o.tls.cert),
    key: await readFile(o.tls.key),
    ...(o.tls.ca ? { ca: await readFile(o.tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
  };
  let server: Server;
  let port = 0;
  const listen = async () => {
    server = tlsFiles ? createTlsServer(tlsFiles, handler) : createServer(handler);
    server.on('connection', () => connections++);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
  };
  const shut = async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    held.length = 0;
    await closed;
  };
  await listen();

  const scheme = tlsFiles ? 'https' : 'http';
  const url = o.url?.(port) ?? `${scheme}://127.0.0.1:${port}/hook`;
  const [route] = resolveConfig({
    http: [{ name: 'hook', url, window: 4, timeout_ms: 2000, reconnect: RECONNECT, ...o.route }],
  }).http as HttpRouteConfig[];
  assert.ok(route);

  const far: HttpFarEnd = {
    adapter: new HttpAdapter(route, { device: DEVICE, log }),
    url,
    respond: () => 204,
    headStatus: 204,
    requests: [],
    received: () => inbox.next(),
    refuseNext() {
      refuse = 422;
      return { topic: `${DATA_TOPIC}/refused`, code: 422 };
    },
    hold() {
      holding = true;
    },
    held: () => held.length,
    release() {
      holding = false;
      for (const res of held.splice(0)) res.writeHead(204).end();
    },
    async stopFarEnd() {
      await shut();
    },
    async startFarEnd() {
      holding = false;
      await listen();
    },
    peakInFlight: () => peak,
    connections: () => connections,
    events,
    close: shut,
  };
  return far;
}

/** Resolves once `check` holds, re-checked at every request the far end reads. */
export function untilRequests(far: HttpFarEnd, check: () => boolean, what: string, timeoutMs = 5000): Promise<true> {
  return waitUntil({
    check: () => (check() ? true : undefined),
    subscribe: (recheck) => {
      far.events.on('request', recheck);
      return () => far.events.off('request', recheck);
    },
    timeoutMs,
    describe: () => `${what}; requests: ${far.requests.length}, held: ${far.held()}`,
  });
}

export const posts = (far: HttpFarEnd): Request[] => far.requests.filter((r) => r.method === 'POST');
