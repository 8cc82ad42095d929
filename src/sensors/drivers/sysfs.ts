// Reading sysfs attributes for the drivers: async, abortable, and with errors that name the file and the likely
// cause, so a missing kernel module or a mistyped device id is obvious from the log line.
import { readFile } from 'node:fs/promises';
import { EdgeloopError, messageOf } from '../../errors.ts';

/** Reads one attribute. `missing` is what a missing file most likely means (module not loaded, wrong id, …). */
export async function readAttribute(path: string, signal: AbortSignal, missing: string): Promise<string> {
  return (await read(path, signal, missing)) as string;
}

/** Reads a numeric attribute; undefined when the file does not exist (optional attributes such as a scale). */
export async function readOptionalNumber(path: string, signal: AbortSignal): Promise<number | undefined> {
  const text = await read(path, signal, undefined);
  return text === undefined ? undefined : parseNumber(text, path);
}

export async function readNumber(path: string, signal: AbortSignal, missing: string): Promise<number> {
  return parseNumber(await readAttribute(path, signal, missing), path);
}

export function parseNumber(text: string, path: string): number {
  const trimmed = text.trim();
  const value = trimmed === '' ? Number.NaN : Number(trimmed);
  if (!Number.isFinite(value)) {
    throw new EdgeloopError('SENSOR_READ', `${path} does not hold a number: ${JSON.stringify(trimmed.slice(0, 80))}`);
  }
  return value;
}

async function read(path: string, signal: AbortSignal, missing: string | undefined): Promise<string | undefined> {
  if (signal.aborted) throw aborted(path, signal.reason);
  try {
    return await readFile(path, { encoding: 'utf8', signal });
  } catch (cause) {
    if (signal.aborted) throw aborted(path, cause);
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && missing === undefined) return undefined;
    if (code === 'ENOENT') throw new EdgeloopError('SENSOR_READ', `${path} does not exist: ${missing}`, { cause });
    if (code === 'EACCES') {
      throw new EdgeloopError('SENSOR_READ', `cannot read ${path}: permission denied (run as a user allowed to)`, {
        cause,
      });
    }
    throw new EdgeloopError('SENSOR_READ', `cannot read ${path}: ${messageOf(cause)}`, { cause });
  }
}

function aborted(path: string, cause: unknown): EdgeloopError {
  return new EdgeloopError('SENSOR_TIMEOUT', `read of ${path} was aborted before it finished`, { cause });
}
