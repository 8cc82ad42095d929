import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { replaceFile } from '../../src/lib/atomic-file.ts';

async function dir(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'edgeloop-atomic-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

describe('replaceFile', () => {
  test('creates a file, then replaces it whole; no temp file is left behind', async (t) => {
    const d = await dir(t);
    const path = join(d, 'current.json');
    await replaceFile(path, '{"version":1}');
    assert.equal(await readFile(path, 'utf8'), '{"version":1}');
    await replaceFile(path, Buffer.from('{"version":2}'));
    assert.equal(await readFile(path, 'utf8'), '{"version":2}');
    assert.deepEqual(await readdir(d), ['current.json']);
  });

  test('writes a stream as it comes, with the mode asked for', async (t) => {
    const d = await dir(t);
    const path = join(d, 'model.bin');
    async function* chunks() {
      for (let i = 0; i < 4; i++) yield Buffer.alloc(1024, i);
    }
    await replaceFile(path, chunks(), { mode: 0o600 });
    const data = await readFile(path);
    assert.equal(data.length, 4096);
    assert.equal(data[3 * 1024], 3);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  test('a write that fails half way leaves the old content and no temp file', async (t) => {
    const d = await dir(t);
    const path = join(d, 'current.json');
    await writeFile(path, 'old');
    async function* failing() {
      yield Buffer.from('new, but only half');
      throw new Error('download cut');
    }
    await assert.rejects(replaceFile(path, failing()), /download cut/);
    assert.equal(await readFile(path, 'utf8'), 'old');
    assert.deepEqual(await readdir(d), ['current.json']);
  });

  test('concurrent replaces never share a temp file: the file holds one of the contents whole', async (t) => {
    const d = await dir(t);
    const path = join(d, 'state');
    const contents = Array.from({ length: 8 }, (_, i) => String(i).repeat(10_000));
    await Promise.all(contents.map((c) => replaceFile(path, c)));
    assert.ok(contents.includes(await readFile(path, 'utf8')));
    assert.deepEqual(await readdir(d), ['state']);
  });

  test('a directory that does not exist is an error, not a crash', async (t) => {
    const d = await dir(t);
    await assert.rejects(replaceFile(join(d, 'missing', 'x'), 'x'), { code: 'ENOENT' });
  });
});
