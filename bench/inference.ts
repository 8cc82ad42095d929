// MobileNetV1-224 (generated weights), f32 and int8, each engine, 1 and 2 threads: ms per frame through
// edgeloop (pre-process a 640×480 RGB frame + run + post-process) against the raw runtime call on a ready
// tensor, interleaved frame by frame so both see the same machine load.
// `npm run bench -- inference [--iterations=N] [--quick] [--engine=onnx|tflite]` (bench/run.ts reads options
// without a schema, so values need the `=` form).
import { writeFileSync } from 'node:fs';
import type { BenchArgs } from './run.ts';
import type { TensorData } from '../src/inference/engine.ts';
import { liteRtRuntime } from '../src/inference/engines/litert-runtime.ts';
import { loadModel } from '../src/inference/model.ts';
import type { InferenceModel } from '../src/inference/model.ts';
import { mobilenet } from '../test/fixtures/generate.ts';
import type { Format, Precision } from '../test/fixtures/generate.ts';

type RawRun = { run: () => Promise<unknown>; dispose: () => Promise<void> | void };

/** The runtime's own API with nothing of ours in between: tensor made once, run, read the output. */
async function rawRunner(format: Format, file: string, threads: number, input: TensorData, shape: number[]): Promise<RawRun> {
  if (format === 'onnx') {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    const feeds = { [session.inputNames[0]!]: new ort.Tensor(input as Float32Array, shape) };
    return { run: async () => (await session.run(feeds))[session.outputNames[0]!]!.data, dispose: () => session.release() };
  }
  const lrt = await liteRtRuntime();
  const { readFile } = await import('node:fs/promises');
  const model = await lrt.loadAndCompile(new Uint8Array(await readFile(file)), { accelerator: 'wasm', cpuOptions: { numThreads: threads } });
  const tensor = new lrt.Tensor(input as Float32Array, shape);
  return {
    run: async () => {
      const outputs = await model.run([tensor]);
      const data = outputs[0]!.toTypedArray();
      for (const t of outputs) t.delete();
      return data;
    },
    dispose: () => {
      tensor.delete();
      model.delete();
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const round = (v: number) => Math.round(v * 100) / 100;

function syntheticFrame(width: number, height: number): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 9) * 7) & 255;
  return { data, width, height };
}

export default async function (args: BenchArgs): Promise<Record<string, unknown>> {
  const quick = args.quick === true;
  const iterations = typeof args.iterations === 'string' ? Number(args.iterations) : quick ? 8 : 40;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations=N needs a positive integer, got ${String(args.iterations)}`);
  const warmup = quick ? 2 : 5;
  const formats: Format[] = typeof args.engine === 'string' ? [args.engine === 'onnx' ? 'onnx' : 'tflite'] : ['onnx', 'tflite'];
  const frame = syntheticFrame(640, 480);
  const results: Record<string, unknown>[] = [];
  for (const format of formats) {
    for (const precision of ['f32', 'int8'] as Precision[]) {
      const file = mobilenet(format, precision);
      writeFileSync(`${file}.json`, JSON.stringify({ name: 'mobilenet-v1-224', version: 'bench', task: 'classification', input: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] }, score_threshold: 0 }));
      for (const threads of [1, 2]) {
        const model: InferenceModel = await loadModel(file, { threads });
        const input = model.preprocessor.run(frame).tensor.slice();
        const shape = model.session.inputs[0]!.shape.map((d) => Math.max(d, 1));
        const raw = await rawRunner(format, file, threads, input, shape);
        const ours = { total: [] as number[], pre: [] as number[], run: [] as number[], post: [] as number[] };
        const rawTimes: number[] = [];
        for (let i = 0; i < warmup + iterations; i++) {
          // Alternate which goes first, so neither always follows the other's cache state.
          const order = i % 2 === 0 ? ['ours', 'raw'] : ['raw', 'ours'];
          for (const who of order) {
            const t0 = performance.now();
            if (who === 'raw') {
              await raw.run();
              if (i >= warmup) rawTimes.push(performance.now() - t0);
            } else {
              const { timings_ms } = await model.infer(frame);
              if (i >= warmup) {
                ours.total.push(performance.now() - t0);
                ours.pre.push(timings_ms.preprocess);
                ours.run.push(timings_ms.inference);
                ours.post.push(timings_ms.postprocess);
              }
            }
          }
        }
        await raw.dispose();
        await model.dispose();
        const rawMs = median(rawTimes);
        const runMs = median(ours.run);
        results.push({
          engine: format,
          precision,
          threads,
          edgeloop_frame_ms: round(median(ours.total)),
          edgeloop_preprocess_ms: round(median(ours.pre)),
          edgeloop_run_ms: round(runMs),
          edgeloop_postprocess_ms: round(median(ours.post)),
          raw_run_ms: round(rawMs),
          run_speed_vs_raw: round(rawMs / runMs),
        });
        process.stderr.write(`${JSON.stringify(results[results.length - 1])}\n`);
      }
    }
  }
  return {
    model: 'MobileNetV1-224, generated weights (test/fixtures/nets.ts)',
    frame: '640x480 RGB24',
    iterations,
    notes: 'tflite = LiteRT.js single-threaded WASM build (XNNPACK); its threads=2 runs still use one thread',
    results,
  };
}
