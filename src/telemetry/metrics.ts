// Every Prometheus metric of the gateway, declared in one place (names are a public contract: `edgeloop_*`). Each
// gateway gets its own registry, so tests can run several in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type MetricsCollector = () => void;

/** Records dropped so far at one stage for one reason. */
export interface DropCount {
  stage: string;
  reason: string;
  count: number;
}

export class Metrics {
  readonly registry = new Registry();
  #collectors: MetricsCollector[] = [];

  readonly samples = new Counter({ name: 'edgeloop_sensor_samples_total', registers: [this.registry], help: 'Readings taken', labelNames: ['sensor'] });
  readonly readErrors = new Counter({
    name: 'edgeloop_sensor_read_errors_total',
    registers: [this.registry], help: 'Failed sensor reads by reason (error, timeout, overrun)',
    labelNames: ['sensor', 'reason'],
  });
  readonly drops = new Counter({
    name: 'edgeloop_drops_total',
    registers: [this.registry], help: 'Records dropped, by stage and reason',
    labelNames: ['stage', 'reason'],
  });
  readonly queueDepth = new Gauge({ name: 'edgeloop_queue_depth', registers: [this.registry], help: 'Items waiting in a bounded queue', labelNames: ['queue'] });
  readonly publishLatency = new Histogram({
    name: 'edgeloop_publish_latency_seconds',
    registers: [this.registry], help: 'From the observation (sample) to the broker acknowledgement (PUBACK/PUBCOMP)',
    labelNames: ['route'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 300],
  });
  readonly published = new Counter({ name: 'edgeloop_published_total', registers: [this.registry], help: 'Records acknowledged by the broker', labelNames: ['route'] });
  readonly routeState = new Gauge({
    name: 'edgeloop_route_state',
    registers: [this.registry], help: 'Connection state of each route (any kind): 1 for its current state',
    labelNames: ['route', 'kind', 'state'],
  });
  readonly reconnects = new Counter({ name: 'edgeloop_route_reconnects_total', registers: [this.registry], help: 'Reconnect attempts', labelNames: ['route'] });
  readonly backoff = new Gauge({ name: 'edgeloop_route_backoff_seconds', registers: [this.registry], help: 'Current reconnect delay', labelNames: ['route'] });
  readonly commands = new Counter({
    name: 'edgeloop_commands_total',
    registers: [this.registry], help: 'Commands received from upstream, by route and outcome (ok, error)',
    labelNames: ['route', 'outcome'],
  });
  readonly outboxRows = new Gauge({ name: 'edgeloop_outbox_rows', registers: [this.registry], help: 'Records waiting in the outbox' });
  readonly outboxBytes = new Gauge({ name: 'edgeloop_outbox_bytes', registers: [this.registry], help: 'Payload bytes waiting in the outbox' });
  readonly outboxOldest = new Gauge({ name: 'edgeloop_outbox_oldest_age_seconds', registers: [this.registry], help: 'Age of the oldest waiting record' });
  readonly outboxInflight = new Gauge({ name: 'edgeloop_outbox_inflight', registers: [this.registry], help: 'Published, not yet acknowledged', labelNames: ['route'] });
  readonly deadLetters = new Gauge({ name: 'edgeloop_outbox_dead_letters', registers: [this.registry], help: 'Records the broker refused' });
  readonly quarantined = new Counter({ name: 'edgeloop_outbox_quarantined_total', registers: [this.registry], help: 'Corrupt outbox files moved aside' });
  readonly commits = new Counter({ name: 'edgeloop_outbox_commits_total', registers: [this.registry], help: 'Group commits (transactions) written' });
  readonly wsClients = new Gauge({ name: 'edgeloop_ws_clients', registers: [this.registry], help: 'Connected WebSocket clients' });

  constructor() {
    // The event-loop lag monitor wakes the loop at its precision: 100 ms instead of 10 ms spares an idle device.
    // The prefix goes before prom-client's own names: edgeloop_process_cpu_seconds_total, edgeloop_nodejs_eventloop_lag_seconds.
    collectDefaultMetrics({ register: this.registry, prefix: 'edgeloop_', eventLoopMonitoringPrecision: 100 });
  }

  /** Gauges that mirror live state are refreshed by collectors just before a scrape. */
  onCollect(collector: MetricsCollector): void {
    this.#collectors.push(collector);
  }

  /** Every drop so far by stage and reason, for the status view. */
  async dropTotals(): Promise<DropCount[]> {
    return (await this.drops.get()).values.map((v) => ({ stage: String(v.labels.stage), reason: String(v.labels.reason), count: v.value }));
  }

  async render(): Promise<string> {
    for (const c of this.#collectors) c();
    return this.registry.metrics();
  }
}
