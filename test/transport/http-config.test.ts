// The `http` routes of the config: defaults, what is refused, names shared with mqtt, and what the API hides.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveConfig } from '../../src/app/config.ts';
import { redact, secretsOf } from '../../src/lib/redact.ts';
import type { HttpRouteConfig } from '../../src/transport/http.ts';
import { configIssues } from '../config/issues.ts';

const hook = (patch: Record<string, unknown> = {}) => ({ name: 'hook', url: 'https://hooks.example/ingest', ...patch });
const lines = (raw: unknown) => configIssues(raw).map((i) => `${i.path}: ${i.message}`);

describe('http routes in the config', () => {
  test('none by default', () => {
    assert.deepEqual(resolveConfig({}).http, []);
  });

  test('defaults: all topics, no headers, 5 s timeout, window 8, one record a request, no compression, the mqtt backoff', () => {
    const [route] = resolveConfig({ http: [hook()] }).http as HttpRouteConfig[];
    assert.deepEqual(route, {
      name: 'hook',
      url: 'https://hooks.example/ingest',
      topics: ['#'],
      headers: {},
      timeout_ms: 5000,
      window: 8,
      reconnect: { min_ms: 1000, max_ms: 30_000, stable_ms: 10_000 },
      batch: { max_records: 1, max_bytes: 1_048_576 },
      compress: 'none',
    });
    const mqtt = resolveConfig({}).mqtt as { reconnect: unknown };
    assert.ok(!Array.isArray(mqtt));
    assert.deepEqual(route?.reconnect, mqtt.reconnect);
  });

  test('tls: reject_unauthorized defaults to true', () => {
    const [route] = resolveConfig({ http: [hook({ tls: { ca: '/etc/edgeloop/ca.pem' } })] }).http as HttpRouteConfig[];
    assert.deepEqual(route?.tls, { ca: '/etc/edgeloop/ca.pem', reject_unauthorized: true });
  });

  /** [what, config, expected issues as `path: message`]; a RegExp stands for one issue whose line it must match. */
  const BAD: [string, unknown, (string | RegExp)[]][] = [
    ['no name', { http: [{ url: 'http://x' }] }, ['http[0].name: is required']],
    ['no url', { http: [{ name: 'hook' }] }, ['http[0].url: is required']],
    ['an mqtt url', { http: [hook({ url: 'mqtt://x' })] }, ['http[0].url: has the scheme mqtt: use one of http, https']],
    ['a name with a space', { http: [hook({ name: 'my hook' })] }, ['http[0].name: must be 1 to 32 letters, digits, _ or -']],
    ['window 0', { http: [hook({ window: 0 })] }, ['http[0].window: must be >= 1']],
    ['an unknown key', { http: [hook({ method: 'PUT' })] }, [/^http\[0\]\.method: unknown key/]],
    ['a header value with a newline', { http: [hook({ headers: { 'x-a': 'b\r\nx-evil: 1' } })] }, ['http[0].headers.x-a: must be one line']],
    ['a header name with a colon', { http: [hook({ headers: { 'x:a': 'b' } })] }, ['http[0].headers.x:a: is not a valid HTTP header name']],
    ['two http routes of one name', { http: [hook(), hook()] }, ['http[1].name: duplicate route name hook']],
    ['an http route named like an mqtt one', { mqtt: { name: 'up' }, http: [hook({ name: 'up' })] }, ['http[0].name: duplicate route name up']],
    ['an http route named like the unnamed mqtt route', { http: [hook({ name: 'default' })] }, ['http[0].name: duplicate route name default']],
  ];
  for (const [what, raw, expected] of BAD) {
    test(`refuses ${what}`, () => {
      const found = lines(raw);
      assert.equal(found.length, expected.length, found.join('\n'));
      expected.forEach((e, i) => (typeof e === 'string' ? assert.equal(found[i], e) : assert.match(found[i] ?? '', e)));
    });
  }

  test('a header can come from the environment', () => {
    const config = resolveConfig({ http: [hook()] }, { EDGELOOP_HTTP__0__HEADERS__AUTHORIZATION: 'Bearer from-env' });
    assert.deepEqual((config.http as HttpRouteConfig[])[0]?.headers, { authorization: 'Bearer from-env' });
  });

  test('the API view hides authorization, cookie and x-api-key values, whatever their case', () => {
    const config = resolveConfig({
      http: [hook({ headers: { Authorization: 'Bearer s3cret', cookie: 'sid=1', 'X-API-Key': 'k', 'x-tenant': 'north' } })],
    });
    const shown = redact(config, secretsOf(config)).http as HttpRouteConfig[];
    assert.deepEqual(shown[0]?.headers, {
      Authorization: '[redacted]', cookie: '[redacted]', 'X-API-Key': '[redacted]', 'x-tenant': 'north',
    });
    assert.equal((config.http as HttpRouteConfig[])[0]?.headers.Authorization, 'Bearer s3cret', 'the running config keeps them');
  });
});
