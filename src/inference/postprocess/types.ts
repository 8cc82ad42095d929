// What every post-processor gets and gives: raw outputs in, detections normalized to the frame out.
import type { TensorData, TensorInfo } from '../engine.ts';
import type { Placement } from '../preprocess.ts';
import type { RawSsdSpec } from './anchors.ts';

export interface Box {
  /** Left, top, width, height as fractions of the frame. */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Detection {
  label: string;
  score: number;
  box: Box;
}

export interface PostContext {
  outputs: readonly TensorInfo[];
  labels: readonly string[];
  scoreThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  topK: number;
  softmax: boolean | 'auto';
  yoloVersion?: 'v5' | 'v8';
  nms: 'weighted' | 'plain';
  /** detection-ssd-anchors: anchors and box coding from the sidecar. */
  rawSsd?: RawSsdSpec;
  inputWidth: number;
  inputHeight: number;
  frameWidth: number;
  frameHeight: number;
  placement: Placement;
}

export type PostProcessor = (outputs: readonly TensorData[], ctx: PostContext) => Detection[];

export function labelOf(ctx: PostContext, index: number): string {
  return ctx.labels[index] ?? String(index);
}

/** Output `i` as real numbers: dequantized when the model outputs integers. */
export function realOutput(outputs: readonly TensorData[], ctx: PostContext, i: number): Float32Array {
  const data = outputs[i];
  if (data === undefined) throw new RangeError(`the model has no output ${i}`);
  if (data instanceof Float32Array) return data;
  const q = ctx.outputs[i]?.quantization ?? { scale: 1, zeroPoint: 0 };
  const out = new Float32Array(data.length);
  for (let j = 0; j < data.length; j++) out[j] = (Number(data[j]) - q.zeroPoint) * q.scale;
  return out;
}

/** A box in model-input fractions → frame fractions, undoing the resize/letterbox placement; clipped to the frame. */
export function toFrameBox(x: number, y: number, w: number, h: number, ctx: PostContext): Box {
  const { scaleX, scaleY, padX, padY } = ctx.placement;
  const left = (x * ctx.inputWidth - padX) / scaleX / ctx.frameWidth;
  const top = (y * ctx.inputHeight - padY) / scaleY / ctx.frameHeight;
  const right = ((x + w) * ctx.inputWidth - padX) / scaleX / ctx.frameWidth;
  const bottom = ((y + h) * ctx.inputHeight - padY) / scaleY / ctx.frameHeight;
  const cl = (v: number) => Math.min(Math.max(v, 0), 1);
  return { x: cl(left), y: cl(top), w: cl(right) - cl(left), h: cl(bottom) - cl(top) };
}
