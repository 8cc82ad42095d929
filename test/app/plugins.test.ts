// Plugins from plugins_dir: the example plugin goes through the shared driver suite; broken plugins are each told
// with their file and reason while the others load; a gateway with a broken plugin runs.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/app/config.ts';
import { loadPlugins, pluginsDirOf } from '../../src/app/plugins.ts';
import { isEdgeloopError } from '../../src/errors.ts';
import { drivers } from '../../src/sensors/registry.ts';
import { startGateway } from '../integration/gateway-fixture.ts';
import { spawnNode } from '../support/child.ts';
import { waitUntil } from '../support/wait.ts';
import { CLI, spawnGateway, waitForMsg } from './gateway-child.ts';
import { driverSuite } from '../sensors/driver-suite.ts';
import { configIssues } from '../config/issues.ts';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/plugins');

// Loaded before the suites are declared: the plugin's driver is part of the config schema from here on.
const example = await loadPlugins(EXAMPLES);

/** A device serving `{"meters":[{"power": <value>}]}` on /status. */
async function jsonDevice(): Promise<{ url: string; set(power: unknown): void; close(): Promise<void> }> {
  let power: unknown = 12.5;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/status') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ meters: [{ power }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/status`,
    set: (p) => (power = p),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('the example plugin', () => {
  test('loads from examples/plugins and registers its driver', () => {
    assert.deepEqual(example.failed, []);
    assert.deepEqual(example.loaded.map((p) => [p.file, p.drivers, p.adapters]), [[join(EXAMPLES, 'http-json.mjs'), ['http-json'], []]]);
    assert.ok(drivers().some(([name]) => name === 'http-json'));
  });

  test('its options are checked with the same paths as the built-in drivers', () => {
    const lines = (sensor: Record<string, unknown>) => configIssues({ sensors: [{ id: 'p', driver: 'http-json', ...sensor }] }).map((i) => `${i.path}: ${i.message}`);
    assert.deepEqual(lines({ url: 'ftp://x' }), ['sensors[0].url: must match ^https?://']);
    assert.deepEqual(lines({ url: 'http://x', path: 'a..b' }), ['sensors[0].path: has an empty step: write keys and indexes joined by single dots, e.g. meters.0.power']);
    assert.match(lines({ url: 'http://x', pth: 'a' })[0] ?? '', /^sensors\[0\]\.pth: /);
  });
});

driverSuite('http-json', async () => {
  const device = await jsonDevice();
  return {
    options: { url: device.url, path: 'meters.0.power' },
    sysfsRoot: '/nonexistent',
    expected: 12.5,
    change: async () => (device.set('7.25'), 7.25),
    cleanup: device.close,
  };
});

describe('broken plugins', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-plugins-'));
    const files: Record<string, string> = {
      'a-good.mjs': `export default ({ Type }) => ({ drivers: { constant: { options: Type.Object({ value: Type.Number({ default: 3 }) }), create: (o) => ({ read: async () => o.value, close: async () => {} }) } } });`,
      'b-syntax.mjs': 'export default ({ Type }) => ({ drivers: {',
      'c-no-factory.mjs': 'export const drivers = {};',
      'd-throws.mjs': `export default () => { throw new Error('no licence key'); };`,
      'e-plain-schema.mjs': `export default () => ({ drivers: { plain: { options: { type: 'object', properties: {} }, create: () => ({}) } } });`,
      'f-clash.mjs': `export default ({ Type }) => ({ drivers: { simulated: { options: Type.Object({}), create: () => ({}) } } });`,
      'g-config-key.mjs': `export default ({ Type }) => ({ adapters: { api: { options: Type.Object({}), create: () => ({}) } } });`,
      'h-nothing.mjs': 'export default () => ({});',
      // An upstream that takes every record at once: the smallest adapter a plugin can bring.
      'i-sink.mjs': `export default ({ Type, ROUTE_FIELDS, RouteNameSchema, ConnectionLifecycle }) => {
        class Sink extends ConnectionLifecycle {
          refusal = 'HTTP_UPSTREAM';
          downlink = null;
          window = 4;
          taken = [];
          start() { this.setState('connecting'); this.connected(); }
          publish(topic, payload, id, done) { this.taken.push(id); done({ ok: true }); }
          async stop() { this.beginStop(); this.setState('disconnected'); }
        }
        const options = Type.Object({ ...ROUTE_FIELDS, name: RouteNameSchema, label: Type.String() }, { additionalProperties: false });
        return { adapters: { sink: { options, default: [], create: (route, context) => new Sink({ name: route.name, kind: 'sink', url: 'sink://' + route.label, reconnect: route.reconnect, log: context.log }) } } };
      };`,
      'notes.txt': 'not a plugin',
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('each is told with its file and reason; the good one loads all the same', async () => {
    const report = await loadPlugins(dir);
    assert.deepEqual(report.loaded.map((p) => [p.file, p.drivers, p.adapters]), [[join(dir, 'a-good.mjs'), ['constant'], []], [join(dir, 'i-sink.mjs'), [], ['sink']]]);
    const failed = Object.fromEntries(report.failed.map((f) => [f.file.slice(dir.length + 1), f.error]));
    assert.deepEqual(Object.keys(failed), ['b-syntax.mjs', 'c-no-factory.mjs', 'd-throws.mjs', 'e-plain-schema.mjs', 'f-clash.mjs', 'g-config-key.mjs', 'h-nothing.mjs']);
    for (const [file, error] of Object.entries(failed)) {
      assert.ok(isEdgeloopError(error, 'PLUGIN_INVALID'), file);
      assert.ok(error.message.startsWith(`plugin ${join(dir, file)}: `), error.message);
    }
    assert.match(failed['b-syntax.mjs']?.message ?? '', /cannot be loaded: .*Unexpected end of input/);
    assert.match(failed['c-no-factory.mjs']?.message ?? '', /default export must be a function/);
    assert.match(failed['d-throws.mjs']?.message ?? '', /cannot be loaded: no licence key/);
    assert.match(failed['e-plain-schema.mjs']?.message ?? '', /driver plain: options must be a TypeBox object schema/);
    assert.match(failed['f-clash.mjs']?.message ?? '', /driver simulated is already registered/);
    assert.match(failed['g-config-key.mjs']?.message ?? '', /adapter kind api is already a key of the config/);
    assert.match(failed['h-nothing.mjs']?.message ?? '', /provides no driver and no adapter/);
    // Loading again registers nothing twice.
    assert.deepEqual((await loadPlugins(dir)).loaded.map((p) => p.drivers), [['constant'], []]);
  });

  test('an upstream from a plugin: its routes are checked under its key and it carries records', async () => {
    await loadPlugins(dir);
    const issues = configIssues({ sink: [{ name: 's', label: 'x', colour: 'red' }] }).map((i) => i.path);
    assert.deepEqual(issues, ['sink[0].colour']);
    const g = await startGateway({ sink: [{ name: 'sink1', label: 'here' }], sensors: [{ id: 'k', driver: 'constant', interval_ms: 20 }] });
    try {
      const route = g.gw.routes.find((r) => r.adapter.name === 'sink1');
      assert.ok(route);
      assert.equal(route.adapter.info().kind, 'sink');
      await waitUntil({
        check: () => (route.publisher.published >= 3 ? true : undefined),
        subscribe: (recheck) => {
          route.publisher.on('acked', recheck);
          return () => route.publisher.off('acked', recheck);
        },
        timeoutMs: 5000,
        describe: () => `${route.publisher.published} records taken`,
      });
    } finally {
      await g.stop();
    }
  });

  test('edgeloop check prints each plugin, and exits 1 when one is broken', { timeout: 60_000 }, async () => {
    const file = join(dir, 'check.yaml');
    await writeFile(file, `plugins_dir: .\nsensors:\n  - { id: a, driver: constant }\n`);
    const child = spawnNode([CLI, 'check', '-c', file]);
    const { code } = await child.exited;
    const out = child.lines().join('\n');
    assert.equal(code, 1, out);
    assert.match(out, /plugin .*a-good\.mjs: ok \(driver constant\)/);
    assert.match(out, /plugin .*d-throws\.mjs: EDGELOOP_ERR_PLUGIN_INVALID: .*no licence key/);
  });

  test('plugins_dir is relative to the config file; EDGELOOP_PLUGINS_DIR overrides it', () => {
    assert.equal(pluginsDirOf({ plugins_dir: 'plugins' }, {}, '/etc/edgeloop/config.yaml'), '/etc/edgeloop/plugins');
    assert.equal(pluginsDirOf({ plugins_dir: '/opt/p' }, { EDGELOOP_PLUGINS_DIR: '/srv/p' }, '/etc/edgeloop/config.yaml'), '/srv/p');
    assert.equal(pluginsDirOf({}, {}, undefined), undefined);
  });

  test('a config naming a driver no plugin brought: the config error names the failed plugins', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, `plugins_dir: .\nsensors:\n  - { id: a, driver: licensed }\n`);
    await assert.rejects(loadConfig(file, {}), (err) => {
      assert.ok(isEdgeloopError(err, 'CONFIG_INVALID'));
      const issues = (err.details as { path: string; message: string }[]).map((i) => i.path);
      assert.equal(issues[0], 'sensors[0].driver');
      assert.ok(issues.filter((p) => p === 'plugins_dir').length === 7, issues.join(' '));
      assert.match(err.message, /plugins_dir: plugin .*d-throws\.mjs: cannot be loaded: no licence key/);
      return true;
    });
  });

  test('a gateway with a broken plugin says so and runs, with the good plugin\u2019s sensor', { timeout: 90_000 }, async (t) => {
    const g = await spawnGateway({ plugins_dir: dir, sensors: [{ id: 'k', driver: 'constant', interval_ms: 50 }] });
    t.after(() => g.cleanup());
    // Generous: a gateway starting on a machine loaded by other test files.
    await waitForMsg(g.child, 'gateway started', 60_000);
    const entries = g.child.lines().flatMap((line) => (line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : []));
    const broken = entries.find((e) => e.code === 'EDGELOOP_ERR_PLUGIN_INVALID' && String(e.plugin).endsWith('d-throws.mjs'));
    assert.match(String(broken?.msg), /no licence key/);
    const loaded = entries.filter((e) => e.msg === 'plugin loaded').map((e) => e.drivers);
    assert.deepEqual(loaded, [['constant'], []]);
  });
});
