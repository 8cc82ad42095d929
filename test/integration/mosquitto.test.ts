// The gateway, run through the CLI as in production, publishing to a real Mosquitto over MQTT 3.1.1 and 5.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnGateway, waitForMsg } from '../app/gateway-child.ts';
import { simulatedSensors } from './gateway-fixture.ts';
import { assertConsecutive, checkReading, collect, retainedOn, seqsBySensor, type Reading } from '../app/mqtt-collector.ts';
import { runMosquittoSub } from '../support/mosquitto-sub.ts';
import { startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';

const CHANNELS = 6;
const PER_CHANNEL = 12;

let broker: MosquittoHandle;
before(async () => {
  broker = await startMosquitto();
});
after(() => broker?.stop());

describe('gateway → Mosquitto', () => {
  for (const version of [4, 5] as const) {
    test(`MQTT ${version === 4 ? '3.1.1' : '5'}: every channel arrives in seq order with well-formed payloads; status online, then offline on SIGTERM`, async (t) => {
      const device = `it-v${version}`;
      const all = await collect(broker.url, `edgeloop/${device}/#`);
      t.after(() => all.close());
      const sub = await runMosquittoSub({ port: broker.port, topic: `edgeloop/${device}/sensors/+`, count: 20, timeoutMs: 30_000 });
      t.after(() => sub.kill());

      const gw = await spawnGateway(
        { device: { id: device }, sensors: simulatedSensors(CHANNELS, 20 + version * 5), mqtt: { protocol_version: version } },
        // mqtt.url through the environment: the override path a service unit uses.
        { env: { EDGELOOP_MQTT__URL: broker.url }, args: ['--log-level', 'debug'] },
      );
      t.after(() => gw.cleanup());
      await waitForMsg(gw.child, 'gateway started', 20_000);

      const sensorMessages = () => all.messages.filter((m) => m.topic.includes('/sensors/'));
      await all.waitFor(
        () => {
          const counts = new Map<string, number>();
          for (const m of sensorMessages()) counts.set(m.topic, (counts.get(m.topic) ?? 0) + 1);
          return counts.size === CHANNELS && [...counts.values()].every((n) => n >= PER_CHANNEL);
        },
        20_000,
        `${PER_CHANNEL} readings from each of ${CHANNELS} channels`,
      );

      const online = await retainedOn(broker.url, `edgeloop/${device}/status`);
      assert.deepEqual([online.text, online.retain], ['online', true]);

      // The stock client sees the same topics and payloads.
      const lines = await sub.lines;
      assert.equal(lines.length, 20);
      for (const line of lines) {
        const space = line.indexOf(' ');
        checkReading(line.slice(0, space), line.slice(space + 1), device, '');
      }

      const mark = gw.child.mark();
      gw.child.kill('SIGTERM');
      assert.deepEqual(await gw.child.exited, { code: 0, signal: null });
      await waitForMsg(gw.child, 'gateway stopped', 1, mark);
      await all.waitFor((m) => m.some((x) => x.topic.endsWith('/status') && x.text === 'offline'), 10_000, 'offline status');
      const offline = await retainedOn(broker.url, `edgeloop/${device}/status`);
      assert.deepEqual([offline.text, offline.retain], ['offline', true]);
      // A clean DISCONNECT discards the will: the offline seen came from the graceful stop.
      assert.match(broker.logs(), new RegExp(`Client edgeloop-${device} disconnected\\.`));

      const statuses = all.messages.filter((m) => m.topic === `edgeloop/${device}/status`).map((m) => m.text);
      assert.deepEqual(statuses, ['online', 'offline']);

      const readings: Reading[] = [];
      const ids = new Set<string>();
      for (const m of sensorMessages()) {
        const r = checkReading(m.topic, m.text, device, '');
        readings.push(r);
        ids.add(r.id);
        if (version === 5) assert.deepEqual({ ...m.userProperties }, { 'edgeloop-id': r.id });
        else assert.equal(m.userProperties, undefined);
      }
      assert.equal(ids.size, readings.length, 'ids are unique');
      const seqs = seqsBySensor(readings);
      assert.equal(seqs.size, CHANNELS);
      assertConsecutive(seqs);
      for (const sensor of seqs.keys()) {
        const ts = readings.filter((r) => r.sensor === sensor).map((r) => Date.parse(r.ts));
        assert.deepEqual(ts, [...ts].sort((a, b) => a - b), `ts of ${sensor} follow seq`);
      }

      // Connection states, in order, in the log.
      const states = gw.child.lines()
        .filter((l) => l.includes('"mqtt state"'))
        .map((l) => (JSON.parse(l) as { state: string }).state);
      assert.deepEqual(states, ['connecting', 'connected', 'disconnecting', 'disconnected']);
    });
  }

  test('kill -9: the broker publishes the last will, a retained offline', async (t) => {
    const device = 'it-kill';
    const status = await collect(broker.url, `edgeloop/${device}/status`);
    t.after(() => status.close());
    const gw = await spawnGateway(
      { device: { id: device }, sensors: simulatedSensors(1, 50), mqtt: { url: broker.url, keepalive_s: 2 } },
    );
    t.after(() => gw.cleanup());
    await status.waitFor((m) => m.some((x) => x.text === 'online'), 20_000, 'online');
    gw.child.kill('SIGKILL');
    assert.equal((await gw.child.exited).signal, 'SIGKILL');
    await broker.waitForLog(new RegExp(`Client edgeloop-${device} closed its connection`), 10_000);
    await status.waitFor((m) => m.at(-1)?.text === 'offline', 10_000, 'the will');
    assert.deepEqual(status.messages.map((m) => m.text), ['online', 'offline']);
    const retained = await retainedOn(broker.url, `edgeloop/${device}/status`);
    assert.deepEqual([retained.text, retained.retain], ['offline', true]);
  });
});
