import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createServer, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';
import { resolveConfig } from '../../src/app/config.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { CoapAdapter, codeNumber, type CoapRouteConfig } from '../../src/transport/coap.ts';
import { adapterSuite, connectedFarEnd, DATA_TOPIC, DEVICE, Inbox, ready, RECONNECT, untilState, type FarEnd, type Received } from './adapter-suite.ts';

const log = createLogger('silent', { pretty: false });

interface CoapRequest {
  method: string;
  url: string;
  payload: string;
  contentFormat: unknown;
}

interface CoapFarEnd extends FarEnd {
  adapter: CoapAdapter;
  requests: CoapRequest[];
  /** Answers each POST; the default takes everything with 2.04. */
  respond: (req: IncomingMessage) => string;
}

/** A CoAP server on a UDP port of its own, that records what it gets and answers as the test says. */
async function startCoapFarEnd(route: Partial<CoapRouteConfig> = {}): Promise<CoapFarEnd> {
  const inbox = new Inbox<Received>();
  const held: OutgoingMessage[] = [];
  let holding = false;
  let refuse = false;
  let open = 0;
  let peak = 0;
  let server: Server;
  let port = 0;
  const observers = new Set<{ path: string; res: OutgoingMessage }>();
  const listen = async () => {
    server = createServer((req: IncomingMessage, res: OutgoingMessage) => {
      const payload = req.payload.toString('utf8');
      far.requests.push({ method: req.method, url: req.url, payload, contentFormat: req.headers['Content-Format'] });
      if (req.method === 'GET' && req.headers.Observe === 0) {
        // A registration: notifications go to it from now on.
        const observer = { path: req.url.slice('/ingest/'.length), res };
        observers.add(observer);
        res.once('finish', () => observers.delete(observer));
        res.code = '2.05';
        res.write('');
        return;
      }
      if (req.method !== 'POST') {
        res.code = '4.04';
        res.end();
        return;
      }
      const batch = !payload.startsWith('{');
      const records = batch ? (JSON.parse(payload) as { topic: string; payload: { id: string } }[]) : [{ topic: req.url.slice('/ingest/'.length), payload: JSON.parse(payload) as { id: string } }];
      for (const r of records) inbox.push({ topic: r.topic, payload: JSON.stringify(r.payload), id: r.payload.id });
      open++;
      peak = Math.max(peak, open);
      res.once('finish', () => open--);
      if (refuse) {
        refuse = false;
        res.code = '4.00';
        res.end('not this one');
      } else if (holding) held.push(res);
      else {
        res.code = far.respond(req);
        res.end();
      }
    });
    await new Promise<void>((resolve, reject) => server.listen(port, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve())));
    port = (server as unknown as { _sock: { address(): { port: number } } })._sock.address().port;
  };
  await listen();
  const [r] = resolveConfig({
    coap: [{ name: 'coap', url: `coap://127.0.0.1:${port}/ingest`, timeout_ms: 1000, window: 4, keepalive_ms: 500, reconnect: RECONNECT, ...route }],
  }).coap as (CoapRouteConfig & { name: string })[];
  assert.ok(r);
  const far: CoapFarEnd = {
    adapter: new CoapAdapter(r, { device: DEVICE, log }),
    requests: [],
    respond: () => '2.04',
    received: () => inbox.next(),
    refuseNext() {
      refuse = true;
      return { topic: `${DATA_TOPIC}/refused`, code: 0x80 };
    },
    hold() {
      holding = true;
    },
    async stopFarEnd() {
      held.length = 0;
      observers.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async sendCommand(topic, payload) {
      for (const o of observers) if (topic.startsWith(`${o.path}/`)) o.res.write(JSON.stringify({ topic, payload }));
    },
    async startFarEnd() {
      holding = false;
      await listen();
    },
    peakInFlight: () => peak,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return far;
}

adapterSuite('coap', () => startCoapFarEnd());

describe('coap route', () => {
  const connected = (t: TestContext, route: Partial<CoapRouteConfig> = {}) => connectedFarEnd(t, () => startCoapFarEnd(route));


  test('codes: class × 32 + detail', () => {
    assert.equal(codeNumber('2.04'), 0x44);
    assert.equal(codeNumber('4.00'), 0x80);
    assert.equal(codeNumber('4.13'), 0x8d);
    assert.equal(codeNumber('5.03'), 0xa3);
  });

  test('a record is a confirmable JSON POST to its topic below the url; the probe is a GET of /.well-known/core', async (t) => {
    const { far, ledger } = await connected(t);
    const p = ledger.publish(`${DATA_TOPIC}/t1`);
    assert.deepEqual(await p.outcome, { ok: true });
    assert.deepEqual(far.requests.map((r) => [r.method, r.url]), [['GET', '/.well-known/core'], ['POST', `/ingest/${DATA_TOPIC}/t1`]]);
    assert.equal(far.requests[1]?.payload, p.payload);
    assert.equal(far.requests[1]?.contentFormat, 'application/json');
  });

  test('batches: records of one turn go as one JSON array POSTed to the url', async (t) => {
    const { far, ledger } = await connected(t, { batch: { max_records: 5, max_bytes: 4096 } });
    assert.equal(far.adapter.window, 4 * 5);
    const sent = Array.from({ length: 7 }, () => ledger.publish());
    for (const s of sent) assert.deepEqual(await s.outcome, { ok: true });
    const posts = far.requests.filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((r) => r.url), ['/ingest', '/ingest']);
    const bodies = posts.map((r) => JSON.parse(r.payload) as { topic: string; payload: unknown }[]);
    assert.deepEqual(bodies.map((b) => b.length), [5, 2]);
    assert.deepEqual(bodies.flat(), sent.map((s) => ({ topic: s.topic, payload: JSON.parse(s.payload) })));
  });

  test('5.xx loses the connection: lost, then probe and ready again', async (t) => {
    const { far, ledger } = await connected(t);
    let answered = false;
    far.respond = () => (answered ? '2.04' : ((answered = true), '5.03'));
    const back = ready(far.adapter);
    assert.deepEqual(await ledger.publish().outcome, { ok: false });
    await back;
    assert.match(far.adapter.info().last_error ?? '', /EDGELOOP_ERR_COAP_UPSTREAM: .*POST answered 5\.03/);
    assert.deepEqual(await ledger.publish().outcome, { ok: true });
  });

  test('nothing listening: no connection, a timeout, growing backoff', async (t) => {
    const far = await startCoapFarEnd();
    t.after(async () => {
      await far.adapter.stop(1000);
      await far.close().catch(() => undefined);
    });
    await far.stopFarEnd();
    far.adapter.start();
    await untilState(far.adapter, () => (far.adapter.info().reconnect_attempts >= 2 ? true : undefined), 'two failed probes');
    assert.equal(far.adapter.info().connects, 0);
    assert.match(far.adapter.info().last_error ?? '', /no answer within 1000 ms/);
  });
});
