// Home Assistant discovery from a running gateway, as Home Assistant sees it on a shared Mosquitto: the entities
// appear by themselves, come again when Home Assistant says it is back, and one whose sensor left the config is
// removed at the next start.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { connectAsync } from 'mqtt';
import { startGateway } from '../integration/gateway-fixture.ts';
import { configIssues } from '../config/issues.ts';
import { startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { watchDiscovery } from './ha-watcher.ts';
import { haProblems } from './ha-schema.ts';

const sensor = (id: string, unit: string, extra: Record<string, unknown> = {}) => ({
  id, driver: 'simulated', interval_ms: 1000, unit, signal: 'noise', ...extra,
});

describe('home assistant discovery from the gateway', () => {
  let broker: MosquittoHandle;
  before(async () => {
    broker = await startMosquitto();
  });
  after(() => broker.stop());

  const homeAssistant = (t: TestContext) => watchDiscovery(t, broker.url);

  const gateway = (device: string, sensors: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
    startGateway({ device: { id: device }, mqtt: { url: broker.url, reconnect: { min_ms: 20, max_ms: 100 } }, sensors, ...extra });

  test('entities appear, valid for Home Assistant, and again when it comes online; opted-out sensors do not', async (t) => {
    const ha = await homeAssistant(t);
    const g = await gateway('ha1', [sensor('temp', 'celsius'), sensor('hum', '%', { homeassistant: { device_class: 'humidity' } }), sensor('raw', 'V', { homeassistant: { enabled: false } })]);
    t.after(() => g.stop());
    const topics = ['homeassistant/binary_sensor/ha1_connectivity/config', 'homeassistant/sensor/ha1_temp/config', 'homeassistant/sensor/ha1_hum/config'];
    await ha.until('the entities', () => topics.every((topic) => ha.retained.has(topic)));
    for (const topic of topics) assert.deepEqual(haProblems(topic.split('/')[1] as 'sensor', JSON.parse(ha.retained.get(topic) ?? '{}')), [], topic);
    assert.equal(ha.retained.has('homeassistant/sensor/ha1_raw/config'), false);
    const hum = JSON.parse(ha.retained.get('homeassistant/sensor/ha1_hum/config') ?? '{}') as Record<string, unknown>;
    assert.deepEqual([hum.device_class, hum.unit_of_measurement, hum.state_topic], ['humidity', '%', 'edgeloop/ha1/sensors/hum']);

    const before = ha.seen.length;
    await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await ha.until('announced again', () => ha.seen.length >= before + topics.length);
  });

  test('a sensor that left the config is removed from Home Assistant at the next start', async (t) => {
    const ha = await homeAssistant(t);
    const first = await gateway('ha2', [sensor('kept', 'W'), sensor('gone', 'W')]);
    await ha.until('both sensors', () => ha.retained.has('homeassistant/sensor/ha2_gone/config') && ha.retained.has('homeassistant/sensor/ha2_kept/config'));
    await first.stop();
    const second = await gateway('ha2', [sensor('kept', 'W')]);
    t.after(() => second.stop());
    await ha.until('the sensor that left removed', () => !ha.retained.has('homeassistant/sensor/ha2_gone/config'));
    assert.ok(ha.retained.has('homeassistant/sensor/ha2_kept/config'));
  });

  test('discovery off, or a prefix of its own', async (t) => {
    const ha = await homeAssistant(t);
    const off = await gateway('ha3', [sensor('x', 'W')], { homeassistant: { enabled: false } });
    await off.stop();
    const other = await gateway('ha4', [sensor('x', 'W')], { homeassistant: { prefix: 'hass' } });
    t.after(() => other.stop());
    const hass = await connectAsync(broker.url);
    t.after(() => hass.endAsync(true));
    const got = new Promise<string>((resolve) => hass.once('message', (topic) => resolve(topic)));
    await hass.subscribeAsync('hass/sensor/ha4_x/config', { qos: 1 });
    assert.equal(await got, 'hass/sensor/ha4_x/config');
    assert.equal([...ha.retained.keys()].some((topic) => topic.includes('ha3_') || topic.includes('ha4_')), false);
  });

  test('homeassistant.route must name an mqtt route', () => {
    assert.deepEqual(
      configIssues({ mqtt: { url: 'mqtt://b', name: 'main' }, homeassistant: { route: 'other' } }).map((i) => `${i.path}: ${i.message}`),
      ['homeassistant.route: no mqtt route is named "other" (mqtt routes: main)'],
    );
  });
});
