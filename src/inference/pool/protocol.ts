// Messages between the pool (main thread) and its inference workers. Every request carries an id; the worker
// answers each with one `result`. Errors cross as plain objects and become EdgeloopErrors again on arrival.
import { EdgeloopError, ERRORS } from '../../errors.ts';
import type { ErrorName } from '../../errors.ts';
import type { TensorData, TensorInfo } from '../engine.ts';
import type { Detection } from '../postprocess/types.ts';
import type { Crop, Frame } from '../preprocess.ts';

export interface WorkerConfig {
  /** Modules that export `engine` (an Engine), registered in each worker before anything loads. */
  engineModules: readonly string[];
}

/** A model version as the worker loads it: `ref` is unique per loaded version. */
export interface ModelSpec {
  ref: string;
  sidecar: string;
  threads: number;
  engine?: string;
}

export interface ModelSummary {
  name: string;
  label: string;
  task: string;
  engine: string;
  input: { width: number; height: number };
  labels: string[];
  /** The warm-up inference on a grey frame, ms. */
  warm_ms: number;
}

export interface DetectReply {
  detections: Detection[];
  /** Per region: pre-processing + run + post-processing, ms. */
  run_ms: number[];
  /** Some raw output was NaN or infinite. */
  non_finite: boolean;
  /** Digests of the input tensors and of the raw outputs: a model that answers the same to different inputs is broken. */
  input_digest: number;
  output_digest: number;
}

export type WorkerRequest =
  | { type: 'load'; id: number; model: ModelSpec }
  | { type: 'unload'; id: number; ref: string }
  | { type: 'detect'; id: number; ref: string; frame: Frame; regions: Crop[] }
  | { type: 'session-load'; id: number; session: string; engine: string; model: string | Uint8Array; threads: number }
  | { type: 'session-run'; id: number; session: string; inputs: TensorData[] }
  | { type: 'session-dispose'; id: number; session: string };

export interface SessionSummary {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

export interface WireError {
  name?: ErrorName;
  message: string;
}

/** `buffer`: the frame's buffer of a detect request, moved back for reuse. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; ok: true; value: unknown; buffer?: ArrayBuffer }
  | { type: 'result'; id: number; ok: false; error: WireError; buffer?: ArrayBuffer };

export function toWire(err: unknown): WireError {
  if (err instanceof EdgeloopError) return { name: err.code.replace(/^EDGELOOP_ERR_/, '') as ErrorName, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}

export function fromWire(wire: WireError): Error {
  return wire.name !== undefined && wire.name in ERRORS ? new EdgeloopError(wire.name, wire.message) : new Error(wire.message);
}

/**
 * The buffers of `views` that can be moved to another thread: each view must span its whole ArrayBuffer (a view
 * into a larger buffer would detach its neighbours too), shared memory needs no move, and each buffer once.
 */
export function ownedBuffers(views: readonly ArrayBufferView[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of views) {
    if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) out.add(v.buffer);
  }
  return [...out];
}
