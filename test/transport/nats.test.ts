import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { connect, nanos, type ConsumerMessages, type JetStreamManager, type NatsConnection } from 'nats';
import { resolveConfig } from '../../src/app/config.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { NatsAdapter, subjectOf, type NatsRouteConfig } from '../../src/transport/nats.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import type { Command } from '../../src/transport/adapter.ts';
import { adapterSuite, DEVICE, Inbox, Ledger, ready, RECONNECT, untilState, type FarEnd, type Received } from './adapter-suite.ts';

const log = createLogger('silent', { pretty: false });
const STREAM = 'SUITE';
/** A stream of its own whose size limit refuses every record: JetStream answers 400 (err_code 10054). */
const REFUSE_STREAM = 'REFUSE';
const REFUSED_TOPIC = `edgeloop/${DEVICE}/refused`;

function natsRoute(url: string, route: Partial<NatsRouteConfig> = {}): NatsRouteConfig & { name: string } {
  const [r] = resolveConfig({
    nats: [{ name: 'fleet', url, timeout_ms: 2000, connect_timeout_ms: 300, reconnect: RECONNECT, stream: { name: STREAM }, ...route }],
  }).nats as (NatsRouteConfig & { name: string })[];
  assert.ok(r);
  return r;
}

/** Everything the stream holds, in order, as the far end of the suite sees it. */
async function streamReader(nc: NatsConnection, stream: string): Promise<{ inbox: Inbox<Received>; stop(): void }> {
  const inbox = new Inbox<Received>();
  const consumer = await nc.jetstream().consumers.get(stream);
  const messages: ConsumerMessages = await consumer.consume();
  void (async () => {
    for await (const m of messages) {
      const topic = m.subject.split('.').map(decodeURIComponent).join('/');
      inbox.push({ topic, payload: m.string(), id: m.headers?.get('Nats-Msg-Id') ?? '' });
    }
  })();
  return { inbox, stop: () => void messages.stop() };
}

async function addStreams(jsm: JetStreamManager): Promise<void> {
  await jsm.streams.add({ name: STREAM, subjects: [`edgeloop.${DEVICE}.data.>`], duplicate_window: nanos(60_000) });
  await jsm.streams.add({ name: REFUSE_STREAM, subjects: [subjectOf(REFUSED_TOPIC)], max_msg_size: 1 });
  // Commands wait in a stream of their own until the device takes them.
  await jsm.streams.add({ name: 'COMMANDS', subjects: [`edgeloop.${DEVICE}.ota.>`, `edgeloop.${DEVICE}.config.>`] });
}

/** A nats-server with JetStream behind a TCP proxy that holds acknowledgements back and takes the server away. */
async function startNatsFarEnd(): Promise<FarEnd> {
  const server = await startNatsServer();
  const proxy = await startTcpProxy({ targetPort: server.port });
  const nc = await connect({ servers: server.url });
  await addStreams(await nc.jetstreamManager());
  const reader = await streamReader(nc, STREAM);
  return {
    adapter: new NatsAdapter(natsRoute(`nats://127.0.0.1:${proxy.port}`), { device: DEVICE, log }),
    received: () => reader.inbox.next(),
    refuseNext: () => ({ topic: REFUSED_TOPIC, code: 400 }),
    hold: () => proxy.blackhole(),
    deduplicates: true,
    async sendCommand(topic, payload) {
      await nc.jetstream().publish(subjectOf(topic), payload);
    },
    async stopFarEnd() {
      proxy.blackhole();
      proxy.cutAll();
    },
    async startFarEnd() {
      proxy.heal();
    },
    async close() {
      reader.stop();
      await nc.close();
      await proxy.close();
      await server.close();
    },
  };
}

adapterSuite('nats', startNatsFarEnd);

describe('nats route', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  before(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await nc.jetstreamManager();
  });
  after(async () => {
    await nc.close();
    await server.close();
  });

  async function connected(t: TestContext, route: Partial<NatsRouteConfig> = {}) {
    const adapter = new NatsAdapter(natsRoute(server.url, route), { device: DEVICE, log });
    t.after(() => adapter.stop(1000));
    const isReady = ready(adapter);
    adapter.start();
    await isReady;
    return { adapter, ledger: new Ledger(adapter) };
  }

  test('subjects mirror the topic, reserved characters percent-encoded', () => {
    assert.equal(subjectOf('edgeloop/gw-01/sensors/t1'), 'edgeloop.gw-01.sensors.t1');
    assert.equal(subjectOf('edgeloop/gw/sensors/a.b c*>%'), 'edgeloop.gw.sensors.a%2Eb%20c%2A%3E%25');
    assert.equal(decodeURIComponent('a%2Eb%20c%2A%3E%25'), 'a.b c*>%');
  });

  test('creates the stream when it is missing; the record id is Nats-Msg-Id and a replay is stored once', async (t) => {
    const name = 'CREATED';
    t.after(() => jsm.streams.delete(name).then(() => undefined));
    const { ledger } = await connected(t, { stream: { name, create: true, subjects: ['edgeloop.created.>'], duplicate_window_s: 30, max_age_s: 3600, storage: 'memory', replicas: 1 } });
    const info = await jsm.streams.info(name);
    assert.deepEqual(info.config.subjects, ['edgeloop.created.>']);
    assert.equal(info.config.duplicate_window, nanos(30_000));
    assert.equal(info.config.max_age, nanos(3_600_000));
    assert.equal(info.config.storage, 'memory');

    const topic = 'edgeloop/created/sensors/t1';
    const first = ledger.publish(topic, 'rec-1');
    assert.deepEqual(await first.outcome, { ok: true });
    // The same record again, as after a lost acknowledgement: acknowledged, not stored twice.
    assert.deepEqual(await ledger.publish(topic, 'rec-1').outcome, { ok: true });
    assert.equal((await jsm.streams.info(name)).state.messages, 1);
    const stored = await jsm.streams.getMessage(name, { seq: 1 });
    assert.equal(stored.subject, 'edgeloop.created.sensors.t1');
    assert.equal(stored.header.get('Nats-Msg-Id'), 'rec-1');
    assert.equal(new TextDecoder().decode(stored.data), first.payload);
  });

  test('an existing stream is used as it is', async (t) => {
    const name = 'EXISTING';
    await jsm.streams.add({ name, subjects: ['edgeloop.existing.>'], max_msgs: 5 });
    t.after(() => jsm.streams.delete(name).then(() => undefined));
    const { ledger } = await connected(t, { stream: { name, create: true, subjects: ['edgeloop.>'], duplicate_window_s: 120, max_age_s: 0, storage: 'file', replicas: 1 } });
    assert.deepEqual(await ledger.publish('edgeloop/existing/x').outcome, { ok: true });
    const info = await jsm.streams.info(name);
    assert.deepEqual(info.config.subjects, ['edgeloop.existing.>']);
    assert.equal(info.config.max_msgs, 5);
  });

  test('no stream for the subject: lost, not refused; the route backs off and says why', async (t) => {
    const { adapter, ledger } = await connected(t, { stream: { name: 'NONE', create: false, subjects: ['x'], duplicate_window_s: 120, max_age_s: 0, storage: 'file', replicas: 1 } });
    assert.deepEqual(await ledger.publish('edgeloop/nowhere/x').outcome, { ok: false });
    await untilState(adapter, () => (adapter.info().reconnect_attempts >= 1 ? true : undefined), 'a reconnection');
    assert.match(adapter.info().last_error ?? '', /EDGELOOP_ERR_NATS_UPSTREAM: .*no stream captures this subject/);
  });

  test('info: kind nats, the url without its password', async (t) => {
    const url = `nats://gw:s3cret@127.0.0.1:${server.port}`;
    const adapter = new NatsAdapter(natsRoute(url), { device: DEVICE, log });
    t.after(() => adapter.stop(1000));
    assert.equal(adapter.info().kind, 'nats');
    assert.equal(adapter.info().url, `nats://[redacted]@127.0.0.1:${server.port}`);
    assert.equal(adapter.window, 256);
  });

  test('a command published while the device was away is delivered when it comes back (durable consumer)', async (t) => {
    await jsm.streams.add({ name: 'AWAY', subjects: ['edgeloop.away.>'] });
    t.after(() => jsm.streams.delete('AWAY').then(() => undefined));
    const route = natsRoute(server.url, { stream: { name: 'AWAY', create: false } as NatsRouteConfig['stream'] });
    const first = new NatsAdapter(route, { device: 'away', log });
    first.downlink.subscribe('edgeloop/away/ota/+', () => undefined);
    const up = ready(first);
    first.start();
    await up;
    await first.stop(1000);

    await nc.jetstream().publish('edgeloop.away.ota.cmd', '{"version":"7"}');
    const second = new NatsAdapter(route, { device: 'away', log });
    t.after(() => second.stop(1000));
    const commands = new Inbox<Command>();
    second.downlink.subscribe('edgeloop/away/ota/+', (c) => commands.push(c));
    second.start();
    const command = await commands.next();
    assert.deepEqual([command.topic, command.payload.toString(), command.qos, command.route], ['edgeloop/away/ota/cmd', '{"version":"7"}', 1, 'fleet']);
  });

  test('without a stream for the commands, a plain subscription takes them while connected (qos 0)', async (t) => {
    const adapter = new NatsAdapter(natsRoute(server.url, { stream: { name: 'NOCMD', create: false } as NatsRouteConfig['stream'] }), { device: 'loose', log });
    t.after(() => adapter.stop(1000));
    const commands = new Inbox<Command>();
    adapter.downlink.subscribe('edgeloop/loose/config/#', (c) => commands.push(c));
    const up = ready(adapter);
    adapter.start();
    await up;
    nc.publish('edgeloop.loose.config.interval', '500');
    const command = await commands.next();
    assert.deepEqual([command.topic, command.payload.toString(), command.qos], ['edgeloop/loose/config/interval', '500', 0]);
  });
});
