// The pool's scheduler on a fake clock: fair order, fair share of the queue, the budget and its fair share, stale
// requests, refunds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FairScheduler } from '../../src/inference/pool/scheduler.ts';
import type { Ticket } from '../../src/inference/pool/scheduler.ts';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const any = () => true;
const never = () => assert.fail('nothing should be stale');

describe('fair scheduler', () => {
  it('admits while the budget lasts and refills it over time', () => {
    const c = clock();
    const s = new FairScheduler<number>({ capacity: 100, budgetPerS: 10, maxWaitMs: 1e9, now: c.now });
    let admitted = 0;
    for (let i = 0; i < 15; i++) if (s.admit('a', 1, i).ok) admitted++;
    assert.equal(admitted, 10, 'one second of budget at once');
    assert.deepEqual(s.admit('a', 1, 0), { ok: false, reason: 'budget' });
    c.advance(500);
    for (let i = 0; i < 10; i++) if (s.admit('a', 1, i).ok) admitted++;
    assert.equal(admitted, 15, 'half a second refills half the budget');
  });

  it('shares the budget fairly: a camera asking 4× as often gets no more than the other', () => {
    const c = clock();
    const s = new FairScheduler<string>({ capacity: 1000, budgetPerS: 10, maxWaitMs: 1e9, now: c.now });
    const got = { fast: 0, slow: 0 };
    const take = (camera: 'fast' | 'slow') => {
      if (s.admit(camera, 1, camera).ok) got[camera]++;
      // Served at once, so the queue never limits.
      s.next(any, never);
    };
    // 20 s: "fast" asks 20 times a second, "slow" 5 times; the budget is 10 a second.
    for (let ms = 0; ms < 20_000; ms += 10) {
      c.advance(10);
      if (ms % 50 === 0) take('fast');
      if (ms % 200 === 0) take('slow');
    }
    // slow gets all it asks for (5/s ≤ its share of 5/s), fast the rest.
    assert.ok(got.slow >= 95, `slow got ${got.slow} of 100`);
    assert.ok(got.fast >= 95 && got.fast <= 110, `fast got ${got.fast}`);
    assert.ok(got.fast + got.slow <= 10 * 20 + 10, 'never over the budget (plus the first second of burst)');
  });

  it('leaves what a camera does not use of its share to the others', () => {
    const c = clock();
    const s = new FairScheduler<string>({ capacity: 1000, budgetPerS: 10, maxWaitMs: 1e9, now: c.now });
    const got = { fast: 0, slow: 0 };
    for (let ms = 0; ms < 20_000; ms += 10) {
      c.advance(10);
      for (const [camera, every] of [['fast', 50], ['slow', 500]] as const) {
        if (ms % every === 0 && s.admit(camera, 1, camera).ok) got[camera]++;
        s.next(any, never);
      }
    }
    // slow asks 2/s and gets them; fast gets the other 8/s.
    assert.ok(got.slow >= 38, `slow got ${got.slow} of 40`);
    assert.ok(got.fast >= 150 && got.fast <= 175, `fast got ${got.fast}`);
  });

  it('lets one camera use the whole budget when it is alone', () => {
    const c = clock();
    const s = new FairScheduler<string>({ capacity: 1000, budgetPerS: 10, maxWaitMs: 1e9, now: c.now });
    let got = 0;
    for (let ms = 0; ms < 10_000; ms += 25) {
      c.advance(25);
      if (s.admit('only', 1, '').ok) got++;
      s.next(any, never);
    }
    assert.ok(got >= 100 && got <= 110, `got ${got}`);
  });

  it('refunds the budget of requests that never run, and counts regions as runs', () => {
    const c = clock();
    const s = new FairScheduler<string>({ capacity: 10, budgetPerS: 4, maxWaitMs: 100, now: c.now });
    const first = s.admit('a', 3, 'x');
    assert.ok(first.ok);
    assert.deepEqual(s.admit('a', 2, 'y'), { ok: false, reason: 'budget' });
    assert.ok(s.remove(first.ticket));
    assert.equal(s.remove(first.ticket), false);
    assert.ok(s.admit('a', 2, 'y').ok);
    c.advance(150);
    const stale: Ticket<string>[] = [];
    assert.equal(s.next(any, (t) => stale.push(t)), undefined);
    assert.deepEqual(stale.map((t) => t.item), ['y']);
    // Refunded: 4 tokens again (the clock moved too, but the burst caps at one second's worth).
    assert.ok(s.admit('a', 4, 'z').ok);
  });

  it('gives a newcomer its share of a full queue by evicting the newest request of the longest', () => {
    const s = new FairScheduler<string>({ capacity: 4, maxWaitMs: 1e9 });
    for (const item of ['a1', 'a2', 'a3', 'a4']) assert.ok(s.admit('a', 1, item).ok);
    assert.deepEqual(s.admit('a', 1, 'a5'), { ok: false, reason: 'queue_full' });
    const b1 = s.admit('b', 1, 'b1');
    assert.ok(b1.ok && b1.evicted?.item === 'a4');
    const b2 = s.admit('b', 1, 'b2');
    assert.ok(b2.ok && b2.evicted?.item === 'a3');
    assert.deepEqual(s.admit('b', 1, 'b3'), { ok: false, reason: 'queue_full' });
    assert.equal(s.depth, 4);
    const order = [];
    for (let t = s.next(any, never); t; t = s.next(any, never)) order.push(t.item);
    assert.deepEqual(order, ['a1', 'b1', 'a2', 'b2']);
  });

  it('passes over requests a worker cannot serve yet', () => {
    const s = new FairScheduler<string>({ capacity: 4, maxWaitMs: 1e9 });
    s.admit('a', 1, 'old-model');
    s.admit('b', 1, 'new-model');
    assert.equal(s.next((t) => t.item === 'new-model', never)?.item, 'new-model');
    assert.equal(s.depth, 1);
  });
});
