// The one interface every inference runtime is used through: load a model, learn its tensors, run, dispose.
import { readFile } from 'node:fs/promises';
import { EdgeloopError } from '../errors.ts';

export type DType = 'float32' | 'float16' | 'int8' | 'uint8' | 'int16' | 'int32' | 'int64' | 'bool' | 'string';
export type TensorData = Float32Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array;

/** Affine quantization of a tensor: real = scale * (q - zeroPoint). Per-tensor only at the I/O boundary. */
export interface Quantization {
  scale: number;
  zeroPoint: number;
}

export interface TensorInfo {
  name: string;
  /** -1 for a dimension the model leaves open (e.g. batch). */
  shape: readonly number[];
  dtype: DType;
  quantization?: Quantization;
}

export interface LoadOptions {
  /** CPU threads for the runtime's intra-op pool; default 1 (a Pi also runs the rest of the gateway). */
  threads?: number;
}

export interface Session {
  readonly engine: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** One typed array per input, in `inputs` order; one per output back, in `outputs` order. */
  run(inputs: readonly TensorData[]): Promise<TensorData[]>;
  dispose(): Promise<void>;
}

export interface Engine {
  readonly name: string;
  /** File extensions (with the dot) this engine loads, used to pick an engine from a model path. */
  readonly extensions: readonly string[];
  load(model: string | Uint8Array, options?: LoadOptions): Promise<Session>;
}

export async function readModelBytes(model: string | Uint8Array): Promise<Uint8Array> {
  if (typeof model !== 'string') return model;
  try {
    return new Uint8Array(await readFile(model));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') throw new EdgeloopError('MODEL_NOT_FOUND', `no model file at ${model}`, { cause: err });
    throw new EdgeloopError('MODEL_INVALID', `cannot read model ${model}: ${code ?? String(err)}`, { cause: err });
  }
}

const ARRAY_DTYPES: Record<string, DType> = {
  Float32Array: 'float32',
  Int8Array: 'int8',
  Uint8Array: 'uint8',
  Int16Array: 'int16',
  Int32Array: 'int32',
  BigInt64Array: 'int64',
};

export function dtypeOf(data: TensorData): DType | undefined {
  return ARRAY_DTYPES[data.constructor.name];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * Math.max(d, 1), 1);
}

export function describeTensor(t: TensorInfo): string {
  return `${t.name} [${t.shape.join(', ')}] ${t.dtype}`;
}

/** Checks inputs before they reach native code, so a mismatch is a clear MODEL_INPUT error, not a runtime abort. */
export function assertInputs(expected: readonly TensorInfo[], inputs: readonly TensorData[]): void {
  if (inputs.length !== expected.length) {
    throw new EdgeloopError('MODEL_INPUT', `the model takes ${expected.length} input(s) (${expected.map(describeTensor).join('; ')}), got ${inputs.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    const info = expected[i]!;
    const data = inputs[i]!;
    const dtype = dtypeOf(data);
    if (dtype !== info.dtype) {
      throw new EdgeloopError('MODEL_INPUT', `input ${describeTensor(info)} needs ${info.dtype} data, got ${dtype ?? data.constructor.name}`);
    }
    const want = elementCount(info.shape);
    if (data.length !== want) {
      throw new EdgeloopError('MODEL_INPUT', `input ${describeTensor(info)} needs ${want} elements, got ${data.length}`);
    }
  }
}

/** Concrete shape for a run: open dimensions become 1 (we feed one frame at a time). */
export function concreteShape(shape: readonly number[]): number[] {
  return shape.map((d) => (d < 0 ? 1 : d));
}
