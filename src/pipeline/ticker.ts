// A drift-corrected periodic timer: tick n is due at start + n × interval, so lateness never accumulates. A tick whose
// previous run has not finished is skipped and counted (never stacked), as is a tick missed because the loop was late.

export interface TickerStats {
  ticks: number;
  overruns: number;
  missed: number;
}

export class Ticker {
  readonly intervalMs: number;
  readonly stats: TickerStats = { ticks: 0, overruns: 0, missed: 0 };
  #task: (scheduledAt: number) => Promise<void> | void;
  #timer: NodeJS.Timeout | undefined;
  #start = 0;
  #n = 0;
  #running = false;
  #inflight: Promise<void> | undefined;
  #stopped = true;

  constructor(intervalMs: number, task: (scheduledAt: number) => Promise<void> | void) {
    this.intervalMs = intervalMs;
    this.#task = task;
  }

  /** Tick 0 is due `phaseMs` from now. */
  start(phaseMs = 0): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#start = performance.now() + phaseMs;
    this.#n = 0;
    this.#schedule();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inflight;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const now = performance.now();
    let due = this.#start + this.#n * this.intervalMs;
    if (now - due >= this.intervalMs) {
      const skip = Math.floor((now - due) / this.intervalMs);
      this.stats.missed += skip;
      this.#n += skip;
      due = this.#start + this.#n * this.intervalMs;
    }
    this.#timer = setTimeout(() => this.#fire(due), Math.max(0, due - now));
  }

  #fire(due: number): void {
    this.#n++;
    if (this.#running) {
      this.stats.overruns++;
    } else {
      this.stats.ticks++;
      this.#running = true;
      const scheduledAt = Date.now() - (performance.now() - due);
      this.#inflight = Promise.resolve()
        .then(() => this.#task(scheduledAt))
        .catch(() => undefined)
        .finally(() => {
          this.#running = false;
        });
    }
    this.#schedule();
  }
}
