// Drains the outbox to one route: pipelined and in order, with at most `adapter.window` records unacknowledged.
// A reconnect (or restart) starts again from the oldest unacknowledged row, so the backlog drains at full window
// speed while new records keep being committed behind it.
import { EventEmitter, once } from 'node:events';
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

/** Longest an acknowledgement waits to be written when traffic is light. */
const ACK_FLUSH_MS = 50;

export interface PublisherEvents {
  /** A record was acknowledged, `latencyMs` after it was observed. */
  acked: [latencyMs: number];
  /** Nothing is in flight any more. */
  idle: [];
}

export class Publisher extends EventEmitter<PublisherEvents> {
  readonly name: string;
  #o: PublisherOptions;
  #inflight = 0;
  /** Bumped at every disconnect: outcomes of an older connection are ignored (their rows are fetched again). */
  #generation = 0;
  #acks: number[] = [];
  #turnScheduled = false;
  #ackTimer: NodeJS.Timeout | undefined;
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
    return this.#inflight;
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
    this.#o.metrics.onCollect(() => this.#o.metrics.outboxInflight.set({ route: this.name }, this.#inflight));
    adapter.start();
  }

  /** Publishes until the window is full or nothing is waiting. */
  pump(): void {
    const { outbox, adapter, route, topicPrefix } = this.#o;
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (adapter.state === 'connected' && this.#inflight < adapter.window) {
        if (this.#next === this.#batch.length) {
          // Rows are read a window at a time, not one per acknowledgement.
          if (!this.#maybeMore) break;
          this.#batch = outbox.fetch(route, adapter.window);
          this.#next = 0;
          if (this.#batch.length < adapter.window) this.#maybeMore = false;
          if (this.#batch.length === 0) break;
        }
        const row = this.#batch[this.#next++] as StoredRow;
        const gen = this.#generation;
        this.#inflight++;
        adapter.publish(topicPrefix + row.topic, row.payload, row.id, (outcome) => this.#settle(gen, row, outcome));
        if (gen !== this.#generation) return;
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Resolves when nothing is in flight (acknowledged and written), or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    if (this.#inflight === 0) return;
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

  #settle(gen: number, row: StoredRow, outcome: PublishOutcome): void {
    if (gen !== this.#generation) return;
    const { outbox, route, log, adapter } = this.#o;
    if (outcome.ok) {
      this.#published++;
      this.#publishedCounter.inc();
      const latencyMs = nowMs() - row.ts;
      this.#latency.observe(latencyMs / 1000);
      this.emit('acked', latencyMs);
      // The slot stays taken until the acknowledgement is written: a crash can then repeat at most `window`
      // records. Writing acknowledgements in batches (half a window, or after ACK_FLUSH_MS) keeps a steady trickle
      // of records from costing a transaction each.
      this.#acks.push(row.oseq);
      if (this.#acks.length >= Math.max(1, adapter.window >> 1)) this.#schedule();
      else this.#ackTimer ??= setTimeout(() => this.#schedule(), ACK_FLUSH_MS);
      return;
    }
    this.#inflight--;
    if (outcome.refused) {
      this.#deadLettered++;
      const code = adapter.info().kind === 'mqtt' ? 'EDGELOOP_ERR_MQTT_REFUSED' : 'EDGELOOP_ERR_HTTP_UPSTREAM';
      log.warn(
        { route: this.name, topic: row.topic, id: row.id, code, reason_code: outcome.refused.code, reason: outcome.refused.reason },
        'upstream refused a record; moved to the dead letters',
      );
      outbox.deadLetter(route, row.oseq, outcome.refused.code, outcome.refused.reason);
      this.#schedule();
    }
    // Otherwise lost with the connection: the state change rewinds and the reconnect sends it again.
  }

  /** One turn later: write the acknowledgements gathered (one socket read brings many) and refill the window once. */
  #schedule(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      this.#flushAcks();
      this.pump();
    });
  }

  #flushAcks(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#acks.length === 0) return;
    const acks = this.#acks;
    this.#acks = [];
    this.#inflight -= acks.length;
    this.#o.outbox.ack(this.#o.route, acks);
    if (this.#inflight === 0) this.emit('idle');
  }

  #restart(): void {
    this.#flushAcks();
    this.#maybeMore = true;
    this.#batch = [];
    this.#next = 0;
    this.#generation++;
    this.#inflight = 0;
    this.emit('idle');
    this.#o.outbox.rewind(this.#o.route);
  }
}
