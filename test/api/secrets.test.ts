// No secret leaves the process: a gateway run the way a user runs it (the CLI, pino on stdout) with secrets planted in
// every place a config holds one — URL user-info, query tokens, passwords, header values, the API token, a key path —
// and upstreams that fail and echo them. Every API route, WebSocket frame, log line and `check` output is scanned.
// Also: every JSON response speaks snake_case.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { CLI, spawnGateway, writeGatewayConfig, type ChildGateway } from '../app/gateway-child.ts';
import { spawnNode } from '../support/child.ts';
import { freePort } from '../support/ports.ts';

const TOKEN = 'ApiTok3n-planted-9f2c';
const URL_PASSWORD = 'UrlPassw0rd-planted';
const URL_USER = 'urluser-planted';
const MQTT_PASSWORD = 'MqttPassw0rd-planted';
const HEADER_TOKEN = 'HeaderBearer-planted-77aa';
const QUERY_TOKEN = 'QueryTok-planted-31';
const HOOK_PASSWORD = 'HookPassw0rd-planted';
const KEY_PATH = '/etc/edgeloop/private/planted-client.key';
const SECRETS = [TOKEN, URL_PASSWORD, URL_USER, MQTT_PASSWORD, HEADER_TOKEN, QUERY_TOKEN, HOOK_PASSWORD, KEY_PATH];

function leaks(text: string): string[] {
  return SECRETS.filter((s) => text.includes(s) || text.includes(encodeURIComponent(s)));
}

let g: ChildGateway;
let api: string;
let config: Record<string, unknown>;

before(async () => {
  const dead = await freePort();
  config = {
    api: { host: '127.0.0.1', port: 0, token: TOKEN },
    mqtt: {
      // Nothing listens there: every attempt fails and is logged with the URL.
      url: `mqtt://${URL_USER}:${URL_PASSWORD}@127.0.0.1:${dead}`,
      password: MQTT_PASSWORD,
      connect_timeout_ms: 200,
      reconnect: { min_ms: 50, max_ms: 100 },
      tls: { key: KEY_PATH },
    },
    http: [
      {
        name: 'hook',
        url: `http://hook:${HOOK_PASSWORD}@127.0.0.1:${dead}/in?token=${QUERY_TOKEN}`,
        headers: { authorization: `Bearer ${HEADER_TOKEN}` },
        reconnect: { min_ms: 50, max_ms: 100 },
      },
    ],
    sensors: [
      { id: 'ok', driver: 'simulated', interval_ms: 100 },
      // A program that fails and echoes a credential on stderr: its error reaches the log and the API.
      { id: 'leaky', driver: 'command', interval_ms: 100, timeout_ms: 30_000, command: ['sh', '-c', `echo "denied for Bearer ${HEADER_TOKEN}" >&2; exit 3`] },
    ],
  };
  g = await spawnGateway(config, { args: ['--log-level', 'debug'] });
  const listening = await g.child.waitForLog((e) => e.msg === 'API listening', 20_000);
  api = listening.url as string;
  // Failures have happened and been logged: both routes and the leaky sensor.
  await g.child.waitForLog((e) => e.msg === 'sensor read failed' && e.sensor === 'leaky', 20_000);
  await g.child.waitForLog((e) => e.route === 'default' && typeof e.code === 'string', 20_000);
  await g.child.waitForLog((e) => e.route === 'hook' && typeof e.code === 'string', 20_000);
});
after(() => g?.cleanup());

async function call(path: string, init: { method?: string; body?: string; token?: string | null } = {}) {
  const headers: Record<string, string> = {};
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${api}${path}`, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

const ROUTES: [string, string, { method?: string; body?: string; token?: string | null }][] = [
  ['health', '/api/v1/health', {}],
  ['status', '/api/v1/status', {}],
  ['sensors', '/api/v1/sensors', {}],
  ['config', '/api/v1/config', {}],
  ['outbox', '/api/v1/outbox', {}],
  ['metrics', '/metrics', {}],
  ['an unknown route', `/api/v1/nope?token=${QUERY_TOKEN}`, {}],
  ['a wrong token', '/api/v1/status', { token: `${TOKEN}x` }],
  ['a bad purge body', '/api/v1/outbox/purge', { method: 'POST', body: `{"confirm": "${MQTT_PASSWORD}"}` }],
  ['a purge', '/api/v1/outbox/purge', { method: 'POST', body: '{"confirm": true}' }],
];

describe('no secret leaves the process', () => {
  for (const [what, path, init] of ROUTES) {
    test(`API: ${what}`, async () => {
      const r = await call(path, init);
      assert.deepEqual(leaks(r.text), [], r.text.slice(0, 2000));
    });
  }

  test('API: the config view still shows what is not secret, with the secrets marked', async () => {
    const c = JSON.parse((await call('/api/v1/config')).text) as Record<string, Record<string, unknown>>;
    const mqtt = c.mqtt as Record<string, unknown> & { tls: Record<string, unknown> };
    assert.equal(mqtt.password, '[redacted]');
    assert.equal(mqtt.tls.key, '[redacted]');
    assert.match(mqtt.url as string, /^mqtt:\/\/\[redacted\]@127\.0\.0\.1:\d+$/);
    assert.equal(c.api!.token, '[redacted]');
    const [hook] = c.http as unknown as { url: string; headers: Record<string, string> }[];
    assert.equal(hook!.headers.authorization, '[redacted]');
    assert.match(hook!.url, /^http:\/\/\[redacted\]@127\.0\.0\.1:\d+\/in\?token=\[redacted\]$/);
  });

  test('API: the failures are still told, without the secrets', async () => {
    const s = JSON.parse((await call('/api/v1/status')).text) as { routes: Record<string, { last_error: string | null; url: string }[]> };
    const mqtt = s.routes.mqtt![0]!;
    assert.match(mqtt.last_error ?? '', /^EDGELOOP_ERR_MQTT_CONNECT: MQTT mqtt:\/\/\[redacted\]@127\.0\.0\.1:\d+: /);
    const sensors = JSON.parse((await call('/api/v1/sensors')).text) as { sensors: { id: string; last_error: string | null }[] };
    const leaky = sensors.sensors.find((x) => x.id === 'leaky');
    assert.match(leaky?.last_error ?? '', /exited with code 3: denied for \[redacted\]/);
  });

  test('WebSocket: error frames and records', async () => {
    const ws = new WebSocket(`${api.replace('http', 'ws')}/ws?token=${TOKEN}`);
    after(() => ws.terminate());
    const frames: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const got = (n: number) =>
      new Promise<void>((resolve) => {
        const on = (data: Buffer) => {
          frames.push(data.toString());
          if (frames.length >= n) {
            ws.off('message', on);
            resolve();
          }
        };
        ws.on('message', on);
      });
    const two = got(2);
    ws.send(`{"subscribe": "${MQTT_PASSWORD}"}`);
    ws.send(JSON.stringify({ subscribe: ['sensors/#'] }));
    await two;
    await got(5);
    assert.deepEqual(leaks(frames.join('\n')), []);
  });

  test('check: a refused config does not echo the secrets it holds', async () => {
    const bad = await writeGatewayConfig({
      ...config,
      mqtt: { ...(config.mqtt as object), url: `mqtt://${URL_USER}:${URL_PASSWORD}@127.0.0.1:99999`, qos: MQTT_PASSWORD },
      api: { token: 'short' },
    });
    after(() => bad.remove());
    const child = spawnNode([CLI, 'check', '-c', bad.configFile]);
    const { code } = await child.exited;
    assert.equal(code, 1);
    const text = child.lines().join('\n');
    assert.match(text, /mqtt\.url: has port 99999/);
    assert.deepEqual(leaks(text), [], text);
  });

  test('logs: not one line of the run holds a secret (checked last, after every route was called)', async () => {
    g.child.kill('SIGTERM');
    await g.child.exited;
    const lines = g.child.lines();
    assert.ok(lines.length > 10);
    assert.ok(lines.some((l) => l.includes('[redacted]')), 'the failures were logged, with what they echoed hidden');
    assert.deepEqual(lines.filter((l) => leaks(l).length > 0), []);
  });
});

describe('every JSON response speaks snake_case', () => {
  /** Keys that are data, not field names: header names in the config view. */
  const DATA_KEYS = new Set(['headers']);
  const badKeys = (value: unknown, path = ''): string[] => {
    if (Array.isArray(value)) return value.flatMap((v, i) => badKeys(v, `${path}[${i}]`));
    if (typeof value !== 'object' || value === null) return [];
    return Object.entries(value).flatMap(([k, v]) => [
      ...(/^[a-z][a-z0-9_]*$/.test(k) ? [] : [`${path}.${k}`]),
      ...(DATA_KEYS.has(k) ? [] : badKeys(v, `${path}.${k}`)),
    ]);
  };
  before(async () => {
    // The gateway of the first suite may have been stopped by its last test: start a fresh one.
    if (g.child.lines().some((l) => l.includes('"gateway stopped"'))) {
      await g.cleanup();
      g = await spawnGateway(config);
      api = (await g.child.waitForLog((e) => e.msg === 'API listening', 20_000)).url as string;
    }
  });

  for (const [what, path, init] of ROUTES.filter(([, p]) => p !== '/metrics')) {
    test(`${what}`, async () => {
      const r = await call(path, init);
      assert.match(r.type, /^application\/json/);
      assert.deepEqual(badKeys(JSON.parse(r.text)), []);
    });
  }
});
