import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { inferCommand } from '../../src/cli/infer.ts';
import { buildSsdTflite, buildYoloOnnx } from '../fixtures/detection-models.ts';
import { fixture, GENERATED_DIR, tinyCnn } from '../fixtures/generate.ts';
import { FACE_BOUNDS, faceImage, flatImage } from '../fixtures/images.ts';

interface Line {
  image: string;
  detections: { label: string; score: number; box: { x: number; y: number; w: number; h: number } }[];
  timings_ms: { preprocess: number; inference: number; postprocess: number };
}

/** Runs the command in-process, capturing what it writes. */
async function run(argv: string[]): Promise<{ code: number; lines: Line[]; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await inferCommand(argv, { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } });
  return { code, lines: out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line), stderr: err.join('') };
}

function sidecar(model: string, body: object): string {
  writeFileSync(`${model}.json`, JSON.stringify({ name: path.basename(model), version: '1', ...body }));
  return `${model}.json`;
}

describe('edgeloop infer', () => {
  it('finds the face in a drawn face with the real BlazeFace model (models/blazeface.json)', async () => {
    const image = await faceImage();
    const { code, lines, stderr } = await run(['-m', 'models/blazeface.json', image]);
    assert.equal(code, 0, stderr);
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line!.image, image);
    assert.equal(line!.detections.length, 1);
    const face = line!.detections[0]!;
    assert.equal(face.label, 'face');
    assert.ok(face.score >= 0.6);
    const centre = (b: { x: number; w: number }) => b.x + b.w / 2;
    assert.ok(Math.abs(centre(face.box) - centre(FACE_BOUNDS)) < 0.06, JSON.stringify(face.box));
    assert.ok(Math.abs(face.box.y + face.box.h / 2 - (FACE_BOUNDS.y + FACE_BOUNDS.h / 2)) < 0.08, JSON.stringify(face.box));
    assert.ok(face.box.w > 0.25 && face.box.w < 0.6, JSON.stringify(face.box));
    for (const t of Object.values(line!.timings_ms)) assert.ok(t >= 0);
  });

  it('finds no face in a flat picture', async () => {
    const { code, lines } = await run(['-m', 'models/blazeface.json', await flatImage('png')]);
    assert.equal(code, 0);
    assert.deepEqual(lines[0]!.detections, []);
  });

  it('classifies with labels from a file, given the model file (sidecar found next to it)', async () => {
    const model = tinyCnn('onnx', 'f32');
    writeFileSync(path.join(GENERATED_DIR, 'tiny-labels.txt'), 'a\nb\nc\nd\ne\n');
    sidecar(model, { task: 'classification', labels: 'tiny-labels.txt', score_threshold: 0, top_k: 2, input: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] } });
    const image = await flatImage();
    const { code, lines, stderr } = await run(['-m', model, '--threads', '2', image, image]);
    assert.equal(code, 0, stderr);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.detections.length, 2);
    assert.ok(lines[0]!.detections.every((d) => 'abcde'.includes(d.label)));
    assert.ok(lines[0]!.detections[0]!.score >= lines[0]!.detections[1]!.score);
  });

  it('decodes SSD outputs from a TFLite model', async () => {
    const model = fixture('ssd.tflite', () => buildSsdTflite([[0.1, 0.2, 0.5, 0.6], [0, 0, 1, 1]], [1, 0], [0.95, 0.4]));
    const { code, lines, stderr } = await run(['-m', sidecar(model, { task: 'detection-ssd', labels: ['cat', 'dog'] }), await flatImage()]);
    assert.equal(code, 0, stderr);
    assert.equal(lines[0]!.detections.length, 1);
    const d = lines[0]!.detections[0]!;
    assert.equal(d.label, 'dog');
    assert.ok(Math.abs(d.box.x - 0.2) < 1e-5 && Math.abs(d.box.w - 0.4) < 1e-5 && Math.abs(d.box.y - 0.1) < 1e-5, JSON.stringify(d.box));
  });

  it('decodes a YOLOv8 head from an ONNX model, letterboxed, with NMS', async () => {
    // Three boxes (cx, cy, w, h in 32-px input) over two classes: two overlap and merge.
    const boxes = [[16, 16, 8, 8, 0.9, 0.1], [17, 16, 8, 8, 0.8, 0.1], [8, 8, 4, 4, 0.1, 0.7]];
    const values = new Array<number>(18);
    boxes.forEach((b, n) => b.forEach((v, k) => (values[k * 3 + n] = v)));
    const model = fixture('yolo.onnx', () => buildYoloOnnx([1, 6, 3], values));
    const file = sidecar(model, { task: 'detection-yolo', yolo_version: 'v8', labels: ['person', 'bike'], input: { letterbox: true } });
    const { code, lines, stderr } = await run(['-m', file, await flatImage()]);
    assert.equal(code, 0, stderr);
    const got = lines[0]!.detections;
    assert.deepEqual(got.map((d) => d.label), ['person', 'bike']);
    // 64×48 letterboxed into 32×32: scale 0.5, 4 px bars top and bottom; the box centre stays at the middle.
    assert.ok(Math.abs(got[0]!.box.x + got[0]!.box.w / 2 - 0.5) < 1e-5);
    assert.ok(Math.abs(got[0]!.box.h - 8 / 24) < 1e-5, JSON.stringify(got[0]!.box));
  });

  it('rejects bad arguments with EDGELOOP_ERR_USAGE and exit code 2', async () => {
    for (const argv of [[], ['-m', 'models/blazeface.json'], ['--bogus'], ['-m', 'models/blazeface.json', '--threads', 'x', 'a.png']]) {
      const { code, stderr } = await run(argv);
      assert.equal(code, 2, argv.join(' '));
      assert.match(stderr, /EDGELOOP_ERR_USAGE/);
    }
  });

  it('reports errors with their code and exit code 1', async () => {
    const notImage = path.join(GENERATED_DIR, 'not-an-image.png');
    writeFileSync(notImage, 'hello');
    let result = await run(['-m', 'models/blazeface.json', notImage]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /EDGELOOP_ERR_IMAGE_INVALID/);
    result = await run(['-m', path.join(GENERATED_DIR, 'nothing.tflite'), notImage]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /EDGELOOP_ERR_SIDECAR_INVALID: no sidecar/);
  });
});
