import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LETTERBOX_FILL, Preprocessor } from '../../src/inference/preprocess.ts';
import type { Frame, InputSpec } from '../../src/inference/preprocess.ts';
import { prng } from '../fixtures/nets.ts';
import { toYuv420p, vtestFrame } from '../support/footage.ts';

function randomFrame(width: number, height: number, seed: number): Frame {
  const rand = prng(seed);
  return { data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rand() * 256)), width, height };
}

/** Straightforward bilinear sample (half-pixel centres, edge clamped) of channel c at destination (x, y). */
function sample(frame: Frame, dstW: number, dstH: number, x: number, y: number, c: number): number {
  const sx = Math.min(Math.max((x + 0.5) * (frame.width / dstW) - 0.5, 0), frame.width - 1);
  const sy = Math.min(Math.max((y + 0.5) * (frame.height / dstH) - 0.5, 0), frame.height - 1);
  const x0 = Math.floor(sx), y0 = Math.floor(sy);
  const x1 = Math.min(x0 + 1, frame.width - 1), y1 = Math.min(y0 + 1, frame.height - 1);
  const p = (px: number, py: number) => frame.data[(py * frame.width + px) * 3 + c]!;
  const top = p(x0, y0) * (1 - (sx - x0)) + p(x1, y0) * (sx - x0);
  const bottom = p(x0, y1) * (1 - (sx - x0)) + p(x1, y1) * (sx - x0);
  return top * (1 - (sy - y0)) + bottom * (sy - y0);
}

const base: InputSpec = { width: 24, height: 16, layout: 'NHWC', dtype: 'float32', mean: [127.5, 100, 50], std: [127.5, 60, 30], letterbox: false, bgr: false };

describe('preprocess', () => {
  for (const layout of ['NHWC', 'NCHW'] as const) {
    it(`resizes bilinearly and normalizes per channel (${layout}, float32)`, () => {
      const frame = randomFrame(37, 29, 1);
      const spec = { ...base, layout };
      const { tensor } = new Preprocessor(spec).run(frame);
      for (let y = 0; y < spec.height; y++) {
        for (let x = 0; x < spec.width; x++) {
          for (let c = 0; c < 3; c++) {
            const want = (sample(frame, spec.width, spec.height, x, y, c) - spec.mean[c]!) / spec.std[c]!;
            const at = layout === 'NHWC' ? (y * spec.width + x) * 3 + c : c * spec.width * spec.height + y * spec.width + x;
            assert.ok(Math.abs(tensor[at]! - want) < 1e-4, `(${x},${y},${c}): ${tensor[at]} vs ${want}`);
          }
        }
      }
    });
  }

  for (const dtype of ['uint8', 'int8'] as const) {
    it(`quantizes to ${dtype} with the model's scale and zero point, saturating`, () => {
      const frame = randomFrame(50, 40, 2);
      const quantization = { scale: 1 / 128, zeroPoint: dtype === 'uint8' ? 128 : 0 };
      const spec: InputSpec = { ...base, dtype, mean: [127.5, 127.5, 127.5], std: [100, 127.5, 127.5], quantization };
      const { tensor } = new Preprocessor(spec).run(frame);
      assert.ok(dtype === 'uint8' ? tensor instanceof Uint8Array : tensor instanceof Int8Array);
      const [lo, hi] = dtype === 'uint8' ? [0, 255] : [-128, 127];
      for (let i = 0; i < spec.width * spec.height; i++) {
        for (let c = 0; c < 3; c++) {
          const x = i % spec.width, y = Math.floor(i / spec.width);
          const real = (sample(frame, spec.width, spec.height, x, y, c) - 127.5) / spec.std[c]!;
          const want = Math.min(Math.max(Math.round(real / quantization.scale + quantization.zeroPoint), lo), hi);
          assert.ok(Math.abs(Number(tensor[i * 3 + c]) - want) <= 1, `${tensor[i * 3 + c]} vs ${want}`);
        }
      }
    });
  }

  it('letterboxes: keeps the aspect ratio, centres the frame, fills the bars, reports the placement', () => {
    const frame = randomFrame(40, 20, 3);
    const spec: InputSpec = { ...base, width: 16, height: 16, mean: [0, 0, 0], std: [1, 1, 1], letterbox: true };
    const { tensor, placement } = new Preprocessor(spec).run(frame);
    assert.deepEqual(placement, { scaleX: 16 / 40, scaleY: 8 / 20, padX: 0, padY: 4 });
    for (let x = 0; x < 16; x++) {
      assert.equal(tensor[(0 * 16 + x) * 3]!, LETTERBOX_FILL);
      assert.equal(tensor[(15 * 16 + x) * 3 + 2]!, LETTERBOX_FILL);
    }
    // Row 4 of the input is row 0 of the 16×8 resized frame.
    for (let x = 0; x < 16; x++) {
      assert.ok(Math.abs(tensor[(4 * 16 + x) * 3 + 1]! - sample(frame, 16, 8, x, 0, 1)) < 1e-3);
    }
  });

  it('swaps channels for BGR models', () => {
    const frame: Frame = { data: Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => [10, 20, 30][i % 3]!), width: 4, height: 4 };
    const { tensor } = new Preprocessor({ ...base, width: 2, height: 2, mean: [0, 0, 0], std: [1, 1, 1], bgr: true }).run(frame);
    assert.deepEqual(Array.from(tensor.subarray(0, 3)), [30, 20, 10]);
  });

  it('reuses its output buffer and tables from frame to frame, and re-plans on a new frame size', () => {
    const p = new Preprocessor(base);
    const a = p.run(randomFrame(64, 48, 4));
    const b = p.run(randomFrame(64, 48, 5));
    assert.equal(a.tensor, b.tensor);
    assert.equal(a.placement, b.placement);
    const c = p.run(randomFrame(32, 32, 6));
    assert.equal(c.tensor, a.tensor);
    assert.notEqual(c.placement, a.placement);
  });

  it('looks at a crop only: the same tensor as the frame cut to it', () => {
    const frame = randomFrame(120, 90, 8);
    const crop = { x: 30, y: 20, w: 60, h: 48 };
    const cut: Frame = { width: crop.w, height: crop.h, data: new Uint8Array(crop.w * crop.h * 3) };
    for (let y = 0; y < crop.h; y++) cut.data.set(frame.data.subarray(((crop.y + y) * 120 + crop.x) * 3, ((crop.y + y) * 120 + crop.x + crop.w) * 3), y * crop.w * 3);
    const spec = { ...base, width: 30, height: 24 };
    const a = new Preprocessor(spec).run(frame, crop);
    const b = new Preprocessor(spec).run(cut);
    assert.deepEqual(a.placement, b.placement);
    for (let i = 0; i < a.tensor.length; i++) assert.ok(Math.abs(a.tensor[i]! - b.tensor[i]!) < 1e-4, `${i}: ${a.tensor[i]} vs ${b.tensor[i]}`);
  });

  it("reads yuv420p as ffmpeg writes it: the same pixels as ffmpeg's own RGB, within chroma subsampling", async () => {
    const rgb = await vtestFrame(3);
    const yuv = await toYuv420p(rgb);
    const spec: InputSpec = { ...base, width: 300, height: 300, dtype: 'uint8', mean: [0, 0, 0], std: [1, 1, 1], quantization: { scale: 1, zeroPoint: 0 } };
    const a = new Preprocessor(spec).run(rgb).tensor.slice();
    const b = new Preprocessor(spec).run(yuv).tensor;
    const diffs = Array.from(a, (v, i) => Math.abs(v - b[i]!)).sort((x, y) => x - y);
    const mean = diffs.reduce((n, d) => n + d, 0) / diffs.length;
    assert.ok(mean < 2, `mean |diff| ${mean.toFixed(2)} levels`);
    assert.ok(diffs[Math.floor(diffs.length * 0.99)]! <= 12, `99th percentile ${diffs[Math.floor(diffs.length * 0.99)]} levels`);
  });
});
