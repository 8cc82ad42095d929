// The status views the API shows, built from the running parts. Reading them writes nothing and scans nothing: every
// figure is kept as things happen (the outbox's counters and tally, the samplers' stats, the adapters' info).
import type { OutboxView, QueueView, RouteView, SensorView, StatusView } from '../api/view.ts';
import type { Outbox, OutboxDropReason } from '../outbox/outbox.ts';
import type { Publisher } from '../outbox/publisher.ts';
import type { Channel } from '../sensors/channel.ts';
import type { ProcessStats } from '../telemetry/process-stats.ts';
import type { Adapter } from '../transport/adapter.ts';
import { adapterKinds } from '../transport/registry.ts';
import type { Config } from './config.ts';
import { VERSION } from './version.ts';

/** One upstream route of the running gateway: its adapter and the publisher that drains the outbox into it. */
export interface Route {
  adapter: Adapter;
  publisher: Publisher;
}

export interface StatusParts {
  config: Config;
  configSource: string;
  device: string;
  startedAt: Date;
  brokerUrl: string | undefined;
  routes: readonly Route[];
  channels: readonly Channel[];
  outbox: Outbox | undefined;
  wsClients: number;
  process: ProcessStats;
}

export function sensorViews(p: StatusParts): SensorView[] {
  return p.channels.map((ch) => {
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
      queue_waits: s.queueWaits,
      seq: p.outbox?.lastSeq(ch.config.id) ?? 0,
    };
  });
}

export function routeView({ adapter, publisher }: Route): RouteView {
  return { ...adapter.info(), inflight: publisher.inflight, published: publisher.published, dead_lettered: publisher.deadLettered };
}

export function statusView(p: StatusParts): StatusView {
  const routes: Record<string, RouteView[]> = Object.fromEntries(adapterKinds().map(([kind]) => [kind, []]));
  for (const r of p.routes) {
    const view = routeView(r);
    (routes[view.kind] ??= []).push(view);
  }
  const queues: QueueView[] = p.channels.map((ch) => ({
    queue: `sensor:${ch.config.id}`,
    depth: ch.queue.size,
    capacity: ch.queue.capacity,
    policy: ch.queue.policy,
    drops: ch.drops,
  }));
  const ob = p.outbox;
  const age = ob?.oldestAgeMs() ?? null;
  return {
    version: VERSION,
    device: p.device,
    started_at: p.startedAt.toISOString(),
    uptime_s: Math.round((Date.now() - p.startedAt.getTime()) / 1000),
    config_source: p.configSource,
    broker: { embedded: p.brokerUrl !== undefined, url: p.brokerUrl ?? null },
    routes,
    sensors: sensorViews(p),
    queues,
    outbox: {
      rows: ob?.rows ?? 0, bytes: ob?.bytes ?? 0, dead_letters: ob?.store.deadLetterCount() ?? 0,
      oldest_age_s: age === null ? null : age / 1000, drops: ob ? outboxDrops(ob) : NO_DROPS,
    },
    ws_clients: p.wsClients,
    process: p.process.snapshot(),
  };
}

export function outboxView(p: StatusParts): OutboxView {
  const ob = p.outbox as Outbox;
  const age = ob.oldestAgeMs();
  const { byTopic, byPriority } = ob.store.breakdown();
  const c = p.config.outbox;
  const drops = outboxDrops(ob);
  return {
    store: ob.store.kind,
    rows: ob.rows,
    bytes: ob.bytes,
    oldest_age_s: age === null ? null : age / 1000,
    dead_letters: ob.store.deadLetterCount(),
    drops,
    by_route: p.routes.map(({ adapter, publisher }) => ({ route: adapter.name, kind: adapter.info().kind, inflight: publisher.inflight })),
    by_topic: byTopic,
    by_priority: byPriority,
    limits: { max_rows: c.max_rows, max_bytes: c.max_bytes, ttl_s: c.ttl_s, on_full: c.on_full },
  };
}

const NO_DROPS: OutboxView['drops'] = { outbox_full: 0, outbox_rejected: 0, expired: 0, write_error: 0, closed: 0, purged: 0 };

function outboxDrops(ob: Outbox): OutboxView['drops'] {
  return Object.fromEntries(Object.entries(ob.drops).map(([reason, n]) => [snake(reason as OutboxDropReason), n])) as OutboxView['drops'];
}

/** `outbox-full` → `outbox_full`: reasons are label values in metrics and keys in JSON. */
function snake(reason: string): string {
  return reason.replace(/-/g, '_');
}
