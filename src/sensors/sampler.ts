// One sampler per channel: its own drift-corrected timer, a bounded read timeout, and a bounded queue to push into.
// A failing or slow read is counted and logged (rate-limited); it never stops the channel or the process.
import { isEdgeloopError, messageOf } from '../errors.ts';
import type { BoundedQueue } from '../pipeline/bounded-queue.ts';
import { Ticker } from '../pipeline/ticker.ts';
import { RateLimitedLog, type Logger } from '../telemetry/logger.ts';
import type { SensorDriver } from './driver.ts';

const RATE_WINDOW = 32;

export interface Reading {
  sensor: string;
  value: number;
  /** Epoch ms when the value was read. */
  ts: number;
}

export interface SamplerStats {
  samples: number;
  errors: number;
  timeouts: number;
  overruns: number;
  lastValue: number | null;
  lastTs: number | null;
  lastError: string | null;
}

export interface SamplerOptions {
  sensor: string;
  intervalMs: number;
  /** Default: the interval, so a read never outlives its slot by more than one period. */
  timeoutMs?: number;
  driver: SensorDriver;
  queue: BoundedQueue<Reading>;
  log: Logger;
  onSample?: () => void;
  onError?: (reason: 'error' | 'timeout') => void;
}

export class Sampler {
  readonly sensor: string;
  readonly stats: SamplerStats = {
    samples: 0, errors: 0, timeouts: 0, overruns: 0, lastValue: null, lastTs: null, lastError: null,
  };
  #o: SamplerOptions;
  #ticker: Ticker;
  #errorLog = new RateLimitedLog();
  #abort = new AbortController();
  /** Times of the last reads, for the current rate. */
  #times: number[] = [];

  constructor(options: SamplerOptions) {
    this.#o = options;
    this.sensor = options.sensor;
    this.#ticker = new Ticker(options.intervalMs, () => this.#sample());
  }

  start(): void {
    this.#ticker.start();
  }

  /** Stops the timer, aborts a read in progress and closes the driver. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#ticker.stop();
    await this.#o.driver.close();
  }

  /** Reads skipped because the previous read was still running. */
  get overruns(): number {
    return this.#ticker.stats.overruns + this.#ticker.stats.missed;
  }

  /** Readings per second over the last few reads (0 when the channel has gone quiet). */
  rateHz(now = Date.now()): number {
    const t = this.#times;
    if (t.length < 2) return 0;
    const first = t[0] as number;
    const last = t[t.length - 1] as number;
    if (now - last > 5 * this.#o.intervalMs + 1000) return 0;
    return ((t.length - 1) * 1000) / Math.max(1, last - first);
  }

  async #sample(): Promise<void> {
    const o = this.#o;
    const timeout = AbortSignal.timeout(o.timeoutMs ?? Math.max(o.intervalMs, 1000));
    const signal = AbortSignal.any([timeout, this.#abort.signal]);
    try {
      const value = await o.driver.read(signal);
      if (!Number.isFinite(value)) throw new Error(`driver returned ${value}`);
      const ts = Date.now();
      this.stats.samples++;
      this.stats.lastValue = value;
      this.stats.lastTs = ts;
      this.#times.push(ts);
      if (this.#times.length > RATE_WINDOW) this.#times.shift();
      o.onSample?.();
      o.queue.offer({ sensor: this.sensor, value, ts });
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      const reason = timeout.aborted || isEdgeloopError(err, 'SENSOR_TIMEOUT') ? 'timeout' : 'error';
      if (reason === 'timeout') this.stats.timeouts++;
      else this.stats.errors++;
      this.stats.lastError = isEdgeloopError(err) ? err.describe() : messageOf(err);
      o.onError?.(reason);
      this.#errorLog.hit((suppressed) =>
        o.log.warn({ sensor: this.sensor, reason, suppressed, err: this.stats.lastError }, 'sensor read failed'),
      );
    }
  }
}
