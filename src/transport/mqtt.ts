// The MQTT adapter (MQTT.js 5, protocol 3.1.1 or 5). It owns the connection only: states, backoff with jitter, the
// retained status topic with its last will, telling a refused publish from a lost connection, and the downlink: the
// command subscriptions, made again (QoS 1) after every reconnect. MQTT.js's own store holds just the in-flight
// window; what it held at a disconnect is dropped from it, because the outbox sends those records again.
import { Type, type Static } from '@sinclair/typebox';
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import { Int, Str, UrlString } from '../config/schema.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import { redact } from '../lib/redact.ts';
import { RateLimitedLog } from '../telemetry/logger.ts';
import {
  ROUTE_FIELDS,
  type Adapter,
  type AdapterContext,
  type AdapterDefinition,
  type Downlink,
  type PublishOutcome,
} from './adapter.ts';
import { ConnectionLifecycle } from './lifecycle.ts';
import { Subscriptions } from './subscriptions.ts';
import { isTlsError, TlsSchema, tlsOptions } from './tls.ts';

export const MQTT_SCHEMES = ['mqtt', 'mqtts', 'tcp', 'tls', 'ws', 'wss'] as const;

export const MqttRouteSchema = Type.Object(
  {
    ...ROUTE_FIELDS,
    /** Absent: the embedded broker. */
    url: Type.Optional(UrlString(MQTT_SCHEMES)),
    /** Default: 5, or 4 with the embedded broker (which speaks MQTT 3.1.1). */
    protocol_version: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(5)])),
    qos: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], { default: 1 }),
    client_id: Type.Optional(Str({ minLength: 1, maxLength: 256 })),
    username: Type.Optional(Str()),
    password: Type.Optional(Str()),
    keepalive_s: Int(0, 65_535, 30),
    connect_timeout_ms: Int(100, 600_000, 10_000),
    /** false: a persistent session (the broker keeps our subscriptions and queued messages). */
    clean: Type.Boolean({ default: true }),
    session_expiry_s: Int(0, 4_294_967_295, 0),
    /** In-flight window: unacknowledged publishes at once (capped by the broker's Receive Maximum). */
    window: Int(1, 65_535, 100),
    tls: TlsSchema,
  },
  { additionalProperties: false },
);

export type MqttRouteConfig = Static<typeof MqttRouteSchema>;

/** The embedded broker (Aedes) speaks MQTT 3.1.1 only. */
function check(route: MqttRouteConfig) {
  if (route.url === undefined && route.protocol_version === 5) {
    return [{ key: 'protocol_version', message: 'the embedded broker speaks MQTT 3.1.1: use 4, or set url to an MQTT 5 broker' }];
  }
  return [];
}

export const mqttAdapter: AdapterDefinition<MqttRouteConfig> = {
  options: MqttRouteSchema,
  check,
  shape: 'one-or-many',
  // No `mqtt` key: one route to the embedded broker, so a fresh install publishes somewhere.
  default: {},
  defaultName: (index, count) => (count === 1 ? 'default' : `route${index + 1}`),
  usesEmbeddedBroker: (route) => route.url === undefined,
  create: (route, context) => new MqttAdapter(route, context),
};

export class MqttAdapter extends ConnectionLifecycle implements Adapter {
  readonly refusal = 'MQTT_REFUSED' as const;
  readonly downlink: Downlink = { subscribe: (filter, handler) => this.#subscriptions.add(filter, handler) };
  #route: MqttRouteConfig & { name: string };
  #context: AdapterContext;
  #url: string;
  #protocol: 4 | 5;
  #client: MqttClient | undefined;
  #window: number;
  #statusTopic: string;
  /** Command subscriptions by topic filter, made again at every connect. */
  #subscriptions: Subscriptions;
  #subscribeErrors = new RateLimitedLog(60_000);

  constructor(route: MqttRouteConfig & { name: string }, context: AdapterContext) {
    const url = route.url ?? context.embeddedBrokerUrl;
    if (url === undefined) throw new EdgeloopError('INTERNAL', `mqtt route ${route.name} has no url and no embedded broker was started`);
    const { log, onState, onReconnectAttempt } = context;
    super({ name: route.name, kind: 'mqtt', url, reconnect: route.reconnect, log, onState, onReconnectAttempt });
    this.#route = route;
    this.#context = context;
    this.#url = url;
    this.#protocol = route.protocol_version ?? (route.url === undefined ? 4 : 5);
    this.#window = route.window;
    this.#statusTopic = `edgeloop/${context.device}/status`;
    this.#subscriptions = new Subscriptions({
      route: route.name,
      log,
      follow: (filter) => {
        if (this.state === 'connected') this.#sendSubscribe([filter]);
      },
      unfollow: (filter) => {
        if (this.state === 'connected') this.#client?.unsubscribe(filter);
      },
    });
  }

  get window(): number {
    return this.#window;
  }

  start(): void {
    const r = this.#route;
    const v5 = this.#protocol === 5;
    const probe = this.#context.probe === true;
    const clientId = r.client_id ?? `edgeloop-${this.#context.device}${this.name === 'default' ? '' : `-${this.name}`}`;
    const options: IClientOptions = {
      protocolVersion: this.#protocol,
      // A probe must not take the running gateway's session over (same client id) nor touch its persistent session.
      clientId: probe ? `${clientId}-check` : clientId,
      clean: probe ? true : r.clean,
      keepalive: r.keepalive_s,
      connectTimeout: r.connect_timeout_ms,
      // Reconnection is ours: exponential backoff with jitter instead of MQTT.js's fixed period.
      reconnectPeriod: 0,
      // Command subscriptions are ours too, made again at each connect.
      resubscribe: false,
      // Only the in-flight window lives in MQTT.js; nothing waits in its offline queue.
      queueQoSZero: false,
      // MQTT.js traces every packet through `debug`; even disabled, that costs ~7 % of the publish path.
      log: () => undefined,
      ...(probe ? {} : { will: { topic: this.#statusTopic, payload: Buffer.from('offline'), qos: 1 as const, retain: true } }),
      ...(v5 ? { properties: { sessionExpiryInterval: probe ? 0 : r.session_expiry_s } } : {}),
      ...(r.username !== undefined ? { username: r.username } : {}),
      ...(r.password !== undefined ? { password: r.password } : {}),
      ...(/^(mqtts|wss|tls):/.test(this.#url) ? tlsOptions(r.tls) : {}),
    };
    this.setState('connecting');
    const client = mqtt.connect(this.#url, options);
    this.#client = client;
    client.on('connect', (connack) => this.#onConnect(connack.properties?.receiveMaximum));
    client.on('close', () => this.#onClose());
    client.on('error', (err) => this.#onError(err));
    client.on('offline', () => undefined);
    client.on('message', (topic, payload, packet) => this.#subscriptions.dispatch(topic, payload, packet.qos));
  }

  /**
   * A retained QoS 1 message outside the outbox, for state a consumer reads on subscribing (Home Assistant discovery
   * configs): dropped when not connected, as its owner announces it again at the next `ready`.
   */
  retain(topic: string, payload: string): void {
    if (this.state === 'connected') this.#client?.publish(topic, payload, { qos: 1, retain: true });
  }

  publish(topic: string, payload: string, id: string, done: (outcome: PublishOutcome) => void): void {
    const client = this.#client;
    if (!client || this.state !== 'connected') {
      done({ ok: false });
      return;
    }
    const opts: IClientPublishOptions = { qos: this.#route.qos };
    if (this.#protocol === 5) opts.properties = { userProperties: { 'edgeloop-id': id } };
    client.publish(topic, payload, opts, (err) => {
      if (!err) done({ ok: true });
      else {
        const code = (err as { code?: unknown }).code;
        done(typeof code === 'number' && code >= 0x80 ? { ok: false, refused: { code, reason: err.message } } : { ok: false });
      }
    });
  }

  async stop(timeoutMs: number): Promise<void> {
    this.beginStop();
    const client = this.#client;
    if (!client) return;
    this.setState('disconnecting');
    const bye = async () => {
      if (!client.connected) return client.endAsync(true);
      if (this.#context.probe !== true) await client.publishAsync(this.#statusTopic, 'offline', { qos: 1, retain: true });
      await client.endAsync();
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([bye().catch((err) => messageOf(err)), timedOut]);
    clearTimeout(timer);
    if (outcome !== undefined) {
      this.log.warn({ route: this.name, outcome }, 'mqtt did not close cleanly; forcing');
      await client.endAsync(true).catch(() => undefined);
    }
    this.setState('disconnected');
  }

  #onConnect(receiveMaximum: number | undefined): void {
    // Without it Nagle's algorithm holds small publishes until the broker's delayed ACK: ~40 ms per record.
    (this.#client?.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    // Never more in flight than the broker accepts (MQTT 5 Receive Maximum).
    this.#window = Math.min(this.#route.window, receiveMaximum ?? Infinity);
    if (this.#context.probe !== true) this.#client?.publish(this.#statusTopic, 'online', { qos: 1, retain: true });
    // Ready only once the command subscriptions are in place, so a command sent after `ready` is never missed.
    const filters = this.#subscriptions.filters;
    if (filters.length > 0) this.#sendSubscribe(filters, () => this.connected());
    else this.connected();
  }

  /** QoS 1: a command is delivered at least once, also when it was sent while this client was reconnecting. */
  #sendSubscribe(filters: string[], then?: () => void): void {
    const client = this.#client;
    if (!client) return;
    client.subscribe(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])), (err, granted) => {
      // Lost meanwhile: the next connect subscribes again.
      if (client !== this.#client || !client.connected || this.stopping) return;
      then?.();
      const refused = err ? filters : (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (refused.length === 0) return;
      const e = new EdgeloopError('MQTT_SUBSCRIBE', `the broker refused the subscription to ${refused.join(', ')}${err ? `: ${err.message}` : ''}`);
      this.#subscribeErrors.hit((suppressed) => this.log.error({ route: this.name, code: e.code, suppressed }, e.describe()));
    });
  }

  #onClose(): void {
    const client = this.#client;
    if (client) {
      // The outbox owns these records; drop MQTT.js's copies so it does not replay them on its own.
      for (const [mid, entry] of Object.entries(client.outgoing)) {
        if (entry.cmd === 'publish') client.removeOutgoingMessage(Number(mid));
      }
    }
    this.lost(() => {
      this.setState('connecting');
      this.#client?.reconnect();
    });
  }

  #onError(err: Error): void {
    const url = redact(this.#url);
    this.failed(
      isTlsError(err)
        ? new EdgeloopError('MQTT_TLS', `TLS with ${url} failed: ${err.message}`, { cause: err })
        : new EdgeloopError('MQTT_CONNECT', `MQTT ${url}: ${err.message}`, { cause: err }),
    );
  }

}

