import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, test, type TestContext } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { topicMatches } from '../../src/pipeline/live-bus.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { HaAnnouncer, type DiscoveryLink } from '../../src/transport/ha-announcer.ts';
import { discoveryMessages, objectId, type DiscoveryContext, type DiscoverySensor } from '../../src/transport/ha-discovery.ts';
import { haUnit, mappedUnits } from '../../src/transport/ha-units.ts';
import { startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { watchDiscovery } from './ha-watcher.ts';
import { haProblems, SENSOR_CLASSES } from './ha-schema.ts';

const log = createLogger('silent', { pretty: false });
const CONTEXT: DiscoveryContext = { device: 'gw-01', prefix: 'homeassistant', version: '1.2.3', configurationUrl: 'http://gw-01.local:8080/' };

/** Units users write, with the unit and classes Home Assistant should get. */
const UNITS: [string, { unit?: string; device_class?: string; state_class: string }][] = [
  ['celsius', { unit: '°C', device_class: 'temperature', state_class: 'measurement' }],
  ['°F', { unit: '°F', device_class: 'temperature', state_class: 'measurement' }],
  ['hPa', { unit: 'hPa', device_class: 'pressure', state_class: 'measurement' }],
  ['V', { unit: 'V', device_class: 'voltage', state_class: 'measurement' }],
  ['mA', { unit: 'mA', device_class: 'current', state_class: 'measurement' }],
  ['kW', { unit: 'kW', device_class: 'power', state_class: 'measurement' }],
  ['kwh', { unit: 'kWh', device_class: 'energy', state_class: 'total_increasing' }],
  ['lux', { unit: 'lx', device_class: 'illuminance', state_class: 'measurement' }],
  ['dBm', { unit: 'dBm', device_class: 'signal_strength', state_class: 'measurement' }],
  ['Hz', { unit: 'Hz', device_class: 'frequency', state_class: 'measurement' }],
  ['µS/cm', { unit: 'μS/cm', device_class: 'conductivity', state_class: 'measurement' }],
  ['litres', { unit: 'L', device_class: 'volume_storage', state_class: 'measurement' }],
  ['MiB', { unit: 'MiB', device_class: 'data_size', state_class: 'measurement' }],
  ['s', { unit: 's', device_class: 'duration', state_class: 'measurement' }],
  ['%', { unit: '%', state_class: 'measurement' }],
  ['ppm', { unit: 'ppm', state_class: 'measurement' }],
  ['widgets/min', { unit: 'widgets/min', state_class: 'measurement' }],
  ['', { state_class: 'measurement' }],
];

const sensor = (id: string, unit: string, homeassistant?: DiscoverySensor['homeassistant']): DiscoverySensor => ({ id, unit, homeassistant });
const componentOf = (topic: string) => topic.split('/')[1] as 'sensor' | 'binary_sensor';

describe('home assistant discovery payloads', () => {
  test('a unit gives the unit, device class and state class Home Assistant expects', () => {
    for (const [unit, expected] of UNITS) assert.deepEqual(haUnit(unit), expected, JSON.stringify(unit));
  });

  test('every payload passes Home Assistant discovery schema, field by field', () => {
    const sensors = UNITS.map(([unit], i) => sensor(`s${i}`, unit));
    const messages = discoveryMessages(CONTEXT, sensors, [{ id: 'front', labels: ['person', 'car'] }]);
    assert.equal(messages.length, 1 + sensors.length + 1 + 2);
    for (const m of messages) assert.deepEqual(haProblems(componentOf(m.topic), m.payload), [], m.topic);
    // The check itself is not toothless: what HA would refuse or misread is caught.
    const first = messages[1]?.payload ?? {};
    assert.notDeepEqual(haProblems('sensor', { ...first, unit_of_measurement: 'mph' }), []);
    assert.notDeepEqual(haProblems('sensor', { ...first, state_class: 'total_increasing' }), []);
    assert.notDeepEqual(haProblems('sensor', { ...first, device: { name: 'x' } }), []);
    assert.notDeepEqual(haProblems('sensor', { ...first, stat_topic: 'typo' }), []);
  });

  test('a sensor: retained config topic, state topic, template, device block and availability', () => {
    const [, temp] = discoveryMessages(CONTEXT, [sensor('cpu_temp', 'celsius')], []);
    assert.deepEqual(temp, {
      topic: 'homeassistant/sensor/gw-01_cpu_temp/config',
      payload: {
        name: 'cpu_temp',
        state_topic: 'edgeloop/gw-01/sensors/cpu_temp',
        value_template: '{{ value_json.value }}',
        unit_of_measurement: '°C',
        device_class: 'temperature',
        state_class: 'measurement',
        availability: [{ topic: 'edgeloop/gw-01/status' }],
        unique_id: 'edgeloop_gw-01_cpu_temp',
        device: {
          identifiers: ['edgeloop_gw-01'],
          name: 'gw-01',
          manufacturer: 'edgeloop',
          model: 'edgeloop gateway',
          sw_version: '1.2.3',
          configuration_url: 'http://gw-01.local:8080/',
        },
        origin: { name: 'edgeloop', sw_version: '1.2.3' },
        qos: 1,
      },
    });
  });

  test('the gateway itself: a connectivity binary sensor on its status topic', () => {
    const [gateway] = discoveryMessages(CONTEXT, [], []);
    assert.equal(gateway?.topic, 'homeassistant/binary_sensor/gw-01_connectivity/config');
    assert.deepEqual(
      [gateway?.payload.state_topic, gateway?.payload.payload_on, gateway?.payload.payload_off, gateway?.payload.device_class],
      ['edgeloop/gw-01/status', 'online', 'offline', 'connectivity'],
    );
  });

  test('per camera: a motion binary sensor and a count sensor per label, available with the camera', () => {
    const messages = discoveryMessages(CONTEXT, [], [{ id: 'front', labels: ['person', 'traffic light'] }]).slice(1);
    assert.deepEqual(
      messages.map((m) => [m.topic, m.payload.state_topic, m.payload.value_template, m.payload.device_class ?? m.payload.icon]),
      [
        ['homeassistant/binary_sensor/gw-01_front_motion/config', 'edgeloop/gw-01/cameras/front/motion', '{{ value_json.state }}', 'motion'],
        ['homeassistant/sensor/gw-01_front_person_count/config', 'edgeloop/gw-01/cameras/front/person', '{{ value_json.count }}', 'mdi:human'],
        ['homeassistant/sensor/gw-01_front_traffic_light_count/config', 'edgeloop/gw-01/cameras/front/traffic_light', '{{ value_json.count }}', 'mdi:shape'],
      ],
    );
    assert.deepEqual([messages[0]?.payload.payload_on, messages[0]?.payload.payload_off], ['ON', 'OFF']);
    for (const m of messages) {
      assert.deepEqual(m.payload.availability, [
        { topic: 'edgeloop/gw-01/status' },
        { topic: 'edgeloop/gw-01/cameras/front/availability', value_template: '{{ value_json.state }}' },
      ]);
      assert.equal(m.payload.availability_mode, 'all');
    }
  });

  test('the sensor homeassistant block overrides name and classes; object ids keep to [A-Za-z0-9_-]', () => {
    const [, battery] = discoveryMessages(CONTEXT, [sensor('bat.level', '%', { name: 'Battery', device_class: 'battery' })], []);
    assert.equal(battery?.topic, 'homeassistant/sensor/gw-01_bat_level/config');
    assert.deepEqual([battery?.payload.name, battery?.payload.device_class, battery?.payload.unit_of_measurement], ['Battery', 'battery', '%']);
    assert.deepEqual(haProblems('sensor', battery?.payload), []);
    assert.equal(objectId('gw.1', 'a b', 'c/d'), 'gw_1_a_b_c_d');
  });

  test('every unit the table maps is one Home Assistant accepts with its device and state class', () => {
    const units = mappedUnits();
    assert.ok(units.length > 100, `${units.length} units`);
    for (const u of units) {
      const [, payload] = discoveryMessages(CONTEXT, [sensor('x', u.unit)], []).map((m) => m.payload);
      assert.deepEqual(haProblems('sensor', payload), [], u.unit);
      if (u.device_class) assert.ok(SENSOR_CLASSES[u.device_class]?.units.includes(u.unit), `${u.unit} ${u.device_class}`);
    }
  });
});

/** A discovery link over a plain MQTT.js client, standing in for the gateway's MQTT route. */
class ClientLink extends EventEmitter implements DiscoveryLink {
  #client: MqttClient;
  constructor(client: MqttClient) {
    super();
    this.#client = client;
  }
  get state() {
    return this.#client.connected ? 'connected' : 'disconnected';
  }
  retain(topic: string, payload: string): void {
    this.#client.publish(topic, payload, { qos: 1, retain: true });
  }
  subscribe(filter: string, handler: (m: { topic: string; payload: Buffer }) => void): () => void {
    const onMessage = (topic: string, payload: Buffer) => topicMatches(filter, topic) && handler({ topic, payload });
    this.#client.on('message', onMessage);
    void this.#client.subscribeAsync(filter, { qos: 1 });
    return () => this.#client.off('message', onMessage);
  }
}

describe('home assistant announcer', () => {
  let broker: MosquittoHandle;
  before(async () => {
    broker = await startMosquitto();
  });
  after(() => broker.stop());

  const homeAssistant = (t: TestContext) => watchDiscovery(t, broker.url);

  async function announcer(t: TestContext, device: string, sensors: DiscoverySensor[]) {
    const client = await connectAsync(broker.url, { protocolVersion: 5 });
    t.after(() => client.endAsync(true));
    const a = new HaAnnouncer({ link: new ClientLink(client), context: { ...CONTEXT, device }, sensors, cameras: [], log });
    t.after(() => a.stop());
    return a;
  }

  test('announces every entity retained; Home Assistant coming online gets them again', async (t) => {
    const ha = await homeAssistant(t);
    const a = await announcer(t, 'ann1', [sensor('t1', '°C'), sensor('h1', '%')]);
    a.start();
    await ha.until('three configs', () => a.topics.every((topic) => ha.retained.has(topic)));
    assert.equal(a.topics.length, 3);
    const before = ha.seen.length;
    await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await ha.until('announced again', () => ha.seen.length >= before + 3);
    assert.deepEqual(ha.seen.slice(before).map((m) => m.topic).sort(), [...a.topics].sort());
  });

  test('a sensor that left the config is removed at the next start; other devices are left alone', async (t) => {
    const ha = await homeAssistant(t);
    const first = await announcer(t, 'ann2', [sensor('kept', 'V'), sensor('gone', 'A')]);
    first.start();
    await ha.until('first configs', () => first.topics.every((topic) => ha.retained.has(topic)));
    first.stop();
    const foreign = 'homeassistant/sensor/other_x/config';
    await ha.client.publishAsync(foreign, JSON.stringify({ state_topic: 'x', device: { identifiers: ['zigbee2mqtt_0x1'] } }), { qos: 1, retain: true });

    const second = await announcer(t, 'ann2', [sensor('kept', 'V')]);
    second.start();
    const gone = 'homeassistant/sensor/ann2_gone/config';
    await ha.until('the old entity removed', () => !ha.retained.has(gone));
    assert.ok(ha.seen.some((m) => m.topic === gone && m.payload === ''), 'removed with an empty retained config');
    assert.ok(ha.retained.has('homeassistant/sensor/ann2_kept/config'));
    assert.ok(ha.retained.has(foreign), 'another device keeps its entities');
    await ha.client.publishAsync(foreign, '', { qos: 1, retain: true });
  });

  test('update: entities that left are removed at once, new ones announced', async (t) => {
    const ha = await homeAssistant(t);
    const a = await announcer(t, 'ann3', [sensor('a', 'W'), sensor('b', 'W')]);
    a.start();
    await ha.until('configs', () => a.topics.every((topic) => ha.retained.has(topic)));
    a.update([sensor('b', 'W'), sensor('c', 'W')], [{ id: 'door', labels: ['person'] }]);
    await ha.until('a removed, c and the camera announced', () =>
      !ha.retained.has('homeassistant/sensor/ann3_a/config') &&
      ha.retained.has('homeassistant/sensor/ann3_c/config') &&
      ha.retained.has('homeassistant/binary_sensor/ann3_door_motion/config'));
  });
});
