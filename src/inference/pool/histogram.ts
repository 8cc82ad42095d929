// Run times of one model version: cumulative buckets (what Prometheus wants) and exact quantiles over the most
// recent runs (what a health check comparing two versions wants). Fixed memory.

export const INFERENCE_MS_BUCKETS = [5, 10, 20, 30, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000, 10000] as const;

export interface HistogramSnapshot {
  count: number;
  sum: number;
  /** Runs at or below each bound (cumulative, as Prometheus). */
  buckets: { le: number; count: number }[];
  /** Over the most recent runs (up to `window`); null before the first run. */
  p50: number | null;
  p99: number | null;
  window: number;
}

export class Histogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  readonly #recent: Float64Array;
  #count = 0;
  #sum = 0;

  constructor(bounds: readonly number[] = INFERENCE_MS_BUCKETS, window = 512) {
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
    this.#recent = new Float64Array(window);
  }

  observe(value: number): void {
    this.#recent[this.#count % this.#recent.length] = value;
    this.#count++;
    this.#sum += value;
    for (let i = 0; i < this.#bounds.length; i++) if (value <= this.#bounds[i]!) this.#counts[i]!++;
  }

  snapshot(): HistogramSnapshot {
    const n = Math.min(this.#count, this.#recent.length);
    const sorted = this.#recent.slice(0, n).sort();
    const at = (q: number) => (n === 0 ? null : sorted[Math.min(n - 1, Math.floor(q * n))]!);
    return {
      count: this.#count,
      sum: this.#sum,
      buckets: this.#bounds.map((le, i) => ({ le, count: this.#counts[i]! })),
      p50: at(0.5),
      p99: at(0.99),
      window: n,
    };
  }
}
