// The recent history of one sensor, kept in the page for its chart: at most WINDOW_S seconds and MAX_POINTS points.
// Readings closer than BUCKET_S to the last kept one replace it, so a 20 Hz channel costs the page what a 5 Hz one does.
export const WINDOW_S = 300;
export const MAX_POINTS = 1500;
export const BUCKET_S = WINDOW_S / MAX_POINTS;

export class Series {
  /** Seconds since the epoch (uPlot's time axis). */
  readonly t: number[] = [];
  readonly v: (number | null)[] = [];

  #bucketStart = -Infinity;

  add(tsMs: number, value: number | null): void {
    const t = tsMs / 1000;
    const n = this.t.length;
    // A reading older than the chart's end (a retained one after a live one) is already shown.
    if (n > 0 && t < (this.t[n - 1] as number)) return;
    if (n > 0 && t - this.#bucketStart < BUCKET_S) {
      this.t[n - 1] = t;
      this.v[n - 1] = value;
    } else {
      this.t.push(t);
      this.v.push(value);
      this.#bucketStart = t;
    }
    this.#trim(t);
  }

  #trim(now: number): void {
    let drop = 0;
    while (drop < this.t.length && ((this.t[drop] as number) < now - WINDOW_S || this.t.length - drop > MAX_POINTS)) drop++;
    if (drop > 0) {
      this.t.splice(0, drop);
      this.v.splice(0, drop);
    }
  }

  get length(): number {
    return this.t.length;
  }
}
