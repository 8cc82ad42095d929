// An http route in the gateway, next to the mqtt one: records reach the webhook, an endpoint that fails for a while
// is caught up without a gap once it answers again, and status shows the route.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulatedSensors, startGateway } from '../integration/gateway-fixture.ts';
import { waitUntil } from '../support/wait.ts';
import { posts, startHttpFarEnd, untilRequests } from './http-far-end.ts';

test('the gateway drains the outbox to a webhook, through an outage, without a gap', { timeout: 20_000 }, async (t) => {
  const far = await startHttpFarEnd();
  t.after(() => far.close());
  const g = await startGateway({
    device: { id: 'hooked' },
    broker: { host: '127.0.0.1', port: 0 },
    http: [{ name: 'hook', url: far.url, timeout_ms: 1000, reconnect: { min_ms: 20, max_ms: 100 } }],
    sensors: simulatedSensors(1, 10),
  });
  t.after(() => g.stop());
  /** The seqs the webhook took. */
  const seqs = () => new Set(posts(far).filter((r) => r.answer === 204).map((r) => (JSON.parse(r.body) as { seq: number }).seq));

  await untilRequests(far, () => seqs().size >= 5, 'five records');
  const first = posts(far)[0];
  assert.equal(first?.headers['x-edgeloop-topic'], 'edgeloop/hooked/sensors/s01');

  // The endpoint fails: the route backs off, the records wait in the outbox.
  far.respond = () => 503;
  far.headStatus = 503;
  await g.log.waitFor((e) => e.msg === 'http reconnect scheduled' && e.attempt === 3, 5000);
  assert.equal(g.gw.status().routes.http?.find((r) => r.name === 'hook')?.state, 'disconnected');

  far.respond = () => 204;
  far.headStatus = 204;
  const outbox = g.gw.outboxInstance;
  assert.ok(outbox);
  const upTo = outbox.lastSeq('s01');
  const expected = Array.from({ length: upTo }, (_, i) => i + 1);
  await untilRequests(far, () => expected.every((seq) => seqs().has(seq)), `every seq up to ${upTo}`, 10_000);

  // A 204 that arrives after the route gave its request up is not counted: that record is sent (and counted) again.
  const hook = g.gw.routes.map((r) => r.publisher).find((p) => p.name === 'hook');
  assert.ok(hook);
  await waitUntil({
    check: () => (hook.published >= upTo ? true : undefined),
    subscribe: (recheck) => {
      hook.on('acked', recheck);
      return () => hook.off('acked', recheck);
    },
    timeoutMs: 10_000,
    describe: () => `${hook.published} acknowledged, ${upTo} expected`,
  });
  const status = g.gw.status();
  assert.deepEqual(status.routes.mqtt?.map((r) => [r.name, r.kind]), [['default', 'mqtt']]);
  assert.deepEqual(status.routes.http?.map((r) => [r.name, r.kind]), [['hook', 'http']]);
  assert.equal(status.routes.http?.[0]?.state, 'connected');
});
