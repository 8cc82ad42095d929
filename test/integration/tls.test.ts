// MQTT over TLS 1.3 with client certificates against Mosquitto. A wrong CA or a broker that cannot do TLS 1.3 is
// reported plainly (EDGELOOP_ERR_MQTT_TLS) and nothing queued is lost: it goes out once the config is fixed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { makeCerts, type CertPaths } from '../support/certs.ts';
import { startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { startSubscriber } from '../support/subscriber.ts';
import { simulatedSensors, startGateway } from './gateway-fixture.ts';

describe('MQTT over TLS', () => {
  let certs: CertPaths;
  let broker: MosquittoHandle;
  before(async () => {
    certs = await makeCerts();
    broker = await startMosquitto({
      maxInflight: 0,
      tls: { ca: certs.caCert, cert: certs.serverCert, key: certs.serverKey, version: 'tlsv1.3', requireCertificate: true },
    });
  });
  after(() => broker.stop());

  const tlsRoute = (ca: string, extra: Record<string, unknown> = {}) => ({
    url: broker.tlsUrl,
    reconnect: { min_ms: 100, max_ms: 500 },
    tls: { ca, cert: certs.clientCert, key: certs.clientKey, min_version: 'TLSv1.3', ...extra },
  });

  test('TLS 1.3 with mTLS and a chosen cipher suite delivers records', async (t) => {
    const sub = await startSubscriber({ url: broker.url, topic: 'edgeloop/tls-ok/sensors/#', clientId: 'tls-ok' });
    t.after(() => sub.close());
    const g = await startGateway({
      device: { id: 'tls-ok' },
      mqtt: tlsRoute(certs.caCert, { ciphers: 'TLS_AES_128_GCM_SHA256' }),
      sensors: simulatedSensors(2, 20),
    });
    t.after(() => g.stop());
    await sub.waitFor((s) => [...s.perSensor.values()].every((p) => p.maxSeq >= 20) && s.perSensor.size === 2, 15_000);
    assert.equal(sub.stats().duplicates, 0);
  });

  test('a wrong CA is reported as a TLS error; queued records go out once the CA is fixed', async (t) => {
    const sub = await startSubscriber({ url: broker.url, topic: 'edgeloop/tls-fix/sensors/#', clientId: 'tls-fix' });
    t.after(() => sub.close());
    const sensors = simulatedSensors(2, 20);
    const wrong = await startGateway({ device: { id: 'tls-fix' }, mqtt: tlsRoute(certs.wrongCaCert), sensors });
    const err = await wrong.log.waitFor((e) => e.code === 'EDGELOOP_ERR_MQTT_TLS', 10_000);
    assert.match(String(err.msg), /certificate|verify/i);
    const outbox = wrong.gw.outboxInstance!;
    await new Promise<void>((resolve) => {
      const check = () => outbox.rows >= 40 && (outbox.off('committed', check), resolve());
      outbox.on('committed', check);
    });
    const queued = outbox.lastSeq('s01');
    await wrong.gw.stop();
    assert.equal(sub.stats().received, 0, 'nothing got through with the wrong CA');

    const fixed = await startGateway({ device: { id: 'tls-fix' }, mqtt: tlsRoute(certs.caCert), sensors }, wrong.dataDir);
    t.after(() => fixed.stop());
    await sub.waitFor((s) => {
      const p = s.perSensor.get('s01');
      return p !== undefined && p.maxSeq > queued && p.minSeq === 1 && p.gaps.length === 0;
    }, 15_000);
  });

  test('min_version TLSv1.3 against a broker that only speaks TLS 1.2 fails plainly', async (t) => {
    // A TLS 1.2-only terminator in front of Mosquitto's plain listener stands in for an old broker.
    const terminator = createServer(
      { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), maxVersion: 'TLSv1.2' },
      (tls: TLSSocket) => {
        const plain: Socket = connect(broker.port, '127.0.0.1');
        tls.pipe(plain).pipe(tls);
        tls.on('error', () => plain.destroy());
        plain.on('error', () => tls.destroy());
      },
    );
    terminator.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => terminator.close(() => resolve())));
    const port = (terminator.address() as { port: number }).port;
    const g = await startGateway({
      device: { id: 'tls-old' },
      mqtt: { ...tlsRoute(certs.caCert), url: `mqtts://localhost:${port}` },
      sensors: simulatedSensors(1, 20),
    });
    t.after(() => g.stop());
    const err = await g.log.waitFor((e) => e.code === 'EDGELOOP_ERR_MQTT_TLS', 10_000);
    assert.match(String(err.msg), /protocol|version/i);
    assert.equal(g.gw.status().routes.mqtt![0]!.state === 'connected', false);
  });
});
