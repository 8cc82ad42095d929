// What the API may see of the gateway: read-only views plus the few operations it exposes. The API never reaches
// into the gateway's objects itself, so it can be tested against a stand-in. Every view is snake_case, like every
// JSON the gateway sends.
import type { LiveBus } from '../pipeline/live-bus.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { ProcessView } from '../telemetry/process-stats.ts';
import type { AdapterInfo } from '../transport/adapter.ts';

export interface SensorView {
  id: string;
  driver: string;
  unit: string;
  interval_ms: number;
  last_value: number | null;
  last_ts: string | null;
  rate_hz: number;
  samples: number;
  errors: number;
  timeouts: number;
  overruns: number;
  last_error: string | null;
  /** Readings the queue dropped, whatever the reason (see `edgeloop_drops_total{stage="queue"}`). */
  drops: number;
  queue_depth: number;
  /** Times a reading waited for room in a full queue (policy `block`). */
  queue_waits: number;
  seq: number;
}

export interface RouteView extends AdapterInfo {
  inflight: number;
  published: number;
  dead_lettered: number;
}

export interface QueueView {
  /** `sensor:<id>`, as the `queue` label of `edgeloop_queue_depth`. */
  queue: string;
  depth: number;
  capacity: number;
  policy: string;
  drops: number;
}

export interface OutboxView {
  store: string;
  rows: number;
  bytes: number;
  oldest_age_s: number | null;
  dead_letters: number;
  /** Records dropped by the outbox since start, by reason. */
  drops: { outbox_full: number; outbox_rejected: number; expired: number; write_error: number; closed: number; purged: number };
  by_route: { route: string; kind: string; inflight: number }[];
  by_topic: { topic: string; rows: number; bytes: number }[];
  by_priority: { priority: number; rows: number }[];
  limits: { max_rows: number; max_bytes: number; ttl_s: number; on_full: string };
}

export interface StatusView {
  version: string;
  device: string;
  started_at: string;
  uptime_s: number;
  config_source: string;
  broker: { embedded: boolean; url: string | null };
  /** Every route, listed under its kind (`mqtt`, `http`, …); every registered kind is present. */
  routes: Record<string, RouteView[]>;
  sensors: SensorView[];
  queues: QueueView[];
  outbox: Pick<OutboxView, 'rows' | 'bytes' | 'dead_letters' | 'oldest_age_s' | 'drops'>;
  ws_clients: number;
  process: ProcessView;
}

export interface GatewayView {
  readonly bus: LiveBus;
  readonly metrics: Metrics;
  readonly device: string;
  status(): StatusView;
  sensors(): SensorView[];
  /** The effective config, secrets redacted. */
  config(): unknown;
  outbox(): OutboxView;
  purgeOutbox(): number;
  /** Secret values the API must never show (see lib/redact.ts). */
  readonly secrets: readonly string[];
}
