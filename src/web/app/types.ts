// The shapes the page reads: the API's own view types (snake_case, as the gateway sends them), so a change on the
// server side that the page does not follow fails the type check.
import type { RouteView, StatusView } from '../../api/view.ts';
import type { DropCount } from '../../telemetry/metrics.ts';

export type RouteStatus = RouteView & { connected_since?: string | null; last_error?: string | null };
export type SensorStatus = StatusView['sensors'][number];
/** `GET /api/v1/status`. */
export type Status = Omit<StatusView, 'mqtt' | 'http'> & { mqtt: RouteStatus[]; http: RouteStatus[]; drops: DropCount[] };

export type Json = Record<string, unknown>;
