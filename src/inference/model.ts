// A ready model: sidecar + model file + engine session + pre/post-processing, run frame by frame.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeloopError } from '../errors.ts';
import { resolveAsset } from './assets.ts';
import { describeTensor } from './engine.ts';
import type { LoadOptions, Session, TensorData, TensorInfo } from './engine.ts';
import { engineFor } from './engines/registry.ts';
import { ssdAnchors } from './postprocess/anchors.ts';
import type { RawSsdSpec } from './postprocess/anchors.ts';
import { POSTPROCESSORS } from './postprocess/index.ts';
import type { Detection, PostContext } from './postprocess/types.ts';
import { Preprocessor } from './preprocess.ts';
import type { Crop, Frame, InputSpec } from './preprocess.ts';
import { readSidecar, SIDECAR_EXTENSIONS } from './sidecar.ts';
import type { Sidecar } from './sidecar.ts';

export const DEFAULT_SCORE_THRESHOLD = 0.6;

export interface InferenceResult {
  detections: Detection[];
  timings_ms: { preprocess: number; inference: number; postprocess: number };
  /** What went into the model and came out (reused buffers: read them before the next run). */
  tensors: { input: TensorData; outputs: TensorData[] };
}

export interface InferenceModel {
  readonly sidecar: Sidecar;
  readonly modelPath: string;
  /** Class names by class number (the model's numbers where a label is missing). */
  readonly labels: readonly string[];
  readonly session: Session;
  readonly preprocessor: Preprocessor;
  /** Detections in fractions of the frame; with `crop` (pixels), only that part of the frame is looked at. */
  infer(frame: Frame, crop?: Crop): Promise<InferenceResult>;
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
  return parseLabels(text);
}

/**
 * One label per line, the line number being the class; or, as Coral's label files, `<class> <label>` on every
 * line, with gaps (COCO's 80 labels over 90 class numbers).
 */
export function parseLabels(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const numbered = lines.filter((l) => l !== '').map((l) => /^(\d+)\s+(\S.*)$/.exec(l));
  if (numbered.length > 0 && numbered.every((m) => m !== null)) {
    const labels: string[] = [];
    for (const m of numbered) labels[Number(m![1])] = m![2]!;
    return Array.from(labels, (l, i) => l ?? String(i));
  }
  return lines.filter((l, i, all) => l !== '' || i < all.length - 1);
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

/** detection-ssd-anchors: the sidecar's anchors, checked against the number of boxes the model outputs. */
function rawSsdSpec(sidecar: Sidecar, sidecarPath: string, outputs: readonly TensorInfo[], spec: InputSpec): RawSsdSpec | undefined {
  if (sidecar.task !== 'detection-ssd-anchors') return undefined;
  const a = sidecar.anchors;
  if (!a) throw new EdgeloopError('SIDECAR_INVALID', `${sidecarPath}: anchors: is required for task detection-ssd-anchors`);
  const raw: RawSsdSpec = {
    anchors: {
      minScale: a.min_scale,
      maxScale: a.max_scale,
      strides: a.strides,
      aspectRatios: a.aspect_ratios,
      reduceBoxesInLowestLayer: a.reduce_boxes_in_lowest_layer ?? false,
      interpolatedScaleAspectRatio: a.interpolated_scale_aspect_ratio ?? 1,
      fixedAnchorSize: a.fixed_anchor_size ?? false,
    },
    // TF Object Detection API defaults; class 0 is its background.
    boxScale: sidecar.box_scale ?? [10, 10, 5, 5],
    order: 'yx',
    exponential: true,
    ignoreClasses: sidecar.ignore_classes ?? [0],
  };
  const count = ssdAnchors(raw.anchors, spec.width, spec.height).length / 4;
  const boxes = outputs.find((o) => o.shape.length === 3 && o.shape[2] === 4);
  if (outputs.length !== 2 || (boxes && boxes.shape[1]! > 0 && boxes.shape[1] !== count)) {
    throw new EdgeloopError('SIDECAR_INVALID', `${sidecarPath}: anchors: give ${count} anchors, the model outputs ${outputs.map(describeTensor).join('; ')}`);
  }
  return raw;
}

export async function loadModel(file: string, options: ModelOptions = {}): Promise<InferenceModel> {
  const sidecarPath = findSidecar(file);
  const sidecar = await readSidecar(sidecarPath);
  const modelPath = modelPathFor(sidecar, sidecarPath, file);
  const labels = await readLabels(sidecar, sidecarPath);
  const engine = engineFor(modelPath, options.engine ?? sidecar.engine);
  const session = await engine.load(modelPath, options);
  let preprocessor: Preprocessor;
  let rawSsd: RawSsdSpec | undefined;
  try {
    if (session.inputs.length !== 1) throw new EdgeloopError('MODEL_INVALID', `the model takes ${session.inputs.length} inputs; an image model takes one`);
    preprocessor = new Preprocessor(inputSpec(sidecar, session.inputs[0]!, sidecarPath));
    rawSsd = rawSsdSpec(sidecar, sidecarPath, session.outputs, preprocessor.spec);
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
    ...(rawSsd ? { rawSsd } : {}),
    inputWidth: spec.width,
    inputHeight: spec.height,
    frameWidth: 0,
    frameHeight: 0,
    placement: { scaleX: 1, scaleY: 1, padX: 0, padY: 0 },
  };
  return {
    sidecar,
    modelPath,
    labels,
    session,
    preprocessor,
    async infer(frame: Frame, crop?: Crop): Promise<InferenceResult> {
      const t0 = performance.now();
      const { tensor, placement } = preprocessor.run(frame, crop);
      const t1 = performance.now();
      const outputs = await session.run([tensor]);
      const t2 = performance.now();
      ctx.frameWidth = crop?.w ?? frame.width;
      ctx.frameHeight = crop?.h ?? frame.height;
      ctx.placement = placement;
      let detections = post(outputs, ctx);
      if (crop) {
        // Boxes come out in fractions of the crop; the caller wants fractions of the frame.
        const sx = crop.w / frame.width;
        const sy = crop.h / frame.height;
        detections = detections.map((d) => ({
          ...d,
          box: { x: crop.x / frame.width + d.box.x * sx, y: crop.y / frame.height + d.box.y * sy, w: d.box.w * sx, h: d.box.h * sy },
        }));
      }
      const t3 = performance.now();
      return { detections, timings_ms: { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 }, tensors: { input: tensor, outputs } };
    },
    dispose: () => session.dispose(),
  };
}
