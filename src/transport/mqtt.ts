// The MQTT adapter (MQTT.js 5, protocol 3.1.1 or 5). It owns the connection only: states, backoff with jitter, the
// retained status topic with its last will, and telling a refused publish from a lost connection. MQTT.js's own
// store holds just the in-flight window; what it held at a disconnect is dropped from it, because the outbox sends
// those records again.
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { MqttRoute } from '../config/load.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import { RateLimitedLog, type Logger } from '../telemetry/logger.ts';
import {
  Backoff,
  redactUrl,
  type Adapter,
  type AdapterEvents,
  type AdapterInfo,
  type ConnectionState,
  type PublishOutcome,
} from './adapter.ts';
import { isTlsError, tlsOptions } from './tls.ts';

export interface MqttAdapterOptions {
  route: MqttRoute & { url: string };
  device: string;
  log: Logger;
  onState?: (state: ConnectionState) => void;
  onReconnectAttempt?: (delayMs: number) => void;
}

export class MqttAdapter extends EventEmitter<AdapterEvents> implements Adapter {
  readonly name: string;
  #o: MqttAdapterOptions;
  #client: MqttClient | undefined;
  #state: ConnectionState = 'disconnected';
  #window: number;
  #backoff: Backoff;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #connects = 0;
  #backoffMs = 0;
  #lastError: string | null = null;
  #connectedSince: Date | null = null;
  #errorLog = new RateLimitedLog(5000);
  #statusTopic: string;

  constructor(options: MqttAdapterOptions) {
    super();
    this.#o = options;
    this.name = options.route.name;
    this.#window = options.route.window;
    this.#backoff = new Backoff(options.route.reconnect.min_ms, options.route.reconnect.max_ms);
    this.#statusTopic = `edgeloop/${options.device}/status`;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get window(): number {
    return this.#window;
  }

  start(): void {
    const r = this.#o.route;
    const v5 = r.protocol_version === 5;
    const options: IClientOptions = {
      protocolVersion: r.protocol_version,
      clientId: r.client_id ?? `edgeloop-${this.#o.device}${this.name === 'default' ? '' : `-${this.name}`}`,
      clean: r.clean,
      keepalive: r.keepalive_s,
      connectTimeout: r.connect_timeout_ms,
      // Reconnection is ours: exponential backoff with jitter instead of MQTT.js's fixed period.
      reconnectPeriod: 0,
      // Only the in-flight window lives in MQTT.js; nothing waits in its offline queue.
      queueQoSZero: false,
      will: { topic: this.#statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(v5 ? { properties: { sessionExpiryInterval: r.session_expiry_s } } : {}),
      ...(r.username !== undefined ? { username: r.username } : {}),
      ...(r.password !== undefined ? { password: r.password } : {}),
      ...(/^(mqtts|wss|tls):/.test(r.url) ? tlsOptions(r.tls) : {}),
    };
    this.#setState('connecting');
    const client = mqtt.connect(r.url, options);
    this.#client = client;
    client.on('connect', (connack) => this.#onConnect(connack.properties?.receiveMaximum));
    client.on('close', () => this.#onClose());
    client.on('error', (err) => this.#onError(err));
    client.on('offline', () => undefined);
  }

  publish(topic: string, payload: string, id: string, done: (outcome: PublishOutcome) => void): void {
    const client = this.#client;
    if (!client || this.#state !== 'connected') {
      done({ ok: false });
      return;
    }
    const opts: IClientPublishOptions = { qos: this.#o.route.qos };
    if (this.#o.route.protocol_version === 5) opts.properties = { userProperties: { 'edgeloop-id': id } };
    client.publish(topic, payload, opts, (err) => {
      if (!err) done({ ok: true });
      else {
        const code = (err as { code?: unknown }).code;
        done(typeof code === 'number' && code >= 0x80 ? { ok: false, refused: { code, reason: err.message } } : { ok: false });
      }
    });
  }

  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#stableTimer);
    const client = this.#client;
    if (!client) return;
    this.#setState('disconnecting');
    const bye = async () => {
      if (!client.connected) return client.endAsync(true);
      await client.publishAsync(this.#statusTopic, 'offline', { qos: 1, retain: true });
      await client.endAsync();
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([bye().catch((err) => messageOf(err)), timedOut]);
    clearTimeout(timer);
    if (outcome !== undefined) {
      this.#o.log.warn({ route: this.name, outcome }, 'mqtt did not close cleanly; forcing');
      await client.endAsync(true).catch(() => undefined);
    }
    this.#setState('disconnected');
  }

  info(): AdapterInfo {
    return {
      name: this.name,
      kind: 'mqtt',
      url: redactUrl(this.#o.route.url),
      state: this.#state,
      window: this.#window,
      connects: this.#connects,
      reconnectAttempts: this.#backoff.attempt,
      backoffMs: this.#backoffMs,
      lastError: this.#lastError,
      connectedSince: this.#connectedSince?.toISOString() ?? null,
    };
  }

  #onConnect(receiveMaximum: number | undefined): void {
    // Without it Nagle's algorithm holds small publishes until the broker's delayed ACK: ~40 ms per record.
    (this.#client?.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    this.#connects++;
    this.#connectedSince = new Date();
    this.#backoffMs = 0;
    // Never more in flight than the broker accepts (MQTT 5 Receive Maximum).
    this.#window = Math.min(this.#o.route.window, receiveMaximum ?? Infinity);
    clearTimeout(this.#stableTimer);
    this.#stableTimer = setTimeout(() => this.#backoff.reset(), this.#o.route.reconnect.stable_ms);
    this.#stableTimer.unref();
    this.#o.log.info({ route: this.name, url: redactUrl(this.#o.route.url), window: this.#window }, 'mqtt connected');
    this.#setState('connected');
    this.#client?.publish(this.#statusTopic, 'online', { qos: 1, retain: true });
    this.emit('ready');
  }

  #onClose(): void {
    clearTimeout(this.#stableTimer);
    this.#connectedSince = null;
    const client = this.#client;
    if (client) {
      // The outbox owns these records; drop MQTT.js's copies so it does not replay them on its own.
      for (const [mid, entry] of Object.entries(client.outgoing)) {
        if (entry.cmd === 'publish') client.removeOutgoingMessage(Number(mid));
      }
    }
    if (this.#stopping) return;
    if (this.#state === 'connected') this.#o.log.warn({ route: this.name }, 'mqtt connection lost');
    this.#setState('disconnected');
    const delay = this.#backoff.next();
    this.#backoffMs = delay;
    this.#o.onReconnectAttempt?.(delay);
    this.#o.log.info({ route: this.name, attempt: this.#backoff.attempt, delay_ms: delay }, 'mqtt reconnect scheduled');
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      if (this.#stopping) return;
      this.#setState('connecting');
      this.#client?.reconnect();
    }, delay);
  }

  #onError(err: Error): void {
    const e = isTlsError(err)
      ? new EdgeloopError('MQTT_TLS', `TLS with ${redactUrl(this.#o.route.url)} failed: ${err.message}`, { cause: err })
      : new EdgeloopError('MQTT_CONNECT', `MQTT ${redactUrl(this.#o.route.url)}: ${err.message}`, { cause: err });
    this.#lastError = e.describe();
    this.#errorLog.hit((suppressed) => this.#o.log.error({ route: this.name, code: e.code, suppressed }, e.describe()));
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#o.log.debug({ route: this.name, state }, 'mqtt state');
    this.#o.onState?.(state);
    this.emit('state', state);
  }
}

