// ONNX models through onnxruntime-node (native, CPU execution provider).
import type * as Ort from 'onnxruntime-node';
import { EdgeloopError, messageOf } from '../../errors.ts';
import { assertInputs, concreteShape, readModelBytes } from '../engine.ts';
import type { DType, Engine, LoadOptions, Session, TensorData, TensorInfo } from '../engine.ts';

type OrtModule = typeof Ort;
let ortModule: Promise<OrtModule> | undefined;

function loadOrt(): Promise<OrtModule> {
  // Lazy so the gateway bundles and starts without the native addon; the failure is kept only until retried.
  ortModule ??= import('onnxruntime-node').catch((err: unknown) => {
    ortModule = undefined;
    throw new EdgeloopError('ENGINE_UNAVAILABLE', `onnxruntime-node cannot be loaded: ${messageOf(err)}`, { cause: err });
  });
  return ortModule;
}

const ORT_DTYPES: Record<string, DType> = {
  float32: 'float32',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  int32: 'int32',
  int64: 'int64',
  bool: 'bool',
  string: 'string',
};

function tensorInfo(meta: Ort.InferenceSession.ValueMetadata): TensorInfo {
  if (!meta.isTensor) return { name: meta.name, shape: [], dtype: 'float32' };
  return {
    name: meta.name,
    shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
    dtype: ORT_DTYPES[meta.type] ?? 'float32',
  };
}

async function load(model: string | Uint8Array, options: LoadOptions = {}): Promise<Session> {
  const ort = await loadOrt();
  const bytes = await readModelBytes(model);
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new EdgeloopError('MODEL_INVALID', `onnxruntime rejected the model: ${messageOf(err)}`, { cause: err });
  }
  const inputs = session.inputMetadata.map(tensorInfo);
  const outputs = session.outputMetadata.map(tensorInfo);
  const dims = inputs.map((i) => concreteShape(i.shape));
  const outputNames = outputs.map((o) => o.name);
  return {
    engine: 'onnx',
    inputs,
    outputs,
    async run(data: readonly TensorData[]): Promise<TensorData[]> {
      assertInputs(inputs, data);
      const feeds: Record<string, Ort.Tensor> = {};
      for (let i = 0; i < inputs.length; i++) {
        feeds[inputs[i]!.name] = new ort.Tensor(inputs[i]!.dtype as 'float32', data[i] as Float32Array, dims[i]);
      }
      let result: Ort.InferenceSession.ReturnType;
      try {
        result = await session.run(feeds, outputNames);
      } catch (err) {
        throw new EdgeloopError('MODEL_INPUT', `onnxruntime could not run the model: ${messageOf(err)}`, { cause: err });
      }
      return outputNames.map((name) => result[name]!.data as TensorData);
    },
    async dispose(): Promise<void> {
      await session.release();
    },
  };
}

export const onnxEngine: Engine = { name: 'onnx', extensions: ['.onnx'], load };
