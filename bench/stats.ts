// Small helpers shared by the benchmarks: quantiles, resource sampling, number parsing.
import { readFileSync } from 'node:fs';
import type { BenchArgs } from './run.ts';

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

export function median(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

export function latencySummary(values: number[]): { n: number; p50_ms: number; p99_ms: number; mean_ms: number; max_ms: number } {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { n: s.length, p50_ms: r(quantile(s, 0.5)), p99_ms: r(quantile(s, 0.99)), mean_ms: r(mean), max_ms: r(s[s.length - 1] ?? NaN) };
}

/** CPU time of this process over a phase, as a percentage of one core. */
export function cpuMeter(): () => number {
  const start = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const d = process.cpuUsage(start);
    return Math.round(((d.user + d.system) / 1000 / (performance.now() - t0)) * 1000) / 10;
  };
}

/**
 * Bytes this process caused to be written to storage over a phase, per second (Linux `/proc/self/io`
 * `write_bytes`); null where that file does not exist.
 */
export function diskWriteMeter(): () => number | null {
  const read = () => {
    try {
      return Number(/^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
    } catch {
      return NaN;
    }
  };
  const start = read();
  const t0 = performance.now();
  return () => {
    const perS = ((read() - start) / (performance.now() - t0)) * 1000;
    return Number.isFinite(perS) ? perS : null;
  };
}

export const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

export function numberArg(args: BenchArgs, key: string, fallback: number): number {
  const v = args[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} needs a positive number, got ${String(v)}`);
  return n;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CPU time of another process (Linux `/proc/<pid>/stat`) over a phase, as a percentage of one core. */
export function processCpuMeter(pid: number): () => number {
  const ticks = () => {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(fields[11]) + Number(fields[12]);
  };
  const CLOCK_TICKS_PER_S = 100;
  const start = ticks();
  const t0 = performance.now();
  return () => Math.round((((ticks() - start) / CLOCK_TICKS_PER_S) * 1000 * 100 * 100) / (performance.now() - t0)) / 100;
}
