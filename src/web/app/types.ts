// The shapes the page reads from the API (snake_case, as the gateway sends them). Fields a panel can live without are
// optional: the page shows "—" rather than failing when an older or newer gateway leaves one out.

export interface RouteStatus {
  name: string;
  kind: string;
  url: string;
  state: string;
  connected_since?: string | null;
  last_error?: string | null;
  reconnect_attempts?: number;
  inflight: number;
  published: number;
  dead_lettered: number;
}

export interface SensorStatus {
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
  overruns?: number;
  last_error: string | null;
  drops: number;
  queue_depth: number;
}

export interface Status {
  version: string;
  device: string;
  started_at: string;
  uptime_s: number;
  config_source: string;
  mqtt: RouteStatus[];
  http: RouteStatus[];
  sensors: SensorStatus[];
  outbox: { rows: number; bytes: number; dead_letters: number; oldest_age_s?: number | null; drops?: Record<string, number> };
  ws_clients: number;
  process?: { cpu_percent: number; rss_bytes: number; heap_used_bytes: number; event_loop_lag_ms: { p50: number; p99: number; max: number } };
  drops?: { stage: string; reason: string; count: number }[];
}

export type Json = Record<string, unknown>;
