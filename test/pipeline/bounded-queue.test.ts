import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedQueue, type DropReason, type QueuePolicy } from '../../src/pipeline/bounded-queue.ts';

/** A queue that records every onDrop call. */
function queue(policy: QueuePolicy, capacity = 3) {
  const dropped: [DropReason, number][] = [];
  const q = new BoundedQueue<number>({ capacity, policy, onDrop: (reason, item) => dropped.push([reason, item]) });
  return { q, dropped };
}

/** Lets pending promise continuations run; nothing here waits on a timer. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('BoundedQueue', () => {
  test('refuses a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new BoundedQueue({ capacity, policy: 'drop-oldest' }), RangeError);
    }
  });

  test('is FIFO below capacity and drops nothing', () => {
    const { q, dropped } = queue('drop-oldest');
    assert.equal(q.offer(1), true);
    assert.equal(q.offer(2), true);
    assert.equal(q.size, 2);
    assert.equal(q.shift(), 1);
    assert.equal(q.shift(), 2);
    assert.equal(q.shift(), undefined);
    assert.deepEqual(dropped, []);
  });

  test('drop-oldest evicts the head when full, counts it and reports the evicted item', () => {
    const { q, dropped } = queue('drop-oldest');
    for (let i = 1; i <= 5; i++) assert.equal(q.offer(i), true);
    assert.equal(q.size, 3);
    assert.deepEqual(q.drain(), [3, 4, 5]);
    assert.deepEqual(dropped, [['overflow-oldest', 1], ['overflow-oldest', 2]]);
    assert.deepEqual(q.drops, { 'overflow-oldest': 2, 'overflow-newest': 0, 'block-timeout': 0 });
  });

  test('drop-newest refuses the offered item when full, counts it and reports it', () => {
    const { q, dropped } = queue('drop-newest');
    for (let i = 1; i <= 5; i++) assert.equal(q.offer(i), i <= 3);
    assert.deepEqual(q.drain(), [1, 2, 3]);
    assert.deepEqual(dropped, [['overflow-newest', 4], ['overflow-newest', 5]]);
    assert.deepEqual(q.drops, { 'overflow-oldest': 0, 'overflow-newest': 2, 'block-timeout': 0 });
  });

  test('block: offer never waits (refuses and counts when full); put waits for room and then adds', async () => {
    const { q, dropped } = queue('block', 2);
    assert.equal(q.offer(1), true);
    assert.equal(q.offer(2), true);
    assert.equal(q.offer(3), false);
    assert.deepEqual(dropped, [['overflow-newest', 3]]);

    let settled = false;
    const put = q.put(4).then((ok) => {
      settled = true;
      return ok;
    });
    await settle();
    assert.equal(settled, false, 'put must wait while the queue is full');
    assert.equal(q.shift(), 1);
    assert.equal(await put, true);
    assert.deepEqual(q.drain(), [2, 4]);
    assert.equal(dropped.length, 1, 'a put that waited is not a drop');
  });

  test('drain(max) takes at most max items in order and wakes a blocked writer', async () => {
    const { q } = queue('block', 3);
    for (const i of [1, 2, 3]) q.offer(i);
    const put = q.put(4);
    assert.deepEqual(q.drain(2), [1, 2]);
    assert.equal(await put, true);
    assert.deepEqual(q.drain(), [3, 4]);
    assert.deepEqual(q.drain(), []);
  });

  test('the ring wraps around correctly over many cycles', () => {
    const { q } = queue('drop-oldest', 4);
    const out: number[] = [];
    for (let i = 0; i < 100; i++) {
      q.offer(i);
      if (i % 3 === 0) out.push(...q.drain(1));
    }
    out.push(...q.drain());
    // Every item either came out once, in order, or was counted as dropped.
    assert.deepEqual(out, [...out].sort((a, b) => a - b));
    assert.equal(out.length + q.drops['overflow-oldest'], 100);
  });

  test('readable resolves when an item arrives', async () => {
    const { q } = queue('drop-oldest');
    const readable = q.readable();
    q.offer(7);
    await readable;
    assert.equal(q.shift(), 7);
  });

  test('close releases a waiting reader and a blocked writer; the writer\'s item is refused', async () => {
    const { q } = queue('block', 1);
    q.offer(1);
    const put = q.put(2);
    const { q: empty } = queue('drop-oldest');
    const readable = empty.readable();
    q.close();
    empty.close();
    await readable;
    assert.equal(await put, false);
    assert.equal(q.closed, true);
  });

  test('block: a put still without room at its deadline drops its item as block-timeout and counts it', async () => {
    const { q, dropped } = queue('block', 1);
    q.offer(1);
    const deadline = new AbortController();
    const put = q.put(2, deadline.signal);
    deadline.abort();
    assert.equal(await put, false);
    assert.deepEqual(q.drops, { 'overflow-oldest': 0, 'overflow-newest': 0, 'block-timeout': 1 });
    assert.deepEqual(dropped, [['block-timeout', 2]]);
    assert.deepEqual(q.drain(), [1], 'what was queued stays');
    assert.equal(await q.put(3, deadline.signal), true, 'with room, an expired deadline does not matter');
  });

  test('after close, offers are refused without counting a drop, and queued items can still be taken', () => {
    const { q, dropped } = queue('drop-oldest');
    q.offer(1);
    q.close();
    assert.equal(q.offer(2), false);
    assert.deepEqual(dropped, []);
    assert.deepEqual(q.drain(), [1]);
  });
});
