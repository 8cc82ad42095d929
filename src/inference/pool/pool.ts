// The inference worker pool: worker threads hold the model sessions (inference never runs on the gateway's event
// loop); cameras share them through a bounded, fair queue with a global budget; a hung worker is replaced; model
// versions are swapped between two requests without dropping one.
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { EdgeloopError, messageOf } from '../../errors.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { Engine, LoadOptions, Session, TensorData } from '../engine.ts';
import type { Detection } from '../postprocess/types.ts';
import type { Crop, Frame } from '../preprocess.ts';
import { BufferPool } from './buffers.ts';
import { Histogram } from './histogram.ts';
import type { HistogramSnapshot } from './histogram.ts';
import { fromWire, ownedBuffers } from './protocol.ts';
import type { DetectReply, ModelSummary, SessionSummary, WorkerConfig, WorkerMessage, WorkerRequest } from './protocol.ts';
import { FairScheduler, SKIP_REASONS } from './scheduler.ts';
import type { SkipReason, Ticket } from './scheduler.ts';

export type { SkipReason } from './scheduler.ts';

/** Plain options (the gateway maps its config onto them). */
export interface PoolOptions {
  /** Worker threads; default half the CPUs (at least 1): the rest decode video and run the gateway. */
  workers?: number;
  /** Runtime threads per session; default 1. */
  threads?: number;
  /** Requests waiting, all cameras together; default 2 per worker + 2. */
  queue_size?: number;
  /** Model runs per second, all cameras together; default none. */
  detections_per_s?: number;
  /** A request waiting longer is skipped as `stale`; default 1000. */
  max_wait_ms?: number;
  /** A model run taking longer is a hung worker: it is terminated and replaced; default 10. */
  infer_timeout_s?: number;
  /** Modules exporting `engine`, registered in every worker (plugins; tests use deliberately slow engines). */
  engine_modules?: string[];
  logger?: Logger;
}

export interface DetectRequest {
  camera: string;
  /** Key the model was loaded under. */
  model: string;
  frame: Frame;
  /** Pixel rectangles to look at (each resized to the model's input); empty or absent: the whole frame. */
  regions?: Crop[];
  /** Hand the frame's buffer over instead of copying it (it is detached afterwards). */
  transfer?: boolean;
}

export interface DetectResult {
  /** Boxes in fractions of the frame. */
  detections: Detection[];
  /** Worker time for all regions: pre-processing, runs and post-processing. */
  inference_ms: number;
  runs: number;
  queue_ms: number;
  /** `version`: the number given at load (a signed update's; 0 for the shipped models); `label`: the sidecar's version. */
  model: { name: string; version: number; label: string };
}

export interface ModelInfo extends Omit<ModelSummary, 'warm_ms'> {
  key: string;
  version: number;
  sidecar: string;
  state: VersionState;
  warm_ms: number;
}

export interface PoolStats {
  workers: { count: number; busy: number; restarts: number };
  queue: { depth: number; capacity: number; by_camera: Record<string, number> };
  requests: { served: number; failed: number };
  skips: Record<SkipReason, number>;
  skips_by_camera: Record<string, Partial<Record<SkipReason, number>>>;
  /** Per model version: runs and the run-time histogram. */
  models: { name: string; version: number; runs: number; failures: number; inference_ms: HistogramSnapshot }[];
  swaps: number;
  budget_per_s: number | null;
}

export interface PoolEvents {
  /** A request ran, or failed in its worker: what a health check compares between versions. */
  inference: [InferenceObservation];
  skip: [{ camera: string; model: string; reason: SkipReason }];
  /** A run overran infer_timeout_s: its worker is being replaced (the camera is stalled meanwhile). */
  stall: [{ worker: number; camera: string | undefined; model: string | undefined; after_ms: number }];
  /** A replacement worker is up. */
  restart: [{ worker: number; reason: 'timeout' | 'crash'; restarts: number }];
  swap: [{ model: string; from: { name: string; version: number }; to: { name: string; version: number }; kind: 'activate' | 'rollback' }];
  /** A replaced, rolled-back or discarded version was unloaded from every worker. */
  dispose: [{ model: string; name: string; version: number }];
}

export interface InferenceObservation {
  camera: string;
  /** The key the model is loaded under, and the version that ran. */
  model: string;
  name: string;
  version: number;
  ok: boolean;
  /** Why not: a skip reason (`timeout`, `crashed`) or an error code. */
  error?: string;
  /** Per region run, ms. */
  run_ms: number[];
  /** Some raw output was NaN or infinite. */
  non_finite: boolean;
  /** Digests of the input tensors and raw outputs (equal outputs for different inputs: a broken model). */
  input_digest?: number;
  output_digest?: number;
  detections: { label: string; score: number }[];
}

export type VersionState = 'candidate' | 'active' | 'previous' | 'retired';

export interface VersionOptions {
  /** The version number reported with every result (a signed update's; the shipped models are 0). */
  version?: number;
  /** Engine name, overriding the sidecar and the file extension. */
  engine?: string;
  /** Gives up between two workers' loads (the loaded copies are unloaded). */
  signal?: AbortSignal;
}

/** A request the pool did not run, with why; the caller counts it as a skip. */
export class InferenceSkipped extends EdgeloopError {
  readonly reason: SkipReason;
  constructor(reason: SkipReason, message: string) {
    super('INFERENCE_SKIPPED', `${reason}: ${message}`);
    this.reason = reason;
  }
}

interface Version {
  ref: string;
  key: string;
  version: number;
  sidecar: string;
  engine: string | undefined;
  state: VersionState;
  info: ModelSummary | undefined;
  inflight: number;
}

interface VersionStats {
  name: string;
  version: number;
  runs: number;
  failures: number;
  histogram: Histogram;
}

interface ModelSlot {
  active?: Version;
  previous?: Version;
}

interface Pending {
  /** The model key, bound to its active version at dispatch; or one exact version (a candidate's check). */
  target: { key: string } | { version: Version };
  request: DetectRequest;
  frame: Frame;
  /** The frame was copied into one of the pool's buffers (given back if the request never reaches a worker). */
  pooled: boolean;
  regions: Crop[];
  resolve: (r: DetectResult) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
}

interface Job {
  message: WorkerRequest;
  transfer: ArrayBuffer[];
  timeoutMs: number;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  /** Set for detect jobs. */
  ticket?: Ticket<Pending>;
  version?: Version;
  startedAt?: number;
}

interface WorkerSlot {
  index: number;
  worker: Worker | undefined;
  started: boolean;
  /** Sent and not answered, in order: the first is running, the next waits in the worker's port. */
  jobs: Job[];
  /** The watchdog of the running job. */
  timer: NodeJS.Timeout | undefined;
  control: Job[];
  loaded: Set<Version>;
  loading: Map<Version, Promise<void>>;
  restarts: number;
  /** Crashes in a row without the worker starting: grows the restart delay. */
  crashes: number;
  /** Why the current worker replaced the last one. */
  replaced: 'timeout' | 'crash' | undefined;
}

const WORKER_URL = new URL('./worker.ts', import.meta.url);
/** A load compiles the model and warms it: give it more than one run's time. */
const LOAD_TIMEOUT_MS = 60_000;
const MAX_VERSION_STATS = 16;
/** Loads of one version into one worker that die with the worker before giving up. */
const LOAD_ATTEMPTS = 3;
/**
 * Requests a worker holds at once: the running one and the next, so it starts the next as soon as it finishes
 * instead of idling while its answer reaches the main thread and the next request comes back (which on a busy
 * device is several milliseconds a run).
 */
const PIPELINE = 2;

export class InferencePool extends EventEmitter<PoolEvents> {
  readonly options: Required<Omit<PoolOptions, 'logger' | 'detections_per_s'>> & { detections_per_s: number | undefined };
  readonly #log: Logger | undefined;
  readonly #scheduler: FairScheduler<Pending>;
  readonly #slots: WorkerSlot[] = [];
  readonly #models = new Map<string, ModelSlot>();
  readonly #candidates = new Set<Version>();
  readonly #versionStats = new Map<string, VersionStats>();
  #started = false;
  #closed = false;
  #nextId = 1;
  #nextRef = 1;
  #swaps = 0;
  #served = 0;
  #failed = 0;
  readonly #skips = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
  readonly #skipsByCamera = new Map<string, Partial<Record<SkipReason, number>>>();
  readonly #cameras = new Set<string>();
  readonly #buffers = new BufferPool();

  constructor(options: PoolOptions = {}) {
    super();
    const workers = options.workers ?? Math.max(1, Math.floor(availableParallelism() / 2));
    this.options = {
      workers,
      threads: options.threads ?? 1,
      queue_size: options.queue_size ?? 2 * workers + 2,
      detections_per_s: options.detections_per_s,
      max_wait_ms: options.max_wait_ms ?? 1000,
      infer_timeout_s: options.infer_timeout_s ?? 10,
      engine_modules: options.engine_modules ?? [],
    };
    for (const [key, v] of Object.entries({ workers, threads: this.options.threads, queue_size: this.options.queue_size })) {
      if (!Number.isInteger(v) || v < 1) throw new EdgeloopError('USAGE', `${key} must be a whole number >= 1, got ${v}`);
    }
    if (!(this.options.infer_timeout_s > 0) || !(this.options.max_wait_ms > 0)) throw new EdgeloopError('USAGE', 'infer_timeout_s and max_wait_ms must be > 0');
    if (options.detections_per_s !== undefined && !(options.detections_per_s > 0)) throw new EdgeloopError('USAGE', 'detections_per_s must be > 0');
    this.#log = options.logger;
    this.#scheduler = new FairScheduler({ capacity: this.options.queue_size, budgetPerS: options.detections_per_s, maxWaitMs: this.options.max_wait_ms });
  }

  // ── models ─────────────────────────────────────────────────────────────────────────────────────────────────

  /** Loads a model under `key` into every worker and makes it active (replacing, then disposing, what was there). */
  async load(key: string, sidecar: string, options: VersionOptions = {}): Promise<ModelInfo> {
    const candidate = await this.prepare(key, sidecar, options);
    candidate.activate();
    this.commit(key);
    return candidate.info;
  }

  /**
   * Loads and warms a new version in every worker without activating it: the current version keeps serving.
   * The candidate can be checked (`candidate.detect`), then activated (swapped in between two requests) or discarded.
   */
  async prepare(key: string, sidecar: string, options: VersionOptions = {}): Promise<Candidate> {
    this.#assertOpen();
    if (!/^[\w.@-]{1,64}$/.test(key)) throw new EdgeloopError('USAGE', `model key "${key}": 1-64 letters, digits, _ . @ -`);
    this.#start();
    const version: Version = {
      ref: `${key}#${this.#nextRef++}`,
      key,
      version: options.version ?? 0,
      sidecar,
      engine: options.engine,
      state: 'candidate',
      info: undefined,
      inflight: 0,
    };
    this.#candidates.add(version);
    try {
      // One worker at a time, so the others keep serving while a worker compiles.
      for (const slot of this.#slots) {
        options.signal?.throwIfAborted();
        await this.#ensureLoaded(slot, version);
      }
    } catch (err) {
      this.#retire(version);
      throw err;
    }
    return new Candidate(this, version);
  }

  /** @internal Candidate.activate */
  activateVersion(version: Version): void {
    if (version.state !== 'candidate') throw new EdgeloopError('USAGE', `${version.key} version ${version.version} is ${version.state}, not a candidate`);
    this.#assertOpen();
    const slot = this.#models.get(version.key) ?? {};
    this.#models.set(version.key, slot);
    this.#candidates.delete(version);
    // Replaced twice without a commit: the one before the current is no longer a rollback target.
    if (slot.previous) this.#retire(slot.previous);
    const old = slot.active;
    if (old) {
      old.state = 'previous';
      slot.previous = old;
    }
    version.state = 'active';
    slot.active = version;
    if (old) {
      this.#swaps++;
      this.#log?.info({ model: version.key, from: old.version, to: version.version, inflight: old.inflight }, 'model swapped');
      this.emit('swap', { model: version.key, from: this.#id(old), to: this.#id(version), kind: 'activate' });
    }
    this.#pump();
  }

  /** Disposes the version the last activation replaced (after its in-flight runs): the swap is final. */
  commit(key: string): void {
    const slot = this.#models.get(key);
    if (slot?.previous) this.#retire(slot.previous);
    if (slot) delete slot.previous;
  }

  /** Makes the version the last activation replaced active again; the rolled-back one is disposed after its runs. */
  rollback(key: string): ModelInfo {
    const slot = this.#models.get(key);
    if (!slot?.active || !slot.previous) throw new EdgeloopError('USAGE', `model ${key} has no previous version loaded to roll back to`);
    const bad = slot.active;
    const good = slot.previous;
    delete slot.previous;
    good.state = 'active';
    slot.active = good;
    this.#retire(bad);
    this.#swaps++;
    this.#log?.warn({ model: key, from: bad.version, to: good.version }, 'model rolled back');
    this.emit('swap', { model: key, from: this.#id(bad), to: this.#id(good), kind: 'rollback' });
    this.#pump();
    return this.#info(good);
  }

  /** Removes a model: waiting requests for it fail, its versions are disposed after their runs. */
  unload(key: string): void {
    const slot = this.#models.get(key);
    if (!slot) return;
    this.#models.delete(key);
    for (const v of [slot.active, slot.previous]) if (v) this.#retire(v);
    for (const ticket of this.#scheduler.drain()) {
      const t = ticket.item.target;
      if ('key' in t && t.key === key) ticket.item.reject(new EdgeloopError('MODEL_NOT_FOUND', `model ${key} was unloaded`));
      else this.#requeue(ticket);
    }
  }

  /** The loaded models: active version, and the previous one while a swap is not committed. */
  models(): { key: string; active: ModelInfo | undefined; previous: ModelInfo | undefined }[] {
    return [...this.#models].map(([key, slot]) => ({
      key,
      active: slot.active && this.#info(slot.active),
      previous: slot.previous && this.#info(slot.previous),
    }));
  }

  /** The active version's input size (its larger side, px): regions smaller than this are upscaled. */
  inputSize(key: string): number | undefined {
    const input = this.#models.get(key)?.active?.info?.input;
    return input && Math.max(input.width, input.height);
  }

  // ── requests ───────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Runs the model on the frame's regions in a worker. Rejects at once with InferenceSkipped (`queue_full`,
   * `budget`) when it cannot be queued, later with `stale`, `timeout`, `crashed`, `aborted` or `closed`; with
   * another EdgeloopError when the request itself is wrong.
   */
  detect(request: DetectRequest, signal?: AbortSignal): Promise<DetectResult> {
    return this.#submit({ key: request.model }, request, signal);
  }

  /** @internal Candidate.discard */
  discardVersion(version: Version): void {
    this.#retire(version);
  }

  /** @internal Candidate.detect */
  detectWith(version: Version, request: DetectRequest, signal?: AbortSignal): Promise<DetectResult> {
    if (version.state === 'retired') return Promise.reject(new EdgeloopError('USAGE', `${version.key} version ${version.version} was discarded`));
    return this.#submit({ version }, request, signal);
  }

  #submit(target: Pending['target'], request: DetectRequest, signal: AbortSignal | undefined): Promise<DetectResult> {
    const camera = String(request.camera);
    this.#cameras.add(camera);
    const modelKey = 'key' in target ? target.key : target.version.key;
    if (this.#closed) return Promise.reject(this.#skip(camera, modelKey, 'closed', 'the pool is closed'));
    if ('key' in target && !this.#models.get(target.key)?.active) {
      return Promise.reject(new EdgeloopError('MODEL_NOT_FOUND', `no model loaded under "${target.key}" (loaded: ${[...this.#models.keys()].join(', ') || 'none'})`));
    }
    if (signal?.aborted) return Promise.reject(this.#skip(camera, modelKey, 'aborted', 'the caller gave up before it was queued'));
    const f = request.frame;
    if (!(f?.data instanceof Uint8Array)) return Promise.reject(new EdgeloopError('MODEL_INPUT', 'frame.data must be a Uint8Array'));
    const shared = f.data.buffer instanceof SharedArrayBuffer;
    if (request.transfer && !shared && ownedBuffers([f.data]).length === 0) {
      return Promise.reject(new EdgeloopError('USAGE', 'transfer needs a frame whose data spans its whole ArrayBuffer'));
    }
    const regions = request.regions ?? [];
    return new Promise<DetectResult>((resolve, reject) => {
      const pending: Pending = { target, request, frame: f, pooled: false, regions, resolve, reject, cleanup: () => {} };
      const admission = this.#scheduler.admit(camera, Math.max(1, regions.length), pending);
      if (!admission.ok) {
        reject(this.#skip(camera, modelKey, admission.reason, admission.reason === 'budget' ? 'over the detections-per-second budget' : 'the queue holds its share of this camera'));
        return;
      }
      // Admitted: copied now (the caller may reuse its buffer as soon as this returns) unless shared or handed over.
      if (!shared && !request.transfer) {
        const data = new Uint8Array(this.#buffers.take(f.data.byteLength));
        data.set(f.data);
        pending.frame = { width: f.width, height: f.height, format: f.format ?? 'rgb24', data };
        pending.pooled = true;
      }
      if (admission.evicted) this.#refuse(admission.evicted, 'queue_full', 'made room for a camera under its fair share');
      if (signal) {
        const onAbort = () => {
          if (this.#scheduler.remove(admission.ticket)) this.#refuse(admission.ticket, 'aborted', 'the caller gave up while it waited');
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.#pump();
    });
  }

  #skip(camera: string, model: string, reason: SkipReason, message: string): InferenceSkipped {
    this.#skips[reason]++;
    const perCamera = this.#skipsByCamera.get(camera) ?? {};
    perCamera[reason] = (perCamera[reason] ?? 0) + 1;
    this.#skipsByCamera.set(camera, perCamera);
    this.emit('skip', { camera, model, reason });
    return new InferenceSkipped(reason, `${camera}: ${message}`);
  }

  #refuse(ticket: Ticket<Pending>, reason: SkipReason, message: string): void {
    const p = ticket.item;
    p.cleanup();
    if (p.pooled) this.#reclaim(p.frame.data.buffer);
    p.reject(this.#skip(ticket.camera, 'key' in p.target ? p.target.key : p.target.version.key, reason, message));
  }

  #requeue(ticket: Ticket<Pending>): void {
    const again = this.#scheduler.admit(ticket.camera, ticket.cost, ticket.item);
    if (!again.ok) this.#refuse(ticket, again.reason, 'could not be queued again');
  }

  /** The version a waiting request runs on if dispatched now. */
  #versionOf(p: Pending): Version | undefined {
    return 'version' in p.target ? p.target.version : this.#models.get(p.target.key)?.active;
  }

  // ── dispatch ───────────────────────────────────────────────────────────────────────────────────────────────

  #pump(): void {
    for (const slot of this.#slots) {
      // Nothing waits behind a load or session request: they can take long, and a request taken now would wait.
      while (slot.started && (slot.jobs.length === 0 || (slot.jobs.length < PIPELINE && slot.jobs[0]!.ticket))) {
        if (!this.#dispatch(slot)) break;
      }
    }
  }

  /** Sends the next control request, or else the next detection this worker can serve; false when there is none. */
  #dispatch(slot: WorkerSlot): boolean {
    const control = slot.control.shift();
    if (control) {
      this.#send(slot, control);
      return true;
    }
    const ticket = this.#scheduler.next(
      (t) => {
        const v = this.#versionOf(t.item);
        return v !== undefined && slot.loaded.has(v);
      },
      (t) => this.#refuse(t, 'stale', `waited over ${this.options.max_wait_ms} ms`),
    );
    if (!ticket) return false;
    const p = ticket.item;
    const version = this.#versionOf(p)!;
    version.inflight++;
    const message: WorkerRequest = { type: 'detect', id: 0, ref: version.ref, frame: p.frame, regions: p.regions };
    const runs = Math.max(1, p.regions.length);
    const startedAt = performance.now();
    this.#send(slot, {
      message,
      transfer: ownedBuffers([p.frame.data]),
      timeoutMs: this.options.infer_timeout_s * 1000 * runs,
      ticket,
      version,
      resolve: (value) => this.#finish(ticket, version, value as DetectReply, startedAt),
      reject: (err) => this.#fail(ticket, version, err),
    });
    return true;
  }

  #send(slot: WorkerSlot, job: Job): void {
    job.message.id = this.#nextId++;
    slot.jobs.push(job);
    if (slot.jobs.length === 1) this.#watch(slot);
    try {
      slot.worker!.postMessage(job.message, job.transfer);
    } catch (err) {
      slot.jobs.pop();
      if (slot.jobs.length === 0) clearTimeout(slot.timer);
      job.reject(new EdgeloopError('MODEL_INPUT', `cannot hand the request to the worker: ${messageOf(err)}`, { cause: err }));
      queueMicrotask(() => this.#pump());
    }
  }

  /** Starts the watchdog of the job the worker is running now. */
  #watch(slot: WorkerSlot): void {
    const job = slot.jobs[0]!;
    job.startedAt = performance.now();
    slot.timer = setTimeout(() => this.#hung(slot, job), job.timeoutMs);
  }

  #onMessage(slot: WorkerSlot, msg: WorkerMessage): void {
    if (msg.type === 'ready') {
      slot.started = true;
      slot.crashes = 0;
      if (slot.replaced) this.emit('restart', { worker: slot.index, reason: slot.replaced, restarts: slot.restarts });
      this.#pump();
      return;
    }
    if (msg.buffer) this.#reclaim(msg.buffer);
    const job = slot.jobs[0];
    if (!job || job.message.id !== msg.id) return;
    clearTimeout(slot.timer);
    slot.jobs.shift();
    // The worker has started the next one already.
    if (slot.jobs.length > 0) this.#watch(slot);
    if (msg.ok) job.resolve(msg.value);
    else job.reject(fromWire(msg.error));
    this.#pump();
  }

  #finish(ticket: Ticket<Pending>, version: Version, reply: DetectReply, startedAt: number): void {
    const p = ticket.item;
    p.cleanup();
    this.#release(version);
    this.#served++;
    const stats = this.#statsFor(version);
    for (const ms of reply.run_ms) {
      stats.runs++;
      stats.histogram.observe(ms);
    }
    this.emit('inference', {
      camera: ticket.camera,
      model: version.key,
      ...this.#id(version),
      ok: true,
      run_ms: reply.run_ms,
      non_finite: reply.non_finite,
      input_digest: reply.input_digest,
      output_digest: reply.output_digest,
      detections: reply.detections.map((d) => ({ label: d.label, score: d.score })),
    });
    p.resolve({
      detections: reply.detections,
      inference_ms: reply.run_ms.reduce((a, b) => a + b, 0),
      runs: reply.run_ms.length,
      queue_ms: startedAt - ticket.enqueuedAt,
      model: { ...this.#id(version), label: version.info!.label },
    });
  }

  #fail(ticket: Ticket<Pending>, version: Version, err: Error): void {
    ticket.item.cleanup();
    this.#release(version);
    const lost = err instanceof InferenceSkipped;
    if (!lost) {
      this.#failed++;
      this.#statsFor(version).failures++;
    }
    // Every failure in a worker is observed (timeouts and crashes too); refusals before running are not.
    if (!lost || err.reason === 'timeout' || err.reason === 'crashed') {
      const error = err instanceof InferenceSkipped ? err.reason : ((err as EdgeloopError).code ?? err.message);
      this.emit('inference', { camera: ticket.camera, model: version.key, ...this.#id(version), ok: false, error, run_ms: [], non_finite: false, detections: [] });
    }
    ticket.item.reject(err);
  }

  #release(version: Version): void {
    version.inflight--;
    if (version.state === 'retired' && version.inflight === 0) this.#dispose(version);
  }

  // ── workers ────────────────────────────────────────────────────────────────────────────────────────────────

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    for (let i = 0; i < this.options.workers; i++) {
      const slot: WorkerSlot = { index: i, worker: undefined, started: false, jobs: [], timer: undefined, control: [], loaded: new Set(), loading: new Map(), restarts: 0, crashes: 0, replaced: undefined };
      this.#slots.push(slot);
      this.#spawn(slot);
    }
  }

  #spawn(slot: WorkerSlot): void {
    slot.started = false;
    slot.loaded = new Set();
    slot.loading = new Map();
    const config: WorkerConfig = { engineModules: this.options.engine_modules };
    const worker = new Worker(WORKER_URL, { workerData: config, name: `edgeloop-inference-${slot.index}` });
    slot.worker = worker;
    worker.on('message', (msg: WorkerMessage) => this.#onMessage(slot, msg));
    worker.on('error', (err) => this.#log?.error({ worker: slot.index, err: messageOf(err) }, 'inference worker failed'));
    worker.on('exit', (code) => {
      if (slot.worker !== worker) return;
      this.#lost(slot, 'crash', `exited with code ${code}`);
    });
    // Every version still in use is loaded into the new worker.
    if (slot.restarts > 0) void this.#reload(slot);
  }

  async #reload(slot: WorkerSlot): Promise<void> {
    for (const v of this.#liveVersions()) {
      try {
        await this.#ensureLoaded(slot, v);
      } catch (err) {
        this.#log?.error({ worker: slot.index, model: v.key, version: v.version, err: messageOf(err) }, 'a restarted inference worker could not load a model');
      }
    }
  }

  #liveVersions(): Version[] {
    const live = [...this.#candidates];
    for (const slot of this.#models.values()) for (const v of [slot.active, slot.previous]) if (v) live.push(v);
    return live;
  }

  /** A run overran its time: the worker is stuck in native or WASM code and only terminating it frees the thread. */
  #hung(slot: WorkerSlot, job: Job): void {
    if (slot.jobs[0] !== job) return;
    const afterMs = Math.round(performance.now() - (job.startedAt ?? 0));
    this.#log?.warn({ worker: slot.index, camera: job.ticket?.camera, model: job.version?.key, after_ms: afterMs }, 'inference worker hung; replacing it');
    this.emit('stall', { worker: slot.index, camera: job.ticket?.camera, model: job.version?.key, after_ms: afterMs });
    this.#lost(slot, 'timeout', `no answer after ${afterMs} ms`);
  }

  #lost(slot: WorkerSlot, reason: 'timeout' | 'crash', detail: string): void {
    const worker = slot.worker;
    slot.worker = undefined;
    slot.started = false;
    clearTimeout(slot.timer);
    // The running request failed for this; the one waiting behind it (its frame went to the lost worker) is lost too.
    const [job, ...lost] = [...slot.jobs.splice(0), ...slot.control.splice(0)];
    if (job) this.#abandon(job, reason === 'timeout' ? 'timeout' : 'crashed', `worker ${slot.index} ${detail}`);
    for (const j of lost) this.#abandon(j, 'crashed', `worker ${slot.index} ${detail}`);
    void worker?.terminate();
    if (this.#closed) return;
    slot.restarts++;
    slot.crashes++;
    slot.replaced = reason;
    // A worker that dies at once again and again (a broken engine module) is restarted with a growing delay.
    const delay = reason === 'crash' && slot.crashes > 1 ? Math.min(100 * 2 ** (slot.crashes - 2), 30_000) : 0;
    this.#log?.warn({ worker: slot.index, reason, detail, restarts: slot.restarts, delay_ms: delay }, 'restarting inference worker');
    const restart = () => {
      if (!this.#closed) this.#spawn(slot);
    };
    if (delay > 0) setTimeout(restart, delay).unref();
    else restart();
  }

  /** A frame buffer the pool owns again (back from a worker, or never sent). */
  #reclaim(buffer: ArrayBufferLike): void {
    if (buffer instanceof ArrayBuffer) this.#buffers.give(buffer);
  }

  #abandon(job: Job, reason: SkipReason, message: string): void {
    job.reject(job.ticket ? this.#skip(job.ticket.camera, job.version!.key, reason, message) : new InferenceSkipped(reason, message));
  }

  /** Sends a control request (load, unload, engine sessions) to one worker, ahead of waiting detections. */
  #control(slot: WorkerSlot, message: WorkerRequest, timeoutMs: number, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.#closed) return Promise.reject(new InferenceSkipped('closed', 'the pool is closed'));
    return new Promise((resolve, reject) => {
      slot.control.push({ message, transfer, timeoutMs, resolve, reject });
      this.#pump();
    });
  }

  /**
   * Loads a version into a worker once however many callers ask; when the worker dies under the load, its
   * replacement is loaded instead (a few times at most: a model that kills its worker is refused).
   */
  async #ensureLoaded(slot: WorkerSlot, version: Version): Promise<void> {
    for (let attempt = 1; !slot.loaded.has(version); attempt++) {
      if (version.state === 'retired') throw new EdgeloopError('USAGE', `${version.key} version ${version.version} was discarded while it loaded`);
      const loading = slot.loading;
      let pending = loading.get(version);
      if (!pending) {
        pending = this.#loadOnce(slot, version).finally(() => {
          if (loading.get(version) === pending) loading.delete(version);
        });
        loading.set(version, pending);
      }
      try {
        await pending;
      } catch (err) {
        const lost = err instanceof InferenceSkipped && (err.reason === 'crashed' || err.reason === 'timeout');
        if (!lost || this.#closed || attempt >= LOAD_ATTEMPTS) throw err;
      }
    }
  }

  async #loadOnce(slot: WorkerSlot, version: Version): Promise<void> {
    const model = { ref: version.ref, sidecar: version.sidecar, threads: this.options.threads, ...(version.engine ? { engine: version.engine } : {}) };
    const timeout = Math.max(LOAD_TIMEOUT_MS, this.options.infer_timeout_s * 3000);
    const info = (await this.#control(slot, { type: 'load', id: 0, model }, timeout)) as ModelSummary;
    version.info ??= info;
    slot.loaded.add(version);
    if (version.state === 'retired' && version.inflight === 0) this.#dispose(version);
    // Requests for this version may be waiting for this worker.
    else this.#pump();
  }

  #retire(version: Version): void {
    if (version.state === 'retired') return;
    version.state = 'retired';
    this.#candidates.delete(version);
    if (version.inflight === 0) this.#dispose(version);
  }

  /** Unloads a retired version from every worker that has it (its in-flight runs are done). */
  #dispose(version: Version): void {
    const unloads = this.#slots
      .filter((slot) => slot.loaded.delete(version))
      .map((slot) =>
        this.#control(slot, { type: 'unload', id: 0, ref: version.ref }, LOAD_TIMEOUT_MS).catch((err: unknown) =>
          this.#log?.warn({ worker: slot.index, model: version.key, err: messageOf(err) }, 'unloading a model failed'),
        ),
      );
    if (unloads.length === 0 || !version.info) return;
    void Promise.all(unloads).then(() => this.emit('dispose', { model: version.key, ...this.#id(version) }));
  }

  // ── engine sessions in a worker ────────────────────────────────────────────────────────────────────────────

  /**
   * An Engine whose sessions live in one of the pool's workers: the same interface as the in-process engine, for
   * tools that want a raw session off the main thread. Sessions do not go through the camera queue or budget.
   */
  engine(name: string): Engine {
    this.#start();
    const load = async (model: string | Uint8Array, options: LoadOptions = {}): Promise<Session> => {
      this.#assertOpen();
      const slot = this.#slots.reduce((a, b) => (b.control.length < a.control.length ? b : a));
      const id = `session-${this.#nextRef++}`;
      const timeout = this.options.infer_timeout_s * 1000;
      const source = typeof model === 'string' ? model : model.slice();
      const summary = (await this.#control(slot, { type: 'session-load', id: 0, session: id, engine: name, model: source, threads: options.threads ?? 1 }, LOAD_TIMEOUT_MS)) as SessionSummary;
      const worker = slot.worker;
      const alive = () => slot.worker === worker;
      return {
        engine: name,
        inputs: summary.inputs,
        outputs: summary.outputs,
        run: async (inputs: readonly TensorData[]): Promise<TensorData[]> => {
          if (!alive()) throw new EdgeloopError('ENGINE_UNAVAILABLE', 'the worker holding this session was restarted; load the model again');
          const copies = inputs.map((t) => t.slice());
          return (await this.#control(slot, { type: 'session-run', id: 0, session: id, inputs: copies }, timeout, ownedBuffers(copies))) as TensorData[];
        },
        dispose: async (): Promise<void> => {
          if (alive()) await this.#control(slot, { type: 'session-dispose', id: 0, session: id }, timeout);
        },
      };
    };
    return { name, extensions: [], load };
  }

  // ── state ──────────────────────────────────────────────────────────────────────────────────────────────────

  stats(): PoolStats {
    const byCamera: Record<string, number> = {};
    for (const camera of this.#cameras) byCamera[camera] = this.#scheduler.depthOf(camera);
    return {
      workers: { count: this.#slots.length, busy: this.#slots.filter((s) => s.jobs.length > 0).length, restarts: this.#slots.reduce((n, s) => n + s.restarts, 0) },
      queue: { depth: this.#scheduler.depth, capacity: this.#scheduler.capacity, by_camera: byCamera },
      requests: { served: this.#served, failed: this.#failed },
      skips: { ...this.#skips },
      skips_by_camera: Object.fromEntries([...this.#skipsByCamera].map(([c, s]) => [c, { ...s }])),
      models: [...this.#versionStats.values()].map((s) => ({ name: s.name, version: s.version, runs: s.runs, failures: s.failures, inference_ms: s.histogram.snapshot() })),
      swaps: this.#swaps,
      budget_per_s: this.options.detections_per_s ?? null,
    };
  }

  #statsFor(v: Version): VersionStats {
    const { name, version } = this.#id(v);
    const key = `${name}@${version}`;
    let stats = this.#versionStats.get(key);
    if (!stats) {
      stats = { name, version, runs: 0, failures: 0, histogram: new Histogram() };
      this.#versionStats.set(key, stats);
      // Bounded: the oldest versions' figures go first.
      if (this.#versionStats.size > MAX_VERSION_STATS) this.#versionStats.delete(this.#versionStats.keys().next().value!);
    }
    return stats;
  }

  #id(v: Version): { name: string; version: number } {
    return { name: v.info!.name, version: v.version };
  }

  /** @internal */
  infoOf(v: Version): ModelInfo {
    return this.#info(v);
  }

  #info(v: Version): ModelInfo {
    return { ...v.info!, key: v.key, version: v.version, sidecar: v.sidecar, state: v.state };
  }

  #assertOpen(): void {
    if (this.#closed) throw new EdgeloopError('USAGE', 'the inference pool is closed');
  }

  /** Refuses waiting requests, lets running ones finish (each within its timeout), then stops the workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const ticket of this.#scheduler.drain()) this.#refuse(ticket, 'closed', 'the pool is closing');
    await Promise.all(
      this.#slots.map(async (slot) => {
        for (const c of slot.control.splice(0)) c.reject(new InferenceSkipped('closed', 'the pool is closing'));
        await Promise.all(
          slot.jobs.map(
            (job) =>
              new Promise<void>((settled) => {
                const { resolve, reject } = job;
                job.resolve = (v) => (resolve(v), settled());
                job.reject = (e) => (reject(e), settled());
              }),
          ),
        );
        const worker = slot.worker;
        slot.worker = undefined;
        slot.started = false;
        clearTimeout(slot.timer);
        await worker?.terminate();
      }),
    );
  }
}

/** A model version loaded and warmed in every worker but not serving yet. */
export class Candidate {
  readonly #pool: InferencePool;
  readonly #version: Version;

  constructor(pool: InferencePool, version: Version) {
    this.#pool = pool;
    this.#version = version;
  }

  get info(): ModelInfo {
    return this.#pool.infoOf(this.#version);
  }

  /** A request on this version (a pre-activation check, or a comparison with the active version). */
  detect(request: Omit<DetectRequest, 'model'>, signal?: AbortSignal): Promise<DetectResult> {
    return this.#pool.detectWith(this.#version, { ...request, model: this.#version.key }, signal);
  }

  /** Swaps it in between two requests; the replaced version stays loaded until commit() or rollback(). */
  activate(): void {
    this.#pool.activateVersion(this.#version);
  }

  discard(): void {
    if (this.#version.state === 'candidate') this.#pool.discardVersion(this.#version);
  }
}
