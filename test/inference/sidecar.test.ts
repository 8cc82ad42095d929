import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isEdgeloopError } from '../../src/errors.ts';
import { loadModel } from '../../src/inference/model.ts';
import { readSidecar, sidecarErrors } from '../../src/inference/sidecar.ts';
import { GENERATED_DIR, tinyCnn } from '../fixtures/generate.ts';

const valid = { name: 'tiny', version: '1', task: 'classification' };

describe('sidecar', () => {
  it('accepts a minimal sidecar', () => {
    assert.deepEqual(sidecarErrors(valid), []);
  });

  it('names the key path of each error', () => {
    const errors = sidecarErrors({ name: 'x', task: 'segmentation', input: { layout: 'HWC', mean: [1, 2] }, score_threshold: 2, colour: 'red' });
    assert.ok(errors.includes('task: must be one of classification|detection-ssd|detection-ssd-anchors|detection-yolo|detection-blazeface'), errors.join('\n'));
    assert.ok(errors.includes('version: is required'));
    assert.ok(errors.includes('input.layout: must be one of NHWC|NCHW'));
    assert.ok(errors.some((e) => e.startsWith('input.mean: ')));
    assert.ok(errors.some((e) => e.startsWith('score_threshold: ')));
    assert.ok(errors.some((e) => e.startsWith('colour: ')));
  });

  it('reads YAML too, and reports invalid files as SIDECAR_INVALID with the file name', async () => {
    const yamlFile = path.join(GENERATED_DIR, 'tiny.yaml');
    writeFileSync(yamlFile, 'name: tiny\nversion: "1"\ntask: detection-yolo\nyolo_version: v5\n');
    assert.equal((await readSidecar(yamlFile)).yolo_version, 'v5');
    const bad = path.join(GENERATED_DIR, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...valid, task: 'nope' }));
    await assert.rejects(readSidecar(bad), (err: unknown) => isEdgeloopError(err, 'SIDECAR_INVALID') && err.message.startsWith(bad) && err.message.includes('task: must be one of'));
    writeFileSync(bad, '{ not json');
    await assert.rejects(readSidecar(bad), (err: unknown) => isEdgeloopError(err, 'SIDECAR_INVALID'));
  });

  it('checks claimed input geometry against the model file', async () => {
    const model = tinyCnn('tflite', 'f32');
    writeFileSync(`${model}.json`, JSON.stringify({ ...valid, input: { width: 224 } }));
    await assert.rejects(loadModel(model), (err: unknown) => isEdgeloopError(err, 'SIDECAR_INVALID') && err.message.includes('input.width: 224, but the model takes 16'));
  });

  it('reports a model named by the sidecar that is not there as MODEL_NOT_FOUND', async () => {
    const file = path.join(GENERATED_DIR, 'ghost.json');
    writeFileSync(file, JSON.stringify({ ...valid, model: './ghost.onnx' }));
    await assert.rejects(loadModel(file), (err: unknown) => isEdgeloopError(err, 'MODEL_NOT_FOUND'));
    writeFileSync(file, JSON.stringify({ ...valid, model: '@mediapipe/face_detection/nothing.tflite' }));
    await assert.rejects(loadModel(file), (err: unknown) => isEdgeloopError(err, 'MODEL_NOT_FOUND'));
  });
});
