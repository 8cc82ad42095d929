// Several upstream routes over one outbox, each with its own cursor; QoS 2; MQTT 5 flow control and refusals.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { startSubscriber } from '../support/subscriber.ts';
import { simulatedSensors, startGateway } from './gateway-fixture.ts';

describe('upstream routes', () => {
  const brokers: MosquittoHandle[] = [];
  const broker = async (opts: Parameters<typeof startMosquitto>[0] = {}) => {
    const b = await startMosquitto({ maxInflight: 0, ...opts });
    brokers.push(b);
    return b;
  };
  after(() => Promise.all(brokers.map((b) => b.stop())));

  test('a dead route does not hold back a live one, and catches up without a gap when it returns', async (t) => {
    const local = await broker();
    const cloud = await broker();
    const subLocal = await startSubscriber({ url: local.url, topic: 'edgeloop/+/sensors/#', clientId: 'r-local' });
    const subCloud = await startSubscriber({ url: cloud.url, topic: 'edgeloop/+/sensors/#', clientId: 'r-cloud' });
    const link = await startTcpProxy({ targetPort: cloud.port });
    t.after(() => Promise.all([subLocal.close(), subCloud.close(), link.close()]));
    const g = await startGateway({
      device: { id: 'routes' },
      mqtt: [
        { name: 'local', url: local.url },
        {
          name: 'cloud',
          url: `mqtt://127.0.0.1:${link.port}`,
          topics: ['sensors/s01'],
          connect_timeout_ms: 300,
          reconnect: { min_ms: 50, max_ms: 200 },
        },
      ],
      sensors: simulatedSensors(2, 10),
    });
    t.after(() => g.stop());
    await subCloud.waitFor((s) => (s.perSensor.get('s01')?.count ?? 0) >= 20, 10_000);
    assert.equal(subCloud.stats().perSensor.has('s02'), false, 'the cloud route carries only its topics');

    // The cloud link dies: connections reset, new ones never answered.
    link.blackhole();
    link.cutAll();
    const localBefore = subLocal.stats().received;
    await subLocal.waitFor((s) => s.received >= localBefore + 200, 10_000);
    const outbox = g.gw.outbox();
    assert.ok(outbox.rows > 0, 'the cloud backlog waits in the outbox');
    assert.equal(outbox.by_route.find((r) => r.route === 'local')!.inflight <= 100, true);

    link.heal();
    const seq = g.gw.outboxInstance!.lastSeq('s01');
    await subCloud.waitFor((s) => {
      const p = s.perSensor.get('s01');
      return p !== undefined && p.maxSeq >= seq && p.gaps.length === 0;
    }, 15_000);
  });
});

describe('MQTT 5 flow control, QoS 2 and refusals', () => {
  const brokers: MosquittoHandle[] = [];
  after(() => Promise.all(brokers.map((b) => b.stop())));

  test('QoS 2: every record exactly once', async (t) => {
    const b = await startMosquitto({ maxInflight: 0 });
    brokers.push(b);
    const sub = await startSubscriber({ url: b.url, topic: 'edgeloop/+/sensors/#', clientId: 'q2' });
    t.after(() => sub.close());
    const g = await startGateway({ device: { id: 'q2' }, mqtt: { url: b.url, qos: 2 }, sensors: simulatedSensors(2, 5) });
    t.after(() => g.stop());
    await sub.waitFor((s) => s.perSensor.size === 2 && [...s.perSensor.values()].every((p) => p.maxSeq >= 100), 15_000);
    const s = sub.stats();
    assert.equal(s.duplicates, 0);
    assert.ok([...s.perSensor.values()].every((p) => p.gaps.length === 0));
  });

  test('the in-flight window never exceeds the broker Receive Maximum', async (t) => {
    const b = await startMosquitto({ maxInflight: 5 });
    brokers.push(b);
    const g = await startGateway({ device: { id: 'rm' }, mqtt: { url: b.url, window: 100 }, sensors: simulatedSensors(1, 50) });
    t.after(() => g.stop());
    await g.log.waitFor((e) => e.msg === 'mqtt connected', 10_000);
    assert.equal(g.gw.status().routes.mqtt![0]!.window, 5);
  });

  test('a publish the broker refuses (reason code >= 0x80) goes to the dead letters, the rest flows', async (t) => {
    // Anonymous clients may publish everything but the `secret` sensor.
    const acl = join(tmpdir(), `edgeloop-acl-${process.pid}`);
    writeFileSync(acl, 'topic readwrite edgeloop/+/status\ntopic readwrite edgeloop/+/sensors/s01\ntopic read #\n');
    const b = await startMosquitto({ maxInflight: 0, extraConfig: [`acl_file ${acl}`] });
    brokers.push(b);
    const sub = await startSubscriber({ url: b.url, topic: 'edgeloop/+/sensors/#', clientId: 'dl' });
    t.after(() => sub.close());
    const g = await startGateway({
      device: { id: 'dl' },
      mqtt: { url: b.url, protocol_version: 5 },
      sensors: [...simulatedSensors(1, 20), { id: 'secret', driver: 'simulated', interval_ms: 20 }],
    });
    t.after(() => g.stop());
    await g.log.waitFor((e) => e.code === 'EDGELOOP_ERR_MQTT_REFUSED' && e.reason_code === 0x87, 10_000);
    await sub.waitFor((s) => (s.perSensor.get('s01')?.maxSeq ?? 0) >= 20, 10_000);
    const view = g.gw.outbox();
    assert.ok(view.dead_letters >= 1);
    assert.equal(sub.stats().perSensor.has('secret'), false);
  });
});
