// Without mqtt.url the gateway runs its own broker (Aedes, MQTT 3.1.1) on broker.port, and refuses to start rather
// than use whatever already listens there.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { spawnGateway, waitForMsg } from '../app/gateway-child.ts';
import { simulatedSensors } from './gateway-fixture.ts';
import { assertConsecutive, checkReading, collect, retainedOn, seqsBySensor } from '../app/mqtt-collector.ts';
import { freePort } from '../support/ports.ts';

/** Takes a port on 127.0.0.1 the way another program would, counting who connects to it. */
async function occupy(t: TestContext): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  server.listen(await freePort(), '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as { port: number }).port, connections: () => connections };
}

/** Runs the gateway with `config`, expecting it to refuse to start; returns its exit code and stderr. */
async function refusedStart(t: TestContext, config: Record<string, unknown>): Promise<{ code: number | null; output: string }> {
  const gw = await spawnGateway({ sensors: simulatedSensors(1, 50), ...config });
  t.after(() => gw.cleanup());
  const { code } = await gw.child.exited;
  return { code, output: gw.child.lines().join('\n') };
}

describe('embedded broker', () => {
  test('with no mqtt.url, readings are published on broker.port and reachable with MQTT.js', async (t) => {
    const device = 'emb';
    const gw = await spawnGateway({ device: { id: device }, sensors: simulatedSensors(3, 20) });
    t.after(() => gw.cleanup());
    const listening = await waitForMsg(gw.child, 'embedded MQTT broker listening', 20_000);
    const url = `mqtt://127.0.0.1:${gw.brokerPort}`;
    assert.equal(listening.url, url);

    const all = await collect(url, `edgeloop/${device}/sensors/+`, 4);
    t.after(() => all.close());
    await all.waitFor((m) => m.length >= 30 && new Set(m.map((x) => x.topic)).size === 3, 15_000, '30 readings from 3 channels');
    const readings = all.messages.map((m) => checkReading(m.topic, m.text, device, ''));
    // Subscribed after the gateway started: each channel's seqs go up by one from wherever they were.
    assertConsecutive(seqsBySensor(readings), false);

    const status = await retainedOn(url, `edgeloop/${device}/status`, 4);
    assert.deepEqual([status.text, status.retain], ['online', true]);

    gw.child.kill('SIGTERM');
    assert.deepEqual(await gw.child.exited, { code: 0, signal: null });
  });

  test('broker.port taken: exit 1 with EDGELOOP_ERR_BROKER_PORT_IN_USE naming the port and the fix', async (t) => {
    const taken = await occupy(t);
    const { code, output } = await refusedStart(t, { broker: { host: '127.0.0.1', port: taken.port } });
    assert.equal(code, 1, output);
    const line = output.split('\n').find((l) => l.includes('EDGELOOP_ERR_BROKER_PORT_IN_USE'));
    assert.ok(line, output);
    assert.match(line, new RegExp(`127\\.0\\.0\\.1:${taken.port} is already in use`));
    assert.match(line, /broker\.port/);
    assert.match(line, /mqtt\.url/);
    assert.doesNotMatch(output, /gateway started/);
    assert.equal(taken.connections(), 0, 'never publish to whatever listens on the port');
  });

  test('api.port taken: exit 1 with EDGELOOP_ERR_API_PORT_IN_USE naming the port', async (t) => {
    const taken = await occupy(t);
    const { code, output } = await refusedStart(t, { api: { host: '127.0.0.1', port: taken.port } });
    assert.equal(code, 1, output);
    const line = output.split('\n').find((l) => l.includes('EDGELOOP_ERR_API_PORT_IN_USE'));
    assert.ok(line, output);
    assert.match(line, new RegExp(`127\\.0\\.0\\.1:${taken.port}`));
    assert.match(line, /api\.port/);
    assert.doesNotMatch(output, /gateway started/);
  });
});
