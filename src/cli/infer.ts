// `edgeloop infer -m MODEL [--threads N] [--engine NAME] IMAGE...`: one JSON line per image on stdout.
import { parseArgs } from 'node:util';
import { EdgeloopError, isEdgeloopError, messageOf } from '../errors.ts';
import { decodeImage } from '../inference/image.ts';
import { loadModel } from '../inference/model.ts';
import type { InferenceModel } from '../inference/model.ts';

const USAGE = 'usage: edgeloop infer -m MODEL|SIDECAR [--threads N] [--engine onnx|tflite] IMAGE...';

/** Where the command writes; the process's streams unless a caller (a test) captures them. */
export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export async function inferCommand(argv: string[], io: CommandIo = process): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`${new EdgeloopError('USAGE', `${message}\n${USAGE}`).describe()}\n`);
    return 2;
  };
  let values: { model?: string; threads?: string; engine?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string', short: 'm' },
        threads: { type: 'string', short: 't' },
        engine: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usage(messageOf(err));
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.model) return usage('-m MODEL is required');
  if (positionals.length === 0) return usage('give at least one PNG or JPEG image');
  const threads = values.threads === undefined ? 1 : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) return usage(`--threads must be a positive integer, got "${values.threads}"`);

  let model: InferenceModel | undefined;
  try {
    model = await loadModel(values.model, { threads, ...(values.engine ? { engine: values.engine } : {}) });
    for (const image of positionals) {
      const frame = await decodeImage(image);
      const { detections, timings_ms } = await model.infer(frame);
      io.stdout.write(`${JSON.stringify({ image, detections, timings_ms })}\n`);
    }
    return 0;
  } catch (err) {
    io.stderr.write(`${isEdgeloopError(err) ? err.describe() : `error: ${messageOf(err)}`}\n`);
    return 1;
  } finally {
    await model?.dispose();
  }
}
