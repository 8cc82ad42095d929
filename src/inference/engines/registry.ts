// Every inference engine, one line each; the model file's extension picks one unless the caller names it.
// Plugins (and tests) add engines with registerEngine.
import path from 'node:path';
import { EdgeloopError } from '../../errors.ts';
import type { Engine } from '../engine.ts';
import { onnxEngine } from './onnx.ts';
import { tfliteEngine } from './tflite.ts';

const engines = new Map<string, Engine>([
  ['onnx', onnxEngine],
  ['tflite', tfliteEngine],
]);

export function registerEngine(engine: Engine): void {
  if (engines.has(engine.name)) throw new EdgeloopError('USAGE', `an engine named "${engine.name}" is already registered`);
  engines.set(engine.name, engine);
}

export function engineFor(modelPath: string, name?: string): Engine {
  if (name !== undefined) {
    const engine = engines.get(name);
    if (!engine) throw new EdgeloopError('USAGE', `unknown engine "${name}" (one of ${[...engines.keys()].join(', ')})`);
    return engine;
  }
  const ext = path.extname(modelPath).toLowerCase();
  const engine = [...engines.values()].find((e) => e.extensions.includes(ext));
  if (!engine) throw new EdgeloopError('MODEL_INVALID', `no engine loads "${ext}" files (${[...engines.values()].flatMap((e) => e.extensions).join(', ')})`);
  return engine;
}
