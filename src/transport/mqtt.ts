// The MQTT adapter (MQTT.js 5, protocol 3.1.1 or 5). It owns the connection only: states, backoff with jitter, the
// retained status topic with its last will, and telling a refused publish from a lost connection. MQTT.js's own
// store holds just the in-flight window; what it held at a disconnect is dropped from it, because the outbox sends
// those records again.
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { MqttRoute } from '../config/load.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import { redactUrl, type Adapter, type ConnectionState, type PublishOutcome } from './adapter.ts';
import { ConnectionLifecycle } from './lifecycle.ts';
import { isTlsError, tlsOptions } from './tls.ts';

export interface MqttAdapterOptions {
  route: MqttRoute & { url: string };
  device: string;
  log: Logger;
  onState?: (state: ConnectionState) => void;
  onReconnectAttempt?: (delayMs: number) => void;
}

export class MqttAdapter extends ConnectionLifecycle implements Adapter {
  #o: MqttAdapterOptions;
  #client: MqttClient | undefined;
  #window: number;
  #statusTopic: string;

  constructor(options: MqttAdapterOptions) {
    const { route, log, onState, onReconnectAttempt } = options;
    super({ name: route.name, kind: 'mqtt', url: route.url, reconnect: route.reconnect, log, onState, onReconnectAttempt });
    this.#o = options;
    this.#window = route.window;
    this.#statusTopic = `edgeloop/${options.device}/status`;
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
      // MQTT.js traces every packet through `debug`; even disabled, that costs ~7 % of the publish path.
      log: () => undefined,
      will: { topic: this.#statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(v5 ? { properties: { sessionExpiryInterval: r.session_expiry_s } } : {}),
      ...(r.username !== undefined ? { username: r.username } : {}),
      ...(r.password !== undefined ? { password: r.password } : {}),
      ...(/^(mqtts|wss|tls):/.test(r.url) ? tlsOptions(r.tls) : {}),
    };
    this.setState('connecting');
    const client = mqtt.connect(r.url, options);
    this.#client = client;
    client.on('connect', (connack) => this.#onConnect(connack.properties?.receiveMaximum));
    client.on('close', () => this.#onClose());
    client.on('error', (err) => this.#onError(err));
    client.on('offline', () => undefined);
  }

  publish(topic: string, payload: string, id: string, done: (outcome: PublishOutcome) => void): void {
    const client = this.#client;
    if (!client || this.state !== 'connected') {
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
    this.beginStop();
    const client = this.#client;
    if (!client) return;
    this.setState('disconnecting');
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
      this.log.warn({ route: this.name, outcome }, 'mqtt did not close cleanly; forcing');
      await client.endAsync(true).catch(() => undefined);
    }
    this.setState('disconnected');
  }

  #onConnect(receiveMaximum: number | undefined): void {
    // Without it Nagle's algorithm holds small publishes until the broker's delayed ACK: ~40 ms per record.
    (this.#client?.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    // Never more in flight than the broker accepts (MQTT 5 Receive Maximum).
    this.#window = Math.min(this.#o.route.window, receiveMaximum ?? Infinity);
    this.connected();
    this.#client?.publish(this.#statusTopic, 'online', { qos: 1, retain: true });
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
    const url = redactUrl(this.#o.route.url);
    this.failed(
      isTlsError(err)
        ? new EdgeloopError('MQTT_TLS', `TLS with ${url} failed: ${err.message}`, { cause: err })
        : new EdgeloopError('MQTT_CONNECT', `MQTT ${url}: ${err.message}`, { cause: err }),
    );
  }

}

