// Classes of config mistakes a new user makes, each refused with its cause in one run: problems hidden behind others,
// unknown keys, wrong shapes, URLs and ports, timers, ids that end up in topics, environment overrides; and the
// properties of the result: linear in size, deep-frozen.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Kind, type TSchema } from '@sinclair/typebox';
import { configSchema, loadConfig, resolveConfig, routesOf } from '../../src/app/config.ts';
import { TIMER_MAX_MS } from '../../src/config/schema.ts';
import { validate } from '../../src/config/validate.ts';
import { isEdgeloopError } from '../../src/errors.ts';
import { configIssues } from './issues.ts';

const lines = (raw: unknown, env: NodeJS.ProcessEnv = {}) => configIssues(raw, env).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
const sensor = (patch: Record<string, unknown> = {}) => ({ id: 'a', driver: 'simulated', ...patch });

async function yamlFile(t: TestContext, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-classes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'edgeloop.yaml');
  await writeFile(path, text);
  return path;
}

async function fileIssues(t: TestContext, text: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const path = await yamlFile(t, text);
  try {
    await loadConfig(path, env);
  } catch (err) {
    assert.ok(isEdgeloopError(err, 'CONFIG_INVALID'), String(err));
    return (err.details as { path: string; message: string }[]).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  }
  assert.fail('the config was accepted');
}

describe('one run tells everything', () => {
  test('a file with mistakes in every section: all of them at once, missing keys beside unknown ones', async (t) => {
    const found = await fileIssues(
      t,
      `device: { id: "gw 1" }
mqtt: { url: "mqtt://broker:99999", qoss: 1 }
http:
  - url: ftp://hooks.example/in
api: { port: 70000 }
sensors:
  - { id: a, driver: simulated }
  - { driver: w1, device_id: 28-xyz }
  - { id: "b/c", Driver: simulated }
  - { id: d, driver: simulated, interval_ms: 0, amplitude: -1, singal: sine }
`,
    );
    assert.deepEqual(found, [
      'device.id: must be 1 to 64 letters, digits, _, . or - (it names the device in every MQTT topic)',
      'api.port: must be <= 65535',
      'mqtt.url: has port 99999: give a port between 1 and 65535',
      'mqtt.qoss: unknown key (did you mean qos?)',
      'http[0].name: is required',
      'http[0].url: has the scheme ftp: use one of http, https',
      'sensors[1].id: is required',
      'sensors[1].device_id: must match ^[0-9a-f]{2}-[0-9a-f]{12}$',
      'sensors[2].id: must not contain /: it becomes a level of MQTT topics',
      'sensors[2].driver: is required',
      'sensors[2].Driver: unknown key (did you mean driver?)',
      'sensors[3].interval_ms: must be >= 1',
      'sensors[3].amplitude: must be >= 0',
      'sensors[3].singal: unknown key (did you mean signal?)',
    ]);
  });

  test('a key written twice is an error, not "the last one wins"', async (t) => {
    const found = await fileIssues(t, 'api:\n  port: 8080\n  port: 9090\n');
    assert.equal(found.length, 1);
    assert.match(found[0]!, /^not valid YAML \(line 3\): duplicated mapping key/);
  });

  test('unknown keys are named with the key they were probably meant to be, or the list of known keys', () => {
    assert.deepEqual(lines({ sensors: [sensor({ intervall_ms: 5 })] }), ['sensors[0].intervall_ms: unknown key (did you mean interval_ms?)']);
    assert.deepEqual(lines({ mqtt: { URL: 'mqtt://b' } }), ['mqtt.URL: unknown key (did you mean url?)']);
    assert.deepEqual(lines({ outbox: { max_rowz: 5 } }), ['outbox.max_rowz: unknown key (did you mean max_rows?)']);
    assert.match(lines({ outbox: { zzz: 5 } })[0]!, /^outbox\.zzz: unknown key \(known: store, durability, max_rows, /);
    assert.deepEqual(lines({ sensors: [sensor({ driver: 'simulatd' })] }), [
      'sensors[0].driver: must be one of simulated | linux-thermal | iio | w1 | command | modbus (did you mean simulated?)',
    ]);
  });
});

describe('a value of the wrong shape is an error, never an empty default', () => {
  const CASES: [string, unknown, string[]][] = [
    ['sensors as a mapping', { sensors: { temp: { driver: 'simulated' } } }, ['sensors: must be a list, got a mapping']],
    ['sensors as a string', { sensors: 'temp' }, ['sensors: must be a list, got "temp"']],
    ['http as a mapping', { http: { name: 'h', url: 'http://x' } }, ['http: must be a list, got a mapping']],
    ['api as a number', { api: 8080 }, ['api: must be a mapping (key: value), got 8080']],
    ['topics as a string', { mqtt: { topics: 'sensors/#' } }, ['mqtt.topics: must be a list, got "sensors/#"']],
    ['a sensor as a string', { sensors: ['temp'] }, ['sensors[0]: must be a mapping (key: value), got "temp"']],
    ['queue as a number', { sensors: [sensor({ queue: 5 })] }, ['sensors[0].queue: must be a mapping (key: value), got 5']],
    ['a password as a number', { mqtt: { password: 123456 } }, ['mqtt.password: must be a string, got 123456 (write it in quotes: "123456")']],
    ['an empty topics list', { mqtt: { topics: [] } }, ['mqtt.topics: must not be empty']],
    ['an empty mqtt list', { mqtt: [] }, ['mqtt: must not be empty']],
  ];
  for (const [what, raw, expected] of CASES) test(what, () => assert.deepEqual(lines(raw), expected));

  test('a key with nothing after it is as good as absent (YAML null): the default applies', async (t) => {
    const path = await yamlFile(t, 'sensors:\nhttp:\napi:\n');
    const { config } = await loadConfig(path, {});
    assert.deepEqual(config.sensors, []);
    assert.deepEqual(config.http, []);
    assert.equal(config.api.port, 8080);
  });
});

describe('URLs, ports and timers', () => {
  const CASES: [string, unknown, string[]][] = [
    ['a port above 65535', { mqtt: { url: 'mqtts://b.example:65536' } }, ['mqtt.url: has port 65536: give a port between 1 and 65535']],
    ['port 0 in a URL', { mqtt: { url: 'mqtt://b.example:0' } }, ['mqtt.url: has port 0: give a port between 1 and 65535']],
    ['no host', { mqtt: { url: 'mqtt://:1883' } }, [/^mqtt\.url: (has no host|is not a URL)/.source]],
    ['no scheme', { mqtt: { url: 'broker.lan:1883' } }, ['mqtt.url: has the scheme broker.lan: use one of mqtt, mqtts, tcp, tls, ws, wss']],
    ['not a URL at all', { http: [{ name: 'h', url: 'hooks' }] }, ['http[0].url: is not a URL (expected http://host[:port], https://host[:port])']],
    ['an api port above 65535', { api: { port: 65_536 } }, ['api.port: must be <= 65535']],
    ['a negative broker port', { broker: { port: -1 } }, ['broker.port: must be >= 0']],
    ['a timer beyond what a timer holds', { sensors: [sensor({ interval_ms: 2 ** 31 })] }, ['sensors[0].interval_ms: must be <= 86400000']],
    ['a topic filter with # inside', { mqtt: { topics: ['sensors/#/x'] } }, ['mqtt.topics[0]: # must be a whole level, and the last']],
    ['a topic filter with a partial +', { http: [{ name: 'h', url: 'http://x', topics: ['sensors/s+'] }] }, ['http[0].topics[0]: + must be a whole level']],
  ];
  for (const [what, raw, expected] of CASES) {
    test(what, () => {
      const found = lines(raw);
      assert.equal(found.length, expected.length, found.join('\n'));
      expected.forEach((e, i) => (e.startsWith('^') ? assert.match(found[i]!, new RegExp(e)) : assert.equal(found[i], e)));
    });
  }

  test('port 0 (any free port) is accepted for the API and the embedded broker, as documented', () => {
    const c = resolveConfig({ api: { port: 0 }, broker: { port: 0 } });
    assert.equal(c.api.port, 0);
    assert.equal(c.broker.port, 0);
  });

  test('every duration in milliseconds is bounded, within what a timer can hold', () => {
    const unbounded: string[] = [];
    const visit = (schema: TSchema, path: string) => {
      if (path.endsWith('_ms') && (schema[Kind] === 'Integer' || schema[Kind] === 'Number')) {
        if (schema.maximum === undefined || schema.maximum > TIMER_MAX_MS) unbounded.push(`${path} (max ${schema.maximum})`);
      }
      for (const [k, s] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) visit(s, path ? `${path}.${k}` : k);
      if (schema.items) visit(schema.items as TSchema, `${path}[]`);
      for (const s of (schema.anyOf ?? []) as TSchema[]) visit(s, path);
    };
    visit(configSchema(), '');
    assert.deepEqual(unbounded, []);
  });
});

describe('ids that end up in MQTT topics', () => {
  for (const [id, why] of [['a+b', '+'], ['a#', '#'], ['a/b', '/'], ['a\u0001b', 'control character U+0001'], ['tab\there', 'control character U+0009']]) {
    test(`sensor id ${JSON.stringify(id)} is refused`, () => {
      assert.deepEqual(lines({ sensors: [sensor({ id })] }), [`sensors[0].id: must not contain ${why}: it becomes a level of MQTT topics`]);
    });
  }

  test('an empty sensor id, a device id with # and a route name with / are refused', () => {
    assert.deepEqual(lines({ device: { id: 'gw#1' }, mqtt: { name: 'a/b' }, sensors: [sensor({ id: '' })] }), [
      'device.id: must be 1 to 64 letters, digits, _, . or - (it names the device in every MQTT topic)',
      'mqtt.name: must be 1 to 32 letters, digits, _ or -',
      'sensors[0].id: must not be empty',
    ]);
  });

  test('ids with dots, dashes, underscores and letters of any alphabet are fine', () => {
    const c = resolveConfig({ sensors: [sensor({ id: 'soil.moisture-1_a' }), sensor({ id: 'température' })] });
    assert.deepEqual(c.sensors.map((s) => s.id), ['soil.moisture-1_a', 'température']);
  });
});

describe('environment overrides are converted by the type of the key they set', () => {
  test('a string stays a string, exactly as written', () => {
    for (const value of ['pa55 #word', '0042', '123456', 'true', '[not, a, list]', '']) {
      const c = resolveConfig({}, { EDGELOOP_MQTT__PASSWORD: value, EDGELOOP_MQTT__USERNAME: value });
      assert.equal((c.mqtt as { password?: string }).password, value, value);
    }
  });

  test('numbers, booleans, choices, lists and unions', () => {
    const c = resolveConfig(
      { sensors: [sensor()] },
      {
        EDGELOOP_API__PORT: '0042',
        EDGELOOP_MQTT__CLEAN: 'false',
        EDGELOOP_MQTT__QOS: '0',
        EDGELOOP_MQTT__TOPICS: '[sensors/#, status]',
        EDGELOOP_OUTBOX__ON_FULL: 'reject-new',
        EDGELOOP_SENSORS__0__DEADBAND: '0.5',
        EDGELOOP_SENSORS__0__AMPLITUDE: '2.5',
        EDGELOOP_SENSORS__0__AGGREGATE: '{window_ms: 1000}',
      },
    );
    const mqtt = c.mqtt as { clean: boolean; qos: number; topics: string[] };
    assert.equal(c.api.port, 42);
    assert.deepEqual([mqtt.clean, mqtt.qos, mqtt.topics], [false, 0, ['sensors/#', 'status']]);
    assert.equal(c.outbox.on_full, 'reject-new');
    const s = c.sensors[0] as Record<string, unknown>;
    assert.deepEqual([s.deadband, s.amplitude, s.aggregate], [0.5, 2.5, { window_ms: 1000, stats: ['min', 'max', 'mean', 'last', 'count'] }]);
  });

  test('each problem names the variable', () => {
    assert.deepEqual(
      lines(
        { sensors: [sensor()] },
        {
          EDGELOOP_MQTT__CLEAN: 'maybe',
          EDGELOOP_API__PORT: '80 80',
          EDGELOOP_MQTT__URLL: 'mqtt://b',
          EDGELOOP_SENSORS__0__INTERVAL_MS: '2.5',
          EDGELOOP_SENSORS__3__ID: 'x',
          EDGELOOP_MQTT__URL: 'mqtt://b:99999',
        },
      ),
      [
        'EDGELOOP_SENSORS__3__ID: there is no item 1 to put item 3 after: a list grows one item at a time',
        'EDGELOOP_API__PORT: must be an integer, got "80 80"',
        'EDGELOOP_MQTT__URL: has port 99999: give a port between 1 and 65535',
        'EDGELOOP_MQTT__CLEAN: must be true or false, got "maybe"',
        'EDGELOOP_MQTT__URLL: unknown key (did you mean url?)',
        'EDGELOOP_SENSORS__0__INTERVAL_MS: must be an integer, got "2.5"',
      ],
    );
  });

  test('EDGELOOP_MQTT__0__URL addresses the first route, whether mqtt is absent, a mapping or a list', () => {
    for (const raw of [{}, { mqtt: { qos: 0 } }, { mqtt: [{ qos: 0 }] }]) {
      const [route, ...rest] = routesOf(resolveConfig(raw, { EDGELOOP_MQTT__0__URL: 'mqtt://broker.lan:1883' }));
      assert.equal(rest.length, 0);
      assert.equal(route?.name, 'default');
      assert.equal((route?.options as { url?: string }).url, 'mqtt://broker.lan:1883', JSON.stringify(raw));
      if ('mqtt' in raw) assert.equal((route?.options as { qos?: number }).qos, 0, 'the keys of the file stay');
    }
    const two = routesOf(resolveConfig({}, { EDGELOOP_MQTT__0__URL: 'mqtt://a', EDGELOOP_MQTT__1__URL: 'mqtt://b' }));
    assert.deepEqual(two.map((r) => [r.name, (r.options as { url?: string }).url]), [['route1', 'mqtt://a'], ['route2', 'mqtt://b']]);
  });

  test('a secret in a refused value is not echoed', () => {
    const found = lines({}, { EDGELOOP_MQTT__URL: 'mqtt://gw:pa55w0rd@broker:99999' });
    assert.deepEqual(found, ['EDGELOOP_MQTT__URL: has port 99999: give a port between 1 and 65535']);
    const shape = lines({ mqtt: { url: 'mqtt://gw:pa55w0rd@' } });
    assert.ok(shape.every((l) => !l.includes('pa55w0rd')), shape.join('\n'));
  });
});

describe('the validated config', () => {
  test('is deep-frozen: no module can change what another reads', () => {
    const c = resolveConfig({ sensors: [sensor()], http: [{ name: 'h', url: 'http://x', headers: { a: 'b' } }] });
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.sensors[0]!.queue));
    assert.throws(() => {
      (c.api as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (c.sensors as unknown[]).push({});
    }, TypeError);
    assert.throws(() => {
      ((c.http as { headers: Record<string, string> }[])[0]!.headers).a = 'c';
    }, TypeError);
  });

  test('validation is linear in the number of sensors: 50,000 are checked with exactly 50,000 times the work of one', () => {
    const raw = (n: number) => ({
      sensors: Array.from({ length: n }, (_, i) => ({
        id: `s${i}`,
        ...(i % 2 === 0 ? { driver: 'simulated', signal: 'noise', seed: i } : { driver: 'linux-thermal', zone: i % 8 }),
        interval_ms: 1000,
        aggregate: { window_ms: 60_000 },
      })),
    });
    const visits = (n: number) => validate(configSchema(), raw(n)).visits;
    const base = visits(0);
    const pair = visits(2) - base;
    assert.ok(pair > 0);
    assert.equal(visits(4) - base, 2 * pair);
    assert.equal(visits(50_000) - base, 25_000 * pair, 'the work per sensor does not grow with the number of sensors');
    // And the whole resolve (walk, uniqueness, freezing) goes through at that size.
    assert.equal(resolveConfig(raw(50_000)).sensors.length, 50_000);
    assert.deepEqual(lines({ sensors: [...raw(50_000).sensors, { id: 's7', driver: 'simulated' }] }), [
      'sensors[50000].id: duplicate sensor id "s7"',
    ]);
  });
});
