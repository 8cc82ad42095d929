// What the API may see of the gateway: read-only views plus the few operations it exposes. The API never reaches
// into the gateway's objects itself, so it can be tested against a stand-in.
import type { Config } from '../config/schema.ts';
import type { LiveBus } from '../pipeline/live-bus.ts';
import type { Metrics } from '../telemetry/metrics.ts';
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
  drops: number;
  queue_depth: number;
  seq: number;
}

export interface RouteView extends AdapterInfo {
  inflight: number;
  published: number;
  dead_lettered: number;
}

export interface OutboxView {
  store: string;
  rows: number;
  bytes: number;
  oldest_age_s: number | null;
  inflight: Record<string, number>;
  dead_letters: number;
  drops: Record<string, number>;
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
  mqtt: RouteView[];
  http: RouteView[];
  sensors: SensorView[];
  queues: Record<string, { depth: number; capacity: number; drops: number }>;
  outbox: { rows: number; bytes: number; dead_letters: number };
  ws_clients: number;
}

export interface GatewayView {
  readonly bus: LiveBus;
  readonly metrics: Metrics;
  readonly device: string;
  status(): StatusView;
  sensors(): SensorView[];
  config(): Config;
  outbox(): OutboxView;
  purgeOutbox(): number;
}
