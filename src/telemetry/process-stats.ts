// The process's own load for the status view: CPU share, memory and event-loop lag over the last window. Computed
// when asked (no timer of its own): a window closes when a status read comes at least WINDOW_MS after the last one.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const WINDOW_MS = 1000;
const RESOLUTION_MS = 20;
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface ProcessView {
  /** Share of one core over the last window, in percent (above 100 with worker threads busy). */
  cpu_percent: number;
  rss_bytes: number;
  heap_used_bytes: number;
  /** How late timers fired over the last window. */
  event_loop_lag_ms: { p50: number; p99: number; max: number };
}

export class ProcessStats {
  // 20 ms resolution is enough to see the lag a user would feel; the monitor is a native timer.
  #lag = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  #at = performance.now();
  #cpu = process.cpuUsage();
  #last: Pick<ProcessView, 'cpu_percent' | 'event_loop_lag_ms'> = { cpu_percent: 0, event_loop_lag_ms: { p50: 0, p99: 0, max: 0 } };

  constructor() {
    this.#lag.enable();
  }

  snapshot(): ProcessView {
    const now = performance.now();
    if (now - this.#at >= WINDOW_MS) {
      const cpu = process.cpuUsage(this.#cpu);
      const ms = (ns: number) => round(Math.max(0, ns / 1e6 - RESOLUTION_MS), 2);
      this.#last = {
        cpu_percent: round(((cpu.user + cpu.system) / 1000 / (now - this.#at)) * 100, 1),
        // The monitor reports the interval between wake-ups; its own resolution is not lag.
        event_loop_lag_ms: this.#lag.count === 0 ? { p50: 0, p99: 0, max: 0 } : {
          p50: ms(this.#lag.percentile(50)), p99: ms(this.#lag.percentile(99)), max: ms(this.#lag.max),
        },
      };
      this.#at = now;
      this.#cpu = process.cpuUsage();
      this.#lag.reset();
    }
    const mem = process.memoryUsage();
    return { ...this.#last, rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed };
  }

  close(): void {
    this.#lag.disable();
  }
}
