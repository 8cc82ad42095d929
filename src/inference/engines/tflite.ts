// TFLite models through LiteRT.js: XNNPACK kernels compiled to WASM (SIMD), portable to x64 and arm64 alike.
import { EdgeloopError, messageOf } from '../../errors.ts';
import { assertInputs, concreteShape, readModelBytes } from '../engine.ts';
import type { Engine, LoadOptions, Session, TensorData } from '../engine.ts';
import { readTfliteModel, withStaticDetectionShapes } from '../tflite-model.ts';
import { liteRtRuntime } from './litert-runtime.ts';
import type { LiteRtModule } from './litert-runtime.ts';

// The dtypes LiteRT.js moves across its JS API; int8 I/O tensors are not among them.
const SUPPORTED = new Set(['float32', 'int32', 'uint8']);

async function load(model: string | Uint8Array, options: LoadOptions = {}): Promise<Session> {
  const file = await readModelBytes(model);
  // Checked whole before anything else walks it; then read again with the shapes LiteRT.js needs filled in.
  readTfliteModel(file);
  const bytes = withStaticDetectionShapes(file);
  const { inputs, outputs } = readTfliteModel(bytes);
  for (const t of [...inputs, ...outputs]) {
    if (!SUPPORTED.has(t.dtype)) {
      throw new EdgeloopError('MODEL_INVALID', `tensor ${t.name} is ${t.dtype}; the tflite engine handles float32, int32 and uint8 I/O (convert with uint8 or float I/O)`);
    }
  }
  const lrt = await liteRtRuntime();
  let compiled: Awaited<ReturnType<LiteRtModule['loadAndCompile']>>;
  try {
    compiled = await lrt.loadAndCompile(bytes, { accelerator: 'wasm', cpuOptions: { numThreads: options.threads ?? 1 } });
  } catch (err) {
    throw new EdgeloopError('MODEL_INVALID', `LiteRT could not compile the model: ${messageOf(err)}`, { cause: err });
  }
  const shapes = inputs.map((i) => concreteShape(i.shape));
  let disposed = false;
  return {
    engine: 'tflite',
    inputs,
    outputs,
    async run(data: readonly TensorData[]): Promise<TensorData[]> {
      if (disposed) throw new EdgeloopError('USAGE', 'the session was disposed');
      assertInputs(inputs, data);
      const tensors = data.map((d, i) => new lrt.Tensor(d as Float32Array, shapes[i]));
      try {
        const results = await compiled.run(tensors);
        try {
          return results.map((t) => t.toTypedArray());
        } finally {
          for (const t of results) t.delete();
        }
      } catch (err) {
        throw new EdgeloopError('MODEL_INPUT', `LiteRT could not run the model: ${messageOf(err)}`, { cause: err });
      } finally {
        for (const t of tensors) t.delete();
      }
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      compiled.delete();
    },
  };
}

export const tfliteEngine: Engine = { name: 'tflite', extensions: ['.tflite'], load };
