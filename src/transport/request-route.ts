// What the request-per-message routes (HTTP, CoAP) share. They have no connection of their own, so a probe
// "connects" them and a "not now" answer "loses" them: every request in flight is given up (the outbox sends those
// records again) and the probe is retried after the backoff, so a failing far end is not hammered at window speed.
// Records are gathered into batches; one answer settles a batch, and a refused batch is sent again record by record,
// so that only the record the far end does not want is refused.
import type { EdgeloopError, ErrorName } from '../errors.ts';
import { messageOf } from '../errors.ts';
import type { Adapter, PublishOutcome } from './adapter.ts';
import { Batcher, type BatchItem } from './batch.ts';
import { ConnectionLifecycle, type LifecycleOptions } from './lifecycle.ts';

/** How the far end answered one request. */
export type Verdict =
  | { ok: true }
  | { refused: { code: number; reason: string } }
  /** "Not now": the connection is given up and retried after the backoff, or after `retryAfterMs` if longer. */
  | { later: string; retryAfterMs?: number | undefined };

export interface RequestRouteOptions extends LifecycleOptions {
  /** Requests in flight at once. */
  requests: number;
  batch: { max_records: number; max_bytes: number };
}

export abstract class RequestRoute<C> extends ConnectionLifecycle implements Adapter {
  /** In records: `requests` requests of up to `batch.max_records` each. */
  readonly window: number;
  protected readonly batched: boolean;
  /** The current connection, once the probe is under way. */
  protected conn: C | undefined;
  #batcher: Batcher;
  /** Settles each request in flight; the connection's loss or the stop settles what is left as lost. */
  #inflight = new Set<(outcome: PublishOutcome) => void>();
  #idle: (() => void) | undefined;

  constructor(o: RequestRouteOptions) {
    super(o);
    this.window = o.requests * o.batch.max_records;
    this.batched = o.batch.max_records > 1;
    this.#batcher = new Batcher(o.batch.max_records, o.batch.max_bytes, (items) => {
      if (this.conn) this.#post(this.conn, items);
      else for (const item of items) item.done({ ok: false });
    });
  }

  abstract readonly refusal: ErrorName;
  abstract start(): void;

  /** Opens a connection, sets `conn`, and probes it: then `connected()`, or `lose()`. */
  protected abstract connect(): void;
  /** Sends one batch (a record alone when batches are off) and tells how the far end answered. */
  protected abstract send(conn: C, items: BatchItem[]): Promise<Verdict>;
  /** Gives up the connection's requests in flight and releases its sockets. */
  protected abstract release(conn: C): void;
  /** The error a failure is reported with, for `info()` and the log. */
  protected abstract failure(message: string, cause: unknown): EdgeloopError;

  publish(topic: string, payload: string, id: string, done: (outcome: PublishOutcome) => void): void {
    if (!this.conn || this.state !== 'connected') {
      done({ ok: false });
      return;
    }
    this.#batcher.add({ topic, payload, id, done });
  }

  async stop(timeoutMs: number): Promise<void> {
    this.beginStop();
    const conn = this.conn;
    if (conn) {
      this.setState('disconnecting');
      // Requests already sent get until the timeout to be answered; what is left then is given up (and sent again
      // from the outbox at the next start).
      if (this.#inflight.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          this.#idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      this.#drop(conn);
    }
    this.setState('disconnected');
  }

  /** The far end failed a request or the probe: give up everything in flight on `conn` and retry after the backoff. */
  protected lose(conn: C, cause: unknown, retryAfterMs?: number): void {
    if (conn !== this.conn || this.stopping) return;
    this.failed(this.failure(typeof cause === 'string' ? cause : messageOf(cause), cause));
    this.#drop(conn);
    this.lost(() => this.connect(), retryAfterMs);
  }

  #post(conn: C, items: BatchItem[]): void {
    let settled = false;
    const settle = (outcome: PublishOutcome) => {
      if (settled) return;
      settled = true;
      this.#inflight.delete(settle);
      if (this.#inflight.size === 0) this.#idle?.();
      for (const item of items) item.done(outcome);
    };
    this.#inflight.add(settle);
    this.send(conn, items).then(
      (verdict) => {
        if ('ok' in verdict) settle({ ok: true });
        else if ('refused' in verdict && items.length > 1 && conn === this.conn) {
          settled = true;
          this.#inflight.delete(settle);
          for (const item of items) this.#post(conn, [item]);
        } else if ('refused' in verdict) settle({ ok: false, refused: verdict.refused });
        else {
          settle({ ok: false });
          this.lose(conn, verdict.later, verdict.retryAfterMs);
        }
      },
      (err: unknown) => {
        settle({ ok: false });
        this.lose(conn, err);
      },
    );
  }

  #drop(conn: C): void {
    this.release(conn);
    if (this.conn === conn) this.conn = undefined;
    this.#batcher.drop();
    for (const settle of [...this.#inflight]) settle({ ok: false });
  }
}
