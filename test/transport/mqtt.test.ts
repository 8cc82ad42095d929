import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { resolveConfig, routesOf } from '../../src/app/config.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { MqttAdapter, type MqttRouteConfig } from '../../src/transport/mqtt.ts';
import { removeOnExit } from '../support/cleanup.ts';
import { startMosquitto } from '../support/mosquitto.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { adapterSuite, DATA_TOPIC, DEVICE, Inbox, RECONNECT, type FarEnd, type Received } from './adapter-suite.ts';

const log = createLogger('silent', { pretty: false });

/** Mosquitto announces it as Receive Maximum; the route asks for more. */
const BROKER_INFLIGHT = 5;
const REFUSED_TOPIC = `${DATA_TOPIC}/refused`;
/** MQTT 5 PUBACK reason code Mosquitto gives a publish its ACL denies. */
const NOT_AUTHORIZED = 0x87;

/**
 * A Mosquitto (MQTT 5) behind a TCP proxy: the proxy holds acknowledgements back (blackhole) and takes the broker
 * away (cut) without restarting it. An ACL denies one topic, so the broker refuses publishes there with 0x87.
 */
async function startMqttFarEnd(): Promise<FarEnd> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-acl-'));
  const forgetDir = removeOnExit(dir);
  const acl = join(dir, 'acl');
  await writeFile(acl, `topic deny ${REFUSED_TOPIC}\ntopic readwrite #\n`);
  const broker = await startMosquitto({ maxInflight: BROKER_INFLIGHT, extraConfig: [`acl_file ${acl}`] });
  const proxy = await startTcpProxy({ targetPort: broker.port });
  const url = `mqtt://127.0.0.1:${proxy.port}`;
  const [route] = routesOf(
    resolveConfig({ mqtt: { url, protocol_version: 5, window: 100, connect_timeout_ms: 300, reconnect: RECONNECT } }),
  );
  assert.ok(route);

  const clients: MqttClient[] = [];
  const client = async () => {
    const c = await connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  };
  const inbox = new Inbox<Received>();
  let commander: MqttClient | undefined;
  const sub = await client();
  sub.on('message', (topic, payload, packet) => {
    const id = packet.properties?.userProperties?.['edgeloop-id'];
    inbox.push({ topic, payload: payload.toString(), id: String(id) });
  });
  await sub.subscribeAsync(`${DATA_TOPIC}/#`, { qos: 1 });

  return {
    adapter: new MqttAdapter(route.options as MqttRouteConfig & { name: string }, { device: DEVICE, log }),
    received: () => inbox.next(),
    refuseNext: () => ({ topic: REFUSED_TOPIC, code: NOT_AUTHORIZED }),
    hold: () => proxy.blackhole(),
    async stopFarEnd() {
      // New connections are accepted and never answered, so each attempt ends in the connect timeout.
      proxy.blackhole();
      proxy.cutAll();
    },
    async startFarEnd() {
      proxy.heal();
    },
    windowCap: BROKER_INFLIGHT,
    async sendCommand(topic, payload) {
      const cloud = commander ??= await client();
      await cloud.publishAsync(topic, payload, { qos: 1 });
    },
    async lastStatus() {
      const c = await client();
      const retained = new Promise<string>((resolve) => c.once('message', (_topic, payload) => resolve(payload.toString())));
      await c.subscribeAsync(`edgeloop/${DEVICE}/status`, { qos: 1 });
      return retained;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await proxy.close();
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
      forgetDir();
    },
  };
}

adapterSuite('mqtt', startMqttFarEnd);
