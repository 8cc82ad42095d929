// One sensor channel end to end: sampler → bounded queue → stage (aggregate / deadband) → record drafts for the
// outbox. When the consumer falls behind, the queue's policy decides: drop the oldest or the newest reading (and count
// it), or (`block`) make the sampler wait for room, bounded by its read timeout.
import type { SensorConfig } from '../config/schema.ts';
import { BoundedQueue } from '../pipeline/bounded-queue.ts';
import { uuidv7, type RecordDraft } from '../pipeline/record.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { SensorDriver } from './driver.ts';
import { Sampler, type Reading } from './sampler.ts';
import { createStage, type Emission, type Stage } from './stage.ts';

export interface ChannelOptions {
  config: SensorConfig;
  driver: SensorDriver;
  /** Where finished records go (the outbox). A sink that returns a promise holds the channel until it settles. */
  sink: (draft: RecordDraft) => unknown;
  metrics: Metrics;
  log: Logger;
}

export class Channel {
  readonly config: SensorConfig;
  readonly queue: BoundedQueue<Reading>;
  readonly sampler: Sampler;
  #stage: Stage;
  #sink: (draft: RecordDraft) => unknown;
  #consumer: Promise<void> | undefined;

  constructor(o: ChannelOptions) {
    this.config = o.config;
    this.#sink = o.sink;
    const id = o.config.id;
    const samples = o.metrics.samples.labels({ sensor: id });
    this.queue = new BoundedQueue<Reading>({
      capacity: o.config.queue.capacity,
      policy: o.config.queue.policy,
      onDrop: (reason) => o.metrics.drops.inc({ stage: 'queue', reason }),
    });
    this.sampler = new Sampler({
      sensor: id,
      intervalMs: o.config.interval_ms,
      ...(o.config.timeout_ms !== undefined ? { timeoutMs: o.config.timeout_ms } : {}),
      driver: o.driver,
      queue: this.queue,
      log: o.log,
      onSample: () => samples.inc(),
      onError: (reason) => o.metrics.readErrors.inc({ sensor: id, reason }),
    });
    this.#stage = createStage(o.config.aggregate, o.config.deadband);
    o.metrics.onCollect(() => o.metrics.queueDepth.set({ queue: `sensor:${id}` }, this.queue.size));
  }

  get drops(): number {
    return this.queue.dropped;
  }

  start(phaseMs = 0): void {
    this.#consumer = this.#consume();
    this.sampler.start(phaseMs);
  }

  /** Stops sampling, then hands on everything already read, including a partial aggregate window. */
  async stop(): Promise<void> {
    await this.sampler.stop();
    this.queue.close();
    await this.#consumer;
    for (const e of this.#stage.flush()) await this.#emit(e);
  }

  async #consume(): Promise<void> {
    for (;;) {
      await this.queue.readable();
      if (this.queue.size === 0 && this.queue.closed) return;
      // One reading at a time: a sink that pushes back leaves the rest in the queue, where the policy applies.
      while (this.queue.size > 0) {
        for (const e of this.#stage.push(this.queue.shift() as Reading)) {
          const pending = this.#emit(e);
          if (pending instanceof Promise) await pending;
        }
      }
    }
  }

  #emit(e: Emission): unknown {
    const c = this.config;
    const data: Record<string, unknown> = { sensor: c.id, value: e.value, unit: c.unit };
    if (e.stats) {
      data.stats = e.stats;
      data.window_ms = e.window_ms;
    }
    return this.#sink({
      id: uuidv7(e.ts),
      kind: 'reading',
      source: c.id,
      topic: `sensors/${c.id}`,
      ts: e.ts,
      priority: c.priority,
      data,
    });
  }
}
