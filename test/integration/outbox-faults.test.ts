// Nothing is lost across a crash (kill -9), a broker restart and a network cut; a full outbox applies its policy;
// a corrupt outbox file is moved aside. Real Mosquitto processes, started by the tests on free ports.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, writeGatewayConfig } from '../app/gateway-child.ts';
import { spawnNode, type NodeChild } from '../support/child.ts';
import { startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { freePort } from '../support/ports.ts';
import { startSubscriber, type SubscriberStats } from '../support/subscriber.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { waitUntil } from '../support/wait.ts';
import { simulatedSensors, startGateway } from './gateway-fixture.ts';

const SENSORS = 8;
const TOPIC = 'edgeloop/+/sensors/#';

/** Every sensor seen, none with a gap below its highest seq, and each at least `minSeq`. */
const complete = (minSeq: number) => (s: SubscriberStats) =>
  s.perSensor.size === SENSORS && [...s.perSensor.values()].every((p) => p.gaps.length === 0 && p.minSeq === 1 && p.maxSeq >= minSeq);

const summary = (s: SubscriberStats) =>
  [...s.perSensor].map(([k, p]) => `${k}: max ${p.maxSeq}, gaps ${p.gaps.length}, dup ${p.duplicates}`).join('; ');

function totalMax(s: SubscriberStats): number {
  let n = 0;
  for (const p of s.perSensor.values()) n += p.maxSeq;
  return n;
}

describe('outbox under faults', () => {
  let broker: MosquittoHandle;
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'edgeloop-fault-'));
    dirs.push(d);
    return d;
  };
  after(async () => {
    await broker?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('kill -9 mid-stream of >= 10,000 records: after a restart, every seq arrives, duplicates within the window', async (t) => {
    broker = await startMosquitto({ maxInflight: 0 });
    const sub = await startSubscriber({ url: broker.url, topic: TOPIC, clientId: 'audit-kill' });
    t.after(() => sub.close());
    const window = 50;
    const { configFile, remove } = await writeGatewayConfig({
      device: { id: 'crash' },
      mqtt: { url: broker.url, protocol_version: 5, window },
      sensors: simulatedSensors(SENSORS, 2),
    });
    t.after(remove);
    const run = (): NodeChild => spawnNode([CLI, 'run', '-c', configFile]);
    let gw = run();
    t.after(() => gw.kill('SIGKILL'));
    await gw.waitForLog((e) => e.msg === 'mqtt connected', 15_000);
    await sub.waitFor((s) => s.received >= 5000, 30_000);
    gw.kill('SIGKILL');
    await gw.exited;
    const atKill = totalMax(sub.stats());

    gw = run();
    await gw.waitForLog((e) => e.msg === 'mqtt connected', 15_000);
    await sub.waitFor((s) => totalMax(s) >= Math.max(10_000, atKill + 2000) && complete(1)(s), 60_000).catch((err) => {
      throw new Error(`${err.message}\n${summary(sub.stats())}`);
    });
    gw.kill('SIGTERM');
    assert.equal((await gw.exited).code, 0);
    const stats = sub.stats();
    assert.ok(complete(1)(stats), summary(stats));
    assert.ok(stats.duplicates <= window, `${stats.duplicates} duplicates > window ${window}`);
    t.diagnostic(`killed after ${atKill} records; ${stats.received} received in all, ${stats.duplicates} duplicates, no gap`);
    assert.equal(stats.malformed, 0);
  });

  test('broker restart mid-stream: no gap', async (t) => {
    broker ??= await startMosquitto({ maxInflight: 0 });
    const sub = await startSubscriber({ url: broker.url, topic: TOPIC, clientId: 'audit-restart' });
    t.after(() => sub.close());
    const g = await startGateway({
      device: { id: 'restart' },
      mqtt: { url: broker.url, reconnect: { min_ms: 50, max_ms: 200 } },
      sensors: simulatedSensors(SENSORS, 10),
    });
    t.after(() => g.stop());
    await sub.waitFor((s) => s.received >= 200, 20_000);
    await broker.restart();
    const before = totalMax(sub.stats());
    await sub.waitFor((s) => totalMax(s) >= before + 800 && complete(1)(s), 30_000).catch((err) => {
      throw new Error(`${err.message}\n${summary(sub.stats())}`);
    });
    assert.ok(g.gw.status().routes.mqtt![0]!.connects >= 2, 'reconnected');
  });

  test('network cut of 10 s: backoff while cut, reconnect within 2 s of the heal, no gap', async (t) => {
    broker ??= await startMosquitto({ maxInflight: 0 });
    const proxy = await startTcpProxy({ targetPort: broker.port });
    t.after(() => proxy.close());
    const sub = await startSubscriber({ url: broker.url, topic: TOPIC, clientId: 'audit-cut' });
    t.after(() => sub.close());
    const g = await startGateway({
      device: { id: 'cut' },
      mqtt: {
        url: `mqtt://127.0.0.1:${proxy.port}`,
        keepalive_s: 1,
        connect_timeout_ms: 500,
        reconnect: { min_ms: 100, max_ms: 800 },
      },
      sensors: simulatedSensors(SENSORS, 20),
    });
    t.after(() => g.stop());
    await sub.waitFor((s) => s.received >= 100, 20_000);
    proxy.blackhole();
    const cutAt = Date.now();
    await g.log.waitFor((e) => e.msg === 'mqtt connection lost', 10_000);
    await g.log.waitFor((e) => e.msg === 'mqtt reconnect scheduled' && (e.attempt as number) >= 3, 10_000);
    const during = g.gw.outboxInstance!.rows;
    assert.ok(during > 0, 'records wait in the outbox during the cut');
    await new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - cutAt))));
    const healedAt = Date.now();
    const mark = g.log.entries.length;
    proxy.heal();
    await g.log.waitFor((e) => e.msg === 'mqtt connected' && g.log.entries.indexOf(e) >= mark, 5_000);
    const reconnectMs = Date.now() - healedAt;
    assert.ok(reconnectMs <= 2000, `reconnected ${reconnectMs} ms after the heal`);
    t.diagnostic(`${during} records waited in the outbox during the cut; reconnected ${reconnectMs} ms after the heal`);
    const metrics = await g.gw.metrics.render();
    assert.match(metrics, /edgeloop_route_reconnects_total\{route="default"\} [3-9]|edgeloop_route_reconnects_total\{route="default"\} \d\d/);
    const target = totalMax(sub.stats()) + during;
    await sub.waitFor((s) => totalMax(s) >= target && complete(1)(s), 30_000).catch((err) => {
      throw new Error(`${err.message}\n${summary(sub.stats())}`);
    });
  });

  for (const onFull of ['drop-oldest', 'reject-new'] as const) {
    test(`outbox full while the broker is down: ${onFull} is applied and counted, the gateway keeps sampling`, async (t) => {
      const g = await startGateway({
        mqtt: { url: `mqtt://127.0.0.1:${await freePort()}`, reconnect: { min_ms: 1000, max_ms: 5000 } },
        outbox: { max_rows: 100, on_full: onFull },
        sensors: simulatedSensors(4, 5),
      });
      t.after(() => g.stop());
      const outbox = g.gw.outboxInstance!;
      const reason = onFull === 'drop-oldest' ? 'outbox-full' : 'outbox-rejected';
      await waitUntil({
        check: () => (outbox.drops[reason] >= 50 ? true : undefined),
        subscribe: (recheck) => {
          outbox.on('drop', recheck);
          return () => outbox.off('drop', recheck);
        },
        timeoutMs: 20_000,
        describe: () => `drops: ${JSON.stringify(outbox.drops)}`,
      });
      assert.ok(outbox.rows <= 100, `${outbox.rows} rows`);
      const res = await fetch(`${g.gw.api!.url}/api/v1/outbox`);
      const view = (await res.json()) as { rows: number; drops: Record<string, number> };
      // Reasons are label values in metrics (outbox-full) and snake_case keys in JSON (outbox_full).
      assert.ok(view.drops[reason.replace('-', '_')]! >= 50);
      assert.match(await g.gw.metrics.render(), new RegExp(`edgeloop_drops_total\\{stage="outbox",reason="${reason}"\\} \\d+`));
      const samples = g.gw.sensors()[0]!.samples;
      await waitUntil({
        check: () => (g.gw.sensors()[0]!.samples > samples + 10 ? true : undefined),
        subscribe: (recheck) => {
          outbox.on('committed', recheck);
          return () => outbox.off('committed', recheck);
        },
        timeoutMs: 10_000,
        describe: () => 'sampling stopped once the outbox was full',
      });
    });
  }

  test('a corrupt outbox file at start is quarantined and the gateway runs with a fresh one', async (t) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'outbox.db'), Buffer.alloc(8192, 0x5a));
    const g = await startGateway({ sensors: simulatedSensors(1, 20) }, dir);
    t.after(() => g.stop());
    const entry = await g.log.waitFor((e) => e.code === 'EDGELOOP_ERR_OUTBOX_CORRUPT', 5_000);
    const aside = entry.moved_to as string;
    assert.ok(existsSync(aside), 'the corrupt file is kept');
    assert.ok(readdirSync(dir).includes('outbox.db'));
    assert.match(await g.gw.metrics.render(), /edgeloop_outbox_quarantined_total 1/);
    const outbox = g.gw.outboxInstance!;
    await waitUntil({
      check: () => (outbox.lastSeq('s01') > 0 ? true : undefined),
      subscribe: (recheck) => {
        outbox.on('committed', recheck);
        return () => outbox.off('committed', recheck);
      },
      timeoutMs: 5000,
      describe: () => 'no record committed after the quarantine',
    });
  });
});
