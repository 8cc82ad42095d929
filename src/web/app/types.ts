// The shapes the page reads: the API's own view types (snake_case, as the gateway sends them), so a change on the
// server side that the page does not follow fails the type check.
import type { StatusView } from '../../api/view.ts';
import type { DropCount } from '../../telemetry/metrics.ts';

/** `GET /api/v1/status`. */
export type Status = StatusView & { drops: DropCount[] };

export type Json = Record<string, unknown>;
