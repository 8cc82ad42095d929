// The pool's figures as Prometheus metrics (`edgeloop_inference_*`), fed by its events and read at scrape time;
// the gateway registers them on its registry once, beside the camera metrics.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { INFERENCE_MS_BUCKETS } from './histogram.ts';
import type { InferencePool } from './pool.ts';

export function registerPoolMetrics(registry: Registry, pool: InferencePool): void {
  const registers = [registry];
  const runs = new Histogram({
    name: 'edgeloop_inference_run_seconds',
    help: 'Time of one model run (one region: pre-processing, inference, post-processing) in a worker, by model and version',
    labelNames: ['model', 'version'],
    buckets: INFERENCE_MS_BUCKETS.map((ms) => ms / 1000),
    registers,
  });
  const failures = new Counter({ name: 'edgeloop_inference_failures_total', help: 'Requests that failed in a worker, by model, version and error', labelNames: ['model', 'version', 'error'], registers });
  const skips = new Counter({ name: 'edgeloop_inference_skips_total', help: 'Requests the pool did not run, by camera and reason', labelNames: ['camera', 'reason'], registers });
  const restarts = new Counter({ name: 'edgeloop_inference_worker_restarts_total', help: 'Inference workers replaced, by reason (timeout, crash)', labelNames: ['reason'], registers });
  const swaps = new Counter({ name: 'edgeloop_inference_swaps_total', help: 'Model versions swapped in, by model and kind (activate, rollback)', labelNames: ['model', 'kind'], registers });
  new Gauge({
    name: 'edgeloop_inference_queue_depth',
    help: 'Requests waiting for a worker',
    registers,
    collect() {
      this.set(pool.stats().queue.depth);
    },
  });
  new Gauge({
    name: 'edgeloop_inference_workers_busy',
    help: 'Workers running a request',
    registers,
    collect() {
      this.set(pool.stats().workers.busy);
    },
  });
  pool.on('inference', (o) => {
    const labels = { model: o.name, version: String(o.version) };
    if (o.ok) for (const ms of o.run_ms) runs.observe(labels, ms / 1000);
    else failures.inc({ ...labels, error: o.error ?? 'unknown' });
  });
  pool.on('skip', ({ camera, reason }) => skips.inc({ camera, reason }));
  pool.on('restart', ({ reason }) => restarts.inc({ reason }));
  pool.on('swap', ({ model, kind }) => swaps.inc({ model, kind }));
}
