// The northbound Adapter seam: something that carries records upstream and says, per record, whether the far end
// took it, and (where the protocol can) brings commands down. The publisher (outbox/publisher.ts) owns ordering, the
// in-flight window and retries; an adapter owns its connection. A new kind of upstream is one file that exports an
// AdapterDefinition plus one line in registry.ts; test/transport/adapter-suite.ts runs against every implementation.
import type { EventEmitter } from 'node:events';
import { Type, type TObject } from '@sinclair/typebox';
import { Int } from '../config/schema.ts';
import type { KeyIssue } from '../config/validate.ts';
import type { ErrorName } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';

export const CONNECTION_STATES = ['disconnected', 'connecting', 'connected', 'disconnecting'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

export type PublishOutcome =
  | { ok: true }
  /** The far end refused this record for good (MQTT 5 reason code >= 0x80, HTTP 4xx): it goes to the dead letters. */
  | { ok: false; refused: { code: number; reason: string } }
  /** The connection went away first: the record is sent again after the reconnect. */
  | { ok: false; refused?: undefined };

export interface AdapterEvents {
  state: [state: ConnectionState];
  /** Connected and ready to publish, and the downlink's subscriptions are in place (after a reconnect too). */
  ready: [];
}

/** A message the far end sent down to the device (a command: an OTA update, a setting). */
export interface Command {
  /** The route it came through. */
  route: string;
  /** The full topic, e.g. `edgeloop/<device>/ota/cmd`. */
  topic: string;
  payload: Buffer;
  /** The QoS it was delivered with. */
  qos: 0 | 1 | 2;
}

/** Handles one command. Must not throw: the command router (transport/commands.ts) wraps every handler. */
export type CommandHandler = (command: Command) => void;

/**
 * The way down. `subscribe` delivers every message on `filter` (a full topic filter, `+`/`#` allowed) to `handler`
 * until the returned function is called. Subscriptions outlive the connection: the adapter makes them again after
 * every reconnect (MQTT: QoS 1, so a command sent while the link was up is delivered at least once).
 */
export interface Downlink {
  subscribe(filter: string, handler: CommandHandler): () => void;
}

export interface Adapter extends EventEmitter<AdapterEvents> {
  readonly name: string;
  readonly state: ConnectionState;
  /** How many publishes may be unacknowledged at once (the configured window, capped by the far end). */
  readonly window: number;
  /** Commands from upstream, or null for an adapter whose protocol cannot receive them (HTTP webhooks). */
  readonly downlink: Downlink | null;
  /** The catalogue code logged when the far end refuses a record. */
  readonly refusal: ErrorName;
  start(): void;
  /** `topic` is the full topic; `done` is called exactly once per call. */
  publish(topic: string, payload: string, id: string, done: (outcome: PublishOutcome) => void): void;
  /** Says goodbye (status `offline` where the protocol has one) and disconnects, within `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
  /** For status and logs: attempts, last error, backoff. */
  info(): AdapterInfo;
}

/** What `GET /api/v1/status` shows of a route (snake_case, like every API response). */
export interface AdapterInfo {
  name: string;
  kind: string;
  /** With its user-info and token-like parameters redacted. */
  url: string;
  state: ConnectionState;
  window: number;
  connects: number;
  reconnect_attempts: number;
  backoff_ms: number;
  last_error: string | null;
  connected_since: string | null;
  /** Whether the route brings commands down. */
  downlink: boolean;
}

/** What an adapter is given besides its route's options: no config globals. */
export interface AdapterContext {
  device: string;
  log: Logger;
  /** The embedded broker's URL, when a route of the config uses it. */
  embeddedBrokerUrl?: string | undefined;
  /**
   * `edgeloop check --test`: connect once beside a running gateway without disturbing it (no status, no last will,
   * no session of the gateway's own client id).
   */
  probe?: boolean;
  onState?: (state: ConnectionState) => void;
  onReconnectAttempt?: (delayMs: number) => void;
}

/** The keys every route has, whatever its kind. */
export interface RouteOptions {
  name?: string | undefined;
  topics: string[];
  reconnect: { min_ms: number; max_ms: number; stable_ms: number };
}

/**
 * One kind of upstream, as the registry knows it. Its routes are written under the config key of the kind
 * (`mqtt:`, `http:`), each checked against `options` with `check` beside it, so `edgeloop check` and `run` report a
 * route's problems with their paths (`http[1].url: …`).
 */
export interface AdapterDefinition<Options extends RouteOptions = RouteOptions> {
  /** Schema of one route: `Type.Object({ ...ROUTE_FIELDS, …its own keys }, { additionalProperties: false })`. */
  options: TObject;
  /** What the schema cannot say (a cross-field rule), by key below the route. */
  check?(route: Options): KeyIssue[];
  /** `one-or-many`: one route may be written as a mapping instead of a list of one (`mqtt:`). Default: a list. */
  shape?: 'list' | 'one-or-many';
  /** The value of the key when the config does not have it. Default: no route. */
  default?: unknown;
  /** Name of a route without `name`, from its place among the routes of its kind. Without it, `name` is required. */
  defaultName?(index: number, count: number): string;
  /** True when the route talks to the embedded broker, which the gateway then starts once for every such route. */
  usesEmbeddedBroker?(route: Options): boolean;
  create(route: Options & { name: string }, context: AdapterContext): Adapter;
}

/** Names logs, metrics and the outbox cursor of a route, whatever its kind. */
export const RouteNameSchema = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,32}$',
  patternMessage: 'must be 1 to 32 letters, digits, _ or -',
});

/** Why `filter` is not an MQTT topic filter, or undefined when it is. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter === '') return 'must not be empty';
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  if (/[\u0000-\u001f\u007f]/u.test(filter)) return 'must not contain control characters';
  const levels = filter.split('/');
  for (const [i, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '# must be a whole level, and the last';
    if (level.includes('+') && level !== '+') return '+ must be a whole level';
  }
  return undefined;
}

/** Topic filters (below `edgeloop/<device>/`) a route carries; default all. */
const TopicsSchema = Type.Array(Type.String({ refine: topicFilterProblem }), { minItems: 1, default: ['#'] });

/** Backoff between connection attempts, for every kind of route. */
const ReconnectSchema = Type.Object(
  {
    min_ms: Int(10, 3_600_000, 1000),
    max_ms: Int(10, 3_600_000, 30_000),
    /** A connection that stayed up this long resets the backoff. */
    stable_ms: Int(0, 3_600_000, 10_000),
  },
  { additionalProperties: false, default: {} },
);

/** The keys every route has, whatever its kind: spread them first into a kind's route schema. */
export const ROUTE_FIELDS = {
  /** A name for logs, metrics and the outbox cursor. */
  name: Type.Optional(RouteNameSchema),
  topics: TopicsSchema,
  reconnect: ReconnectSchema,
};

/**
 * Exponential backoff with jitter: min × 2^attempt capped at max, then a random point in [delay/2, delay], so a
 * fleet that lost its broker together does not come back in lockstep.
 */
export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  attempt = 0;
  #random: () => number;

  constructor(minMs: number, maxMs: number, random: () => number = Math.random) {
    this.minMs = minMs;
    this.maxMs = Math.max(minMs, maxMs);
    this.#random = random;
  }

  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
