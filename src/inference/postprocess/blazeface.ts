// BlazeFace (MediaPipe face_detection_short_range.tflite): 896 SSD anchors on a 128×128 input, 16 regressors
// per anchor (box centre/size then 6 keypoints, in input pixels relative to the anchor), one logit per anchor.
import { nms, weightedNms } from './nms.ts';
import type { Candidate } from './nms.ts';
import { labelOf, realOutput, toFrameBox } from './types.ts';
import type { PostProcessor } from './types.ts';

export interface AnchorOptions {
  inputSize: number;
  strides: readonly number[];
  /** Anchors per cell for each layer: the aspect ratio 1.0 plus the interpolated-scale one. */
  anchorsPerLayer: number;
}

export const SHORT_RANGE: AnchorOptions = { inputSize: 128, strides: [8, 16, 16, 16], anchorsPerLayer: 2 };

/** Anchor centres (fractions of the input) in model order; consecutive layers of one stride share a grid. */
export function ssdAnchors(options: AnchorOptions): Float32Array {
  const centres: number[] = [];
  const { strides, inputSize } = options;
  for (let layer = 0; layer < strides.length; ) {
    const stride = strides[layer]!;
    let perCell = 0;
    while (layer < strides.length && strides[layer] === stride) {
      perCell += options.anchorsPerLayer;
      layer++;
    }
    const cells = Math.ceil(inputSize / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let k = 0; k < perCell; k++) centres.push((x + 0.5) / cells, (y + 0.5) / cells);
      }
    }
  }
  return Float32Array.from(centres);
}

const anchorCache = new Map<number, Float32Array>();

export const decodeBlazeface: PostProcessor = (outputs, ctx) => {
  // Which output is which by shape: [1, N, 16] regressors, [1, N, 1] scores.
  const regIndex = ctx.outputs.findIndex((o) => (o.shape[o.shape.length - 1] ?? 0) >= 4);
  const regressors = realOutput(outputs, ctx, regIndex);
  const logits = realOutput(outputs, ctx, regIndex === 0 ? 1 : 0);
  const size = ctx.inputWidth;
  let anchors = anchorCache.get(size);
  if (!anchors) {
    anchors = ssdAnchors({ ...SHORT_RANGE, inputSize: size });
    anchorCache.set(size, anchors);
  }
  const count = Math.min(logits.length, anchors.length / 2);
  const coords = regressors.length / logits.length;
  // Logit threshold equivalent to the score threshold, so most anchors skip the sigmoid.
  const minLogit = Math.log(ctx.scoreThreshold / (1 - ctx.scoreThreshold));
  const candidates: Candidate[] = [];
  for (let i = 0; i < count; i++) {
    const logit = Math.min(Math.max(logits[i]!, -100), 100);
    if (logit < minLogit) continue;
    const r = i * coords;
    const cx = regressors[r]! / size + anchors[i * 2]!;
    const cy = regressors[r + 1]! / size + anchors[i * 2 + 1]!;
    const w = regressors[r + 2]! / size;
    const h = regressors[r + 3]! / size;
    candidates.push({ x: cx - w / 2, y: cy - h / 2, w, h, score: 1 / (1 + Math.exp(-logit)), classIndex: 0 });
  }
  const suppress = ctx.nms === 'weighted' ? weightedNms : nms;
  return suppress(candidates, ctx.iouThreshold, ctx.maxDetections).map((c) => ({
    label: labelOf(ctx, c.classIndex),
    score: c.score,
    box: toFrameBox(c.x, c.y, c.w, c.h, ctx),
  }));
};
