// The model sidecar (`<model>.json` or `.yaml`): what the model file cannot say about itself — its task, how
// pixels become its input, its labels. Shapes, dtypes and quantization are read from the model file instead.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import yaml from 'js-yaml';
import { EdgeloopError, messageOf } from '../errors.ts';

export const TASKS = ['classification', 'detection-ssd', 'detection-ssd-anchors', 'detection-yolo', 'detection-blazeface'] as const;

/** A string enum: validated as a union of literals (so errors can list them), typed as the literal union. */
const OneOf = <const T extends readonly string[]>(values: T, description: string) =>
  Type.Unsafe<T[number]>(Type.Union(values.map((v) => Type.Literal(v)), { description }));
const Rgb = Type.Tuple([Type.Number(), Type.Number(), Type.Number()]);

export const SidecarSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    version: Type.String({ minLength: 1 }),
    task: OneOf(TASKS, 'what the outputs mean'),
    model: Type.Optional(Type.String({ minLength: 1, description: 'model file: relative to the sidecar, absolute, or inside an npm package' })),
    engine: Type.Optional(Type.String({ description: 'engine name; default from the model file extension' })),
    input: Type.Optional(
      Type.Object(
        {
          width: Type.Optional(Type.Integer({ minimum: 1 })),
          height: Type.Optional(Type.Integer({ minimum: 1 })),
          layout: Type.Optional(OneOf(['NHWC', 'NCHW'] as const, 'tensor layout')),
          pixel_format: Type.Optional(OneOf(['RGB', 'BGR'] as const, 'channel order')),
          letterbox: Type.Optional(Type.Boolean()),
          // real = (pixel - mean) / std per channel, then quantized if the model's input is.
          mean: Type.Optional(Rgb),
          std: Type.Optional(Rgb),
        },
        { additionalProperties: false },
      ),
    ),
    labels: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String())])),
    score_threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    iou_threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    max_detections: Type.Optional(Type.Integer({ minimum: 1 })),
    top_k: Type.Optional(Type.Integer({ minimum: 1 })),
    softmax: Type.Optional(Type.Union([Type.Boolean(), Type.Literal('auto')])),
    yolo_version: Type.Optional(OneOf(['v5', 'v8'] as const, 'YOLO output layout')),
    nms: Type.Optional(OneOf(['weighted', 'plain'] as const, 'suppression of anchor-based detections')),
    // detection-ssd-anchors: MediaPipe SsdAnchorsCalculator settings and the TF box coding.
    anchors: Type.Optional(
      Type.Object(
        {
          strides: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1 }),
          min_scale: Type.Number({ exclusiveMinimum: 0 }),
          max_scale: Type.Number({ exclusiveMinimum: 0 }),
          aspect_ratios: Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1 }),
          reduce_boxes_in_lowest_layer: Type.Optional(Type.Boolean()),
          interpolated_scale_aspect_ratio: Type.Optional(Type.Number({ minimum: 0 })),
          fixed_anchor_size: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    box_scale: Type.Optional(Type.Tuple([Type.Number({ exclusiveMinimum: 0 }), Type.Number({ exclusiveMinimum: 0 }), Type.Number({ exclusiveMinimum: 0 }), Type.Number({ exclusiveMinimum: 0 })])),
    ignore_classes: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
  },
  { additionalProperties: false },
);

export type Sidecar = Static<typeof SidecarSchema>;
export type Task = (typeof TASKS)[number];

/** `task: must be one of a|b` style messages, one per offending key path. */
export function sidecarErrors(data: unknown): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of Value.Errors(SidecarSchema, data)) {
    const key = e.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
    if (seen.has(key)) continue;
    seen.add(key);
    const literals = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const);
    if (literals && literals.every((v) => typeof v === 'string')) out.push(`${key}: must be one of ${literals.join('|')}`);
    else if (e.value === undefined) out.push(`${key}: is required`);
    else out.push(`${key}: ${e.message.toLowerCase()}`);
  }
  return out;
}

export function validateSidecar(data: unknown, source: string): Sidecar {
  const errors = sidecarErrors(data);
  if (errors.length > 0) {
    throw new EdgeloopError('SIDECAR_INVALID', `${source}: ${errors.join('; ')}`, { details: errors });
  }
  return data as Sidecar;
}

export const SIDECAR_EXTENSIONS = ['.json', '.yaml', '.yml'];

export async function readSidecar(file: string): Promise<Sidecar> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new EdgeloopError('MODEL_NOT_FOUND', `cannot read the sidecar ${file}: ${messageOf(err)}`, { cause: err });
  }
  let data: unknown;
  try {
    data = path.extname(file) === '.json' ? JSON.parse(text) : yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new EdgeloopError('SIDECAR_INVALID', `${file} is not valid ${path.extname(file) === '.json' ? 'JSON' : 'YAML'}: ${messageOf(err)}`, { cause: err });
  }
  return validateSidecar(data, file);
}
