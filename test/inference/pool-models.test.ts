// The shipped models, through the pool as cameras use them (yuv420p frames from ffmpeg, square regions), on
// people and cars of real footage slid across a grey scene.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InferencePool } from '../../src/inference/pool/pool.ts';
import type { Detection } from '../../src/inference/postprocess/types.ts';
import type { Crop, Frame } from '../../src/inference/preprocess.ts';
import { regionAround, slideScene, toYuv420p, vtestFrame } from '../support/footage.ts';

function iou(a: Crop, b: Crop): number {
  const w = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  return (w * h) / (a.w * a.h + b.w * b.h - w * h);
}

/** The detection of one of `labels` that overlaps `truth` (pixels) best. */
function match(detections: Detection[], labels: string[], truth: Crop, frame: Frame): { label: string; score: number; iou: number } | undefined {
  const scored = detections
    .filter((d) => labels.includes(d.label))
    .map((d) => ({ label: d.label, score: d.score, iou: iou(truth, { x: d.box.x * frame.width, y: d.box.y * frame.height, w: d.box.w * frame.width, h: d.box.h * frame.height }) }));
  return scored.sort((a, b) => b.iou - a.iou)[0];
}

describe('shipped models in the pool, on people and cars of real footage', () => {
  const pool = new InferencePool({ workers: 1 });
  let source: Frame;
  before(async () => {
    source = await vtestFrame(0);
    await pool.load('coco', 'models/ssd-mobilenet-v2-coco.json');
    await pool.load('oid', 'models/ssd-mobilenet-v2-oid.json');
  });
  after(() => pool.close());

  it('the default model (SSD MobileNet v2 COCO, quantized) finds both people and both cars as they slide across', async (t) => {
    const info = pool.models().find((m) => m.key === 'coco')!.active!;
    assert.deepEqual([info.name, info.task, info.engine, info.input.width, info.input.height], ['ssd-mobilenet-v2-coco', 'detection-ssd', 'tflite', 300, 300]);
    assert.equal(info.labels[0], 'person');
    assert.equal(info.labels[2], 'car');
    for (const shift of [0, 120]) {
      const scene = slideScene(source, shift);
      const frame = await toYuv420p(scene.frame);
      const found: string[] = [];
      // The people, the small car, and the white van (which COCO calls car, truck or bus depending on the pixels).
      const expected = [
        { labels: ['person'], min: 0.85 },
        { labels: ['person'], min: 0.85 },
        { labels: ['car', 'truck', 'bus'], min: 0.6 },
        { labels: ['car'], min: 0.8 },
      ];
      for (const [i, object] of scene.objects.entries()) {
        const { labels, min } = expected[i]!;
        const r = await pool.detect({ camera: 'test', model: 'coco', frame, regions: [regionAround(object.box, 200, frame)] });
        const best = match(r.detections, labels, object.box, frame);
        assert.ok(best, `shift ${shift}: no ${labels.join('/')} at ${JSON.stringify(object.box)}: ${JSON.stringify(r.detections)}`);
        assert.ok(best.iou >= 0.5, `shift ${shift}: the ${best.label} box is off (IoU ${best.iou.toFixed(2)})`);
        assert.ok(best.score >= min, `shift ${shift}: ${best.label} at ${best.score.toFixed(2)}`);
        found.push(`${best.label} ${best.score.toFixed(2)}`);
      }
      t.diagnostic(`shift ${shift}: ${found.join(', ')}`);
    }
  });

  it('the Open Images alternative (SSD MobileNet v2, float, anchor-decoded) finds the small car', async (t) => {
    const scene = slideScene(source, 0);
    const frame = await toYuv420p(scene.frame);
    const car = scene.objects[3]!;
    const r = await pool.detect({ camera: 'test', model: 'oid', frame, regions: [regionAround(car.box, 160, frame)] });
    const best = match(r.detections, ['car'], car.box, frame);
    assert.ok(best && best.iou >= 0.5 && best.score >= 0.6, JSON.stringify(r.detections));
    t.diagnostic(`car ${best.score.toFixed(2)}`);
  });

  it('looks at the whole frame when no region is given', async () => {
    const frame = await toYuv420p(source);
    const r = await pool.detect({ camera: 'test', model: 'coco', frame });
    // vtest.avi's first frame: three people walking, at 0.88 or more.
    assert.ok(r.detections.filter((d) => d.label === 'person' && d.score >= 0.85).length >= 3, JSON.stringify(r.detections));
    assert.equal(r.runs, 1);
  });
});
