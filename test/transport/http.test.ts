import assert from 'node:assert/strict';
import { before, describe, test, type TestContext } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { isEdgeloopError } from '../../src/errors.ts';
import type { PublishOutcome } from '../../src/transport/adapter.ts';
import { redact } from '../../src/lib/redact.ts';
import { makeCerts, type CertPaths } from '../support/certs.ts';
import { adapterSuite, connectedFarEnd as connectedTo, DATA_TOPIC, ready, untilState, type Ledger } from './adapter-suite.ts';
import { posts, startHttpFarEnd, untilRequests, type FarEndOptions } from './http-far-end.ts';

adapterSuite('http', () => startHttpFarEnd());

/** A far end and a connected adapter on it, both stopped after the test. */
const connectedFarEnd = (t: TestContext, o: FarEndOptions = {}) => connectedTo(t, () => startHttpFarEnd(o));

describe('http webhook route', () => {
  test('POSTs the payload as JSON with its id, topic and the configured headers', async (t) => {
    const { far, ledger } = await connectedFarEnd(t, {
      route: { headers: { authorization: 'Bearer s3cret', 'x-tenant': 'greenhouse', 'idempotency-key': 'not-this' } },
    });
    const p = ledger.publish(`${DATA_TOPIC}/temp`, 'rec-1');
    assert.deepEqual(await p.outcome, { ok: true });
    const [req] = posts(far);
    assert.ok(req);
    assert.equal(req.body, p.payload);
    assert.deepEqual(JSON.parse(req.body), JSON.parse(p.payload));
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['content-length'], String(Buffer.byteLength(p.payload)));
    assert.equal(req.headers['idempotency-key'], 'rec-1', 'the record id wins over a configured header');
    assert.equal(req.headers['x-edgeloop-topic'], `${DATA_TOPIC}/temp`);
    assert.equal(req.headers.authorization, 'Bearer s3cret');
    assert.equal(req.headers['x-tenant'], 'greenhouse');
    assert.equal(req.headers.connection, 'keep-alive');
  });

  test('x-edgeloop-topic: characters beyond ASCII and % are percent-encoded', async (t) => {
    const { far, ledger } = await connectedFarEnd(t);
    const topic = `${DATA_TOPIC}/température 温度 100%`;
    assert.deepEqual(await ledger.publish(topic).outcome, { ok: true });
    const header = String(posts(far)[0]?.headers['x-edgeloop-topic']);
    assert.equal(header, `${DATA_TOPIC}/temp%C3%A9rature %E6%B8%A9%E5%BA%A6 100%25`);
    assert.equal(decodeURIComponent(header), topic);
  });

  test('keeps up to window requests in flight over at most window keep-alive connections', async (t) => {
    const { far, ledger } = await connectedFarEnd(t);
    const window = far.adapter.window;
    far.hold();
    // Twice the window at once: the rest waits for a free connection rather than going out.
    const sent = Array.from({ length: window * 2 }, () => ledger.publish());
    await untilRequests(far, () => far.held() === window, `${window} requests held`);
    far.release();
    far.hold();
    await untilRequests(far, () => far.held() === window, `the next ${window} requests held`);
    far.release();
    for (const s of sent) assert.deepEqual(await s.outcome, { ok: true });
    assert.equal(far.peakInFlight?.(), window);
    assert.ok(far.connections() <= window, `${far.connections()} connections for a window of ${window}`);
    assert.deepEqual(posts(far).map((r) => r.headers['idempotency-key']), sent.map((s) => s.id), 'sent in order');
  });

  test('4xx other than 408 and 429 refuses the record with its status and the reason given', async (t) => {
    const { far, ledger } = await connectedFarEnd(t);
    for (const status of [400, 401, 404, 413, 422]) {
      far.respond = () => status;
      const outcome = await ledger.publish().outcome;
      assert.ok(!outcome.ok && outcome.refused, `${status}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.refused.code, status);
      assert.match(outcome.refused.reason, new RegExp(`^${status} [A-Z].*: not this one$`));
    }
    assert.equal(far.adapter.state, 'connected');
    assert.equal(far.adapter.info().connects, 1);
  });

  test('408, 429 and 5xx lose the connection: lost, disconnected, probe, then ready again', async (t) => {
    const { far, ledger } = await connectedFarEnd(t);
    for (const status of [408, 429, 500, 503]) {
      let answered = false;
      far.respond = () => (answered ? 204 : ((answered = true), status));
      const states: string[] = [];
      const onState = (s: string) => states.push(s);
      far.adapter.on('state', onState);
      const back = ready(far.adapter);
      assert.deepEqual(await ledger.publish().outcome, { ok: false }, `${status} is not a refusal`);
      await back;
      far.adapter.off('state', onState);
      assert.deepEqual(states, ['disconnected', 'connecting', 'connected'], `after ${status}`);
      assert.match(far.adapter.info().last_error ?? '', new RegExp(`EDGELOOP_ERR_HTTP_UPSTREAM: .*POST answered ${status}`));
      assert.deepEqual(await ledger.publish().outcome, { ok: true });
    }
    assert.equal(far.adapter.info().connects, 5);
  });

  test('one failure gives up every request in flight with it', async (t) => {
    const { far, ledger } = await connectedFarEnd(t);
    let n = 0;
    far.respond = () => (++n === 3 ? 503 : 'hold');
    const held = [ledger.publish(), ledger.publish()];
    await untilRequests(far, () => far.held() === 2, 'two requests held');
    const failing = ledger.publish();
    const outcomes: PublishOutcome[] = await Promise.all([...held, failing].map((p) => p.outcome));
    assert.deepEqual(outcomes, [{ ok: false }, { ok: false }, { ok: false }]);
    assert.equal(far.adapter.state, 'disconnected');
    ledger.assertEachDoneOnce();
  });

  test('a request unanswered within timeout_ms loses the connection', async (t) => {
    const { far, ledger } = await connectedFarEnd(t, { route: { timeout_ms: 150 } });
    far.respond = () => 'hold';
    const back = ready(far.adapter);
    assert.deepEqual(await ledger.publish().outcome, { ok: false });
    assert.match(far.adapter.info().last_error ?? '', /no answer within 150 ms/);
    far.respond = () => 204;
    await back;
    assert.deepEqual(await ledger.publish().outcome, { ok: true });
  });

  test('the probe: HEAD answered 5xx keeps it disconnected with growing backoff; 501 (no HEAD) counts as up', async (t) => {
    const far = await startHttpFarEnd();
    t.after(async () => {
      await far.adapter.stop(1000);
      await far.close();
    });
    far.headStatus = 503;
    far.adapter.start();
    await untilState(far.adapter, () => (far.adapter.info().reconnect_attempts >= 3 ? true : undefined), 'three failed probes');
    assert.equal(far.adapter.info().connects, 0);
    assert.match(far.adapter.info().last_error ?? '', /HEAD answered 503 Service Unavailable/);
    far.headStatus = 501;
    await ready(far.adapter);
    assert.equal(far.adapter.state, 'connected');
  });

  test('info: kind http, the url without its password or token', async (t) => {
    const { far, ledger } = await connectedFarEnd(t, { url: (port) => `http://gw:pa55@127.0.0.1:${port}/hook?token=abc&site=north` });
    const info = far.adapter.info();
    assert.equal(info.kind, 'http');
    assert.equal(info.name, 'hook');
    assert.equal(info.window, 4);
    assert.match(info.url, /^http:\/\/\[redacted\]@127\.0\.0\.1:\d+\/hook\?token=\[redacted\]&site=north$/);
    assert.deepEqual(await ledger.publish().outcome, { ok: true });
    const [req] = posts(far);
    assert.equal(req?.headers.authorization, `Basic ${Buffer.from('gw:pa55').toString('base64')}`);
  });

  describe('batches', () => {
    /** Publishes `n` records in one turn, as the publisher fills its window, and waits for their outcomes. */
    const burst = (ledger: Ledger, n: number, topic = (i: number) => `${DATA_TOPIC}/${i}`) => Promise.all(Array.from({ length: n }, (_, i) => ledger.publish(topic(i))).map(async (p) => ({ ...p, outcome: await p.outcome })));

    test('records of one turn go as JSON arrays of {topic, payload}, at most max_records each, in order', async (t) => {
      const { far, ledger } = await connectedFarEnd(t, { route: { batch: { max_records: 3, max_bytes: 1_048_576 } } });
      assert.equal(far.adapter.window, 4 * 3, 'the window counts records: requests × max_records');
      const sent = await burst(ledger, 7);
      for (const s of sent) assert.deepEqual(s.outcome, { ok: true });
      const bodies = posts(far).map((r) => JSON.parse(r.body) as { topic: string; payload: unknown }[]);
      assert.deepEqual(bodies.map((b) => b.length), [3, 3, 1]);
      assert.deepEqual(bodies.flat(), sent.map((s) => ({ topic: s.topic, payload: JSON.parse(s.payload) })));
      for (const r of posts(far)) {
        assert.equal(r.headers['content-type'], 'application/json');
        assert.equal(r.headers['x-edgeloop-batch'], String((JSON.parse(r.body) as unknown[]).length));
        assert.equal(r.headers['idempotency-key'], undefined, 'each record carries its own id');
      }
    });

    test('max_bytes bounds a body; a record larger than it travels alone', async (t) => {
      const { far, ledger } = await connectedFarEnd(t, { route: { batch: { max_records: 100, max_bytes: 250 } } });
      const sent = await burst(ledger, 6);
      for (const s of sent) assert.deepEqual(s.outcome, { ok: true });
      for (const r of posts(far)) assert.ok(r.raw.length <= 250, `${r.raw.length} bytes`);
      assert.equal(posts(far).flatMap((r) => JSON.parse(r.body) as unknown[]).length, 6);
      const big = ledger.publish(`${DATA_TOPIC}/${'x'.repeat(300)}`);
      assert.deepEqual(await big.outcome, { ok: true });
      assert.equal((JSON.parse(posts(far).at(-1)?.body ?? '[]') as unknown[]).length, 1);
    });

    test('a refused batch is sent again record by record: only the bad one is refused', async (t) => {
      const { far, ledger } = await connectedFarEnd(t, { route: { batch: { max_records: 10, max_bytes: 1_048_576 } } });
      far.respond = (req) => (String(req.headers['x-edgeloop-batch']) !== '1' || far.requests.at(-1)?.body.includes('/bad') ? 422 : 204);
      const sent = await burst(ledger, 3, (i) => `${DATA_TOPIC}/${i === 1 ? 'bad' : 'good'}`);
      assert.deepEqual(sent.map((s) => s.outcome.ok), [true, false, true]);
      const refused = sent[1]?.outcome;
      assert.ok(refused && !refused.ok && refused.refused?.code === 422);
      assert.deepEqual(posts(far).map((r) => r.headers['x-edgeloop-batch']), ['3', '1', '1', '1']);
      assert.equal(far.adapter.state, 'connected');
    });

    test('gzip: the body is compressed and says so', async (t) => {
      const { far, ledger } = await connectedFarEnd(t, { route: { compress: 'gzip' } });
      const p = ledger.publish();
      assert.deepEqual(await p.outcome, { ok: true });
      const [req] = posts(far);
      assert.equal(req?.headers['content-encoding'], 'gzip');
      assert.equal(gunzipSync(req?.raw ?? Buffer.alloc(0)).toString(), p.payload);
    });
  });

  test('token: sent as a bearer on every request, the probe included', async (t) => {
    const { far, ledger } = await connectedFarEnd(t, { route: { token: 'tok-123' } });
    assert.deepEqual(await ledger.publish().outcome, { ok: true });
    assert.deepEqual(far.requests.map((r) => [r.method, r.headers.authorization]), [['HEAD', 'Bearer tok-123'], ['POST', 'Bearer tok-123']]);
  });

  test('Retry-After on a 503 stretches the backoff, up to max_ms', async (t) => {
    const { far, ledger } = await connectedFarEnd(t, { route: { reconnect: { min_ms: 20, max_ms: 1500, stable_ms: 60_000 } } });
    far.respond = () => 503;
    far.retryAfter = '1';
    assert.deepEqual(await ledger.publish().outcome, { ok: false });
    assert.ok(far.adapter.info().backoff_ms >= 1000, `backoff ${far.adapter.info().backoff_ms} ms`);
  });

  test('redact leaves a url without secrets as it is and hides token-like parameters', () => {
    assert.equal(redact('https://hooks.example/v1/ingest?site=north'), 'https://hooks.example/v1/ingest?site=north');
    assert.equal(redact('https://h.example/?api_key=k&sig=s'), 'https://h.example/?api_key=[redacted]&sig=[redacted]');
  });

  describe('https', () => {
    let certs: CertPaths;
    before(async () => {
      certs = await makeCerts();
    });

    const tlsFarEnd = (route: FarEndOptions['route']) => ({
      tls: { cert: certs.serverCert, key: certs.serverKey },
      url: (port: number) => `https://localhost:${port}/hook`,
      route,
    });

    test('trusts the server through tls.ca', async (t) => {
      const { ledger } = await connectedFarEnd(t, tlsFarEnd({ tls: { ca: certs.caCert, reject_unauthorized: true } }));
      assert.deepEqual(await ledger.publish().outcome, { ok: true });
    });

    test('without the CA the server is not trusted: no connection, a certificate error', async (t) => {
      const far = await startHttpFarEnd(tlsFarEnd({}));
      t.after(async () => {
        await far.adapter.stop(1000);
        await far.close();
      });
      far.adapter.start();
      await untilState(far.adapter, () => (far.adapter.info().reconnect_attempts >= 2 ? true : undefined), 'failed probes');
      assert.equal(far.adapter.info().connects, 0);
      assert.match(far.adapter.info().last_error ?? '', /certificate/i);
    });

    test('mutual TLS: the client certificate is presented; without it the server refuses', async (t) => {
      const mtls = (route: FarEndOptions['route']) => ({ ...tlsFarEnd(route), tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert } });
      const { ledger } = await connectedFarEnd(t, mtls({ tls: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey, reject_unauthorized: true } }));
      assert.deepEqual(await ledger.publish().outcome, { ok: true });
      const far = await startHttpFarEnd(mtls({ tls: { ca: certs.caCert, reject_unauthorized: true } }));
      t.after(async () => {
        await far.adapter.stop(1000);
        await far.close();
      });
      far.adapter.start();
      await untilState(far.adapter, () => (far.adapter.info().reconnect_attempts >= 1 ? true : undefined), 'a failed probe');
      assert.equal(far.adapter.info().connects, 0);
    });

    test('a missing tls.ca file fails the start with HTTP_UPSTREAM', async (t) => {
      const far = await startHttpFarEnd(tlsFarEnd({ tls: { ca: '/nonexistent/ca.pem', reject_unauthorized: true } }));
      t.after(() => far.close());
      assert.throws(() => far.adapter.start(), (err) => isEdgeloopError(err, 'HTTP_UPSTREAM') && /\/nonexistent\/ca\.pem/.test(err.message));
      assert.equal(far.adapter.state, 'disconnected');
    });
  });
});
