// Drains the outbox to one route: pipelined and in order, with at most `adapter.window` records unacknowledged.
// A reconnect (or restart) starts again from the oldest unacknowledged row, so the backlog drains at full window
// speed while new records keep being committed behind it.
import { EventEmitter, once } from 'node:events';
import { errorCode } from '../errors.ts';
import { nowMs } from '../pipeline/clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Adapter, PublishOutcome } from '../transport/adapter.ts';
import type { Outbox } from './outbox.ts';
import type { StoredRow } from './store.ts';

export interface PublisherOptions {
  outbox: Outbox;
  /** Index of the route in `outbox.routes` (its bit in the store). */
  route: number;
  adapter: Adapter;
  /** Prepended to every row's topic: `edgeloop/<device>/`. */
  topicPrefix: string;
  metrics: Metrics;
  log: Logger;
}

/** A published record, in publish order, until its acknowledgement is written. */
interface Flight {
  row: StoredRow;
  settled: boolean;
}

export interface PublisherEvents {
  /** A record was acknowledged, `latencyMs` after it was observed. */
  acked: [latencyMs: number];
  /** Nothing is in flight any more. */
  idle: [];
}

export class Publisher extends EventEmitter<PublisherEvents> {
  readonly name: string;
  #o: PublisherOptions;
  /** Oldest first. A record keeps its slot until it and every record before it are settled and marked. */
  #flights: Flight[] = [];
  /** Bumped at every disconnect: outcomes of an older connection are ignored (their rows are fetched again). */
  #generation = 0;
  #turnScheduled = false;
  #pumping = false;
  #published = 0;
  #deadLettered = 0;
  #unsubscribe: (() => void) | undefined;
  #publishedCounter: { inc(): void };
  #latency: { observe(seconds: number): void };
  /** False once a fetch came back short: nothing to send until a commit or a rewind. */
  #maybeMore = true;
  /** Rows fetched and not yet published. */
  #batch: StoredRow[] = [];
  #next = 0;

  constructor(options: PublisherOptions) {
    super();
    this.#o = options;
    this.name = options.adapter.name;
    this.#publishedCounter = options.metrics.published.labels({ route: this.name });
    this.#latency = options.metrics.publishLatency.labels({ route: this.name });
  }

  get inflight(): number {
    return this.#flights.length;
  }

  get published(): number {
    return this.#published;
  }

  get deadLettered(): number {
    return this.#deadLettered;
  }

  start(): void {
    const { outbox, adapter } = this.#o;
    const onCommitted = () => {
      this.#maybeMore = true;
      this.pump();
    };
    outbox.on('committed', onCommitted);
    const onState = () => {
      if (adapter.state !== 'connected') this.#restart();
    };
    const onReady = () => {
      this.#restart();
      this.pump();
    };
    adapter.on('state', onState);
    adapter.on('ready', onReady);
    this.#unsubscribe = () => {
      outbox.off('committed', onCommitted);
      adapter.off('state', onState);
      adapter.off('ready', onReady);
    };
    this.#o.metrics.onCollect(() => this.#o.metrics.outboxInflight.set({ route: this.name }, this.inflight));
    adapter.start();
  }

  /** Publishes until the window is full or nothing is waiting. */
  pump(): void {
    const { outbox, adapter, route, topicPrefix } = this.#o;
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (adapter.state === 'connected' && this.#flights.length < adapter.window) {
        if (this.#next === this.#batch.length) {
          // Rows are read a window at a time, not one per acknowledgement.
          if (!this.#maybeMore) break;
          this.#batch = outbox.fetch(route, adapter.window);
          this.#next = 0;
          if (this.#batch.length < adapter.window) this.#maybeMore = false;
          if (this.#batch.length === 0) break;
        }
        const flight: Flight = { row: this.#batch[this.#next++] as StoredRow, settled: false };
        const { row } = flight;
        const gen = this.#generation;
        this.#flights.push(flight);
        adapter.publish(topicPrefix + row.topic, row.payload, row.id, (outcome) => this.#settle(gen, flight, outcome));
        if (gen !== this.#generation) return;
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Resolves when nothing is in flight (acknowledged and written), or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    if (this.#flights.length === 0) return;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    await once(this, 'idle', { signal: ac.signal }).catch(() => undefined);
    clearTimeout(timer);
  }

  /** Stops taking new work; acknowledgements already received are written. */
  stop(): void {
    this.#unsubscribe?.();
    this.#flushAcks();
  }

  #settle(gen: number, flight: Flight, outcome: PublishOutcome): void {
    if (gen !== this.#generation) return;
    const { outbox, route, log, adapter } = this.#o;
    const { row } = flight;
    if (outcome.ok) {
      this.#published++;
      this.#publishedCounter.inc();
      const latencyMs = nowMs() - row.ts;
      this.#latency.observe(latencyMs / 1000);
      this.emit('acked', latencyMs);
    } else if (outcome.refused) {
      this.#deadLettered++;
      const code = errorCode(adapter.refusal);
      log.warn(
        { route: this.name, topic: row.topic, id: row.id, code, reason_code: outcome.refused.code, reason: outcome.refused.reason },
        'upstream refused a record; moved to the dead letters',
      );
      outbox.deadLetter(route, row.oseq, outcome.refused.code, outcome.refused.reason);
    } else {
      // Lost with the connection: the state change rewinds and the reconnect sends it again.
      return;
    }
    flight.settled = true;
    this.#schedule();
  }

  /**
   * One turn later (one socket read brings many acknowledgements): mark what is settled, then refill the window.
   * A slot is freed only once its mark is written, so a crash repeats at most `window` records.
   */
  #schedule(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      this.#flushAcks();
      this.pump();
    });
  }

  /** Marks the settled records at the head of the window: per priority, the highest oseq (they left in order). */
  #flushAcks(): void {
    const flights = this.#flights;
    let n = 0;
    const marks = new Map<number, number>();
    for (; n < flights.length && (flights[n] as Flight).settled; n++) {
      const { priority, oseq } = (flights[n] as Flight).row;
      marks.set(priority, Math.max(oseq, marks.get(priority) ?? 0));
    }
    if (n === 0) return;
    flights.splice(0, n);
    this.#o.outbox.delivered(this.#o.route, marks, n);
    if (flights.length === 0) this.emit('idle');
  }

  #restart(): void {
    this.#flushAcks();
    this.#maybeMore = true;
    this.#batch = [];
    this.#next = 0;
    this.#generation++;
    this.#flights = [];
    this.emit('idle');
    this.#o.outbox.rewind(this.#o.route);
  }
}
