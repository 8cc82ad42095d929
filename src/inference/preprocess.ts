// RGB24 frame (any size) → model input tensor: bilinear resize (optionally letterboxed), per-channel
// normalization, quantization to uint8/int8 when the model wants integers, NHWC or NCHW. Steady state allocates
// nothing: the output buffer is reused and the resize tables are kept per (source size, destination size).
import type { Quantization } from './engine.ts';

export interface Frame {
  /** Packed RGB24, width * height * 3 bytes. */
  data: Uint8Array;
  width: number;
  height: number;
}

export interface InputSpec {
  width: number;
  height: number;
  layout: 'NHWC' | 'NCHW';
  dtype: 'float32' | 'uint8' | 'int8';
  /** real = (pixel - mean) / std */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** For integer inputs: q = real / scale + zeroPoint. */
  quantization?: Quantization;
  letterbox: boolean;
  bgr: boolean;
}

/** Where the frame landed in the input: input_px = frame_px * scale + pad (per axis). */
export interface Placement {
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

/** Grey of the letterbox bars (the YOLO convention). */
export const LETTERBOX_FILL = 114;

interface Plan {
  srcWidth: number;
  srcHeight: number;
  placement: Placement;
  innerW: number;
  innerH: number;
  /** Byte offsets of the left/right source pixels per output column, and the right pixel's weight. */
  x0: Int32Array;
  x1: Int32Array;
  fx: Float32Array;
  /** Byte offsets of the top/bottom source rows per output row, and the bottom row's weight. */
  y0: Int32Array;
  y1: Int32Array;
  fy: Float32Array;
}

function axisTable(src: number, dst: number, stride: number): [Int32Array, Int32Array, Float32Array] {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const f = new Float32Array(dst);
  const ratio = src / dst;
  for (let d = 0; d < dst; d++) {
    // Half-pixel centres, as OpenCV and TF's half_pixel_centers resize.
    const s = Math.min(Math.max((d + 0.5) * ratio - 0.5, 0), src - 1);
    const lo = Math.floor(s);
    i0[d] = lo * stride;
    i1[d] = Math.min(lo + 1, src - 1) * stride;
    f[d] = s - lo;
  }
  return [i0, i1, f];
}

export class Preprocessor {
  readonly spec: InputSpec;
  readonly output: Float32Array | Uint8Array | Int8Array;
  private plan: Plan | undefined;
  /** value = pixel * gain[c] + offset[c], in the output's units (real or quantized). */
  private readonly gain: Float32Array;
  private readonly offset: Float32Array;

  constructor(spec: InputSpec) {
    this.spec = spec;
    const n = spec.width * spec.height * 3;
    this.output = spec.dtype === 'float32' ? new Float32Array(n) : spec.dtype === 'uint8' ? new Uint8Array(n) : new Int8Array(n);
    const q = spec.dtype === 'float32' ? { scale: 1, zeroPoint: 0 } : (spec.quantization ?? { scale: 1, zeroPoint: 0 });
    this.gain = new Float32Array(3);
    this.offset = new Float32Array(3);
    for (let c = 0; c < 3; c++) {
      this.gain[c] = 1 / (spec.std[c]! * q.scale);
      this.offset[c] = -spec.mean[c]! / (spec.std[c]! * q.scale) + q.zeroPoint;
    }
  }

  private planFor(srcWidth: number, srcHeight: number): Plan {
    if (this.plan && this.plan.srcWidth === srcWidth && this.plan.srcHeight === srcHeight) return this.plan;
    const { width, height, letterbox } = this.spec;
    let innerW = width;
    let innerH = height;
    if (letterbox) {
      const s = Math.min(width / srcWidth, height / srcHeight);
      innerW = Math.max(1, Math.round(srcWidth * s));
      innerH = Math.max(1, Math.round(srcHeight * s));
    }
    const padX = Math.floor((width - innerW) / 2);
    const padY = Math.floor((height - innerH) / 2);
    const [x0, x1, fx] = axisTable(srcWidth, innerW, 3);
    const [y0, y1, fy] = axisTable(srcHeight, innerH, srcWidth * 3);
    this.plan = { srcWidth, srcHeight, innerW, innerH, x0, x1, fx, y0, y1, fy, placement: { scaleX: innerW / srcWidth, scaleY: innerH / srcHeight, padX, padY } };
    if (letterbox) this.fillBars();
    return this.plan;
  }

  /** The bars never change for a given source size, so they are written once, when the plan is made. */
  private fillBars(): void {
    const { width, height, layout } = this.spec;
    const out = this.output;
    const plane = width * height;
    for (let c = 0; c < 3; c++) {
      const v = this.store(LETTERBOX_FILL * this.gain[c]! + this.offset[c]!);
      for (let p = 0; p < plane; p++) out[layout === 'NHWC' ? p * 3 + c : c * plane + p] = v;
    }
  }

  private store(v: number): number {
    if (this.spec.dtype === 'float32') return v;
    const [lo, hi] = this.spec.dtype === 'uint8' ? [0, 255] : [-128, 127];
    return Math.min(Math.max(Math.round(v), lo), hi);
  }

  run(frame: Frame): { tensor: Float32Array | Uint8Array | Int8Array; placement: Placement } {
    const plan = this.planFor(frame.width, frame.height);
    const { width, height, layout, bgr } = this.spec;
    const { x0, x1, fx, y0, y1, fy, innerW, innerH } = plan;
    const { padX, padY } = plan.placement;
    const src = frame.data;
    const out = this.output;
    const plane = width * height;
    const nhwc = layout === 'NHWC';
    const pixelStride = nhwc ? 3 : 1;
    const channelStride = nhwc ? 1 : plane;
    const integer = this.spec.dtype !== 'float32';
    const lo = this.spec.dtype === 'uint8' ? 0 : -128;
    const hi = this.spec.dtype === 'uint8' ? 255 : 127;
    // Destination channel c reads source channel sc[c].
    const s0 = bgr ? 2 : 0;
    const s2 = bgr ? 0 : 2;
    const g0 = this.gain[0]!, g1 = this.gain[1]!, g2 = this.gain[2]!;
    const o0 = this.offset[0]!, o1 = this.offset[1]!, o2 = this.offset[2]!;
    for (let y = 0; y < innerH; y++) {
      const top = y0[y]!;
      const bottom = y1[y]!;
      const wy = fy[y]!;
      let at = ((y + padY) * width + padX) * pixelStride;
      for (let x = 0; x < innerW; x++) {
        const l = x0[x]!;
        const r = x1[x]!;
        const wx = fx[x]!;
        const tl = top + l, tr = top + r, bl = bottom + l, br = bottom + r;
        // Interpolate horizontally on both rows, then vertically; per channel.
        let t = src[tl + s0]! + (src[tr + s0]! - src[tl + s0]!) * wx;
        let b = src[bl + s0]! + (src[br + s0]! - src[bl + s0]!) * wx;
        let v0 = (t + (b - t) * wy) * g0 + o0;
        t = src[tl + 1]! + (src[tr + 1]! - src[tl + 1]!) * wx;
        b = src[bl + 1]! + (src[br + 1]! - src[bl + 1]!) * wx;
        let v1 = (t + (b - t) * wy) * g1 + o1;
        t = src[tl + s2]! + (src[tr + s2]! - src[tl + s2]!) * wx;
        b = src[bl + s2]! + (src[br + s2]! - src[bl + s2]!) * wx;
        let v2 = (t + (b - t) * wy) * g2 + o2;
        if (integer) {
          v0 = Math.min(Math.max(Math.round(v0), lo), hi);
          v1 = Math.min(Math.max(Math.round(v1), lo), hi);
          v2 = Math.min(Math.max(Math.round(v2), lo), hi);
        }
        out[at] = v0;
        out[at + channelStride] = v1;
        out[at + 2 * channelStride] = v2;
        at += pixelStride;
      }
    }
    return { tensor: out, placement: plan.placement };
  }
}
