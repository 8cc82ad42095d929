// Replaces a file so that a crash or a power cut at any moment leaves either the old content or the new one, never a
// mix or an empty file: write a temp file in the same directory, fsync it, rename it over the target, fsync the
// directory (the rename itself is only durable once the directory entry is on disk). The syncs run on libuv's
// thread pool, off the event loop.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type FileContent = string | Uint8Array | AsyncIterable<Uint8Array>;

export interface ReplaceOptions {
  /** Permission bits of the new file (default 0o644). */
  mode?: number;
}

/** Atomically replaces (or creates) `path` with `content`; a stream is written as it comes, never held whole. */
export async function replaceFile(path: string, content: FileContent, options: ReplaceOptions = {}): Promise<void> {
  const dir = dirname(path);
  // Same directory, so the rename never crosses a file system; hidden and unique, so concurrent writers never share it.
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.mode ?? 0o644);
  try {
    try {
      if (typeof content === 'string' || content instanceof Uint8Array) await file.writeFile(content);
      else for await (const chunk of content) await file.write(chunk);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes the directory's entries (a rename, a new or deleted file) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
