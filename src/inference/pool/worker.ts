// An inference worker thread: holds model versions (and raw engine sessions) and runs one request at a time, so
// the gateway's event loop never waits on a model. Frames arrive whole; cropping the regions, resizing them to
// the model's input and mapping the boxes back to the frame happen here.
import { parentPort, workerData } from 'node:worker_threads';
import { EdgeloopError } from '../../errors.ts';
import type { Engine, Session, TensorData } from '../engine.ts';
import { engineFor, registerEngine } from '../engines/registry.ts';
import { loadModel } from '../model.ts';
import type { InferenceModel } from '../model.ts';
import { nms } from '../postprocess/nms.ts';
import type { Detection } from '../postprocess/types.ts';
import { frameBytes } from '../preprocess.ts';
import type { Crop, Frame } from '../preprocess.ts';
import { ownedBuffers, toWire } from './protocol.ts';
import type { DetectReply, ModelSpec, ModelSummary, SessionSummary, WorkerConfig, WorkerMessage, WorkerRequest } from './protocol.ts';

const port = parentPort!;
const config = workerData as WorkerConfig;
const models = new Map<string, { model: InferenceModel; summary: ModelSummary }>();
const sessions = new Map<string, Session>();

function checkFrame(frame: Frame): void {
  const format = frame.format ?? 'rgb24';
  if (format !== 'rgb24' && format !== 'yuv420p') throw new EdgeloopError('MODEL_INPUT', `frame format ${String(format)}: rgb24 or yuv420p`);
  if (!(Number.isInteger(frame.width) && Number.isInteger(frame.height) && frame.width > 0 && frame.height > 0)) {
    throw new EdgeloopError('MODEL_INPUT', `frame size ${frame.width}x${frame.height} is not a positive whole size`);
  }
  const want = frameBytes(frame.width, frame.height, format);
  if (!(frame.data instanceof Uint8Array) || frame.data.length !== want) {
    throw new EdgeloopError('MODEL_INPUT', `a ${frame.width}x${frame.height} ${format} frame has ${want} bytes, got ${frame.data?.length ?? 'none'}`);
  }
}

/** A region in pixels, cut to the frame; a region outside the frame is the caller's error. */
function clip(region: Crop, frame: Frame): Crop {
  const x0 = Math.max(0, Math.floor(region.x));
  const y0 = Math.max(0, Math.floor(region.y));
  const x1 = Math.min(frame.width, Math.ceil(region.x + region.w));
  const y1 = Math.min(frame.height, Math.ceil(region.y + region.h));
  if (!(x1 > x0 && y1 > y0)) throw new EdgeloopError('MODEL_INPUT', `region ${JSON.stringify(region)} lies outside the ${frame.width}x${frame.height} frame`);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** Overlapping regions see the same object twice: per-label NMS over all regions' detections keeps the best. */
function mergeRegions(detections: Detection[], iouThreshold: number): Detection[] {
  const classes = new Map<string, number>();
  const candidates = detections.map((d, i) => {
    if (!classes.has(d.label)) classes.set(d.label, classes.size);
    return { ...d.box, score: d.score, classIndex: classes.get(d.label)!, i };
  });
  return nms(candidates, iouThreshold, detections.length).map((c) => detections[(c as (typeof candidates)[number]).i]!);
}

async function detect(ref: string, frame: Frame, regions: Crop[]): Promise<DetectReply> {
  const model = models.get(ref)?.model;
  if (!model) throw new EdgeloopError('MODEL_NOT_FOUND', `model ${ref} is not loaded in this worker`);
  checkFrame(frame);
  const crops = regions.length === 0 ? [undefined] : regions.map((r) => clip(r, frame));
  const detections: Detection[] = [];
  const runMs: number[] = [];
  let nonFinite = false;
  let inputDigest = FNV_OFFSET;
  let outputDigest = FNV_OFFSET;
  for (const crop of crops) {
    const t0 = performance.now();
    const result = await model.infer(frame, crop);
    runMs.push(performance.now() - t0);
    detections.push(...result.detections);
    inputDigest = digest(result.tensors.input, inputDigest);
    for (const out of result.tensors.outputs) {
      outputDigest = digest(out, outputDigest);
      nonFinite ||= out instanceof Float32Array && !out.every(Number.isFinite);
    }
  }
  const merged = crops.length > 1 ? mergeRegions(detections, model.sidecar.iou_threshold ?? 0.45) : detections;
  return { detections: merged, run_ms: runMs, non_finite: nonFinite, input_digest: inputDigest, output_digest: outputDigest };
}

const FNV_OFFSET = 0x811c9dc5;

/** FNV-1a over (up to 4096 evenly spread) bytes of a tensor, continuing `hash`: cheap, and enough to tell outputs apart. */
function digest(data: TensorData, hash: number): number {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const step = Math.max(1, Math.floor(bytes.length / 4096));
  for (let i = 0; i < bytes.length; i += step) hash = Math.imul(hash ^ bytes[i]!, 0x01000193) >>> 0;
  return hash;
}

async function load(spec: ModelSpec): Promise<ModelSummary> {
  // Asked twice (the pool retries after a restart): the first load stands.
  const loaded = models.get(spec.ref);
  if (loaded) return loaded.summary;
  const model = await loadModel(spec.sidecar, { threads: spec.threads, ...(spec.engine ? { engine: spec.engine } : {}) });
  // Warm-up: the first run allocates and compiles kernels; a request should not pay for it.
  const { width, height } = model.preprocessor.spec;
  const t0 = performance.now();
  try {
    await model.infer({ width, height, data: new Uint8Array(width * height * 3).fill(128) });
  } catch (err) {
    await model.dispose();
    throw err;
  }
  const warmMs = performance.now() - t0;
  const summary: ModelSummary = {
    name: model.sidecar.name,
    label: model.sidecar.version,
    task: model.sidecar.task,
    engine: model.session.engine,
    input: { width: model.preprocessor.spec.width, height: model.preprocessor.spec.height },
    labels: [...model.labels],
    warm_ms: warmMs,
  };
  models.set(spec.ref, { model, summary });
  return summary;
}

async function handle(msg: WorkerRequest): Promise<unknown> {
  switch (msg.type) {
    case 'load':
      return load(msg.model);
    case 'unload': {
      const loaded = models.get(msg.ref);
      models.delete(msg.ref);
      await loaded?.model.dispose();
      return undefined;
    }
    case 'detect':
      return detect(msg.ref, msg.frame, msg.regions);
    case 'session-load': {
      const engine = engineFor(typeof msg.model === 'string' ? msg.model : '', msg.engine);
      const session = await engine.load(msg.model, { threads: msg.threads });
      sessions.set(msg.session, session);
      return { inputs: [...session.inputs], outputs: [...session.outputs] } satisfies SessionSummary;
    }
    case 'session-run': {
      const session = sessions.get(msg.session);
      if (!session) throw new EdgeloopError('USAGE', 'the session was disposed');
      return session.run(msg.inputs);
    }
    case 'session-dispose': {
      const session = sessions.get(msg.session);
      sessions.delete(msg.session);
      await session?.dispose();
      return undefined;
    }
  }
}

function reply(message: WorkerMessage): void {
  port.postMessage(message);
}

for (const specifier of config.engineModules) {
  const mod = (await import(specifier)) as { engine?: Engine };
  if (!mod.engine) throw new Error(`${specifier} exports no engine`);
  registerEngine(mod.engine);
}

// One request at a time, in arrival order (the pool sends one at a time anyway).
let chain: Promise<void> = Promise.resolve();
port.on('message', (msg: WorkerRequest) => {
  chain = chain.then(async () => {
    // A detect request's frame buffer goes back to the pool for the next frame.
    const [buffer] = msg.type === 'detect' ? ownedBuffers([msg.frame.data]) : [];
    const back = buffer ? { buffer } : {};
    try {
      const value = await handle(msg);
      // Output tensors the worker owns whole are moved instead of copied.
      const transfer = msg.type === 'session-run' ? ownedBuffers(value as ArrayBufferView[]) : buffer ? [buffer] : [];
      port.postMessage({ type: 'result', id: msg.id, ok: true, value, ...back } satisfies WorkerMessage, transfer);
    } catch (err) {
      port.postMessage({ type: 'result', id: msg.id, ok: false, error: toWire(err), ...back } satisfies WorkerMessage, buffer ? [buffer] : []);
    }
  });
});
reply({ type: 'ready' });
