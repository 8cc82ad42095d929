// Frame (RGB24 or yuv420p, any size, optionally a crop of it) → model input tensor: bilinear resize (optionally
// letterboxed), colour conversion, per-channel normalization, quantization to uint8/int8 when the model wants
// integers, NHWC or NCHW. Steady state allocates nothing: the output buffer is reused and the resize tables are
// kept for the last (frame size, crop) seen.
import type { Quantization } from './engine.ts';

export type PixelFormat = 'rgb24' | 'yuv420p';

export interface Frame {
  /** Packed RGB24 (width × height × 3 bytes) or planar yuv420p (Y, then U and V at half size), as ffmpeg writes. */
  data: Uint8Array;
  width: number;
  height: number;
  /** Default `rgb24`. */
  format?: PixelFormat;
}

/** A rectangle of the frame in pixels. */
export interface Crop {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Bytes of one frame of the given size and format. */
export function frameBytes(width: number, height: number, format: PixelFormat = 'rgb24'): number {
  return format === 'rgb24' ? width * height * 3 : width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
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
  key: string;
  placement: Placement;
  innerW: number;
  innerH: number;
  /** Left/right source sample per output column (byte offsets into a row of the sampled plane), and the right one's weight. */
  x0: Int32Array;
  x1: Int32Array;
  fx: Float32Array;
  /** Top/bottom source row per output row (byte offsets of the row), and the bottom one's weight. */
  y0: Int32Array;
  y1: Int32Array;
  fy: Float32Array;
  /** yuv420p: the same for the half-size chroma planes. */
  chroma?: { x0: Int32Array; x1: Int32Array; fx: Float32Array; y0: Int32Array; y1: Int32Array; fy: Float32Array };
}

/**
 * For each of `dst` outputs, the two source samples around it and the weight of the second: the crop
 * [start, start + length) of an axis of `size` samples, half-pixel centres (as OpenCV and TF's half_pixel_centers
 * resize), clamped to the frame so a crop's edge blends with what lies just outside it.
 */
function axisTable(start: number, length: number, size: number, dst: number, stride: number): [Int32Array, Int32Array, Float32Array] {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const f = new Float32Array(dst);
  const ratio = length / dst;
  for (let d = 0; d < dst; d++) {
    const s = Math.min(Math.max(start + (d + 0.5) * ratio - 0.5, 0), size - 1);
    const lo = Math.floor(s);
    i0[d] = lo * stride;
    i1[d] = Math.min(lo + 1, size - 1) * stride;
    f[d] = s - lo;
  }
  return [i0, i1, f];
}

// BT.601 limited range, what ffmpeg's yuv420p holds unless told otherwise.
const YUV_Y = 1.164383;
const YUV_RV = 1.596027;
const YUV_GU = -0.391762;
const YUV_GV = -0.812968;
const YUV_BU = 2.017232;

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

  private planFor(frame: Frame, crop: Crop): Plan {
    const format = frame.format ?? 'rgb24';
    const key = `${format}:${frame.width}x${frame.height}:${crop.x},${crop.y},${crop.w},${crop.h}`;
    if (this.plan?.key === key) return this.plan;
    const { width, height, letterbox } = this.spec;
    let innerW = width;
    let innerH = height;
    if (letterbox) {
      const s = Math.min(width / crop.w, height / crop.h);
      innerW = Math.max(1, Math.round(crop.w * s));
      innerH = Math.max(1, Math.round(crop.h * s));
    }
    const padX = Math.floor((width - innerW) / 2);
    const padY = Math.floor((height - innerH) / 2);
    const rgb = format === 'rgb24';
    const [x0, x1, fx] = axisTable(crop.x, crop.w, frame.width, innerW, rgb ? 3 : 1);
    const [y0, y1, fy] = axisTable(crop.y, crop.h, frame.height, innerH, rgb ? frame.width * 3 : frame.width);
    const plan: Plan = { key, innerW, innerH, x0, x1, fx, y0, y1, fy, placement: { scaleX: innerW / crop.w, scaleY: innerH / crop.h, padX, padY } };
    if (!rgb) {
      // Chroma samples sit between two luma samples: luma coordinate s is chroma coordinate (s + 0.5) / 2 - 0.5.
      const cw = Math.ceil(frame.width / 2);
      const ch = Math.ceil(frame.height / 2);
      const [cx0, cx1, cfx] = axisTable(crop.x / 2, crop.w / 2, cw, innerW, 1);
      const [cy0, cy1, cfy] = axisTable(crop.y / 2, crop.h / 2, ch, innerH, cw);
      plan.chroma = { x0: cx0, x1: cx1, fx: cfx, y0: cy0, y1: cy1, fy: cfy };
    }
    this.plan = plan;
    if (letterbox) this.fillBars();
    return plan;
  }

  /** The bars never change for a given crop size, so they are written when the plan is made. */
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

  /** The frame, or the `crop` of it (pixels, inside the frame), as the model's input tensor. */
  run(frame: Frame, crop: Crop = { x: 0, y: 0, w: frame.width, h: frame.height }): { tensor: Float32Array | Uint8Array | Int8Array; placement: Placement } {
    const plan = this.planFor(frame, crop);
    const { width, layout, bgr } = this.spec;
    const { x0, x1, fx, y0, y1, fy, innerW, innerH } = plan;
    const { padX, padY } = plan.placement;
    const src = frame.data;
    const out = this.output;
    const nhwc = layout === 'NHWC';
    const pixelStride = nhwc ? 3 : 1;
    const channelStride = nhwc ? 1 : width * this.spec.height;
    const integer = this.spec.dtype !== 'float32';
    const lo = this.spec.dtype === 'uint8' ? 0 : -128;
    const hi = this.spec.dtype === 'uint8' ? 255 : 127;
    // Gains and offsets per source channel (R, G, B) and where each goes: BGR models take blue first.
    const gr = this.gain[0]!, gg = this.gain[1]!, gb = this.gain[2]!;
    const or = this.offset[0]!, og = this.offset[1]!, ob = this.offset[2]!;
    const atR = bgr ? 2 * channelStride : 0;
    const atB = bgr ? 0 : 2 * channelStride;
    const chroma = plan.chroma;
    const uBase = frame.width * frame.height;
    const vBase = uBase + Math.ceil(frame.width / 2) * Math.ceil(frame.height / 2);
    for (let y = 0; y < innerH; y++) {
      const top = y0[y]!, bottom = y1[y]!, wy = fy[y]!;
      let at = ((y + padY) * width + padX) * pixelStride;
      for (let x = 0; x < innerW; x++) {
        const l = x0[x]!, r = x1[x]!, wx = fx[x]!;
        const tl = top + l, tr = top + r, bl = bottom + l, br = bottom + r;
        let red: number, green: number, blue: number;
        if (chroma === undefined) {
          // Interpolate horizontally on both rows, then vertically; per channel.
          let t = src[tl]! + (src[tr]! - src[tl]!) * wx;
          let b = src[bl]! + (src[br]! - src[bl]!) * wx;
          red = t + (b - t) * wy;
          t = src[tl + 1]! + (src[tr + 1]! - src[tl + 1]!) * wx;
          b = src[bl + 1]! + (src[br + 1]! - src[bl + 1]!) * wx;
          green = t + (b - t) * wy;
          t = src[tl + 2]! + (src[tr + 2]! - src[tl + 2]!) * wx;
          b = src[bl + 2]! + (src[br + 2]! - src[bl + 2]!) * wx;
          blue = t + (b - t) * wy;
        } else {
          let t = src[tl]! + (src[tr]! - src[tl]!) * wx;
          let b = src[bl]! + (src[br]! - src[bl]!) * wx;
          const luma = (t + (b - t) * wy - 16) * YUV_Y;
          const ct = chroma.y0[y]!, cb = chroma.y1[y]!, cl = chroma.x0[x]!, cr = chroma.x1[x]!, cwx = chroma.fx[x]!, cwy = chroma.fy[y]!;
          t = src[uBase + ct + cl]! + (src[uBase + ct + cr]! - src[uBase + ct + cl]!) * cwx;
          b = src[uBase + cb + cl]! + (src[uBase + cb + cr]! - src[uBase + cb + cl]!) * cwx;
          const u = t + (b - t) * cwy - 128;
          t = src[vBase + ct + cl]! + (src[vBase + ct + cr]! - src[vBase + ct + cl]!) * cwx;
          b = src[vBase + cb + cl]! + (src[vBase + cb + cr]! - src[vBase + cb + cl]!) * cwx;
          const v = t + (b - t) * cwy - 128;
          red = Math.min(Math.max(luma + YUV_RV * v, 0), 255);
          green = Math.min(Math.max(luma + YUV_GU * u + YUV_GV * v, 0), 255);
          blue = Math.min(Math.max(luma + YUV_BU * u, 0), 255);
        }
        let vr = red * gr + or;
        let vg = green * gg + og;
        let vb = blue * gb + ob;
        if (integer) {
          vr = Math.min(Math.max(Math.round(vr), lo), hi);
          vg = Math.min(Math.max(Math.round(vg), lo), hi);
          vb = Math.min(Math.max(Math.round(vb), lo), hi);
        }
        out[at + atR] = vr;
        out[at + channelStride] = vg;
        out[at + atB] = vb;
        at += pixelStride;
      }
    }
    return { tensor: out, placement: plan.placement };
  }
}
