// NATS and CoAP routes in the gateway, beside the mqtt one: sensor records reach a JetStream stream (created by the
// route) and a CoAP server, each record once, on its subject or resource.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createServer, type IncomingMessage, type OutgoingMessage } from 'coap';
import { connect } from 'nats';
import { simulatedSensors, startGateway } from '../integration/gateway-fixture.ts';
import { startNatsServer } from '../support/nats-server.ts';
import { waitUntil } from '../support/wait.ts';

test('the gateway drains the outbox to a NATS stream and a CoAP server', { timeout: 20_000 }, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.close());
  const coapPaths: string[] = [];
  const coap = createServer((req: IncomingMessage, res: OutgoingMessage) => {
    coapPaths.push(req.url);
    res.code = req.method === 'POST' ? '2.04' : '4.04';
    res.end();
  });
  await new Promise<void>((resolve, reject) => coap.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve())));
  t.after(() => new Promise<void>((resolve) => coap.close(() => resolve())));
  const coapPort = (coap as unknown as { _sock: { address(): { port: number } } })._sock.address().port;

  const g = await startGateway({
    device: { id: 'multi' },
    broker: { host: '127.0.0.1', port: 0 },
    nats: [{ name: 'fleet', url: nats.url, stream: { name: 'FLEET' } }],
    coap: [{ name: 'lwm', url: `coap://127.0.0.1:${coapPort}/ps` }],
    sensors: simulatedSensors(1, 20),
  });
  t.after(() => g.stop());
  const published = (name: string) => g.gw.routes.find((r) => r.publisher.name === name)?.publisher.published ?? 0;
  await waitUntil({
    check: () => (published('fleet') >= 5 && published('lwm') >= 5 ? true : undefined),
    subscribe: (recheck) => {
      for (const r of g.gw.routes) r.publisher.on('acked', recheck);
      return () => {
        for (const r of g.gw.routes) r.publisher.off('acked', recheck);
      };
    },
    timeoutMs: 10_000,
    describe: () => `fleet ${published('fleet')}, lwm ${published('lwm')} acknowledged`,
  });
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  const jsm = await nc.jetstreamManager();
  const first = await jsm.streams.getMessage('FLEET', { seq: 1 });
  assert.equal(first.subject, 'edgeloop.multi.sensors.s01');
  const record = first.json<{ id: string; seq: number }>();
  assert.equal(first.header.get('Nats-Msg-Id'), record.id);
  assert.equal(record.seq, 1);
  assert.ok(coapPaths.includes('/ps/edgeloop/multi/sensors/s01'), coapPaths.join(' '));
});
