// The one behaviour suite every engine passes: load, tensor metadata, numerics against the plain-TS reference
// (f32 tight, int8 within quantization error), bad models and bad inputs as clear errors, no leak, dispose.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isEdgeloopError } from '../../src/errors.ts';
import type { Engine, Session, TensorData } from '../../src/inference/engine.ts';
import { fixture, GENERATED_DIR, tinyCnn } from '../fixtures/generate.ts';
import type { Format, Precision } from '../fixtures/generate.ts';
import { makeInput, nhwcToNchw, TINY_CNN } from '../fixtures/nets.ts';
import { referenceForward } from '../fixtures/reference.ts';

const SIZE = TINY_CNN.size;
const CLASSES = 5;

/** The test input as the session wants it, plus the real values the model actually sees (after quantization). */
function prepare(session: Session, format: Format, seed: number): { data: TensorData; seen: Float32Array } {
  const x = makeInput(TINY_CNN, seed);
  const info = session.inputs[0]!;
  if (info.dtype === 'uint8') {
    const q = info.quantization!;
    const data = Uint8Array.from(x, (v) => Math.min(255, Math.max(0, Math.round(v / q.scale + q.zeroPoint))));
    return { data, seen: Float32Array.from(data, (v) => (v - q.zeroPoint) * q.scale) };
  }
  return { data: format === 'onnx' ? nhwcToNchw(x, SIZE, SIZE, 3) : x, seen: x };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

async function rejects(promise: Promise<unknown>, name: 'MODEL_INVALID' | 'MODEL_INPUT'): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isEdgeloopError(err, name), `expected EDGELOOP_ERR_${name}, got ${String(err)}`);
    return true;
  });
}

export function engineSuite(engine: Engine, format: Format): void {
  const layoutShape = format === 'onnx' ? [1, 3, SIZE, SIZE] : [1, SIZE, SIZE, 3];

  for (const precision of ['f32', 'int8'] as Precision[]) {
    describe(`${engine.name} engine, ${precision} tiny CNN`, () => {
      let session: Session;
      before(async () => {
        session = await engine.load(tinyCnn(format, precision), { threads: 1 });
      });
      after(() => session?.dispose());

      it('reports its inputs and outputs', () => {
        assert.equal(session.engine, engine.name);
        assert.equal(session.inputs.length, 1);
        assert.deepEqual(session.inputs[0]!.shape, layoutShape);
        assert.deepEqual(session.outputs.map((o) => o.shape), [[1, CLASSES]]);
        assert.equal(session.outputs[0]!.dtype, 'float32');
        if (precision === 'int8' && format === 'tflite') {
          // int8 TFLite fixtures take uint8 pixels; the quantization comes from the model file.
          assert.equal(session.inputs[0]!.dtype, 'uint8');
          assert.deepEqual(session.inputs[0]!.quantization, { scale: 1 / 128, zeroPoint: 128 });
        } else {
          assert.equal(session.inputs[0]!.dtype, 'float32');
        }
      });

      it('agrees with the reference computation', async () => {
        for (const seed of [1, 2, 3]) {
          const { data, seen } = prepare(session, format, seed);
          const [out] = await session.run([data]);
          const expected = referenceForward(TINY_CNN, seen);
          assert.ok(out instanceof Float32Array);
          assert.equal(out.length, CLASSES);
          const diff = maxAbsDiff(out, expected);
          // f32: rounding only. int8: a few steps of the logits' quantization (8/255 each).
          const tolerance = precision === 'f32' ? 1e-4 : 0.15;
          assert.ok(diff <= tolerance, `max |diff| ${diff} > ${tolerance}: ${Array.from(out)} vs ${Array.from(expected)}`);
        }
      });

      it('rejects an input of the wrong shape or dtype with MODEL_INPUT, and still runs after', async () => {
        await rejects(session.run([new Float32Array(7)]), 'MODEL_INPUT');
        await rejects(session.run([new Int32Array(SIZE * SIZE * 3)]), 'MODEL_INPUT');
        await rejects(session.run([]), 'MODEL_INPUT');
        const { data } = prepare(session, format, 1);
        assert.equal((await session.run([data]))[0]!.length, CLASSES);
      });

      it('does not leak over 1,000 runs', async () => {
        const { data } = prepare(session, format, 4);
        for (let i = 0; i < 200; i++) await session.run([data]);
        globalThis.gc?.();
        const before = process.memoryUsage();
        for (let i = 0; i < 1000; i++) await session.run([data]);
        globalThis.gc?.();
        const grown = process.memoryUsage();
        const mib = (n: number) => n / 2 ** 20;
        assert.ok(mib(grown.rss - before.rss) < 24, `RSS grew ${mib(grown.rss - before.rss).toFixed(1)} MiB`);
        assert.ok(mib(grown.heapUsed - before.heapUsed) < 16, `heap grew ${mib(grown.heapUsed - before.heapUsed).toFixed(1)} MiB`);
      });
    });
  }

  describe(`${engine.name} engine, bad models`, () => {
    it('loads from bytes as from a path, and disposes', async () => {
      const session = await engine.load(readFileSync(tinyCnn(format, 'f32')));
      assert.deepEqual(session.inputs[0]!.shape, layoutShape);
      await session.dispose();
    });

    it('rejects a truncated model with MODEL_INVALID', async () => {
      const bytes = readFileSync(tinyCnn(format, 'f32'));
      const file = fixture(`truncated.${format}`, () => bytes.subarray(0, Math.floor(bytes.length / 2)));
      await rejects(engine.load(file), 'MODEL_INVALID');
    });

    it('rejects a file of garbage with MODEL_INVALID', async () => {
      const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
      await rejects(engine.load(garbage), 'MODEL_INVALID');
      const empty = path.join(GENERATED_DIR, `empty.${format}`);
      writeFileSync(empty, '');
      await rejects(engine.load(empty), 'MODEL_INVALID');
    });

    it('reports a missing file as MODEL_NOT_FOUND', async () => {
      await assert.rejects(engine.load(path.join(GENERATED_DIR, `missing.${format}`)), (err: unknown) => isEdgeloopError(err, 'MODEL_NOT_FOUND'));
    });
  });
}
