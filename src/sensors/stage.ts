// The consumer stage of a channel: pass-through, windowed aggregate, and/or deadband (report by exception). Pure
// state machines over readings, so the math is tested without timers.
import type { AggregateConfig, DeadbandConfig } from '../config/schema.ts';
import type { Reading } from './sampler.ts';

/** What a stage emits: the fields of a published reading. */
export interface Emission {
  ts: number;
  value: number;
  /** Window statistics, when aggregating. */
  stats?: Partial<Record<'min' | 'max' | 'mean' | 'last' | 'count', number>>;
  window_ms?: number;
}

export interface Stage {
  push(reading: Reading): Emission[];
  /** Emits a partial window at shutdown so no reading taken is left unreported. */
  flush(): Emission[];
}

class Aggregate implements Stage {
  #windowMs: number;
  #stats: readonly string[];
  #start = -1;
  #min = Infinity;
  #max = -Infinity;
  #sum = 0;
  #count = 0;
  #last = 0;
  #lastTs = 0;

  constructor(config: Exclude<AggregateConfig, 'none'>) {
    this.#windowMs = config.window_ms;
    this.#stats = config.stats;
  }

  push(r: Reading): Emission[] {
    // Windows are aligned to the epoch so every channel with the same window closes at the same instants.
    const start = r.ts - (r.ts % this.#windowMs);
    const out = this.#count > 0 && start !== this.#start ? this.flush() : [];
    this.#start = start;
    this.#min = Math.min(this.#min, r.value);
    this.#max = Math.max(this.#max, r.value);
    this.#sum += r.value;
    this.#count++;
    this.#last = r.value;
    this.#lastTs = r.ts;
    return out;
  }

  flush(): Emission[] {
    if (this.#count === 0) return [];
    const all = { min: this.#min, max: this.#max, mean: this.#sum / this.#count, last: this.#last, count: this.#count };
    const stats: Emission['stats'] = {};
    for (const k of this.#stats) stats[k as keyof typeof all] = all[k as keyof typeof all];
    const emission = {
      // Stamped with the last reading of the window: the time its newest value was true.
      ts: this.#lastTs,
      value: this.#stats.includes('mean') ? all.mean : all.last,
      stats,
      window_ms: this.#windowMs,
    };
    this.#min = Infinity;
    this.#max = -Infinity;
    this.#sum = 0;
    this.#count = 0;
    return [emission];
  }
}

/** Passes an emission on only when it moved by more than the band since the last one passed (or after a heartbeat). */
class Deadband implements Stage {
  #inner: Stage;
  #absolute: number;
  #percent: number;
  #maxIntervalMs: number;
  #lastValue: number | undefined;
  #lastTs = 0;

  constructor(config: DeadbandConfig, inner: Stage) {
    this.#inner = inner;
    const c = typeof config === 'number' ? { absolute: config } : config;
    this.#absolute = c.absolute ?? 0;
    this.#percent = c.percent ?? 0;
    this.#maxIntervalMs = c.max_interval_ms ?? Infinity;
  }

  push(r: Reading): Emission[] {
    return this.#inner.push(r).filter((e) => this.#pass(e));
  }

  flush(): Emission[] {
    return this.#inner.flush().filter((e) => this.#pass(e));
  }

  #pass(e: Emission): boolean {
    const last = this.#lastValue;
    const moved =
      last === undefined ||
      Math.abs(e.value - last) > this.#absolute &&
        Math.abs(e.value - last) > (Math.abs(last) * this.#percent) / 100 ||
      e.ts - this.#lastTs >= this.#maxIntervalMs;
    if (moved) {
      this.#lastValue = e.value;
      this.#lastTs = e.ts;
    }
    return moved;
  }
}

const passThrough: Stage = {
  push: (r) => [{ ts: r.ts, value: r.value }],
  flush: () => [],
};

export function createStage(aggregate: AggregateConfig, deadband: DeadbandConfig | undefined): Stage {
  const base = aggregate === 'none' ? passThrough : new Aggregate(aggregate);
  return deadband === undefined ? base : new Deadband(deadband, base);
}
