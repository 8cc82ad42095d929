// The NATS JetStream adapter: each record is published to a stream and counts as delivered once the stream's
// publish ack says it is stored. The record id goes as `Nats-Msg-Id`, so JetStream drops a replay within the
// stream's duplicate window (a record resent after a lost ack is stored once). The subject mirrors the MQTT topic:
// `edgeloop/gw-01/sensors/t1` is published as `edgeloop.gw-01.sensors.t1`.
// The client's own reconnection and its buffering of publishes while disconnected are off: the outbox holds what is
// not acknowledged, and reconnection follows the same backoff as every route.
// Commands come down through a durable JetStream consumer per topic filter, acknowledged once handed over: a command
// published while the device was away waits in the stream (at least once, like MQTT QoS 1). Where no stream captures
// the commands' subjects, a plain subscription takes them while connected (at most once).
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  nanos,
  StorageType,
  type ConnectionOptions,
  type JetStreamClient,
  type NatsConnection,
} from 'nats';
import { Int, Str, UrlString } from '../config/schema.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import { redact } from '../lib/redact.ts';
import { RateLimitedLog } from '../telemetry/logger.ts';
import { ROUTE_FIELDS, RouteNameSchema, type Adapter, type AdapterContext, type AdapterDefinition, type Downlink, type PublishOutcome } from './adapter.ts';
import { ConnectionLifecycle } from './lifecycle.ts';
import { Subscriptions } from './subscriptions.ts';

/** Client TLS: a private CA, and a certificate and key for mutual TLS. */
const ClientTlsSchema = Type.Object(
  {
    ca: Type.Optional(Str({ minLength: 1, description: 'path to a PEM CA bundle' })),
    cert: Type.Optional(Str({ minLength: 1, description: 'path to the PEM client certificate (mTLS)' })),
    key: Type.Optional(Str({ minLength: 1, description: 'path to the PEM client key (mTLS)' })),
  },
  { additionalProperties: false },
);

export const NatsRouteSchema = Type.Object(
  {
    ...ROUTE_FIELDS,
    name: RouteNameSchema,
    url: UrlString(['nats', 'tls']),
    /** The stream the records go to; created (capturing `subjects`) when it does not exist and `create` is true. */
    stream: Type.Object(
      {
        name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', patternMessage: 'must be 1 to 64 letters, digits, _ or -', default: 'EDGELOOP' }),
        create: Type.Boolean({ default: true }),
        subjects: Type.Array(Str({ minLength: 1 }), { minItems: 1, default: ['edgeloop.>'] }),
        /** How long JetStream remembers a record id to drop its replays. */
        duplicate_window_s: Int(1, 604_800, 120),
        /** Records older than this leave the stream (0: kept until other limits). */
        max_age_s: Int(0, 315_360_000, 0),
        storage: Type.Union([Type.Literal('file'), Type.Literal('memory')], { default: 'file' }),
        replicas: Int(1, 5, 1),
      },
      { additionalProperties: false, default: {} },
    ),
    username: Type.Optional(Str()),
    password: Type.Optional(Str()),
    token: Type.Optional(Str({ minLength: 1 })),
    tls: Type.Optional(ClientTlsSchema),
    /** A publish not acknowledged by the stream within this is a lost connection. */
    timeout_ms: Int(100, 600_000, 5000),
    connect_timeout_ms: Int(100, 600_000, 10_000),
    /** Publishes awaiting their ack at once. */
    window: Int(1, 65_535, 256),
  },
  { additionalProperties: false },
);

export type NatsRouteConfig = Static<typeof NatsRouteSchema>;

export const natsAdapter: AdapterDefinition<NatsRouteConfig> = {
  options: NatsRouteSchema,
  default: [],
  create: (route, context) => new NatsAdapter(route, context),
};

interface Following {
  stop(): void;
  /** The durable consumer, when commands come through one. */
  durable?: { stream: string; name: string };
}

/** A command consumer left unused this long is removed by the server (a device that went for good). */
const CONSUMER_IDLE_MS = 7 * 86_400_000;

/** What a subject token may not contain (separator, wildcards, whitespace) and `%`, percent-encoded. */
const RESERVED = /[.*>%\s\p{Cc}]/gu;

/** The subject for a topic: levels become tokens; `decodeURIComponent` of each token gives the level back. */
export function subjectOf(topic: string): string {
  return topic
    .split('/')
    .map((level) => level.replace(RESERVED, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`))
    .join('.');
}

/** The subject filter for an MQTT topic filter: `+` is `*`, `#` is `>`. */
export function subjectFilterOf(filter: string): string {
  return filter
    .split('/')
    .map((level) => (level === '+' ? '*' : level === '#' ? '>' : subjectOf(level)))
    .join('.');
}

/** The topic a subject mirrors. */
export function topicOf(subject: string): string {
  return subject
    .split('.')
    .map((token) => {
      try {
        return decodeURIComponent(token);
      } catch {
        return token;
      }
    })
    .join('/');
}

/** The JetStream answers that refuse a record for good: the rest of 4xx; 408 and 429 mean "not now". */
function refusal(err: unknown): { code: number; reason: string } | undefined {
  const e = err as { code?: string; api_error?: { code: number; err_code?: number; description: string } };
  const api = e.api_error;
  if (api && api.code >= 400 && api.code < 500 && api.code !== 408 && api.code !== 429) {
    return { code: api.code, reason: `${api.description}${api.err_code ? ` (err_code ${api.err_code})` : ''}` };
  }
  // Bigger than the server's max_payload: refused before it is sent.
  if (e.code === 'MAX_PAYLOAD_EXCEEDED') return { code: 413, reason: messageOf(err) };
  return undefined;
}

export class NatsAdapter extends ConnectionLifecycle implements Adapter {
  readonly window: number;
  readonly refusal = 'NATS_UPSTREAM' as const;
  readonly downlink: Downlink = { subscribe: (filter, handler) => this.#subscriptions.add(filter, handler) };
  #route: NatsRouteConfig & { name: string };
  #device: string;
  /** `edgeloop check --test`: connect once, create nothing on the server. */
  #probe: boolean;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #inflight = 0;
  #idle: (() => void) | undefined;
  #subscriptions: Subscriptions;
  /** What follows each filter on the current connection. */
  #following = new Map<string, Following>();
  #commandErrors = new RateLimitedLog(60_000);

  constructor(route: NatsRouteConfig & { name: string }, context: AdapterContext) {
    const { log, onState, onReconnectAttempt } = context;
    super({ name: route.name, kind: 'nats', url: route.url, reconnect: route.reconnect, log, onState, onReconnectAttempt });
    this.#route = route;
    this.#device = context.device;
    this.#probe = context.probe === true;
    this.window = route.window;
    this.#subscriptions = new Subscriptions({
      route: route.name,
      log,
      follow: (filter) => {
        if (this.#nc && this.state === 'connected') void this.#follow(this.#nc, filter);
      },
      unfollow: (filter) => this.#unfollow(filter, true),
    });
  }

  start(): void {
    this.#connect();
  }

  publish(topic: string, payload: string, id: string, done: (outcome: PublishOutcome) => void): void {
    const js = this.#js;
    const nc = this.#nc;
    if (!js || !nc || this.state !== 'connected') {
      done({ ok: false });
      return;
    }
    this.#inflight++;
    const settle = (outcome: PublishOutcome) => {
      if (--this.#inflight === 0) this.#idle?.();
      done(outcome);
    };
    js.publish(subjectOf(topic), payload, { msgID: id, timeout: this.#route.timeout_ms }).then(
      () => settle({ ok: true }),
      (err: unknown) => {
        const refused = refusal(err);
        if (refused) {
          settle({ ok: false, refused });
          return;
        }
        settle({ ok: false });
        // No ack (timeout), no stream for the subject (503), a stream that cannot take it now: back off.
        this.#lose(nc, err);
      },
    );
  }

  async stop(timeoutMs: number): Promise<void> {
    this.beginStop();
    const nc = this.#nc;
    if (nc) {
      this.setState('disconnecting');
      if (this.#inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          this.#idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      this.#nc = undefined;
      this.#js = undefined;
      for (const filter of [...this.#following.keys()]) this.#unfollow(filter, false);
      await nc.close().catch(() => undefined);
    }
    this.setState('disconnected');
  }

  #connect(): void {
    const r = this.#route;
    this.setState('connecting');
    const options: ConnectionOptions = {
      servers: r.url,
      name: `edgeloop-${this.#device}-${r.name}${this.#probe ? '-check' : ''}`,
      reconnect: false,
      timeout: r.connect_timeout_ms,
      ...(r.username !== undefined ? { user: r.username, pass: r.password ?? '' } : {}),
      ...(r.token !== undefined ? { token: r.token } : {}),
      ...(r.tls || r.url.startsWith('tls://')
        ? { tls: { ...(r.tls?.ca ? { caFile: r.tls.ca } : {}), ...(r.tls?.cert ? { certFile: r.tls.cert } : {}), ...(r.tls?.key ? { keyFile: r.tls.key } : {}) } }
        : {}),
    };
    connect(options).then(
      async (nc) => {
        if (this.stopping) {
          await nc.close();
          return;
        }
        this.#nc = nc;
        void nc.closed().then((err) => this.#lose(nc, err ?? new Error('connection closed')));
        try {
          if (r.stream.create && !this.#probe) await this.#ensureStream(nc);
          // Ready only once the command subscriptions are in place, so a command sent after `ready` is never missed.
          await Promise.all(this.#subscriptions.filters.map((filter) => this.#follow(nc, filter)));
        } catch (err) {
          this.#lose(nc, err);
          return;
        }
        if (nc !== this.#nc || this.stopping) return;
        this.#js = nc.jetstream({ timeout: r.timeout_ms });
        this.connected();
      },
      (err: unknown) => this.#lose(undefined, err),
    );
  }

  /** Creates the stream when it does not exist yet; an existing one is used as it is. */
  async #ensureStream(nc: NatsConnection): Promise<void> {
    const s = this.#route.stream;
    const jsm = await nc.jetstreamManager({ timeout: this.#route.timeout_ms });
    try {
      await jsm.streams.info(s.name);
      return;
    } catch (err) {
      if ((err as { api_error?: { err_code?: number } }).api_error?.err_code !== 10059) throw err;
    }
    await jsm.streams.add({
      name: s.name,
      subjects: s.subjects,
      duplicate_window: nanos(s.duplicate_window_s * 1000),
      max_age: nanos(s.max_age_s * 1000),
      storage: s.storage === 'memory' ? StorageType.Memory : StorageType.File,
      num_replicas: s.replicas,
    });
    this.log.info({ route: this.name, stream: s.name, subjects: s.subjects }, 'nats stream created');
  }

  /**
   * Follows `filter` on `nc`: a durable consumer on the stream that captures its subjects (named after the device and
   * the filter, so a reconnect or a restart resumes it), or a plain subscription where no stream does.
   */
  async #follow(nc: NatsConnection, filter: string): Promise<void> {
    this.#unfollow(filter, false);
    const subject = subjectFilterOf(filter);
    const jsm = await nc.jetstreamManager({ timeout: this.#route.timeout_ms });
    const stream = await jsm.streams.find(subject).catch(() => undefined);
    if (stream === undefined) {
      const sub = nc.subscribe(subject, {
        callback: (err, m) => {
          if (!err) this.#subscriptions.dispatch(topicOf(m.subject), Buffer.from(m.data), 0);
        },
      });
      this.#following.set(filter, { stop: () => sub.unsubscribe() });
      // The server has the subscription before `ready`: a command sent after it is not missed.
      await nc.flush();
      return;
    }
    const name = `edgeloop_${this.#device}_${createHash('sha256').update(filter).digest('hex').slice(0, 12)}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const exists = await jsm.consumers.info(stream, name).then(() => true, () => false);
    if (!exists) {
      await jsm.consumers.add(stream, {
        durable_name: name,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        inactive_threshold: nanos(CONSUMER_IDLE_MS),
      });
    }
    const consumer = await nc.jetstream().consumers.get(stream, name);
    const messages = await consumer.consume();
    this.#following.set(filter, { stop: () => void messages.stop(), durable: { stream, name } });
    void (async () => {
      for await (const m of messages) {
        this.#subscriptions.dispatch(topicOf(m.subject), Buffer.from(m.data), 1);
        m.ack();
      }
    })().catch((err: unknown) => {
      const e = new EdgeloopError('NATS_UPSTREAM', `commands on ${subject} stopped: ${messageOf(err)}`, { cause: err });
      this.#commandErrors.hit((suppressed) => this.log.warn({ route: this.name, code: e.code, suppressed }, e.describe()));
    });
  }

  /** Stops following `filter`; `forget`: for good, so its durable consumer is removed too. */
  #unfollow(filter: string, forget: boolean): void {
    const following = this.#following.get(filter);
    this.#following.delete(filter);
    following?.stop();
    const durable = following?.durable;
    const nc = this.#nc;
    if (forget && durable && nc) {
      void nc.jetstreamManager().then((jsm) => jsm.consumers.delete(durable.stream, durable.name)).catch(() => undefined);
    }
  }

  /** The connection failed or the stream would not take records now: give it up and retry after the backoff. */
  #lose(nc: NatsConnection | undefined, cause: unknown): void {
    if (nc !== this.#nc || this.stopping) return;
    this.failed(new EdgeloopError('NATS_UPSTREAM', `${redact(this.#route.url)}: ${describe(cause)}`, { cause }));
    this.#nc = undefined;
    this.#js = undefined;
    for (const filter of [...this.#following.keys()]) this.#unfollow(filter, false);
    void nc?.close().catch(() => undefined);
    this.lost(() => this.#connect());
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; api_error?: { description: string } };
  if (e.code === '503') return 'no stream captures this subject, or JetStream is not enabled on the server (nats-server -js)';
  if (e.code === 'TIMEOUT') return 'the stream did not acknowledge in time';
  return e.api_error?.description ?? messageOf(err);
}
