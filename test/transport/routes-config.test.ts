// The nats and coap routes of the config: defaults, names shared with the other kinds, and what the API hides.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveConfig } from '../../src/app/config.ts';
import { redact, secretsOf } from '../../src/lib/redact.ts';
import type { CoapRouteConfig } from '../../src/transport/coap.ts';
import type { HttpRouteConfig } from '../../src/transport/http.ts';
import type { NatsRouteConfig } from '../../src/transport/nats.ts';
import { configIssues } from '../config/issues.ts';

describe('nats and coap routes in the config', () => {
  test('none by default', () => {
    const c = resolveConfig({});
    assert.deepEqual([c.nats, c.coap], [[], []]);
  });

  test('nats defaults: the EDGELOOP stream, created on demand for edgeloop.>, a 2 min duplicate window', () => {
    const [r] = resolveConfig({ nats: [{ name: 'fleet', url: 'nats://n:4222' }] }).nats as NatsRouteConfig[];
    assert.deepEqual(r?.stream, {
      name: 'EDGELOOP', create: true, subjects: ['edgeloop.>'], duplicate_window_s: 120, max_age_s: 0, storage: 'file', replicas: 1,
    });
    assert.deepEqual([r?.timeout_ms, r?.window, r?.topics], [5000, 256, ['#']]);
  });

  test('coap defaults: one record a request, one request at a time (NSTART 1)', () => {
    const [r] = resolveConfig({ coap: [{ name: 'lwm', url: 'coap://c/ingest' }] }).coap as CoapRouteConfig[];
    assert.deepEqual([r?.batch, r?.window, r?.timeout_ms], [{ max_records: 1, max_bytes: 1024 }, 1, 5000]);
  });

  test('route names are unique across every kind; urls must fit the kind', () => {
    const issues = configIssues({
      http: [{ name: 'up', url: 'http://h' }],
      nats: [{ name: 'up', url: 'nats://n' }, { name: 'n2', url: 'http://n' }],
      coap: [{ name: 'up', url: 'coap://c' }],
    });
    assert.deepEqual(issues.map((i) => `${i.path}: ${i.message}`), [
      'nats[1].url: has the scheme http: use one of nats, tls',
      'nats[0].name: duplicate route name up',
      'coap[0].name: duplicate route name up',
    ]);
  });

  test('the API view hides nats passwords and tokens and the http bearer token', () => {
    const c = resolveConfig({
      nats: [{ name: 'a', url: 'nats://n', username: 'gw', password: 'pw' }, { name: 'b', url: 'nats://n', token: 'tk' }],
      http: [{ name: 'h', url: 'http://h', token: 'bearer-secret' }],
    });
    const view = redact(c, secretsOf(c));
    const nats = view.nats as NatsRouteConfig[];
    assert.deepEqual([nats[0]?.password, nats[1]?.token, (view.http as HttpRouteConfig[])[0]?.token], ['[redacted]', '[redacted]', '[redacted]']);
    assert.equal(nats[0]?.username, 'gw');
  });
});
