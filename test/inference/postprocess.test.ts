import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TensorInfo } from '../../src/inference/engine.ts';
import { decodeRawSsd, ssdAnchors } from '../../src/inference/postprocess/anchors.ts';
import type { AnchorSpec } from '../../src/inference/postprocess/anchors.ts';
import { BLAZEFACE_ANCHORS, decodeBlazeface } from '../../src/inference/postprocess/blazeface.ts';
import { classify, softmax } from '../../src/inference/postprocess/classification.ts';
import { iou, nms, weightedNms } from '../../src/inference/postprocess/nms.ts';
import { decodeSsd } from '../../src/inference/postprocess/ssd.ts';
import type { PostContext } from '../../src/inference/postprocess/types.ts';
import { decodeYolo } from '../../src/inference/postprocess/yolo.ts';

function context(outputs: TensorInfo[], over: Partial<PostContext> = {}): PostContext {
  return {
    outputs,
    labels: ['cat', 'dog', 'bird'],
    scoreThreshold: 0.5,
    iouThreshold: 0.45,
    maxDetections: 100,
    topK: 3,
    softmax: 'auto',
    nms: 'plain',
    inputWidth: 100,
    inputHeight: 100,
    frameWidth: 100,
    frameHeight: 100,
    placement: { scaleX: 1, scaleY: 1, padX: 0, padY: 0 },
    ...over,
  };
}

const f32 = (name: string, shape: number[]): TensorInfo => ({ name, shape, dtype: 'float32' });
const near = (a: number, b: number, eps = 1e-5) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

describe('classification', () => {
  it('applies softmax to logits and returns the top k above the threshold', () => {
    const logits = Float32Array.of(1, 3, 0.5);
    const got = classify([logits], context([f32('logits', [1, 3])], { scoreThreshold: 0.1 }));
    const p = softmax(logits);
    assert.deepEqual(got.map((d) => d.label), ['dog', 'cat']);
    near(got[0]!.score, p[1]!);
    assert.deepEqual(got[0]!.box, { x: 0, y: 0, w: 1, h: 1 });
  });

  it('leaves probabilities alone and dequantizes uint8 outputs', () => {
    const info: TensorInfo = { name: 'p', shape: [1, 3], dtype: 'uint8', quantization: { scale: 1 / 256, zeroPoint: 0 } };
    const got = classify([Uint8Array.of(16, 224, 16)], context([info]));
    assert.equal(got.length, 1);
    assert.equal(got[0]!.label, 'dog');
    near(got[0]!.score, 224 / 256);
  });
});

describe('nms', () => {
  const a = { x: 0, y: 0, w: 10, h: 10, score: 0.9, classIndex: 0 };
  const b = { x: 1, y: 1, w: 10, h: 10, score: 0.8, classIndex: 0 };
  const c = { x: 1, y: 1, w: 10, h: 10, score: 0.7, classIndex: 1 };
  it('computes IoU', () => {
    near(iou(a, b), 81 / 119);
    assert.equal(iou(a, { ...a, x: 20 }), 0);
  });
  it('suppresses overlapping boxes of the same class only', () => {
    assert.deepEqual(nms([b, c, a], 0.5, 10), [a, c]);
  });
  it('weighted NMS averages a cluster by score', () => {
    const [kept] = weightedNms([a, b], 0.5, 10);
    near(kept!.x, (0 * 0.9 + 1 * 0.8) / 1.7);
    assert.equal(kept!.score, 0.9);
  });
});

describe('ssd', () => {
  it('reads boxes, classes, scores and count, and undoes the letterbox', () => {
    const outputs = [Float32Array.of(0.25, 0.1, 0.75, 0.5, 0, 0, 1, 1), Float32Array.of(2, 0), Float32Array.of(0.9, 0.3), Float32Array.of(2)];
    const infos = [f32('boxes', [1, 2, 4]), f32('classes', [1, 2]), f32('scores', [1, 2]), f32('count', [1])];
    // A 200×100 frame letterboxed into 100×100: scale 0.5, 25 px bars top and bottom.
    const ctx = context(infos, { frameWidth: 200, frameHeight: 100, placement: { scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 25 } });
    const got = decodeSsd(outputs, ctx);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.label, 'bird');
    near(got[0]!.box.x, 0.1);
    near(got[0]!.box.w, 0.4);
    near(got[0]!.box.y, 0);
    near(got[0]!.box.h, 1);
  });
});

describe('yolo', () => {
  // Two overlapping boxes of class 1 and one of class 0, in input pixels (cx, cy, w, h).
  const boxes = [
    [50, 50, 20, 20, 0.1, 0.9],
    [52, 50, 20, 20, 0.1, 0.8],
    [20, 20, 10, 10, 0.7, 0.2],
  ];
  it('decodes the v8 layout [1, 4 + C, N] with NMS', () => {
    const values = new Float32Array(6 * 3);
    boxes.forEach((b, n) => b.forEach((v, k) => (values[k * 3 + n] = v)));
    const got = decodeYolo([values], context([f32('output0', [1, 6, 3])], { labels: ['person', 'car'], yoloVersion: 'v8' }));
    assert.deepEqual(got.map((d) => d.label), ['car', 'person']);
    near(got[0]!.score, 0.9);
    near(got[0]!.box.x, 0.4);
    near(got[0]!.box.w, 0.2);
  });
  it('decodes the v5 layout [1, N, 5 + C] (objectness × class score)', () => {
    const values = Float32Array.from(boxes.flatMap(([cx, cy, w, h, c0, c1]) => [cx!, cy!, w!, h!, 0.9, c0!, c1!]));
    const got = decodeYolo([values], context([f32('output0', [1, 3, 7])], { labels: ['person', 'car'], yoloVersion: 'v5' }));
    assert.deepEqual(got.map((d) => d.label), ['car', 'person']);
    near(got[0]!.score, 0.81);
  });
});

describe('blazeface', () => {
  it('generates the 896 short-range anchors', () => {
    const anchors = ssdAnchors(BLAZEFACE_ANCHORS, 128, 128);
    assert.equal(anchors.length, 896 * 4);
    // First: stride 8 grid (16×16, 2 per cell); then stride 16 (8×8, 6 per cell); all 1×1.
    assert.deepEqual(Array.from(anchors.subarray(0, 4)), [0.5 / 16, 0.5 / 16, 1, 1]);
    assert.deepEqual([anchors[512 * 4], anchors[512 * 4 + 1]], [0.5 / 8, 0.5 / 8]);
    assert.deepEqual([anchors[895 * 4], anchors[895 * 4 + 1]], [7.5 / 8, 7.5 / 8]);
  });

  it('decodes a box relative to its anchor, with sigmoid scores', () => {
    const regressors = new Float32Array(896 * 16);
    const logits = new Float32Array(896).fill(-10);
    // Anchor 600: the 88th of the stride-16 grid (6 per cell) → cell 14 = (6, 1), centre (6.5/8, 1.5/8).
    const i = 600;
    regressors.set([-12.8, 6.4, 32, 48], i * 16);
    logits[i] = 2;
    const ctx = context([f32('regressors', [1, 896, 16]), f32('classificators', [1, 896, 1])], { labels: ['face'], inputWidth: 128, inputHeight: 128, frameWidth: 128, frameHeight: 128 });
    const [face, ...rest] = decodeBlazeface([regressors, logits], ctx);
    assert.equal(rest.length, 0);
    assert.equal(face!.label, 'face');
    near(face!.score, 1 / (1 + Math.exp(-2)));
    const anchors = ssdAnchors(BLAZEFACE_ANCHORS, 128, 128);
    assert.deepEqual([anchors[i * 4], anchors[i * 4 + 1]], [6.5 / 8, 1.5 / 8]);
    near(face!.box.x, 6.5 / 8 - 0.1 - 0.125);
    near(face!.box.y, 1.5 / 8 + 0.05 - 0.1875);
    near(face!.box.w, 0.25);
    near(face!.box.h, 0.375);
  });
});

describe('raw SSD with anchors (TF Object Detection API coding)', () => {
  // The Open Images SSD of MediaPipe's Objectron: 300×300, six layers, 1917 anchors.
  const OID: AnchorSpec = {
    minScale: 0.2,
    maxScale: 0.95,
    strides: [16, 32, 64, 128, 256, 512],
    aspectRatios: [1, 2, 0.5, 3, 0.3333],
    reduceBoxesInLowestLayer: true,
    interpolatedScaleAspectRatio: 1,
    fixedAnchorSize: false,
  };

  it('generates the 1917 anchors: 3 per cell on the 19×19 grid, then 6 per cell, with their sizes', () => {
    const anchors = ssdAnchors(OID, 300, 300);
    assert.equal(anchors.length / 4, 19 * 19 * 3 + 10 * 10 * 6 + 5 * 5 * 6 + 3 * 3 * 6 + 2 * 2 * 6 + 6);
    // Lowest layer: 0.1 at 1:1, then 2:1 and 1:2 at its scale (0.2).
    near(anchors[0]!, 0.5 / 19);
    near(anchors[2]!, 0.1);
    near(anchors[3]!, 0.1);
    near(anchors[4 + 2]!, 0.2 * Math.SQRT2);
    near(anchors[4 + 3]!, 0.2 / Math.SQRT2);
    // Second layer (scale 0.35): 1:1 first; the last box is the interpolated one, sqrt(0.35 × 0.5) square.
    const second = 19 * 19 * 3 * 4;
    near(anchors[second]!, 0.5 / 10);
    near(anchors[second + 2]!, 0.35);
    near(anchors[second + 5 * 4 + 2]!, Math.sqrt(0.35 * 0.5));
    // The last layer's interpolated box uses scale 1 as "next".
    near(anchors[anchors.length - 2]!, Math.sqrt(0.95 * 1));
  });

  it('decodes (y, x, h, w) regressions with exponential sizes, skips the background class, suppresses overlaps', () => {
    const anchors = ssdAnchors(OID, 300, 300);
    const n = anchors.length / 4;
    const classes = 3;
    const boxes = new Float32Array(n * 4);
    const logits = new Float32Array(n * classes).fill(-8);
    const a = 1083 + (5 * 10 + 5) * 6; // the 1:1 anchor of cell (5, 5) of the 10×10 grid
    const [acx, acy, aw, ah] = anchors.subarray(a * 4, a * 4 + 4);
    boxes.set([1, -2, Math.log(2) * 5, 0], a * 4);
    logits[a * classes + 0] = 9; // background: ignored even though it is the highest
    logits[a * classes + 2] = 1.5;
    const cx = acx! + (-2 / 10) * aw!;
    const cy = acy! + (1 / 10) * ah!;
    // A second, weaker box of the same class at the same place (from the next anchor of the cell) is suppressed.
    const [bcx, bcy, bw, bh] = anchors.subarray((a + 1) * 4, (a + 2) * 4);
    boxes.set([((cy - bcy!) / bh!) * 10, ((cx - bcx!) / bw!) * 10, Math.log((2 * ah!) / bh!) * 5, Math.log(aw! / bw!) * 5], (a + 1) * 4);
    logits[(a + 1) * classes + 2] = 1;
    const outputs = [f32('box_encodings', [1, n, 4]), f32('class_predictions', [1, n, classes])];
    const ctx = context(outputs, { labels: ['background', 'person', 'car'], inputWidth: 300, inputHeight: 300, frameWidth: 300, frameHeight: 300 });
    const spec = { anchors: OID, boxScale: [10, 10, 5, 5] as const, order: 'yx' as const, exponential: true, ignoreClasses: [0] };
    const got = decodeRawSsd([boxes, logits], ctx, spec);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.label, 'car');
    near(got[0]!.score, 1 / (1 + Math.exp(-1.5)));
    near(got[0]!.box.w, aw!);
    near(got[0]!.box.h, 2 * ah!);
    near(got[0]!.box.x, cx - aw! / 2);
    near(got[0]!.box.y, cy - ah!);
  });
});
