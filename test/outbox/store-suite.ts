// One behavioural suite for every OutboxStore implementation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NewRow, OutboxStore } from '../../src/outbox/store.ts';

export type MakeStore = () => { store: OutboxStore; cleanup: () => void };

/** No horizon: every row stored. */
export const ALL = Number.MAX_SAFE_INTEGER;

let n = 0;
export function row(over: Partial<NewRow> = {}): NewRow {
  n++;
  const r = {
    id: `id-${n}`,
    source: 's1',
    seq: n,
    topic: 'sensors/s1',
    priority: 1,
    ts: 1000 + n,
    created: 2000 + n,
    payload: `{"n":${n}}`,
    pending: 1,
    ...over,
  };
  return { ...r, bytes: Buffer.byteLength(r.payload) };
}

export function storeSuite(name: string, make: MakeStore): void {
  describe(`OutboxStore: ${name}`, () => {
    const withStore = (fn: (s: OutboxStore) => void | Promise<void>) => async () => {
      const { store, cleanup } = make();
      try {
        await fn(store);
      } finally {
        store.close();
        cleanup();
      }
    };

    test('append gives increasing oseqs and persists the last seq of each source', withStore((s) => {
      const oseqs = s.append([row({ source: 'a', seq: 7 }), row({ source: 'b', seq: 3 }), row({ source: 'a', seq: 8 })]);
      assert.equal(oseqs.length, 3);
      assert.ok(oseqs[0]! < oseqs[1]! && oseqs[1]! < oseqs[2]!);
      assert.deepEqual([...s.loadSeqs()].sort(), [['a', 8], ['b', 3]]);
      assert.equal(s.totals().rows, 3);
    }));

    test('fetch follows priority, cursor, horizon and route bit', withStore((s) => {
      const [o1, , o3, o4] = s.append([row({ priority: 1 }), row({ priority: 5 }), row({ priority: 1, pending: 2 }), row({ priority: 1 })]);
      assert.deepEqual(s.priorities(), [5, 1]);
      const low = s.fetch(1, 1, 0, ALL, 10);
      assert.equal(low.length, 2, 'the row pending only for route 2 is not fetched for route 1');
      assert.equal(low[0]!.oseq, o1);
      assert.equal(s.fetch(1, 1, o1!, ALL, 10).length, 1, 'the cursor skips what was handed out');
      assert.deepEqual(s.fetch(1, 1, 0, o4! - 1, 10).map((r) => r.oseq), [o1], 'nothing past the horizon');
      assert.deepEqual(s.fetch(2, 1, 0, ALL, 10).map((r) => r.oseq), [o3]);
      assert.equal(s.fetch(1, 1, 0, ALL, 1).length, 1, 'limit');
      const r = s.fetch(1, 5, 0, ALL, 10)[0]!;
      assert.equal(typeof r.payload, 'string');
      assert.equal(typeof r.ts, 'number');
    }));

    test('sync resolves once what was appended is stored', withStore(async (s) => {
      s.append([row()]);
      await s.sync();
      assert.equal(s.totals().rows, 1);
    }));

    test('a row is swept only when every route that carries it has marked it delivered', withStore((s) => {
      const [both, only0, later] = s.append([row({ pending: 3 }), row({ pending: 1 }), row({ pending: 1 })]);
      assert.deepEqual(s.sweep(), { rows: 0, bytes: 0 }, 'nothing is marked yet');
      s.mark(0, [[1, only0!]]);
      assert.deepEqual([...s.marks(0)], [[1, only0]]);
      const first = s.sweep();
      assert.equal(first.rows, 1, 'route 1 has not delivered the row both carry');
      assert.ok(first.bytes > 0);
      assert.deepEqual(s.fetch(2, 1, 0, ALL, 10).map((r) => r.oseq), [both], 'route 1 still has it');
      s.mark(1, [[1, both!]]);
      assert.equal(s.sweep().rows, 1);
      assert.deepEqual(s.fetch(1, 1, 0, ALL, 10).map((r) => r.oseq), [later], 'past the mark: still waiting');
      assert.equal(s.sweep().rows, 0, 'a repeated sweep is harmless');
      s.mark(0, [[1, 0]]);
      assert.equal(s.marks(0).get(1), only0, 'marks never move back');
    }));

    test('marks moving in turns on two routes sweep exactly the rows both have delivered', withStore((s) => {
      const [, , r3, , r5] = s.append([row({ pending: 3 }), row({ pending: 1 }), row({ pending: 2 }), row({ pending: 3 }), row({ pending: 3 })]);
      s.mark(0, [[1, r5!]]);
      assert.equal(s.sweep().rows, 1, 'only the row route 0 carries alone');
      s.mark(1, [[1, r3!]]);
      assert.equal(s.sweep().rows, 2, 'the first row (both routes) and the third (route 1 alone)');
      assert.equal(s.sweep().rows, 0);
      s.mark(1, [[1, r5!]]);
      assert.equal(s.sweep().rows, 2);
      assert.equal(s.totals().rows, 0);
    }));

    test('marks are per priority', withStore((s) => {
      const [low, high] = s.append([row({ priority: 1 }), row({ priority: 5 })]);
      s.mark(0, [[5, high!]]);
      assert.equal(s.sweep().rows, 1);
      assert.deepEqual(s.fetch(1, 1, 0, ALL, 10).map((r) => r.oseq), [low]);
      assert.equal(s.marks(1).size, 0, 'a route that never marked has no marks');
    }));

    test('a refused row moves to the dead letters', withStore((s) => {
      const [o] = s.append([row({ topic: 'sensors/x' })]);
      const removed = s.deadLetter(1, { oseq: o!, route: 'default', reasonCode: 0x87, reason: 'Not authorized', failedAt: 5 });
      assert.equal(removed.rows, 1);
      assert.equal(s.deadLetterCount(), 1);
      const [letter] = s.deadLetters(10);
      assert.equal(letter!.topic, 'sensors/x');
      assert.equal(letter!.reasonCode, 0x87);
      assert.equal(letter!.route, 'default');
      assert.equal(s.totals().rows, 0);
    }));

    test('evict drops the lowest priority and oldest first', withStore((s) => {
      const [a, b, c, d] = s.append([row({ priority: 5 }), row({ priority: 1 }), row({ priority: 1 }), row({ priority: 9 })]);
      assert.equal(s.evict(2).rows, 2);
      const left = [...s.fetch(1, 5, 0, ALL, 10), ...s.fetch(1, 9, 0, ALL, 10), ...s.fetch(1, 1, 0, ALL, 10)].map((r) => r.oseq);
      assert.deepEqual(left.sort(), [a, d].sort());
      assert.ok(b && c);
    }));

    test('expire removes rows that entered before the cut-off', withStore((s) => {
      s.append([row({ created: 100 }), row({ created: 200 }), row({ created: 300 })]);
      assert.equal(s.expire(250).rows, 2);
      assert.equal(s.totals().rows, 1);
      assert.equal(s.totals().oldestCreated, 300);
    }));

    test('totals, breakdown and purge', withStore((s) => {
      s.append([row({ topic: 'a', payload: 'xx' }), row({ topic: 'b', payload: 'yyy', priority: 5 }), row({ topic: 'a', payload: 'z' })]);
      assert.deepEqual(s.totals(), { rows: 3, bytes: 6, oldestCreated: s.totals().oldestCreated });
      const b = s.breakdown();
      assert.deepEqual(b.byTopic, [{ topic: 'a', rows: 2, bytes: 3 }, { topic: 'b', rows: 1, bytes: 3 }]);
      assert.deepEqual(b.byPriority, [{ priority: 5, rows: 1 }, { priority: 1, rows: 2 }]);
      assert.deepEqual(s.purge(), { rows: 3, bytes: 6 });
      assert.deepEqual(s.totals(), { rows: 0, bytes: 0, oldestCreated: null });
      assert.equal(s.loadSeqs().size, 1, 'purge keeps the seqs so numbering goes on');
    }));

    test('totals, breakdown and the dead-letter count follow every way a row goes', withStore((s) => {
      /** What the store holds, read row by row: the truth the kept figures must match. */
      const truth = () => {
        const rows = Array.from({ length: 10 }, (_, p) => s.fetch(0x7fffffff, p, 0, ALL, 1_000_000)).flat();
        const topics = new Map<string, { topic: string; rows: number; bytes: number }>();
        const prios = new Map<number, number>();
        for (const r of rows) {
          const t = topics.get(r.topic) ?? { topic: r.topic, rows: 0, bytes: 0 };
          t.rows++;
          t.bytes += Buffer.byteLength(r.payload);
          topics.set(r.topic, t);
          prios.set(r.priority, (prios.get(r.priority) ?? 0) + 1);
        }
        return {
          byTopic: [...topics.values()].sort((a, b) => (a.topic < b.topic ? -1 : 1)),
          byPriority: [...prios].map(([priority, n]) => ({ priority, rows: n })).sort((a, b) => b.priority - a.priority),
          rows: rows.length,
          bytes: rows.reduce((n, r) => n + Buffer.byteLength(r.payload), 0),
          oldest: rows.length ? Math.min(...rows.map((r) => r.oseq)) : null,
        };
      };
      const created = new Map<number, number>();
      const check = (what: string) => {
        const want = truth();
        assert.deepEqual(s.breakdown(), { byTopic: want.byTopic, byPriority: want.byPriority }, what);
        const totals = s.totals();
        assert.deepEqual([totals.rows, totals.bytes], [want.rows, want.bytes], what);
        assert.equal(totals.oldestCreated, want.oldest === null ? null : created.get(want.oldest), what);
      };
      const add = (n: number, over: Partial<NewRow> = {}) => {
        const rows = Array.from({ length: n }, (_, i) => row({ topic: `t${i % 3}`, priority: i % 2 ? 5 : 1, payload: 'x'.repeat(i + 1), ...over }));
        const oseqs = s.append(rows);
        oseqs.forEach((o, i) => created.set(o, rows[i]!.created));
        return oseqs;
      };
      const a = add(12, { pending: 3 });
      check('after append');
      s.mark(0, [[1, a[4]!], [5, a[5]!]]);
      s.sweep();
      check('after a sweep that removes nothing (route 1 has not delivered)');
      s.mark(1, [[1, a[2]!], [5, a[9]!]]);
      s.sweep();
      check('after a sweep');
      s.deadLetter(3, { oseq: a[11]!, route: 'r', reasonCode: 0x87, reason: 'no', failedAt: 1 });
      check('after a dead letter');
      assert.equal(s.deadLetterCount(), 1);
      add(6, { created: 10 });
      s.evict(3);
      check('after an eviction');
      s.expire(11);
      check('after an expiry');
      s.purge();
      check('after a purge');
      add(2);
      check('after appending again');
      assert.equal(s.deadLetterCount(), 1, 'a purge keeps the dead letters');
    }));

    test('oseqs are never reused, even after every row is gone', withStore((s) => {
      const [o1] = s.append([row()]);
      s.mark(0, [[1, o1!]]);
      assert.equal(s.sweep().rows, 1);
      const [o2] = s.append([row()]);
      assert.ok(o2! > o1!);
    }));
  });
}
