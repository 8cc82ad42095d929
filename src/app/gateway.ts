// Composition: the one place where the validated config becomes objects, and where start and stop order live.
// Start: store → outbox → broker → routes → API → sensors. Stop: the reverse, bounded by shutdown_timeout_ms.
// What the API shows of it is built in status.ts.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../api/server.ts';
import type { GatewayView, OutboxView, SensorView, StatusView } from '../api/view.ts';
import { EdgeloopError, errorCode, messageOf } from '../errors.ts';
import { secretsOf } from '../lib/redact.ts';
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
import { ProcessStats } from '../telemetry/process-stats.ts';
import { CONNECTION_STATES, type AdapterContext } from '../transport/adapter.ts';
import { Commands } from '../transport/commands.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../transport/embedded-broker.ts';
import type { HaAnnouncer } from '../transport/ha-announcer.ts';
import { routesOf, type Config, type RouteSpec } from './config.ts';
import { homeAssistant } from './homeassistant.ts';
import { outboxView, sensorViews, statusView, type Route, type StatusParts } from './status.ts';

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
  /** Commands from upstream: components register their topics here (`commands.handle('ota/cmd', …)`). */
  readonly commands: Commands;
  readonly secrets: readonly string[];
  readonly #process = new ProcessStats();
  #config: Config;
  #source: string;
  #log: Logger;
  #outbox: Outbox | undefined;
  #broker: EmbeddedBroker | undefined;
  #routes: Route[] = [];
  #channels: Channel[] = [];
  #api: ApiServer | undefined;
  #homeassistant: HaAnnouncer | undefined;
  #started = false;
  #stopping: Promise<void> | undefined;

  constructor(o: GatewayOptions) {
    this.#config = o.config;
    this.#source = o.configSource;
    this.#log = o.log;
    this.device = o.config.device.id;
    this.secrets = secretsOf(o.config);
    this.commands = new Commands({ device: this.device, log: o.log, metrics: this.metrics });
  }

  get api(): ApiServer | undefined {
    return this.#api;
  }

  get routes(): readonly Route[] {
    return this.#routes;
  }

  get outboxInstance(): Outbox | undefined {
    return this.#outbox;
  }

  async start(): Promise<void> {
    const c = this.#config;
    const log = this.#log;
    try {
      const specs = routesOf(c);
      const outbox = (this.#outbox = new Outbox({
        store: this.#openStore(),
        config: c.outbox,
        device: this.device,
        routes: specs.map((r) => ({ name: r.name, topics: [...r.topics] })),
        log,
        metrics: this.metrics,
      }));
      outbox.on('committed', (records) => {
        for (const r of records) this.bus.publish(r);
      });
      if (outbox.rows > 0) log.info({ rows: outbox.rows, bytes: outbox.bytes }, 'outbox backlog from a previous run');

      if (specs.some((r) => r.definition.usesEmbeddedBroker?.(r.options))) {
        this.#broker = await startEmbeddedBroker(c.broker.host, c.broker.port);
        log.info({ url: this.#broker.url }, 'embedded MQTT broker listening');
      }
      this.#routes = specs.map((spec, index) => this.#route(outbox, spec, index));
      // Before the routes start, so its subscriptions are in place at the first `ready`.
      this.#homeassistant = homeAssistant(c, this.#routes, log);
      this.#homeassistant?.start();
      for (const { adapter, publisher } of this.#routes) {
        if (adapter.downlink) this.commands.attach(adapter.name, adapter.downlink);
        publisher.start();
      }

      this.#api = await startApi(this, {
        host: c.api.host, port: c.api.port, token: c.api.token, wsMaxBufferedBytes: c.api.ws_max_buffered_bytes, log,
      });
      log.info({ url: this.#api.url }, 'API listening');

      for (const sensor of c.sensors) {
        const driver = createDriver(sensor, { sysfsRoot: c.sysfs_root });
        this.#channels.push(new Channel({ config: sensor, driver, sink: (d) => outbox.add(d), metrics: this.metrics, log }));
      }
      // Channels with the same interval read together, so their records share one commit (one fsync).
      for (const ch of this.#channels) ch.start(ch.config.phase_ms ?? 0);
      this.#started = true;
      log.info({ device: this.device, sensors: this.#channels.length, routes: this.#routes.map((r) => r.adapter.name) }, 'gateway started');
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** One route: its adapter, and a publisher that drains the outbox into it; `index` is its bit in the store. */
  #route(outbox: Outbox, spec: RouteSpec, index: number): Route {
    const adapter = spec.definition.create(spec.options, this.#adapterContext(spec));
    const publisher = new Publisher({
      outbox, route: index, adapter, topicPrefix: `edgeloop/${this.device}/`, metrics: this.metrics, log: this.#log,
    });
    return { adapter, publisher };
  }

  /** What an adapter gets: the device, the log, the embedded broker, and connection metrics labelled by route. */
  #adapterContext({ name: route, kind }: RouteSpec): AdapterContext {
    return {
      device: this.device,
      log: this.#log,
      embeddedBrokerUrl: this.#broker?.url,
      onState: (state) => {
        for (const s of CONNECTION_STATES) this.metrics.routeState.set({ route, kind, state: s }, s === state ? 1 : 0);
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
    const publishers = this.#routes.map((r) => r.publisher);
    await step('sensors', () => Promise.all(this.#channels.map((ch) => ch.stop())));
    await step('outbox flush', () => this.#outbox?.synced());
    await step('in-flight publishes', () => Promise.all(publishers.map((p) => p.settled(Math.min(2000, left() / 2)))));
    for (const p of publishers) p.stop();
    this.#homeassistant?.stop();
    await step('routes', () => Promise.all(this.#routes.map((r) => r.adapter.stop(Math.min(3000, left())))));
    await step('api', () => this.#api?.close());
    await step('broker', () => this.#broker?.close());
    this.#outbox?.close();
    this.#process.close();
    if (this.#started) this.#log.info('gateway stopped');
  }

  #openStore(): OutboxStore {
    const c = this.#config;
    if (c.outbox.store === 'memory') return new MemoryStore();
    mkdirSync(c.data_dir, { recursive: true });
    const { store, quarantined } = openSqliteStore(join(c.data_dir, 'outbox.db'), c.outbox.durability);
    if (quarantined) {
      this.metrics.quarantined.inc();
      this.#log.error(
        { moved_to: quarantined.path, reason: quarantined.reason, code: errorCode('OUTBOX_CORRUPT') },
        'outbox file was corrupt: moved aside, continuing with a fresh one',
      );
    }
    return store;
  }

  // ----- GatewayView -----

  #parts(): StatusParts {
    return {
      config: this.#config,
      configSource: this.#source,
      device: this.device,
      startedAt: this.startedAt,
      brokerUrl: this.#broker?.url,
      routes: this.#routes,
      channels: this.#channels,
      outbox: this.#outbox,
      wsClients: this.#api?.wsClients() ?? 0,
      process: this.#process,
    };
  }

  /** The running config (frozen, secrets included): the API shows it through `redact`. */
  config(): Config {
    return this.#config;
  }

  sensors(): SensorView[] {
    return sensorViews(this.#parts());
  }

  status(): StatusView {
    return statusView(this.#parts());
  }

  outbox(): OutboxView {
    return outboxView(this.#parts());
  }

  purgeOutbox(): number {
    const n = (this.#outbox as Outbox).purge();
    this.#log.warn({ purged: n }, 'outbox purged through the API');
    return n;
  }
}
