// The one place model and label files are found: relative to the sidecar that names them, absolute, or inside
// an installed npm package (e.g. `@mediapipe/face_detection/face_detection_short_range.tflite`).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { EdgeloopError } from '../errors.ts';

export function resolveAsset(spec: string, sidecarPath: string): string {
  const base = path.dirname(path.resolve(sidecarPath));
  const local = path.resolve(base, spec);
  if (path.isAbsolute(spec) || spec.startsWith('.') || existsSync(local)) {
    if (!existsSync(local)) throw new EdgeloopError('MODEL_NOT_FOUND', `${spec} (named in ${sidecarPath}) does not exist at ${local}`);
    return local;
  }
  // A package path: resolved from the sidecar's folder first, then from edgeloop's own dependencies.
  for (const from of [path.join(base, 'noop.js'), import.meta.filename]) {
    try {
      return createRequire(from).resolve(spec);
    } catch {
      // try the next origin
    }
  }
  throw new EdgeloopError('MODEL_NOT_FOUND', `${spec} (named in ${sidecarPath}) is neither a file next to it nor in an installed package`);
}
