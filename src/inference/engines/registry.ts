// Every inference engine, one line each; the model file's extension picks one unless the caller names it.
import path from 'node:path';
import { EdgeloopError } from '../../errors.ts';
import type { Engine } from '../engine.ts';
import { onnxEngine } from './onnx.ts';
import { tfliteEngine } from './tflite.ts';

export const ENGINES: Readonly<Record<string, Engine>> = {
  onnx: onnxEngine,
  tflite: tfliteEngine,
};

export function engineFor(modelPath: string, name?: string): Engine {
  if (name !== undefined) {
    const engine = ENGINES[name];
    if (!engine) throw new EdgeloopError('USAGE', `unknown engine "${name}" (one of ${Object.keys(ENGINES).join(', ')})`);
    return engine;
  }
  const ext = path.extname(modelPath).toLowerCase();
  const engine = Object.values(ENGINES).find((e) => e.extensions.includes(ext));
  if (!engine) throw new EdgeloopError('MODEL_INVALID', `no engine loads "${ext}" files (${Object.values(ENGINES).flatMap((e) => e.extensions).join(', ')})`);
  return engine;
}
