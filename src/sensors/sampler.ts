// One sampler per channel: its own drift-corrected timer, a bounded read timeout, and a bounded queue to push into.
// A failing or slow read is counted and logged (rate-limited); it never stops the channel or the process.
import { isEdgeloopError, messageOf } from '../errors.ts';
import type { BoundedQueue } from '../pipeline/bounded-queue.ts';
import { nowMs } from '../pipeline/clock.ts';
import { Ticker } from '../pipeline/ticker.ts';
import { RateLimitedLog, type Logger } from '../telemetry/logger.ts';
import type { SensorDriver } from './driver.ts';

const RATE_WINDOW = 32;

export interface Reading {
  sensor: string;
  value: number;
  /** Epoch ms (sub-ms resolution) when the value was read. */
  ts: number;
}

export interface SamplerStats {
  samples: number;
  errors: number;
  timeouts: number;
  overruns: number;
  /** Times a reading found the queue full and waited for room (policy `block`). */
  queueWaits: number;
  lastValue: number | null;
  lastTs: number | null;
  lastError: string | null;
}

export interface SamplerOptions {
  sensor: string;
  intervalMs: number;
  /**
   * Default: the interval, but at least 1 s (a slow bus on a fast channel is overrun, not timed out). Also bounds
   * the wait for room in a full queue under the `block` policy.
   */
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
    samples: 0, errors: 0, timeouts: 0, overruns: 0, queueWaits: 0, lastValue: null, lastTs: null, lastError: null,
  };
  #o: SamplerOptions;
  #ticker: Ticker;
  #errorLog = new RateLimitedLog();
  #current: AbortController | undefined;
  #timeout: NodeJS.Timeout;
  #timeoutMs: number;
  #waitLog = new RateLimitedLog();
  /** Aborts a wait for room in the queue (at stop). */
  #stopping = new AbortController();
  #stopped = false;
  /** Times of the last reads, for the current rate. */
  #times: number[] = [];

  constructor(options: SamplerOptions) {
    this.#o = options;
    this.sensor = options.sensor;
    this.#ticker = new Ticker(options.intervalMs, () => this.#sample());
    const timeoutMs = options.timeoutMs ?? Math.max(options.intervalMs, 1000);
    this.#timeoutMs = timeoutMs;
    this.#timeout = setTimeout(() => this.#current?.abort(), timeoutMs);
    this.#timeout.unref();
  }

  /** `phaseMs` delays the first read, so channels with the same interval do not all fire at once. */
  start(phaseMs = 0): void {
    this.#ticker.start(phaseMs);
  }

  /** Stops the timer, aborts a read in progress and closes the driver. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#current?.abort();
    this.#stopping.abort();
    clearTimeout(this.#timeout);
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
    // One timer per sampler, re-armed per read (no allocation), aborts the read in progress when it fires.
    const read = new AbortController();
    this.#current = read;
    this.#timeout.refresh();
    try {
      // Settles at the abort even when the driver ignores the signal, so a hung driver cannot stall the channel.
      const value = await new Promise<number>((resolve, reject) => {
        read.signal.addEventListener('abort', () => reject(read.signal.reason), { once: true });
        o.driver.read(read.signal).then(resolve, reject);
      });
      if (!Number.isFinite(value)) throw new Error(`driver returned ${value}`);
      const ts = nowMs();
      this.stats.samples++;
      this.stats.lastValue = value;
      this.stats.lastTs = ts;
      this.#times.push(ts);
      if (this.#times.length > RATE_WINDOW) this.#times.shift();
      o.onSample?.();
      const reading = { sensor: this.sensor, value, ts };
      if (o.queue.policy === 'block' && o.queue.full) await this.#waitForRoom(reading);
      else o.queue.offer(reading);
    } catch (err) {
      if (this.#stopped) return;
      const reason = read.signal.aborted || isEdgeloopError(err, 'SENSOR_TIMEOUT') ? 'timeout' : 'error';
      if (reason === 'timeout') this.stats.timeouts++;
      else this.stats.errors++;
      this.stats.lastError = isEdgeloopError(err) ? err.describe() : messageOf(err);
      o.onError?.(reason);
      this.#errorLog.hit((suppressed) =>
        o.log.warn({ sensor: this.sensor, reason, suppressed, err: this.stats.lastError }, 'sensor read failed'),
      );
    } finally {
      this.#current = undefined;
    }
  }

  /**
   * `block`: the sampler holds the reading and reads nothing more (the ticks meanwhile count as overruns) until the
   * consumer makes room, for at most the read timeout; a reading still without room then is dropped and counted.
   */
  async #waitForRoom(reading: Reading): Promise<void> {
    const o = this.#o;
    this.stats.queueWaits++;
    this.#waitLog.hit((suppressed) =>
      o.log.warn({ sensor: this.sensor, capacity: o.queue.capacity, max_wait_ms: this.#timeoutMs, suppressed }, 'queue full: sampling waits for room (policy block)'),
    );
    const deadline = AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#stopping.signal]);
    await o.queue.put(reading, deadline);
  }
}
