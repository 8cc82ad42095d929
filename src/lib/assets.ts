// The one way to read a file that ships with edgeloop (the dashboard page, …): from the single executable's embedded
// assets when running as one, otherwise from the package folder. `name` is the path from the package root, which is
// also the asset's key in the single-executable config.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAsset, isSea } from 'node:sea';

const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');

export function readPackageAsset(name: string): Buffer {
  if (isSea()) return Buffer.from(getAsset(name));
  return readFileSync(join(PACKAGE_ROOT, name));
}
