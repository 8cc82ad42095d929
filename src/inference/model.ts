// A ready model: sidecar + model file + engine session + pre/post-processing, run frame by frame.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeloopError } from '../errors.ts';
import { resolveAsset } from './assets.ts';
import { describeTensor } from './engine.ts';
import type { LoadOptions, Session, TensorInfo } from './engine.ts';
import { engineFor } from './engines/registry.ts';
import { POSTPROCESSORS } from './postprocess/index.ts';
import type { Detection, PostContext } from './postprocess/types.ts';
import { Preprocessor } from './preprocess.ts';
import type { Frame, InputSpec } from './preprocess.ts';
import { readSidecar, SIDECAR_EXTENSIONS } from './sidecar.ts';
import type { Sidecar } from './sidecar.ts';

export const DEFAULT_SCORE_THRESHOLD = 0.6;

export interface InferenceResult {
  detections: Detection[];
  timings_ms: { preprocess: number; inference: number; postprocess: number };
}

export interface InferenceModel {
  readonly sidecar: Sidecar;
  readonly modelPath: string;
  readonly session: Session;
  readonly preprocessor: Preprocessor;
  infer(frame: Frame): Promise<InferenceResult>;
  dispose(): Promise<void>;
}

export interface ModelOptions extends LoadOptions {
  /** Engine name, overriding the sidecar and the file extension. */
  engine?: string;
}

/** `-m` may name the sidecar or the model: for `m.tflite` the sidecar is `m.tflite.json` or `m.json` (or .yaml). */
export function findSidecar(file: string): string {
  if (SIDECAR_EXTENSIONS.includes(path.extname(file))) return file;
  const stem = file.slice(0, file.length - path.extname(file).length);
  const candidates = [file, stem].flatMap((base) => SIDECAR_EXTENSIONS.map((ext) => base + ext));
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new EdgeloopError('SIDECAR_INVALID', `no sidecar for ${file}: write ${path.basename(file)}.json with name, version and task`);
  return found;
}

function modelPathFor(sidecar: Sidecar, sidecarPath: string, given: string): string {
  if (sidecar.model !== undefined) return resolveAsset(sidecar.model, sidecarPath);
  if (given !== sidecarPath) return path.resolve(given);
  // `m.tflite.json` names `m.tflite`; `m.json` names the one model file next to it with the same stem.
  const stem = sidecarPath.slice(0, sidecarPath.length - path.extname(sidecarPath).length);
  const candidates = path.extname(stem) ? [stem] : ['.tflite', '.onnx'].map((ext) => stem + ext);
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new EdgeloopError('MODEL_NOT_FOUND', `${sidecarPath} has no "model" key and no ${candidates.join(' or ')} is next to it`);
  return found;
}

async function readLabels(sidecar: Sidecar, sidecarPath: string): Promise<string[]> {
  if (sidecar.labels === undefined) return [];
  if (Array.isArray(sidecar.labels)) return sidecar.labels;
  const text = await readFile(resolveAsset(sidecar.labels, sidecarPath), 'utf8');
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l, i, all) => l !== '' || i < all.length - 1);
}

/** The input tensor's geometry from the model, checked against what the sidecar claims. */
function inputSpec(sidecar: Sidecar, input: TensorInfo, sidecarPath: string): InputSpec {
  const shape = input.shape;
  if (shape.length !== 4) throw new EdgeloopError('MODEL_INVALID', `the model input ${describeTensor(input)} is not an image batch (rank 4)`);
  const layout = sidecar.input?.layout ?? (shape[1] === 3 && shape[3] !== 3 ? 'NCHW' : 'NHWC');
  const [h, w, c] = layout === 'NHWC' ? [shape[1]!, shape[2]!, shape[3]!] : [shape[2]!, shape[3]!, shape[1]!];
  if (c !== 3) throw new EdgeloopError('SIDECAR_INVALID', `${sidecarPath}: input.layout: ${layout} puts ${c} channels in ${describeTensor(input)}; the model wants another layout`);
  const width = w > 0 ? w : sidecar.input?.width;
  const height = h > 0 ? h : sidecar.input?.height;
  if (width === undefined || height === undefined) throw new EdgeloopError('SIDECAR_INVALID', `${sidecarPath}: input.width/height: required, the model leaves them open`);
  for (const [key, claimed, actual] of [['width', sidecar.input?.width, width], ['height', sidecar.input?.height, height]] as const) {
    if (claimed !== undefined && claimed !== actual) throw new EdgeloopError('SIDECAR_INVALID', `${sidecarPath}: input.${key}: ${claimed}, but the model takes ${actual}`);
  }
  if (input.dtype !== 'float32' && input.dtype !== 'uint8' && input.dtype !== 'int8') {
    throw new EdgeloopError('MODEL_INVALID', `the model input ${describeTensor(input)} is ${input.dtype}; images go in as float32, uint8 or int8`);
  }
  return {
    width,
    height,
    layout,
    dtype: input.dtype,
    // Default: pixels scaled to [0, 1].
    mean: sidecar.input?.mean ?? [0, 0, 0],
    std: sidecar.input?.std ?? [255, 255, 255],
    ...(input.quantization ? { quantization: input.quantization } : {}),
    letterbox: sidecar.input?.letterbox ?? false,
    bgr: sidecar.input?.pixel_format === 'BGR',
  };
}

export async function loadModel(file: string, options: ModelOptions = {}): Promise<InferenceModel> {
  const sidecarPath = findSidecar(file);
  const sidecar = await readSidecar(sidecarPath);
  const modelPath = modelPathFor(sidecar, sidecarPath, file);
  const labels = await readLabels(sidecar, sidecarPath);
  const engine = engineFor(modelPath, options.engine ?? sidecar.engine);
  const session = await engine.load(modelPath, options);
  let preprocessor: Preprocessor;
  try {
    if (session.inputs.length !== 1) throw new EdgeloopError('MODEL_INVALID', `the model takes ${session.inputs.length} inputs; an image model takes one`);
    preprocessor = new Preprocessor(inputSpec(sidecar, session.inputs[0]!, sidecarPath));
  } catch (err) {
    await session.dispose();
    throw err;
  }
  const post = POSTPROCESSORS[sidecar.task];
  const spec = preprocessor.spec;
  const ctx: PostContext = {
    outputs: session.outputs,
    labels,
    scoreThreshold: sidecar.score_threshold ?? DEFAULT_SCORE_THRESHOLD,
    iouThreshold: sidecar.iou_threshold ?? (sidecar.task === 'detection-blazeface' ? 0.3 : 0.45),
    maxDetections: sidecar.max_detections ?? 100,
    topK: sidecar.top_k ?? 5,
    softmax: sidecar.softmax ?? 'auto',
    ...(sidecar.yolo_version ? { yoloVersion: sidecar.yolo_version } : {}),
    nms: sidecar.nms ?? 'weighted',
    inputWidth: spec.width,
    inputHeight: spec.height,
    frameWidth: 0,
    frameHeight: 0,
    placement: { scaleX: 1, scaleY: 1, padX: 0, padY: 0 },
  };
  return {
    sidecar,
    modelPath,
    session,
    preprocessor,
    async infer(frame: Frame): Promise<InferenceResult> {
      const t0 = performance.now();
      const { tensor, placement } = preprocessor.run(frame);
      const t1 = performance.now();
      const outputs = await session.run([tensor]);
      const t2 = performance.now();
      ctx.frameWidth = frame.width;
      ctx.frameHeight = frame.height;
      ctx.placement = placement;
      const detections = post(outputs, ctx);
      const t3 = performance.now();
      return { detections, timings_ms: { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 } };
    },
    dispose: () => session.dispose(),
  };
}
