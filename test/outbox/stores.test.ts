// Runs the store suite against every implementation, plus what only a file can do: survive a reopen, and be
// moved aside when corrupt.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MemoryStore } from '../../src/outbox/memory-store.ts';
import { openSqliteStore, SqliteStore } from '../../src/outbox/sqlite-store.ts';
import { ALL, row, storeSuite } from './store-suite.ts';

function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `outbox.db` in a directory removed after the test. */
function dbPath(t: TestContext): string {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  return join(dir, 'outbox.db');
}

storeSuite('memory', () => ({ store: new MemoryStore(), cleanup: () => {} }));
for (const durability of ['batch', 'each', 'os'] as const) {
  storeSuite(`sqlite (${durability})`, () => {
    const { dir, cleanup } = tempDir();
    return { store: new SqliteStore(join(dir, 'outbox.db'), durability), cleanup };
  });
}

test('sqlite: rows, seqs, marks and the oseq counter survive a reopen', (t) => {
  const path = dbPath(t);
  const a = new SqliteStore(path, 'batch');
  const [o1, o2] = a.append([row({ source: 'x', seq: 41 }), row({ source: 'x', seq: 42 })]);
  a.mark(0, [[1, o1!]]);
  a.close();
  const b = new SqliteStore(path, 'batch');
  t.after(() => b.close());
  assert.deepEqual([...b.loadSeqs()], [['x', 42]]);
  assert.deepEqual([...b.marks(0)], [[1, o1]]);
  assert.equal(b.sweep().rows, 1, 'the marked row is swept after the restart');
  assert.deepEqual(b.fetch(1, 1, 0, ALL, 10).map((r) => r.oseq), [o2]);
  b.mark(0, [[1, o2!]]);
  b.sweep();
  const [o3] = b.append([row()]);
  assert.ok(o3! > o2!, 'the deleted last oseq is not reused');
});

test('sqlite: the figures a status read shows are kept, not queried: rows deleted behind its back do not change them', async (t) => {
  const path = dbPath(t);
  const store = new SqliteStore(path, 'batch');
  t.after(() => store.close());
  store.append([row({ topic: 'a' }), row({ topic: 'b' }), row({ topic: 'b', priority: 5 })]);
  await store.sync();
  const before = { breakdown: store.breakdown(), rows: store.totals().rows, dead: store.deadLetterCount() };
  const { DatabaseSync } = await import('node:sqlite');
  const other = new DatabaseSync(path);
  other.exec('DELETE FROM records');
  other.exec("INSERT INTO dead_letters VALUES (1, 'r', 'i', 't', 1, 'x', 1, 'p')");
  other.close();
  assert.deepEqual({ breakdown: store.breakdown(), rows: store.totals().rows, dead: store.deadLetterCount() }, before);
  assert.equal(store.totals().oldestCreated, null, 'the oldest row is the head of the table: one index lookup');
});

test('sqlite: the kept figures are rebuilt from the file at open', (t) => {
  const path = dbPath(t);
  const a = new SqliteStore(path, 'batch');
  a.append([row({ topic: 'a', payload: 'xx' }), row({ topic: 'b', payload: 'yyy', priority: 5 })]);
  const [o] = a.append([row({ topic: 'c' })]);
  a.deadLetter(1, { oseq: o!, route: 'r', reasonCode: 0x87, reason: 'no', failedAt: 1 });
  a.close();
  const b = new SqliteStore(path, 'batch');
  t.after(() => b.close());
  assert.deepEqual(b.breakdown(), {
    byTopic: [{ topic: 'a', rows: 1, bytes: 2 }, { topic: 'b', rows: 1, bytes: 3 }],
    byPriority: [{ priority: 5, rows: 1 }, { priority: 1, rows: 1 }],
  });
  assert.deepEqual([b.totals().rows, b.totals().bytes, b.deadLetterCount()], [2, 5, 1]);
});

test('sqlite: a corrupt file is moved aside, never deleted, and a fresh outbox opens', (t) => {
  const path = dbPath(t);
  writeFileSync(path, 'this is not a database, it is a file someone overwrote'.repeat(100));
  const { store, quarantined } = openSqliteStore(path, 'batch');
  t.after(() => store.close());
  assert.ok(quarantined, 'reported as quarantined');
  assert.match(quarantined.reason, /not a database/);
  assert.ok(existsSync(quarantined.path), 'the corrupt file is kept');
  assert.ok(readdirSync(dirname(path)).some((f) => f.startsWith('outbox.db.corrupt-')));
  assert.equal(store.totals().rows, 0);
  store.append([row()]);
  assert.equal(store.totals().rows, 1);
});

test('sqlite: a healthy file is not quarantined', (t) => {
  const path = dbPath(t);
  new SqliteStore(path, 'batch').close();
  const { store, quarantined } = openSqliteStore(path, 'batch');
  store.close();
  assert.equal(quarantined, undefined);
});

test('sqlite: marks written since the last sweep survive a crash in the mark file', (t) => {
  const path = dbPath(t);
  const crashed = new SqliteStore(path, 'batch');
  const [o1, o2] = crashed.append([row(), row()]);
  crashed.mark(0, [[1, o1!]]);
  // A second connection while the first is never closed: what a restart after kill -9 finds.
  const after = new SqliteStore(path, 'batch');
  t.after(() => after.close());
  assert.deepEqual([...after.marks(0)], [[1, o1]]);
  assert.equal(after.sweep().rows, 1);
  assert.deepEqual(after.fetch(1, 1, 0, ALL, 10).map((r) => r.oseq), [o2]);
});

test('sqlite: a torn mark file is ignored; the marks stored at the last sweep count', (t) => {
  const path = dbPath(t);
  const a = new SqliteStore(path, 'batch');
  const [o1, o2] = a.append([row(), row()]);
  a.mark(0, [[1, o1!]]);
  a.sweep();
  a.mark(0, [[1, o2!]]);
  const file = readFileSync(`${path}-marks`);
  file[file.length - 1]! ^= 0xff;
  writeFileSync(`${path}-marks`, file);
  const b = new SqliteStore(path, 'batch');
  t.after(() => b.close());
  assert.deepEqual([...b.marks(0)], [[1, o1]], 'the swept mark, not the torn one');
  assert.deepEqual(b.fetch(1, 1, 0, ALL, 10).map((r) => r.oseq), [o2], 'a duplicate at worst, never a loss');
});

test('sqlite: marks past the last oseq ever given are not trusted', (t) => {
  const path = dbPath(t);
  const a = new SqliteStore(path, 'os');
  const [o1] = a.append([row()]);
  a.mark(0, [[1, o1! + 100]]);
  const b = new SqliteStore(path, 'os');
  t.after(() => b.close());
  assert.equal(b.marks(0).size, 0);
  assert.equal(b.sweep().rows, 0);
});

test('sqlite: the mark file of another database is ignored', (t) => {
  const path = dbPath(t);
  const other = join(dirname(path), 'other.db');
  const mine = new SqliteStore(path, 'batch');
  mine.append([row(), row(), row()]);
  mine.close();
  const a = new SqliteStore(other, 'batch');
  const [o1] = a.append([row()]);
  a.mark(0, [[1, o1!]]);
  a.close();
  copyFileSync(`${other}-marks`, `${path}-marks`);
  const b = new SqliteStore(path, 'batch');
  t.after(() => b.close());
  assert.equal(b.marks(0).size, 0, 'same oseq range, other identity');
  assert.equal(b.totals().rows, 3);
});

test('sqlite: a sync that cannot reach the WAL rejects, it does not throw', async (t) => {
  const path = dbPath(t);
  const store = new SqliteStore(path, 'batch');
  t.after(() => store.close());
  unlinkSync(`${path}-wal`);
  await assert.rejects(store.sync(), /ENOENT/);
});
