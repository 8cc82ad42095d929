// A test engine whose model file is a script: what it outputs (TFLite SSD post-process layout), how long each run
// blocks its thread, and which input makes it hang for good — so pool and camera tests can provoke slow
// inference, skips and the watchdog. Register it in a pool with `engine_modules: [SCRIPTED_ENGINE]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EdgeloopError } from '../../src/errors.ts';
import { assertInputs, readModelBytes } from '../../src/inference/engine.ts';
import type { Engine, Session, TensorData, TensorInfo } from '../../src/inference/engine.ts';
import { GENERATED_DIR } from '../fixtures/generate.ts';

export const SCRIPTED_ENGINE = import.meta.url;

export interface Script {
  /** Input side (square, RGB float32 in [0, 1] with the sidecar written by scriptedModel). */
  size?: number;
  /** Each run blocks the thread this long (as a real runtime does), ms. */
  delay_ms?: number;
  /** A run whose input averages at least this (0..1; e.g. 0.9 for a white frame) never returns. */
  hang_above?: number;
  /** Detections, boxes as fractions of the input: [ymin, xmin, ymax, xmax]. */
  detections?: { box: [number, number, number, number]; class: number; score: number }[];
  /** Loading fails with MODEL_INVALID. */
  fail_load?: boolean;
  /** Scores come out as NaN (a broken model). */
  nan_scores?: boolean;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function block(ms: number): void {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}

async function load(model: string | Uint8Array): Promise<Session> {
  const script = JSON.parse(new TextDecoder().decode(await readModelBytes(model))) as Script;
  if (script.fail_load) throw new EdgeloopError('MODEL_INVALID', 'the script says this model does not load');
  const size = script.size ?? 32;
  const found = script.detections ?? [];
  const n = Math.max(found.length, 1);
  const inputs: TensorInfo[] = [{ name: 'image', shape: [1, size, size, 3], dtype: 'float32' }];
  const outputs: TensorInfo[] = [
    { name: 'boxes', shape: [1, n, 4], dtype: 'float32' },
    { name: 'classes', shape: [1, n], dtype: 'float32' },
    { name: 'scores', shape: [1, n], dtype: 'float32' },
    { name: 'count', shape: [1], dtype: 'float32' },
  ];
  return {
    engine: 'scripted',
    inputs,
    outputs,
    async run(data: readonly TensorData[]): Promise<TensorData[]> {
      assertInputs(inputs, data);
      const image = data[0] as Float32Array;
      let sum = 0;
      for (let i = 0; i < image.length; i++) sum += image[i]!;
      if (script.hang_above !== undefined && sum / image.length >= script.hang_above) for (;;) block(60_000);
      block(script.delay_ms ?? 0);
      return [
        Float32Array.from(found.flatMap((d) => d.box)),
        Float32Array.from(found, (d) => d.class),
        Float32Array.from(found, (d) => (script.nan_scores ? NaN : d.score)),
        Float32Array.of(found.length),
      ];
    },
    async dispose(): Promise<void> {},
  };
}

export const engine: Engine = { name: 'scripted', extensions: ['.scripted'], load };

/** Writes `<name>.scripted` and its sidecar into test/fixtures/generated/; returns the sidecar's path. */
export function scriptedModel(name: string, script: Script, sidecar: { version?: string; labels?: string[] } = {}): string {
  mkdirSync(GENERATED_DIR, { recursive: true });
  const file = path.join(GENERATED_DIR, `${name}.scripted`);
  writeFileSync(file, JSON.stringify(script));
  const json = path.join(GENERATED_DIR, `${name}.json`);
  const body = { name, version: sidecar.version ?? '1', task: 'detection-ssd', engine: 'scripted', model: `${name}.scripted`, labels: sidecar.labels ?? ['person', 'car'], score_threshold: 0.1 };
  writeFileSync(json, JSON.stringify(body));
  return json;
}
