import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { makeCerts } from './certs.ts';
import type { CertPaths } from './certs.ts';
import { spawnNode } from './child.ts';
import { runMosquittoSub } from './mosquitto-sub.ts';
import { startMosquitto } from './mosquitto.ts';
import type { MosquittoHandle } from './mosquitto.ts';
import { freePort } from './ports.ts';
import { startSubscriber } from './subscriber.ts';
import { startTcpProxy } from './tcp-proxy.ts';

const clients: MqttClient[] = [];
after(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
});

// MQTT.js hands TLS options to tls.connect(), but its option type omits the version bounds.
type ClientOptions = IClientOptions & Pick<ConnectionOptions, 'minVersion' | 'maxVersion'>;

/** Connects once, without retrying, and ends the client after the file. */
async function mqttClient(url: string, opts: ClientOptions = {}): Promise<MqttClient> {
  const client = await connectAsync(url, { reconnectPeriod: 0, ...opts }, false);
  clients.push(client);
  return client;
}

function nextMessage(client: MqttClient): Promise<[string, Buffer]> {
  return new Promise((resolve) => client.once('message', (topic, payload) => resolve([topic, payload])));
}

/** MQTT.js's typed emitter does not fit events.once(). */
function clientEvent(client: MqttClient, event: 'connect' | 'offline'): Promise<void> {
  return new Promise((resolve) => client.once(event, () => resolve()));
}

test('freePort returns a bindable port', async () => {
  const port = await freePort();
  const server = createServer().listen(port, '127.0.0.1');
  await once(server, 'listening');
  await new Promise((resolve) => server.close(resolve));
});

describe('mosquitto', () => {
  let broker: MosquittoHandle;
  before(async () => {
    broker = await startMosquitto();
  });
  after(() => broker.stop());

  test('routes a publish to a subscriber and logs that it is running', async () => {
    const sub = await mqttClient(broker.url);
    await sub.subscribeAsync('t/roundtrip', { qos: 1 });
    const received = nextMessage(sub);
    const pub = await mqttClient(broker.url);
    await pub.publishAsync('t/roundtrip', 'hello', { qos: 1 });
    const [topic, payload] = await received;
    assert.equal(topic, 't/roundtrip');
    assert.equal(payload.toString(), 'hello');
    assert.match(broker.logs(), /mosquitto version \S+ running/);
  });

  test('restart keeps a persistent session and its queued QoS 1 message; kill then restart recovers', async () => {
    const topic = 't/persist';
    const offline = await startSubscriber({ url: broker.url, topic, clientId: 'harness-persist' });
    await offline.close();
    const pub = await mqttClient(broker.url);
    await pub.publishAsync(topic, JSON.stringify({ id: 'p-1', sensor: 's', seq: 1 }), { qos: 1 });
    await pub.endAsync();

    await broker.restart();
    const resumed = await startSubscriber({ url: broker.url, topic, clientId: 'harness-persist' });
    await resumed.waitFor((s) => s.received === 1, 5_000);
    assert.equal(resumed.stats().perSensor.get('s')?.maxSeq, 1);
    await resumed.close();

    broker.kill();
    await broker.restart();
    const again = await mqttClient(broker.url);
    assert.equal(again.connected, true);
  });

  test('stop removes the broker directory', async () => {
    const temporary = await startMosquitto();
    await temporary.stop();
    assert.equal(existsSync(temporary.dir), false);
  });
});

test('password option refuses anonymous clients and admits the configured user', async (t) => {
  const broker = await startMosquitto({ username: 'gateway', password: 's3cret' });
  t.after(() => broker.stop());
  await assert.rejects(mqttClient(broker.url), /Not authorized/i);
  await broker.waitForLog(/not authorised/, 5_000);
  const client = await mqttClient(broker.url, { username: 'gateway', password: 's3cret' });
  assert.equal(client.connected, true);
});

describe('TLS 1.3 with client certificates', () => {
  let certs: CertPaths;
  let broker: MosquittoHandle;
  let tlsUrl: string;
  before(async () => {
    certs = await makeCerts();
    broker = await startMosquitto({
      tls: { ca: certs.caCert, cert: certs.serverCert, key: certs.serverKey, version: 'tlsv1.3', requireCertificate: true },
    });
    assert.ok(broker.tlsUrl);
    tlsUrl = broker.tlsUrl;
  });
  after(() => broker.stop());

  const tlsOptions = (files: { ca: string; cert?: string; key?: string }): ClientOptions => ({
    ca: readFileSync(files.ca),
    ...(files.cert === undefined ? {} : { cert: readFileSync(files.cert) }),
    ...(files.key === undefined ? {} : { key: readFileSync(files.key) }),
    minVersion: 'TLSv1.3',
  });

  test('accepts a client presenting a certificate from the CA', async () => {
    const client = await mqttClient(tlsUrl, tlsOptions({ ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey }));
    assert.equal((client.stream as unknown as { getProtocol(): string }).getProtocol(), 'TLSv1.3');
    // use_identity_as_username: the certificate's CN becomes the MQTT username.
    await broker.waitForLog(/New client connected .*u'edgeloop-test'/, 5_000);
  });

  test('refuses a client without a certificate', async () => {
    await assert.rejects(mqttClient(tlsUrl, tlsOptions({ ca: certs.caCert })), /certificate required/);
  });

  test('refuses a client certificate from another CA', async () => {
    await assert.rejects(
      mqttClient(tlsUrl, tlsOptions({ ca: certs.caCert, cert: certs.wrongClientCert, key: certs.wrongClientKey })),
      /unknown ca/,
    );
  });

  test('refuses a client limited to TLS 1.2', async () => {
    const files = { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey };
    await assert.rejects(mqttClient(tlsUrl, { ...tlsOptions(files), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), /protocol version/);
  });

  test('the client refuses a server it cannot verify with the wrong CA', async () => {
    await assert.rejects(
      mqttClient(tlsUrl, tlsOptions({ ca: certs.wrongCaCert, cert: certs.clientCert, key: certs.clientKey })),
      /self-signed|unable to (get|verify)/i,
    );
  });
});

describe('tcp proxy', () => {
  let broker: MosquittoHandle;
  before(async () => {
    broker = await startMosquitto();
  });
  after(() => broker.stop());

  // MQTT 3.1.1 CONNECT, client id "raw", clean session, keepalive 0 (never times out).
  const RAW_CONNECT = Buffer.from([0x10, 0x0f, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x03, 0x72, 0x61, 0x77]);
  const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
  const PINGREQ = Buffer.from([0xc0, 0x00]);
  const PINGRESP = Buffer.from([0xd0, 0x00]);

  async function rawConnect(port: number): Promise<Socket> {
    const socket = createConnection({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    socket.write(RAW_CONNECT);
    const [connack] = (await once(socket, 'data')) as [Buffer];
    assert.deepEqual(connack, CONNACK);
    return socket;
  }

  test('forwards, blackholes without closing, heals, and resets', async (t) => {
    const proxy = await startTcpProxy({ targetPort: broker.port });
    t.after(() => proxy.close());
    const url = `mqtt://127.0.0.1:${proxy.port}`;
    const raw = await rawConnect(proxy.port);
    const client = await mqttClient(url, { clientId: 'harness-proxied', keepalive: 1, reconnectPeriod: 100 });
    const watcher = await mqttClient(broker.url);
    await watcher.subscribeAsync('t/proxy', { qos: 1 });

    proxy.blackhole();
    let rawReceived = 0;
    raw.on('data', (chunk: Buffer) => (rawReceived += chunk.length));
    raw.write(PINGREQ);
    // The MQTT client's PINGREQ goes unanswered, so it gives up on the connection.
    await clientEvent(client, 'offline');
    assert.equal(rawReceived, 0, 'nothing may cross a blackhole');
    assert.equal(raw.destroyed, false);
    assert.equal(proxy.stats().blackholed, true);
    assert.equal(proxy.stats().active, 2, 'blackholed connections stay open');

    const reconnected = clientEvent(client, 'connect');
    const pong = once(raw, 'data');
    proxy.heal();
    // Bytes written during the cut arrive late, as TCP retransmission would deliver them.
    assert.deepEqual((await pong)[0], PINGRESP);
    await reconnected;
    const delivered = nextMessage(watcher);
    await client.publishAsync('t/proxy', 'after heal', { qos: 1 });
    assert.equal((await delivered)[1].toString(), 'after heal');
    assert.ok(proxy.stats().bytesToTarget > 0 && proxy.stats().bytesToClient > 0);

    const rawReset = once(raw, 'error');
    const clientDropped = clientEvent(client, 'offline');
    proxy.cutAll();
    const [[err]] = (await Promise.all([rawReset, clientDropped])) as [[NodeJS.ErrnoException], void];
    assert.equal(err.code, 'ECONNRESET');
    client.end(true);
  });
});

test('subscriber detects gaps, duplicates and malformed payloads', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const subscriber = await startSubscriber({ url: broker.url, topic: 'readings/#', clientId: 'harness-audit' });
  t.after(() => subscriber.close());
  const pub = await mqttClient(broker.url);
  const send = (sensor: string, seq: number, id = `${sensor}-${seq}`): Promise<unknown> =>
    pub.publishAsync(`readings/${sensor}`, JSON.stringify({ id, sensor, seq, value: 1 }), { qos: 1 });
  await send('a', 1);
  await send('a', 2);
  await send('a', 5);
  await send('a', 2); // same id again
  await send('a', 5, 'a-5-resent'); // new id, seq already delivered
  await send('a', 3); // late: fills a gap
  await send('b', 10);
  await pub.publishAsync('readings/junk', 'not json', { qos: 1 });

  await subscriber.waitFor((s) => s.received === 8, 5_000);
  const stats = subscriber.stats();
  assert.equal(stats.duplicates, 2);
  assert.equal(stats.malformed, 1);
  assert.deepEqual(stats.perSensor.get('a'), {
    count: 6,
    distinct: 4,
    minSeq: 1,
    maxSeq: 5,
    gaps: [4],
    duplicates: 2,
    reordered: 1,
  });
  assert.equal(stats.perSensor.get('b')?.gaps.length, 0);
  await assert.rejects(subscriber.waitFor((s) => s.received > 8, 50), /timed out after 50 ms: .*a: count=6/);
});

test('runMosquittoSub returns topic and payload lines', async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const run = await runMosquittoSub({ port: broker.port, topic: 'cli/#', count: 2, timeoutMs: 5_000 });
  const pub = await mqttClient(broker.url);
  await pub.publishAsync('cli/a', 'one');
  await pub.publishAsync('cli/b', '{"two":2}');
  assert.deepEqual(await run.lines, ['cli/a one', 'cli/b {"two":2}']);
});

describe('spawnNode', () => {
  test('waits for plain and JSON log lines, then for a signalled exit', async () => {
    const child = spawnNode([
      '-e',
      'console.log(JSON.stringify({ level: 30, msg: "ready" })); console.error("plain on stderr"); setInterval(() => {}, 1000);',
    ]);
    const entry = await child.waitForLog((e) => e.msg === 'ready', 5_000);
    assert.equal(entry.level, 30);
    await child.waitForLine(/plain on stderr/, 5_000);
    child.kill('SIGTERM');
    assert.deepEqual(await child.exited, { code: null, signal: 'SIGTERM' });
  });

  test('rejects a wait as soon as the process exits without matching', async () => {
    const child = spawnNode(['-e', 'console.log("bye"); process.exit(3)']);
    await assert.rejects(child.waitForLine(/never printed/, 10_000), /exited \(\{"code":3.*bye/s);
  });

  test('a file that forgets to stop its broker still exits, and the broker dies with it', async () => {
    const script = `
      import { startMosquitto } from ${JSON.stringify(new URL('./mosquitto.ts', import.meta.url).href)};
      const broker = await startMosquitto();
      console.log(JSON.stringify({ dir: broker.dir, port: broker.port }));
    `;
    const child = spawnNode(['--input-type=module', '-e', script]);
    const { dir, port } = await child.waitForLog((e) => typeof e.dir === 'string', 5_000);
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    assert.equal(existsSync(dir as string), false);
    const refused = createConnection({ port: port as number, host: '127.0.0.1' });
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
  });
});
