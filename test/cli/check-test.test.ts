// `edgeloop check --test`: every sensor read once, every upstream connected once, what fails reported, exit 1 if
// anything does; and a probe beside a running gateway announces nothing on the broker.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { CLI, writeGatewayConfig } from '../app/gateway-child.ts';
import { spawnNode } from '../support/child.ts';
import { startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { freePort } from '../support/ports.ts';

async function check(config: Record<string, unknown>): Promise<{ code: number | null; lines: string[] }> {
  const written = await writeGatewayConfig(config);
  after(() => written.remove());
  const child = spawnNode([CLI, 'check', '--test', '-c', written.configFile]);
  const { code } = await child.exited;
  return { code, lines: child.lines().filter(Boolean) };
}

let broker: MosquittoHandle;
before(async () => {
  broker = await startMosquitto();
});
after(() => broker?.stop());

describe('edgeloop check --test', () => {
  test('reads each sensor once and connects each upstream once; says what fails and exits 1', async () => {
    const dead = await freePort();
    const { code, lines } = await check({
      mqtt: [{ name: 'cloud', url: broker.url }, { name: 'local' }],
      http: [{ name: 'hook', url: `http://127.0.0.1:${dead}/in` }],
      sensors: [
        { id: 'sim', driver: 'simulated', signal: 'sine', offset: 21.5, amplitude: 0, unit: 'celsius' },
        // Generous timeouts: starting a program takes seconds on a loaded machine.
        { id: 'script', driver: 'command', command: ['sh', '-c', 'echo "t=42.5"'], pattern: 't=(\\S+)', timeout_ms: 30_000 },
        { id: 'broken', driver: 'command', command: ['sh', '-c', 'echo "no such bus" >&2; exit 2'], timeout_ms: 30_000 },
        { id: 'soc', driver: 'linux-thermal', zone: 7, timeout_ms: 30_000 },
      ],
    });
    assert.equal(code, 1, lines.join('\n'));
    const body = lines.slice(2);
    assert.match(lines[1]!, /^testing: each sensor read once, each upstream connected once$/);
    const find = (subject: string) => body.find((l) => l.includes(` ${subject}`)) ?? assert.fail(`${subject}: ${lines.join('\n')}`);
    assert.match(find('sensor sim (simulated)'), /^ {2}ok +sensor sim \(simulated\): 21\.5 celsius$/);
    assert.match(find('sensor script (command)'), /^ {2}ok +sensor script \(command\): 42\.5$/);
    assert.match(find('sensor broken (command)'), /^ {2}failed +sensor broken \(command\): EDGELOOP_ERR_SENSOR_READ: .*exited with code 2: no such bus/);
    assert.match(find('sensor soc (linux-thermal)'), /^ {2}failed +sensor soc \(linux-thermal\): EDGELOOP_ERR_SENSOR_READ: .*thermal_zone7/);
    assert.match(find('route cloud (mqtt'), /^ {2}ok +route cloud \(mqtt mqtt:\/\/127\.0\.0\.1:\d+\): connected$/);
    assert.match(find('route local (mqtt)'), /^ {2}skipped +route local \(mqtt\): uses the embedded broker/);
    assert.match(find('route hook (http'), /^ {2}failed +route hook \(http .*\): EDGELOOP_ERR_HTTP_UPSTREAM: .*ECONNREFUSED/);
    assert.equal(lines.at(-1), '3 of 7 failed');
  });

  test('all good: exit 0; the probe left no device status on the broker', async () => {
    const { code, lines } = await check({
      device: { id: 'probe-dev' },
      mqtt: { url: broker.url },
      sensors: [{ id: 'sim', driver: 'simulated' }],
    });
    assert.equal(code, 0, lines.join('\n'));
    assert.equal(lines.at(-1), 'all 2 passed');
    // A gateway's status is retained: a probe that announced itself would leave `online` or `offline` there.
    const c = await connectAsync(broker.url, { reconnectPeriod: 0 });
    after(() => c.endAsync(true));
    const retained: string[] = [];
    c.on('message', (topic) => retained.push(topic));
    await c.subscribeAsync('edgeloop/probe-dev/#', { qos: 1 });
    // A second subscription's acknowledgement comes after any retained message of the first.
    await c.subscribeAsync('edgeloop/probe-dev-none', { qos: 1 });
    assert.deepEqual(retained, []);
  });
});
