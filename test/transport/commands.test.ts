// The command router: components handle topics below edgeloop/<device>/ without knowing which route brings them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { Metrics } from '../../src/telemetry/metrics.ts';
import type { Command, CommandHandler, Downlink } from '../../src/transport/adapter.ts';
import { Commands } from '../../src/transport/commands.ts';
import { startGateway } from '../integration/gateway-fixture.ts';
import { waitUntil } from '../support/wait.ts';
import { Inbox } from './adapter-suite.ts';

/** A downlink the test drives: `deliver` plays the far end. */
class FakeDownlink implements Downlink {
  readonly subscriptions = new Map<string, Set<CommandHandler>>();

  subscribe(filter: string, handler: CommandHandler): () => void {
    const set = this.subscriptions.get(filter) ?? new Set();
    set.add(handler);
    this.subscriptions.set(filter, set);
    return () => {
      set.delete(handler);
      if (set.size === 0) this.subscriptions.delete(filter);
    };
  }

  deliver(route: string, topic: string, payload = '{}'): void {
    for (const set of this.subscriptions.values()) for (const h of set) h({ route, topic, payload: Buffer.from(payload), qos: 1 });
  }
}

function setup() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'error' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const metrics = new Metrics();
  const commands = new Commands({ device: 'dev1', log, metrics });
  const count = async (outcome: string) =>
    (await metrics.commands.get()).values.filter((v) => v.labels.outcome === outcome).reduce((s, v) => s + v.value, 0);
  return { commands, lines, count };
}

describe('Commands', () => {
  test('a handler registered before or after a route is attached is subscribed on every route, below the device prefix', () => {
    const { commands } = setup();
    const early = new FakeDownlink();
    const late = new FakeDownlink();
    commands.attach('cloud', early);
    const got: Command[] = [];
    commands.handle('ota/cmd', (c) => void got.push(c));
    commands.attach('local', late);
    assert.deepEqual([...early.subscriptions.keys()], ['edgeloop/dev1/ota/cmd']);
    assert.deepEqual([...late.subscriptions.keys()], ['edgeloop/dev1/ota/cmd']);
    early.deliver('cloud', 'edgeloop/dev1/ota/cmd');
    late.deliver('local', 'edgeloop/dev1/ota/cmd');
    assert.deepEqual(got.map((c) => c.route), ['cloud', 'local']);
    assert.deepEqual(commands.routes, ['cloud', 'local']);
  });

  test('the returned function unsubscribes from every route', () => {
    const { commands } = setup();
    const a = new FakeDownlink();
    const b = new FakeDownlink();
    commands.attach('a', a);
    commands.attach('b', b);
    const stop = commands.handle('ota/#', () => undefined);
    stop();
    assert.equal(a.subscriptions.size, 0);
    assert.equal(b.subscriptions.size, 0);
  });

  test('a handler that throws or rejects is logged with its code and counted; the others still run', async () => {
    const { commands, lines, count } = setup();
    const d = new FakeDownlink();
    commands.attach('cloud', d);
    let ran = 0;
    commands.handle('ota/cmd', () => {
      throw new Error('bad manifest');
    });
    commands.handle('ota/cmd', async () => {
      throw new Error('bad signature');
    });
    commands.handle('ota/cmd', () => void ran++);
    d.deliver('cloud', 'edgeloop/dev1/ota/cmd');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ran, 1);
    assert.equal(await count('error'), 2);
    assert.equal(await count('ok'), 1);
    assert.deepEqual(lines.map((l) => [l.msg, l.code, l.err]).sort(), [
      ['command failed', 'EDGELOOP_ERR_INTERNAL', 'bad manifest'],
      ['command failed', 'EDGELOOP_ERR_INTERNAL', 'bad signature'],
    ]);
  });

  test('a topic that is not a valid filter is refused', () => {
    const { commands } = setup();
    for (const bad of ['', 'ota/#/x', 'ota+', 'a\u0000b']) assert.throws(() => commands.handle(bad, () => undefined), TypeError, bad);
  });

  test('a gateway delivers a command published on edgeloop/<device>/ota/cmd to the component that handles it', async (t) => {
    const got = new Inbox<Command>();
    const g = await startGateway({ device: { id: 'cmd-dev' } }, undefined, (gw) => {
      gw.commands.handle('ota/cmd', (c) => got.push(c));
    });
    t.after(() => g.stop());
    const adapter = g.gw.routes[0]!.adapter;
    await waitUntil({
      check: () => (adapter.state === 'connected' ? true : undefined),
      subscribe: (recheck) => (adapter.on('ready', recheck), () => adapter.off('ready', recheck)),
      timeoutMs: 10_000,
      describe: () => `route not ready: ${JSON.stringify(adapter.info())}`,
    });
    const cloud = await connectAsync(g.gw.status().broker.url!, { reconnectPeriod: 0 });
    t.after(() => cloud.endAsync(true));
    await cloud.publishAsync('edgeloop/cmd-dev/ota/cmd', '{"model":"m1","version":"3"}', { qos: 1 });
    const c = await got.next();
    assert.deepEqual([c.route, c.topic, c.payload.toString(), c.qos], ['default', 'edgeloop/cmd-dev/ota/cmd', '{"model":"m1","version":"3"}', 1]);
  });
});
