// Composition: the one place where the validated config becomes objects, and where start and stop order live.
// Start: store → outbox → broker → routes → API → sensors. Stop: the reverse, bounded by shutdown_timeout_ms.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../api/server.ts';
import type { GatewayView, OutboxView, RouteView, SensorView, StatusView } from '../api/view.ts';
import { driverOptions, mqttRoutes } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import { MemoryStore } from '../outbox/memory-store.ts';
import { Outbox } from '../outbox/outbox.ts';
import { Publisher } from '../outbox/publisher.ts';
import { openSqliteStore } from '../outbox/sqlite-store.ts';
import type { OutboxStore } from '../outbox/store.ts';
import { LiveBus } from '../pipeline/live-bus.ts';
import { Channel } from '../sensors/channel.ts';
import { createDriver } from '../sensors/registry.ts';
import type { Logger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import { CONNECTION_STATES, type Adapter, type ConnectionState } from '../transport/adapter.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../transport/embedded-broker.ts';
import { HttpAdapter } from '../transport/http.ts';
import { MqttAdapter } from '../transport/mqtt.ts';
import { VERSION } from './version.ts';

export interface GatewayOptions {
  config: Config;
  configSource: string;
  log: Logger;
}

export class Gateway implements GatewayView {
  readonly bus = new LiveBus();
  readonly metrics = new Metrics();
  readonly device: string;
  readonly startedAt = new Date();
  #config: Config;
  #source: string;
  #log: Logger;
  #outbox: Outbox | undefined;
  #broker: EmbeddedBroker | undefined;
  #publishers: Publisher[] = [];
  #adapters: Adapter[] = [];
  #channels: Channel[] = [];
  #api: ApiServer | undefined;
  #stopping: Promise<void> | undefined;

  constructor(o: GatewayOptions) {
    this.#config = o.config;
    this.#source = o.configSource;
    this.#log = o.log;
    this.device = o.config.device.id;
  }

  get api(): ApiServer | undefined {
    return this.#api;
  }

  get publishers(): readonly Publisher[] {
    return this.#publishers;
  }

  get outboxInstance(): Outbox | undefined {
    return this.#outbox;
  }

  async start(): Promise<void> {
    const c = this.#config;
    const log = this.#log;
    try {
      const routes = mqttRoutes(c);
      const outbox = (this.#outbox = new Outbox({
        store: this.#openStore(),
        config: c.outbox,
        device: this.device,
        // http routes after the mqtt ones, so the mqtt routes keep their bits in the store.
        routes: [...routes, ...c.http].map((r) => ({ name: r.name, topics: r.topics })),
        log,
        metrics: this.metrics,
      }));
      outbox.on('committed', (records) => {
        for (const r of records) this.bus.publish(r);
      });
      if (outbox.rows > 0) log.info({ rows: outbox.rows, bytes: outbox.bytes }, 'outbox backlog from a previous run');

      if (routes.some((r) => r.url === undefined)) {
        this.#broker = await startEmbeddedBroker(c.broker.host, c.broker.port);
        log.info({ url: this.#broker.url }, 'embedded MQTT broker listening');
      }
      routes.forEach((route, i) => {
        const url = route.url ?? (this.#broker as EmbeddedBroker).url;
        this.#startRoute(outbox, i, new MqttAdapter({ route: { ...route, url }, device: this.device, log, ...this.#hooks(route.name) }));
      });
      c.http.forEach((route, i) => {
        this.#startRoute(outbox, routes.length + i, new HttpAdapter({ route, log, ...this.#hooks(route.name) }));
      });

      this.#api = await startApi(this, {
        host: c.api.host, port: c.api.port, token: c.api.token, wsMaxBufferedBytes: c.api.ws_max_buffered_bytes, log,
      });
      log.info({ url: this.#api.url }, 'API listening');

      for (const sensor of c.sensors) {
        const driver = createDriver(sensor.driver, driverOptions(sensor), { sysfsRoot: c.sysfs_root });
        this.#channels.push(new Channel({ config: sensor, driver, sink: (d) => outbox.add(d), metrics: this.metrics, log }));
      }
      // Channels with the same interval read together, so their records share one commit (one fsync).
      for (const ch of this.#channels) ch.start(ch.config.phase_ms ?? 0);
      log.info({ device: this.device, sensors: this.#channels.length, routes: this.#adapters.map((a) => a.name) }, 'gateway started');
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** One publisher per route; `index` is the route's place in the outbox's route list. */
  #startRoute(outbox: Outbox, index: number, adapter: Adapter): void {
    this.#adapters.push(adapter);
    const publisher = new Publisher({
      outbox, route: index, adapter, topicPrefix: `edgeloop/${this.device}/`, metrics: this.metrics, log: this.#log,
    });
    this.#publishers.push(publisher);
    publisher.start();
  }

  /** Connection metrics, labelled by route whatever its kind. */
  #hooks(route: string): { onState: (state: ConnectionState) => void; onReconnectAttempt: (delayMs: number) => void } {
    return {
      onState: (state) => {
        for (const s of CONNECTION_STATES) this.metrics.mqttState.set({ route, state: s }, s === state ? 1 : 0);
      },
      onReconnectAttempt: (delay) => {
        this.metrics.reconnects.inc({ route });
        this.metrics.backoff.set({ route }, delay / 1000);
      },
    };
  }

  /** Graceful stop: sampling first, then commit and give in-flight publishes a moment, then disconnect. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const deadline = Date.now() + this.#config.shutdown_timeout_ms;
    const left = () => Math.max(100, deadline - Date.now());
    const step = async (name: string, fn: () => Promise<unknown> | unknown) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new EdgeloopError('SHUTDOWN_TIMEOUT', `${name} did not stop in time`)), left());
      });
      const t0 = Date.now();
      try {
        await Promise.race([Promise.resolve().then(fn), timeout]);
        this.#log.debug({ step: name, ms: Date.now() - t0 }, 'shutdown step done');
      } catch (err) {
        this.#log.warn({ step: name, err: messageOf(err) }, 'shutdown step failed');
      } finally {
        clearTimeout(timer);
      }
    };
    await step('sensors', () => Promise.all(this.#channels.map((ch) => ch.stop())));
    await step('outbox flush', () => this.#outbox?.synced());
    await step('in-flight publishes', () => Promise.all(this.#publishers.map((p) => p.settled(Math.min(2000, left() / 2)))));
    for (const p of this.#publishers) p.stop();
    await step('routes', () => Promise.all(this.#adapters.map((a) => a.stop(Math.min(3000, left())))));
    await step('api', () => this.#api?.close());
    await step('broker', () => this.#broker?.close());
    this.#outbox?.close();
    this.#log.info('gateway stopped');
  }

  #openStore(): OutboxStore {
    const c = this.#config;
    if (c.outbox.store === 'memory') return new MemoryStore();
    mkdirSync(c.data_dir, { recursive: true });
    const { store, quarantined } = openSqliteStore(join(c.data_dir, 'outbox.db'), c.outbox.durability);
    if (quarantined) {
      this.metrics.quarantined.inc();
      this.#log.error(
        { moved_to: quarantined.path, reason: quarantined.reason, code: 'EDGELOOP_ERR_OUTBOX_CORRUPT' },
        'outbox file was corrupt: moved aside, continuing with a fresh one',
      );
    }
    return store;
  }

  // ----- GatewayView -----

  config(): Config {
    return this.#config;
  }

  sensors(): SensorView[] {
    return this.#channels.map((ch) => {
      const s = ch.sampler.stats;
      return {
        id: ch.config.id,
        driver: ch.config.driver,
        unit: ch.config.unit,
        interval_ms: ch.config.interval_ms,
        last_value: s.lastValue,
        last_ts: s.lastTs === null ? null : new Date(s.lastTs).toISOString(),
        rate_hz: Math.round(ch.sampler.rateHz() * 100) / 100,
        samples: s.samples,
        errors: s.errors,
        timeouts: s.timeouts,
        overruns: ch.sampler.overruns,
        last_error: s.lastError,
        drops: ch.drops,
        queue_depth: ch.queue.size,
        seq: this.#outbox?.lastSeq(ch.config.id) ?? 0,
      };
    });
  }

  status(): StatusView {
    const ob = this.#outbox;
    ob?.sweep();
    return {
      version: VERSION,
      device: this.device,
      started_at: this.startedAt.toISOString(),
      uptime_s: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      config_source: this.#source,
      broker: { embedded: this.#broker !== undefined, url: this.#broker?.url ?? null },
      mqtt: this.#routeViews('mqtt'),
      http: this.#routeViews('http'),
      sensors: this.sensors(),
      queues: Object.fromEntries(
        this.#channels.map((ch) => [`sensor:${ch.config.id}`, { depth: ch.queue.size, capacity: ch.queue.capacity, drops: ch.drops }]),
      ),
      outbox: { rows: ob?.rows ?? 0, bytes: ob?.bytes ?? 0, dead_letters: ob?.store.deadLetterCount() ?? 0 },
      ws_clients: this.#api?.wsClients() ?? 0,
    };
  }

  #routeViews(kind: string): RouteView[] {
    return this.#adapters.flatMap((a, i) => {
      const info = a.info();
      if (info.kind !== kind) return [];
      const p = this.#publishers[i] as Publisher;
      return [{ ...info, inflight: p.inflight, published: p.published, dead_lettered: p.deadLettered }];
    });
  }

  outbox(): OutboxView {
    const ob = this.#outbox as Outbox;
    ob.sweep();
    const age = ob.oldestAgeMs();
    const { byTopic, byPriority } = ob.store.breakdown();
    const c = this.#config.outbox;
    return {
      store: ob.store.kind,
      rows: ob.rows,
      bytes: ob.bytes,
      oldest_age_s: age === null ? null : age / 1000,
      inflight: Object.fromEntries(this.#publishers.map((p) => [p.name, p.inflight])),
      dead_letters: ob.store.deadLetterCount(),
      drops: { ...ob.drops },
      by_topic: byTopic,
      by_priority: byPriority,
      limits: { max_rows: c.max_rows, max_bytes: c.max_bytes, ttl_s: c.ttl_s, on_full: c.on_full },
    };
  }

  purgeOutbox(): number {
    const n = (this.#outbox as Outbox).purge();
    this.#log.warn({ purged: n }, 'outbox purged through the API');
    return n;
  }
}
