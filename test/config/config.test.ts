import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { loadConfig, resolveConfig, routesOf } from '../../src/app/config.ts';
import { isEdgeloopError } from '../../src/errors.ts';
import { configIssues } from './issues.ts';

/** Three valid sensors, so a case can break the third and expect `sensors[2]`. */
function base(sensor: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
  const sensors: Record<string, unknown>[] = ['a', 'b', 'c'].map((id) => ({ id, driver: 'simulated' }));
  Object.assign(sensors[2] as object, sensor);
  return { sensors, ...top };
}
const top = (patch: Record<string, unknown>) => base({}, patch);

/** [what, config, expected issues as `path: message`]; a RegExp stands for one issue whose line it must match. */
const BAD: [string, unknown, (string | RegExp)[]][] = [
  ['interval_ms 0', base({ interval_ms: 0 }), ['sensors[2].interval_ms: must be >= 1']],
  ['negative interval_ms', base({ interval_ms: -5 }), ['sensors[2].interval_ms: must be >= 1']],
  ['fractional interval_ms', base({ interval_ms: 2.5 }), ['sensors[2].interval_ms: must be an integer, got 2.5']],
  ['unknown top-level key', top({ colour: 'red' }), [/^colour: unknown key \(known: device, data_dir, /]],
  ['unknown key under mqtt', top({ mqtt: { hostname: 'x' } }), [/^mqtt\.hostname: unknown key \(known: name, /]],
  ['mqtt.protocol_version 3', top({ mqtt: { protocol_version: 3 } }), ['mqtt.protocol_version: must be one of 4 | 5']],
  ['mqtt.qos 3', top({ mqtt: { qos: 3 } }), ['mqtt.qos: must be one of 0 | 1 | 2']],
  ['qos 3 in the second of two routes', top({ mqtt: [{}, { qos: 3 }] }), ['mqtt[1].qos: must be one of 0 | 1 | 2']],
  ['mqtt as a string', top({ mqtt: 'mqtt://broker' }), ['mqtt: must be a mapping or a list, got "mqtt://broker"']],
  [
    'mqtt.url with an http scheme',
    top({ mqtt: { url: 'http://broker:1883' } }),
    ['mqtt.url: has the scheme http: use one of mqtt, mqtts, tcp, tls, ws, wss'],
  ],
  ['api.port 70000', top({ api: { port: 70000 } }), ['api.port: must be <= 65535']],
  ['api.token too short', top({ api: { token: 'short' } }), ['api.token: must be at least 8 characters']],
  ['aggregate window_ms 0', base({ aggregate: { window_ms: 0 } }), ['sensors[2].aggregate.window_ms: must be >= 1']],
  [
    'aggregate stat unknown',
    base({ aggregate: { window_ms: 10, stats: ['median'] } }),
    ['sensors[2].aggregate.stats[0]: must be one of "min" | "max" | "mean" | "last" | "count" (did you mean mean?)'],
  ],
  ['aggregate "sometimes"', base({ aggregate: 'sometimes' }), ['sensors[2].aggregate: must be "none" or a mapping, got "sometimes"']],
  ['deadband -1', base({ deadband: -1 }), ['sensors[2].deadband: must be >= 0']],
  ['deadband percent 150', base({ deadband: { percent: 150 } }), ['sensors[2].deadband.percent: must be <= 100']],
  [
    'queue.policy drop-random',
    base({ queue: { policy: 'drop-random' } }),
    ['sensors[2].queue.policy: must be one of "drop-oldest" | "drop-newest" | "block"'],
  ],
  ['unknown driver', base({ driver: 'ds9999' }), [/^sensors\[2\]\.driver: must be one of simulated \| linux-thermal /]],
  ['duplicate sensor ids', base({ id: 'a' }), ['sensors[2].id: duplicate sensor id "a"']],
  ['missing sensor id', { sensors: [{ driver: 'simulated' }] }, ['sensors[0].id: is required']],
  [
    'w1 device_id of a bad pattern',
    base({ driver: 'w1', device_id: '28-XYZ' }),
    ['sensors[2].device_id: must match ^[0-9a-f]{2}-[0-9a-f]{12}$'],
  ],
  ['w1 without device_id', base({ driver: 'w1' }), ['sensors[2].device_id: is required']],
  [
    'command pattern that does not compile',
    base({ driver: 'command', command: ['true'], pattern: 't=(' }),
    [/^sensors\[2\]\.pattern: "t=\(" is not a valid regular expression: /],
  ],
  [
    'command pattern without a capture group',
    base({ driver: 'command', command: ['true'], pattern: 't=\\S+' }),
    [/^sensors\[2\]\.pattern: "t=\\\\S\+" needs a capture group around the number/],
  ],
  [
    'unknown driver option',
    base({ driver: 'linux-thermal', zone: 1, sensitivity: 2 }),
    [/^sensors\[2\]\.sensitivity: unknown key \(known: id, driver, .*, zone\)$/],
  ],
  [
    'outbox.on_full bad',
    top({ outbox: { on_full: 'explode' } }),
    ['outbox.on_full: must be one of "drop-oldest" | "reject-new"'],
  ],
  [
    'several problems at once',
    base({ interval_ms: 0 }, { api: { port: -1 } }),
    ['api.port: must be >= 0', 'sensors[2].interval_ms: must be >= 1'],
  ],
];

const lineOf = (i: { path: string; message: string }) => (i.path ? `${i.path}: ${i.message}` : i.message);

describe('bad configs are refused with the path of each problem', () => {
  for (const [what, raw, expected] of BAD) {
    test(what, () => {
      const lines = configIssues(raw).map(lineOf);
      assert.equal(lines.length, expected.length, lines.join('\n'));
      expected.forEach((want, i) => {
        if (typeof want === 'string') assert.equal(lines[i], want);
        else assert.match(lines[i] ?? '', want);
      });
    });
  }

  test('the error message lists every issue line', () => {
    assert.throws(() => resolveConfig(base({ interval_ms: 0 })), (err) => {
      assert.ok(isEdgeloopError(err, 'CONFIG_INVALID'));
      assert.match(err.message, /\n {2}sensors\[2\]\.interval_ms: must be >= 1/);
      return true;
    });
  });
});

describe('config files', () => {
  test('the documented example config is valid and means what its comments say', async () => {
    const { config } = await loadConfig(new URL('../../edgeloop.example.yaml', import.meta.url).pathname, {});
    assert.equal(config.device.id, 'greenhouse-01');
    assert.deepEqual(config.sensors.map((s) => s.driver), ['linux-thermal', 'simulated', 'command']);
    assert.equal(config.sensors[2]!.priority, 9);
  });

  const file = async (t: TestContext, text: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'edgeloop-config-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'edgeloop.yaml');
    await writeFile(path, text);
    return path;
  };

  test('a YAML file that is not a mapping is refused', async (t) => {
    const path = await file(t, '- just\n- a list\n');
    await assert.rejects(loadConfig(path, {}), (err) => {
      assert.ok(isEdgeloopError(err, 'CONFIG_INVALID'));
      assert.deepEqual(err.details, [{ path: '', message: 'the config must be a YAML mapping (key: value)' }]);
      return true;
    });
  });

  test('a YAML syntax error names the file and the line', async (t) => {
    const path = await file(t, 'device:\n  id: gw1\nsensors:\n  - id: a\n    driver: [simulated\n');
    await assert.rejects(loadConfig(path, {}), (err) => {
      assert.ok(isEdgeloopError(err, 'CONFIG_INVALID'));
      assert.ok(err.message.startsWith(`${path}: not valid YAML (line `), err.message);
      assert.match(err.message, /\(line [56]\)/);
      return true;
    });
  });

  test('a missing file is a CONFIG_READ error naming it', async () => {
    await assert.rejects(loadConfig('/nonexistent/edgeloop.yaml', {}), {
      code: 'EDGELOOP_ERR_CONFIG_READ',
      message: /\/nonexistent\/edgeloop\.yaml/,
    });
  });

  test('a valid file loads with defaults filled in and driver options validated', async (t) => {
    const path = await file(
      t,
      [
        'device: { id: gw-7 }',
        'mqtt:',
        '  - url: mqtts://cloud.example:8883',
        '  - url: mqtt://10.0.0.2',
        '    qos: 0',
        'sensors:',
        '  - { id: soc, driver: linux-thermal, interval_ms: 1000 }',
        '  - { id: tank, driver: w1, device_id: 28-00000a1b2c3d }',
      ].join('\n'),
    );
    const { config, source } = await loadConfig(path, {});
    assert.equal(source, path);
    assert.equal(config.device.id, 'gw-7');
    assert.deepEqual(
      routesOf(config).map((r) => [r.name, (r.options as { url?: string }).url, (r.options as { qos?: number }).qos]),
      [
        ['route1', 'mqtts://cloud.example:8883', 1],
        ['route2', 'mqtt://10.0.0.2', 0],
      ],
    );
    assert.equal(config.sensors[0]?.interval_ms, 1000);
    assert.equal((config.sensors[0] as Record<string, unknown>).zone, 0);
    assert.equal(config.sensors[1]?.interval_ms, 50);
  });
});

describe('demo defaults and environment overrides', () => {
  test('without a file: 16 simulated sensors, the embedded broker, the API on 8080', async () => {
    const { config, source } = await loadConfig(undefined, {});
    assert.equal(source, 'demo defaults');
    assert.equal(config.sensors.length, 16);
    assert.ok(config.sensors.every((s) => s.driver === 'simulated'));
    assert.equal(new Set(config.sensors.map((s) => s.id)).size, 16);
    assert.equal(Array.isArray(config.mqtt), false);
    assert.equal((routesOf(config)[0]?.options as { url?: string }).url, undefined);
    assert.equal(config.api.port, 8080);
  });

  test('EDGELOOP_A__B sets a.b, converted by the type of the key', async () => {
    const { config } = await loadConfig(undefined, {
      EDGELOOP_MQTT__URL: 'mqtt://broker.lan:1883',
      EDGELOOP_API__PORT: '9090',
      EDGELOOP_DATA_DIR: '/var/lib/edgeloop',
      EDGELOOP_SENSORS__0__INTERVAL_MS: '250',
      EDGELOOP_CONFIG: '/etc/edgeloop.yaml',
      PATH: '/usr/bin',
    });
    assert.equal((routesOf(config)[0]?.options as { url?: string }).url, 'mqtt://broker.lan:1883');
    assert.equal(config.api.port, 9090);
    assert.equal(config.data_dir, '/var/lib/edgeloop');
    assert.equal(config.sensors[0]?.interval_ms, 250);
  });

  test('an override with a bad value is reported by the name of the variable', () => {
    assert.deepEqual(configIssues({}, { EDGELOOP_API__PORT: 'eighty' }).map(lineOf), [
      'EDGELOOP_API__PORT: must be an integer, got "eighty"',
    ]);
    assert.deepEqual(configIssues({}, { EDGELOOP_MQTT__QOS: '7' }).map(lineOf), [
      'EDGELOOP_MQTT__QOS: must be one of 0 | 1 | 2',
    ]);
  });

  test('an override below a scalar, or a named key on a list, is reported with the variable name', () => {
    assert.deepEqual(configIssues({ data_dir: './d' }, { EDGELOOP_DATA_DIR__X: '1' }).map(lineOf), [
      'EDGELOOP_DATA_DIR__X: cannot set below data_dir: it is not a mapping',
    ]);
    assert.deepEqual(configIssues({ mqtt: [{}, {}] }, { EDGELOOP_MQTT__URL: 'mqtt://x' }).map(lineOf), [
      'EDGELOOP_MQTT__URL: cannot set url on a list: put an index before it (…__0__URL)',
    ]);
    const config = resolveConfig({ mqtt: [{}, {}] }, { EDGELOOP_MQTT__1__URL: 'mqtt://x' });
    assert.deepEqual(
      routesOf(config).map((r) => (r.options as { url?: string }).url),
      [undefined, 'mqtt://x'],
    );
  });
});
