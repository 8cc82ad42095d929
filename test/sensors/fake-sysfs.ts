// A throwaway sysfs tree in a temp dir, written the way the kernel lays it out.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FakeSysfs {
  root: string;
  /** Writes a file below the root, creating its directories. */
  write(path: string, text: string): Promise<void>;
  remove(): Promise<void>;
}

export async function fakeSysfs(files: Record<string, string> = {}): Promise<FakeSysfs> {
  const root = await mkdtemp(join(tmpdir(), 'edgeloop-sysfs-'));
  const write = async (path: string, text: string) => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  };
  for (const [path, text] of Object.entries(files)) await write(path, text);
  return { root, write, remove: () => rm(root, { recursive: true, force: true }) };
}
