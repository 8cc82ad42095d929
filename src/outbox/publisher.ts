// Drains the outbox to one route: pipelined and in order, with at most `adapter.window` records unacknowledged.
// A reconnect (or restart) starts again from the oldest unacknowledged row, so the backlog drains at full window
// speed while new records keep being committed behind it.
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

export class Publisher {
  readonly name: string;
  #o: PublisherOptions;
  #inflight = 0;
  /** Bumped at every disconnect: outcomes of an older connection are ignored (their rows are fetched again). */
  #generation = 0;
  #acks: number[] = [];
  #ackScheduled = false;
  #pumping = false;
  #published = 0;
  #deadLettered = 0;
  #unsubscribe: (() => void) | undefined;

  constructor(options: PublisherOptions) {
    this.#o = options;
    this.name = options.adapter.name;
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
    const onCommitted = () => this.pump();
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
        const rows = outbox.fetch(route, adapter.window - this.#inflight);
        if (rows.length === 0) break;
        const gen = this.#generation;
        for (const row of rows) {
          this.#inflight++;
          adapter.publish(topicPrefix + row.topic, row.payload, row.id, (outcome) => this.#settle(gen, row, outcome));
          if (gen !== this.#generation) return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Stops taking new work; acknowledgements already received are written. */
  stop(): void {
    this.#unsubscribe?.();
    this.#flushAcks();
  }

  #settle(gen: number, row: StoredRow, outcome: PublishOutcome): void {
    if (gen !== this.#generation) return;
    this.#inflight--;
    const { metrics, outbox, route, log } = this.#o;
    if (outcome.ok) {
      this.#published++;
      metrics.published.inc({ route: this.name });
      metrics.publishLatency.observe({ route: this.name }, (Date.now() - row.ts) / 1000);
      this.#acks.push(row.oseq);
      if (!this.#ackScheduled) {
        this.#ackScheduled = true;
        setImmediate(() => this.#flushAcks());
      }
    } else if (outcome.refused) {
      this.#deadLettered++;
      log.warn({ route: this.name, topic: row.topic, id: row.id, code: outcome.refused.code, reason: outcome.refused.reason },
        'EDGELOOP_ERR_MQTT_REFUSED: broker refused a record; moved to dead letters');
      outbox.deadLetter(route, row.oseq, outcome.refused.code, outcome.refused.reason);
    } else {
      // Lost with the connection: the state change rewinds and the reconnect sends it again.
      return;
    }
    this.pump();
  }

  #flushAcks(): void {
    this.#ackScheduled = false;
    if (this.#acks.length === 0) return;
    const acks = this.#acks;
    this.#acks = [];
    this.#o.outbox.ack(this.#o.route, acks);
  }

  #restart(): void {
    this.#generation++;
    this.#inflight = 0;
    this.#flushAcks();
    this.#o.outbox.rewind(this.#o.route);
  }
}
