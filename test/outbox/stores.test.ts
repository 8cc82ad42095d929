// Runs the store suite against every implementation, plus what only a file can do: survive a reopen, and be
// moved aside when corrupt.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryStore } from '../../src/outbox/memory-store.ts';
import { openSqliteStore, SqliteStore } from '../../src/outbox/sqlite-store.ts';
import { row, storeSuite } from './store-suite.ts';

function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

storeSuite('memory', () => ({ store: new MemoryStore(), cleanup: () => {} }));
for (const durability of ['batch', 'os'] as const) {
  storeSuite(`sqlite (${durability})`, () => {
    const { dir, cleanup } = tempDir();
    return { store: new SqliteStore(join(dir, 'outbox.db'), durability), cleanup };
  });
}

test('sqlite: rows, seqs and the oseq counter survive a reopen', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'outbox.db');
  const a = new SqliteStore(path, 'batch');
  const [o1, o2] = a.append([row({ source: 'x', seq: 41 }), row({ source: 'x', seq: 42 })]);
  a.ack(1, [o2!]);
  a.close();
  const b = new SqliteStore(path, 'batch');
  t.after(() => b.close());
  assert.deepEqual([...b.loadSeqs()], [['x', 42]]);
  assert.deepEqual(b.fetch(1, 1, 0, 10).map((r) => r.oseq), [o1]);
  const [o3] = b.append([row()]);
  assert.ok(o3! > o2!, 'the deleted last oseq is not reused');
});

test('sqlite: a corrupt file is moved aside, never deleted, and a fresh outbox opens', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'outbox.db');
  writeFileSync(path, 'this is not a database, it is a file someone overwrote'.repeat(100));
  const { store, quarantined } = openSqliteStore(path, 'batch');
  t.after(() => store.close());
  assert.ok(quarantined, 'reported as quarantined');
  assert.match(quarantined.reason, /not a database/);
  assert.ok(existsSync(quarantined.path), 'the corrupt file is kept');
  assert.ok(readdirSync(dir).some((f) => f.startsWith('outbox.db.corrupt-')));
  assert.equal(store.totals().rows, 0);
  store.append([row()]);
  assert.equal(store.totals().rows, 1);
});

test('sqlite: a healthy file is not quarantined', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'outbox.db');
  new SqliteStore(path, 'batch').close();
  const { store, quarantined } = openSqliteStore(path, 'batch');
  store.close();
  assert.equal(quarantined, undefined);
});
