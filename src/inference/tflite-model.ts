// Reads what a .tflite file says about its inputs and outputs (shape, dtype, quantization) straight from the
// flatbuffer, and checks the file is whole first: a truncated model must fail here, not abort the WASM runtime.
import { toObject } from 'flatbuffers/mjs/flexbuffers.js';
import { EdgeloopError, messageOf } from '../errors.ts';
import type { DType, TensorInfo } from './engine.ts';

// TFLite TensorType values (schema.fbs), index = enum value.
const TENSOR_TYPES: readonly (DType | undefined)[] = ['float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', undefined, 'int8'];

class FlatReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private check(pos: number, size: number): void {
    if (pos < 0 || pos + size > this.bytes.length) throw new RangeError(`offset ${pos} + ${size} is past the end (${this.bytes.length} bytes)`);
  }

  u32(pos: number): number {
    this.check(pos, 4);
    return this.view.getUint32(pos, true);
  }

  /** Position of field `index` in the table at `table`, or 0 when absent. */
  field(table: number, index: number): number {
    this.check(table, 4);
    const vtable = table - this.view.getInt32(table, true);
    this.check(vtable, 4);
    const vsize = this.view.getUint16(vtable, true);
    const at = 4 + 2 * index;
    if (at >= vsize) return 0;
    this.check(vtable + at, 2);
    const off = this.view.getUint16(vtable + at, true);
    return off === 0 ? 0 : table + off;
  }

  /** Follows the uoffset stored at `pos`. */
  deref(pos: number): number {
    return pos + this.u32(pos);
  }

  table(table: number, index: number): number {
    const pos = this.field(table, index);
    return pos === 0 ? 0 : this.deref(pos);
  }

  /** [start, length] of the vector in field `index`; elements must lie inside the file. */
  vector(table: number, index: number, elementSize: number): [number, number] {
    const pos = this.field(table, index);
    if (pos === 0) return [0, 0];
    const vec = this.deref(pos);
    const length = this.u32(vec);
    this.check(vec + 4, length * elementSize);
    return [vec + 4, length];
  }

  int32s(table: number, index: number): number[] {
    const [start, length] = this.vector(table, index, 4);
    return Array.from({ length }, (_, i) => this.view.getInt32(start + 4 * i, true));
  }

  float32s(table: number, index: number): number[] {
    const [start, length] = this.vector(table, index, 4);
    return Array.from({ length }, (_, i) => this.view.getFloat32(start + 4 * i, true));
  }

  int64s(table: number, index: number): number[] {
    const [start, length] = this.vector(table, index, 8);
    return Array.from({ length }, (_, i) => Number(this.view.getBigInt64(start + 8 * i, true)));
  }

  tables(table: number, index: number): number[] {
    const [start, length] = this.vector(table, index, 4);
    return Array.from({ length }, (_, i) => this.deref(start + 4 * i));
  }

  string(table: number, index: number): string {
    const [start, length] = this.vector(table, index, 1);
    return new TextDecoder().decode(this.bytes.subarray(start, start + length));
  }

  int8(table: number, index: number): number {
    const pos = this.field(table, index);
    if (pos === 0) return 0;
    this.check(pos, 1);
    return this.view.getInt8(pos);
  }
}

export interface TfliteModelInfo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

/** Parses the model's first subgraph; throws MODEL_INVALID when the file is not a whole TFLite flatbuffer. */
export function readTfliteModel(bytes: Uint8Array): TfliteModelInfo {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(4, 8)) !== 'TFL3') {
    throw new EdgeloopError('MODEL_INVALID', 'not a TFLite model (no TFL3 identifier)');
  }
  try {
    const r = new FlatReader(bytes);
    const model = r.deref(0);
    // Model: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers.
    const buffers = r.tables(model, 4);
    for (const buffer of buffers) {
      // Buffer: 0 data (inline), 1 offset, 2 size (data stored after the flatbuffer, checked by size).
      r.vector(buffer, 0, 1);
    }
    const subgraph = r.tables(model, 2)[0];
    if (subgraph === undefined) throw new RangeError('the model has no subgraph');
    // SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators.
    const tensors = r.tables(subgraph, 0);
    for (const op of r.tables(subgraph, 3)) {
      // Operator: 1 inputs, 2 outputs (tensor indices; -1 marks an omitted optional input).
      for (const t of [...r.int32s(op, 1), ...r.int32s(op, 2)]) {
        if (t >= tensors.length) throw new RangeError(`an operator uses tensor ${t} of ${tensors.length}`);
      }
    }
    const info = (index: number): TensorInfo => {
      const tensor = tensors[index];
      if (tensor === undefined) throw new RangeError(`tensor index ${index} of ${tensors.length}`);
      // Tensor: 0 shape, 1 type, 2 buffer, 3 name, 4 quantization, 7 shape_signature.
      const shape = r.int32s(tensor, 0);
      const signature = r.int32s(tensor, 7);
      const type = r.int8(tensor, 1);
      const dtype = TENSOR_TYPES[type];
      if (dtype === undefined) throw new RangeError(`tensor type ${type} is not supported`);
      const result: TensorInfo = { name: r.string(tensor, 3), shape: signature.length === shape.length ? signature : shape, dtype };
      const quant = r.table(tensor, 4);
      if (quant !== 0) {
        // QuantizationParameters: 2 scale, 3 zero_point.
        const scale = r.float32s(quant, 2);
        const zeroPoint = r.int64s(quant, 3);
        if (scale.length === 1) result.quantization = { scale: scale[0]!, zeroPoint: zeroPoint[0] ?? 0 };
      }
      return result;
    };
    return { inputs: r.int32s(subgraph, 1).map(info), outputs: r.int32s(subgraph, 2).map(info) };
  } catch (err) {
    if (err instanceof EdgeloopError) throw err;
    throw new EdgeloopError('MODEL_INVALID', `the TFLite model is corrupt or truncated: ${(err as Error).message}`, { cause: err });
  }
}

const DETECTION_POSTPROCESS = 'TFLite_Detection_PostProcess';

/**
 * TFLite's SSD post-process op leaves its four outputs without a shape in the file; LiteRT.js then sizes their
 * buffers at 4 bytes and the op writes past them, corrupting the WASM heap. This returns the model with the
 * shapes the op produces written in (boxes [1, N, 4], classes [1, N], scores [1, N], count [1], N from the op's
 * own `max_detections` × `max_classes_per_detection`), or the same bytes when nothing needs it. The new shape
 * vectors are appended: flatbuffer offsets point forward, so only the four offsets change in place.
 */
export function withStaticDetectionShapes(bytes: Uint8Array): Uint8Array {
  const r = new FlatReader(bytes);
  const patches: { field: number; dims: number[] }[] = [];
  try {
    const model = r.deref(0);
    // OperatorCode: 1 custom_code.
    const codes = r.tables(model, 1).map((code) => r.string(code, 1));
    const subgraph = r.tables(model, 2)[0];
    if (subgraph === undefined) return bytes;
    const tensors = r.tables(subgraph, 0);
    for (const op of r.tables(subgraph, 3)) {
      // Operator: 0 opcode_index, 2 outputs, 5 custom_options (a FlexBuffer map).
      const opcode = r.field(op, 0) === 0 ? 0 : r.u32(r.field(op, 0));
      if (codes[opcode] !== DETECTION_POSTPROCESS) continue;
      const [start, length] = r.vector(op, 5, 1);
      const options = toObject(bytes.slice(start, start + length).buffer) as { max_detections?: number; max_classes_per_detection?: number };
      const n = (options.max_detections ?? 10) * (options.max_classes_per_detection ?? 1);
      const shapes = [[1, n, 4], [1, n], [1, n], [1]];
      r.int32s(op, 2).forEach((t, k) => {
        const tensor = tensors[t];
        const shapeField = tensor === undefined ? 0 : r.field(tensor, 0);
        if (tensor === undefined || k >= shapes.length || r.int32s(tensor, 0).length > 0) return;
        if (shapeField === 0) throw new RangeError(`output ${t} of ${DETECTION_POSTPROCESS} has no shape field to fill`);
        patches.push({ field: shapeField, dims: shapes[k]! });
      });
    }
  } catch (err) {
    throw new EdgeloopError('MODEL_INVALID', `cannot give the detection outputs static shapes: ${messageOf(err)}`, { cause: err });
  }
  if (patches.length === 0) return bytes;
  const base = Math.ceil(bytes.length / 4) * 4;
  const out = new Uint8Array(base + patches.reduce((n, p) => n + 4 * (1 + p.dims.length), 0));
  out.set(bytes);
  const view = new DataView(out.buffer);
  let at = base;
  for (const { field, dims } of patches) {
    view.setUint32(field, at - field, true);
    view.setUint32(at, dims.length, true);
    dims.forEach((d, i) => view.setInt32(at + 4 + 4 * i, d, true));
    at += 4 * (1 + dims.length);
  }
  return out;
}
