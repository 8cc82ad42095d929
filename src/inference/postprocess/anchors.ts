// Raw SSD heads: box regressions relative to a fixed grid of anchors plus one logit per class, decoded as
// MediaPipe's SsdAnchorsCalculator and TensorsToDetectionsCalculator do. BlazeFace and the Open Images SSD are
// both this; only their anchor settings and box coding differ.
import { nms, weightedNms } from './nms.ts';
import type { Candidate } from './nms.ts';
import { labelOf, realOutput, toFrameBox } from './types.ts';
import type { TensorData } from '../engine.ts';
import type { Detection, PostContext, PostProcessor } from './types.ts';

export interface AnchorSpec {
  minScale: number;
  maxScale: number;
  /** One per feature-map layer; consecutive layers with the same stride share a grid. */
  strides: readonly number[];
  aspectRatios: readonly number[];
  /** The first layer gets 3 boxes (0.1 scale at 1:1, then 2:1 and 1:2 at its scale), as TF's SSD exports. */
  reduceBoxesInLowestLayer: boolean;
  /** Aspect ratio of the extra box between this layer's scale and the next; 0 for none. */
  interpolatedScaleAspectRatio: number;
  /** Every anchor 1×1 (the regressions are then in input units). */
  fixedAnchorSize: boolean;
}

export interface RawSsdSpec {
  anchors: AnchorSpec;
  /** Divisors of the regressions: x, y (centre), w, h. */
  boxScale: readonly [number, number, number, number];
  /** Order of the first four regressions: `yx` = (y, x, h, w) as TF's SSD, `xy` = (x, y, w, h) as BlazeFace. */
  order: 'yx' | 'xy';
  /** Sizes are log-encoded: size = exp(raw / scale) × anchor size. */
  exponential: boolean;
  /** Classes never reported (e.g. 0, the background of TF's SSD). */
  ignoreClasses: readonly number[];
}

function scaleAt(spec: AnchorSpec, layer: number): number {
  const n = spec.strides.length;
  return n === 1 ? (spec.minScale + spec.maxScale) / 2 : spec.minScale + ((spec.maxScale - spec.minScale) * layer) / (n - 1);
}

/** Anchors in model order as (centre x, centre y, width, height) fractions of the input. */
export function ssdAnchors(spec: AnchorSpec, inputWidth: number, inputHeight: number): Float32Array {
  const out: number[] = [];
  const { strides } = spec;
  for (let layer = 0; layer < strides.length; ) {
    const ratios: number[] = [];
    const scales: number[] = [];
    let last = layer;
    while (last < strides.length && strides[last] === strides[layer]) {
      const scale = scaleAt(spec, last);
      if (last === 0 && spec.reduceBoxesInLowestLayer) {
        ratios.push(1, 2, 0.5);
        scales.push(0.1, scale, scale);
      } else {
        for (const r of spec.aspectRatios) {
          ratios.push(r);
          scales.push(scale);
        }
        if (spec.interpolatedScaleAspectRatio > 0) {
          const next = last === strides.length - 1 ? 1 : scaleAt(spec, last + 1);
          ratios.push(spec.interpolatedScaleAspectRatio);
          scales.push(Math.sqrt(scale * next));
        }
      }
      last++;
    }
    const cols = Math.ceil(inputWidth / strides[layer]!);
    const rows = Math.ceil(inputHeight / strides[layer]!);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        for (let k = 0; k < ratios.length; k++) {
          const root = Math.sqrt(ratios[k]!);
          const [w, h] = spec.fixedAnchorSize ? [1, 1] : [scales[k]! * root, scales[k]! / root];
          out.push((x + 0.5) / cols, (y + 0.5) / rows, w, h);
        }
      }
    }
    layer = last;
  }
  return Float32Array.from(out);
}

const anchorCache = new Map<string, Float32Array>();

function anchorsFor(spec: AnchorSpec, width: number, height: number): Float32Array {
  const key = `${width}x${height}:${JSON.stringify(spec)}`;
  let anchors = anchorCache.get(key);
  if (!anchors) {
    anchors = ssdAnchors(spec, width, height);
    anchorCache.set(key, anchors);
  }
  return anchors;
}

export function decodeRawSsd(outputs: readonly TensorData[], ctx: PostContext, spec: RawSsdSpec): Detection[] {
  // Which output is which by shape: the regressions have ≥ 4 values per anchor; on a tie, the first is boxes.
  const last = (i: number) => ctx.outputs[i]?.shape.at(-1) ?? 0;
  const boxIndex = last(0) >= 4 || last(1) < 4 ? 0 : 1;
  const regressions = realOutput(outputs, ctx, boxIndex);
  const logits = realOutput(outputs, ctx, 1 - boxIndex);
  const anchors = anchorsFor(spec.anchors, ctx.inputWidth, ctx.inputHeight);
  const count = anchors.length / 4;
  const classes = Math.max(1, Math.round(logits.length / count));
  const coords = Math.round(regressions.length / count);
  if (coords < 4 || classes * count !== logits.length) {
    throw new RangeError(`outputs of ${regressions.length} and ${logits.length} values do not fit ${count} anchors`);
  }
  const ignored = new Set(spec.ignoreClasses);
  const [sx, sy, sw, sh] = spec.boxScale;
  const [ix, iy, iw, ih] = spec.order === 'xy' ? [0, 1, 2, 3] : [1, 0, 3, 2];
  // The logit a score must reach, so most anchors skip the sigmoid.
  const minLogit = Math.log(ctx.scoreThreshold / (1 - ctx.scoreThreshold));
  const candidates: Candidate[] = [];
  for (let a = 0; a < count; a++) {
    let best = -Infinity;
    let bestClass = -1;
    for (let c = 0; c < classes; c++) {
      const v = logits[a * classes + c]!;
      if (v > best && !ignored.has(c)) {
        best = v;
        bestClass = c;
      }
    }
    if (bestClass < 0 || best < minLogit) continue;
    const r = a * coords;
    const [acx, acy, aw, ah] = [anchors[a * 4]!, anchors[a * 4 + 1]!, anchors[a * 4 + 2]!, anchors[a * 4 + 3]!];
    const cx = (regressions[r + ix]! / sx) * aw + acx;
    const cy = (regressions[r + iy]! / sy) * ah + acy;
    const w = spec.exponential ? Math.exp(regressions[r + iw]! / sw) * aw : (regressions[r + iw]! / sw) * aw;
    const h = spec.exponential ? Math.exp(regressions[r + ih]! / sh) * ah : (regressions[r + ih]! / sh) * ah;
    const logit = Math.min(Math.max(best, -100), 100);
    candidates.push({ x: cx - w / 2, y: cy - h / 2, w, h, score: 1 / (1 + Math.exp(-logit)), classIndex: bestClass });
  }
  const suppress = ctx.nms === 'weighted' ? weightedNms : nms;
  return suppress(candidates, ctx.iouThreshold, ctx.maxDetections).map((c) => ({
    label: labelOf(ctx, c.classIndex),
    score: c.score,
    box: toFrameBox(c.x, c.y, c.w, c.h, ctx),
  }));
}

/** detection-ssd-anchors: TF Object Detection API SSD heads, anchors from the sidecar. */
export const decodeSsdAnchors: PostProcessor = (outputs, ctx) => {
  if (!ctx.rawSsd) throw new RangeError('detection-ssd-anchors needs the anchors of the sidecar');
  return decodeRawSsd(outputs, ctx, ctx.rawSsd);
};
