// The inference worker pool against the engine called in-process, with the default model (SSD MobileNet v2 COCO)
// on real frames (vtest.avi, yuv420p): detections per second at saturation, the ratio between them, per-request
// cost of handing a frame to a worker (copy, transfer, shared memory), and the main thread's event-loop delay while
// inference runs (in-process it blocks the loop for a whole run; through the pool it should not).
// Phases alternate in rounds so both sides see the same machine load.
// `npm run bench -- pool [--seconds=8] [--rounds=3] [--workers=1,2] [--width=640 --height=480]`
import { execFile } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { BenchArgs } from './run.ts';
import { latencySummary, median } from './stats.ts';
import { loadModel } from '../src/inference/model.ts';
import { InferencePool } from '../src/inference/pool/pool.ts';
import type { DetectRequest } from '../src/inference/pool/pool.ts';
import type { Frame } from '../src/inference/preprocess.ts';
import { vtest } from '../test/support/footage.ts';

export const DEFAULT_MODEL = 'models/ssd-mobilenet-v2-coco.json';

const round2 = (v: number) => Math.round(v * 100) / 100;

/** `count` frames of vtest.avi, one a second, scaled to width × height, as yuv420p (what cameras deliver). */
export async function footageFrames(width: number, height: number, count = 8): Promise<Frame[]> {
  const { stdout } = await promisify(execFile)(
    'ffmpeg',
    ['-loglevel', 'error', '-i', vtest(), '-vf', `fps=1,scale=${width}:${height}`, '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 1 << 28 },
  );
  const size = (width * height * 3) / 2;
  return Array.from({ length: Math.floor(stdout.length / size) }, (_, i) => ({ width, height, format: 'yuv420p' as const, data: new Uint8Array(stdout.subarray(i * size, (i + 1) * size)) }));
}

/** The main thread's event-loop delay over a phase (p99 and max, ms). */
function loopDelay(): () => { p99_ms: number; max_ms: number } {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  return () => {
    h.disable();
    return { p99_ms: round2(h.percentile(99) / 1e6), max_ms: round2(h.max / 1e6) };
  };
}

export interface RateFigures {
  per_s: number;
  loop_delay: { p99_ms: number; max_ms: number };
}

/** The engine's raw maximum: whole-frame detections back to back on this thread (pre-process, run, post-process). */
export async function inProcessRate(model: Awaited<ReturnType<typeof loadModel>>, frames: Frame[], ms: number): Promise<RateFigures & { run_ms: number }> {
  const delay = loopDelay();
  const runs: number[] = [];
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    const r = await model.infer(frames[n++ % frames.length]!);
    runs.push(r.timings_ms.inference);
    // Let timers run between detections, as a gateway would have to.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { per_s: round2((n * 1000) / (performance.now() - t0)), run_ms: round2(median(runs)), loop_delay: delay() };
}

/** Detections per second through the pool, kept saturated by `inflight` callers (one camera each). */
export async function poolRate(pool: InferencePool, key: string, frames: Frame[], ms: number, inflight: number): Promise<RateFigures & { latency: ReturnType<typeof latencySummary>; skipped: number }> {
  const delay = loopDelay();
  const latencies: number[] = [];
  let skipped = 0;
  const t0 = performance.now();
  let n = 0;
  await Promise.all(
    Array.from({ length: inflight }, async (_, camera) => {
      while (performance.now() - t0 < ms) {
        const start = performance.now();
        try {
          await pool.detect({ camera: `cam${camera}`, model: key, frame: frames[n % frames.length]! });
          n++;
          latencies.push(performance.now() - start);
        } catch {
          skipped++;
        }
      }
    }),
  );
  return { per_s: round2((n * 1000) / (performance.now() - t0)), latency: latencySummary(latencies), skipped, loop_delay: delay() };
}

/**
 * Per-request cost of the trip to a worker and back, one request at a time: wall time beyond the worker's own, and
 * the main thread's busy time (event-loop utilisation) per request.
 */
async function handoff(pool: InferencePool, key: string, frame: Frame, mode: 'copy' | 'transfer' | 'shared', count: number): Promise<{ wall_ms: number; main_thread_ms: number }> {
  const shared = new Uint8Array(new SharedArrayBuffer(frame.data.length));
  shared.set(frame.data);
  const extra: number[] = [];
  let busy = 0;
  for (let i = 0; i < count; i++) {
    // The transferred buffer is a fresh copy per request, made before the clock starts (it is detached after).
    const request: DetectRequest =
      mode === 'shared'
        ? { camera: 'handoff', model: key, frame: { ...frame, data: shared } }
        : { camera: 'handoff', model: key, frame: mode === 'transfer' ? { ...frame, data: frame.data.slice() } : frame, transfer: mode === 'transfer' };
    const elu = performance.eventLoopUtilization();
    const start = performance.now();
    const r = await pool.detect(request);
    extra.push(performance.now() - start - r.inference_ms - r.queue_ms);
    busy += performance.eventLoopUtilization(elu).active;
  }
  return { wall_ms: round2(median(extra)), main_thread_ms: Math.round((busy / count) * 1000) / 1000 };
}

export default async function (args: BenchArgs): Promise<Record<string, unknown>> {
  const seconds = Number(args.seconds ?? 8);
  const rounds = Number(args.rounds ?? 3);
  const width = Number(args.width ?? 640);
  const height = Number(args.height ?? 480);
  const workerCounts = String(args.workers ?? '1,2').split(',').map(Number);
  const frames = await footageFrames(width, height);
  const mib = () => Math.round(process.memoryUsage().rss / 2 ** 20);
  const rssStart = mib();
  const model = await loadModel(DEFAULT_MODEL);
  const rss: Record<string, number> = { in_process_model_mib: mib() - rssStart };
  const pools = new Map<number, InferencePool>();
  for (const workers of workerCounts) {
    const before = mib();
    const pool = new InferencePool({ workers, queue_size: 4 * workers });
    await pool.load('default', DEFAULT_MODEL);
    pools.set(workers, pool);
    rss[`pool_${workers}_workers_mib`] = mib() - before;
  }
  const inProcess: Awaited<ReturnType<typeof inProcessRate>>[] = [];
  const viaPool = new Map<number, Awaited<ReturnType<typeof poolRate>>[]>(workerCounts.map((w) => [w, []]));
  // Warm-up, not recorded.
  await inProcessRate(model, frames, 1000);
  for (const [workers, pool] of pools) await poolRate(pool, 'default', frames, 1000, 2 * workers);
  for (let r = 0; r < rounds; r++) {
    inProcess.push(await inProcessRate(model, frames, seconds * 1000));
    process.stderr.write(`round ${r + 1}: in-process ${inProcess.at(-1)!.per_s}/s`);
    for (const [workers, pool] of pools) {
      viaPool.get(workers)!.push(await poolRate(pool, 'default', frames, seconds * 1000, 2 * workers));
      process.stderr.write(`, pool ×${workers} ${viaPool.get(workers)!.at(-1)!.per_s}/s`);
    }
    process.stderr.write('\n');
  }
  const [first] = pools.values();
  const handoffMs = {
    copy: await handoff(first!, 'default', frames[0]!, 'copy', 40),
    transfer: await handoff(first!, 'default', frames[0]!, 'transfer', 40),
    shared: await handoff(first!, 'default', frames[0]!, 'shared', 40),
  };
  await Promise.all([...pools.values()].map((p) => p.close()));
  await model.dispose();
  const raw = median(inProcess.map((p) => p.per_s));
  return {
    model: 'SSD MobileNet v2 COCO quantized (models/ssd-mobilenet-v2-coco.json), tflite engine, 1 thread',
    frames: `vtest.avi ${width}x${height} yuv420p, whole frame per detection`,
    seconds_per_phase: seconds,
    rounds,
    in_process: {
      per_s: raw,
      run_ms: median(inProcess.map((p) => p.run_ms)),
      loop_delay_p99_ms: median(inProcess.map((p) => p.loop_delay.p99_ms)),
      loop_delay_max_ms: Math.max(...inProcess.map((p) => p.loop_delay.max_ms)),
    },
    pool: workerCounts.map((workers) => {
      const runs = viaPool.get(workers)!;
      const perS = median(runs.map((p) => p.per_s));
      return {
        workers,
        callers: 2 * workers,
        per_s: perS,
        vs_in_process: round2(perS / raw),
        latency_p50_ms: median(runs.map((p) => p.latency.p50_ms)),
        latency_p99_ms: median(runs.map((p) => p.latency.p99_ms)),
        skipped: runs.reduce((n, p) => n + p.skipped, 0),
        loop_delay_p99_ms: median(runs.map((p) => p.loop_delay.p99_ms)),
        loop_delay_max_ms: Math.max(...runs.map((p) => p.loop_delay.max_ms)),
      };
    }),
    handoff_ms_per_request: handoffMs,
    rss_added: rss,
    rounds_detail: { in_process_per_s: inProcess.map((p) => p.per_s), pool_per_s: Object.fromEntries([...viaPool].map(([w, runs]) => [w, runs.map((p) => p.per_s)])) },
  };
}
