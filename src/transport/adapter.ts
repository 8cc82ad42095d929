// The northbound Adapter seam: something that carries records upstream and says, per record, whether the far end
// took it. The publisher (outbox/publisher.ts) owns ordering, the in-flight window and retries; an adapter owns its
// connection. test/transport/adapter-suite.ts runs against every implementation.
import type { EventEmitter } from 'node:events';

export const CONNECTION_STATES = ['disconnected', 'connecting', 'connected', 'disconnecting'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

export type PublishOutcome =
  | { ok: true }
  /** The far end refused this record for good (MQTT 5 reason code >= 0x80): it goes to the dead letters. */
  | { ok: false; refused: { code: number; reason: string } }
  /** The connection went away first: the record is sent again after the reconnect. */
  | { ok: false; refused?: undefined };

export interface AdapterEvents {
  state: [state: ConnectionState];
  /** Connected and ready to publish (after a reconnect too). */
  ready: [];
}

export interface Adapter extends EventEmitter<AdapterEvents> {
  readonly name: string;
  readonly state: ConnectionState;
  /** How many publishes may be unacknowledged at once (the configured window, capped by the far end). */
  readonly window: number;
  start(): void;
  /** `topic` is the full topic; `done` is called exactly once per call. */
  publish(topic: string, payload: string, id: string, done: (outcome: PublishOutcome) => void): void;
  /** Says goodbye (status `offline` where the protocol has one) and disconnects, within `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
  /** For status and logs: attempts, last error, backoff. */
  info(): AdapterInfo;
}

export interface AdapterInfo {
  name: string;
  kind: string;
  url: string;
  state: ConnectionState;
  window: number;
  connects: number;
  reconnectAttempts: number;
  backoffMs: number;
  lastError: string | null;
  connectedSince: string | null;
}

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

const SECRET_PARAM = /token|key|secret|sig|pass|auth/i;

/** For logs and status: hides a password and token-like query parameters (`mqtts://user:***@host`, `?token=***`). */
export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  for (const key of [...u.searchParams.keys()]) if (SECRET_PARAM.test(key)) u.searchParams.set(key, '***');
  return u.toString();
}
