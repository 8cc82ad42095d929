// The behaviour every northbound adapter owes the publisher, run against each implementation. A far end is the
// other side of the adapter (a broker, a web server) that the test can read, pause, refuse with and take away.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { resolveConfig } from '../../src/app/config.ts';
import { MemoryStore } from '../../src/outbox/memory-store.ts';
import { Outbox } from '../../src/outbox/outbox.ts';
import { Publisher } from '../../src/outbox/publisher.ts';
import { uuidv7 } from '../../src/pipeline/record.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import type { Adapter, Command, ConnectionState, PublishOutcome } from '../../src/transport/adapter.ts';
import { waitUntil } from '../support/wait.ts';

/** The device the far ends are set up for; the suite publishes below `edgeloop/suite/data/`. */
export const DEVICE = 'suite';
export const DATA_TOPIC = `edgeloop/${DEVICE}/data`;

/** Backoff the factories configure, small enough to see several attempts in a test. */
export const RECONNECT = { min_ms: 20, max_ms: 80, stable_ms: 60_000 };

export interface Received {
  topic: string;
  payload: string;
  id: string;
}

export interface FarEnd {
  /** An adapter for this far end, not started. */
  adapter: Adapter;
  /** The next record the far end took, in order of arrival. */
  received(): Promise<Received>;
  /** Makes the far end refuse the next publish: publish it on `topic`; `code` is what the refusal must carry. */
  refuseNext(): { topic: string; code: number };
  /** The far end stops acknowledging: what is published from now on stays in flight. */
  hold(): void;
  /** The far end goes away: open connections are cut and new ones are not answered. */
  stopFarEnd(): Promise<void>;
  /** The far end comes back (and acknowledges again). */
  startFarEnd(): Promise<void>;
  /** The far end's own cap on the window (MQTT 5 Receive Maximum), where it announces one. */
  windowCap?: number;
  /** The most publishes the far end had open at once, where it can tell. */
  peakInFlight?(): number;
  /** The far end drops a replay of a record id it already has (JetStream's duplicate window). */
  deduplicates?: boolean;
  /** The device status the far end keeps after a clean stop, where the protocol has one. */
  lastStatus?(): Promise<string>;
  /**
   * Sends a command down to the device (MQTT: a QoS 1 publish by another client), where the protocol can; absent for
   * a far end that cannot, whose adapter must then say so (`downlink: null`).
   */
  sendCommand?(topic: string, payload: string): Promise<void>;
  /** Releases the far end and everything it started. */
  close(): Promise<void>;
}

export type StartFarEnd = () => Promise<FarEnd>;

/** Items in arrival order; `next()` waits for the next one. */
export class Inbox<T> {
  #items: T[] = [];
  #waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  next(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** Waits for `check` to hold, re-checked at each state change of the adapter. */
export function untilState<T>(adapter: Adapter, check: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  return waitUntil({
    check,
    subscribe: (recheck) => {
      adapter.on('state', recheck);
      adapter.on('ready', recheck);
      return () => {
        adapter.off('state', recheck);
        adapter.off('ready', recheck);
      };
    },
    timeoutMs,
    describe: () => `${what}; adapter: ${JSON.stringify(adapter.info())}`,
  });
}

export function ready(adapter: Adapter, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready within ${timeoutMs} ms: ${JSON.stringify(adapter.info())}`)), timeoutMs);
    adapter.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Publishes through the adapter and checks that `done` is called exactly once per publish. */
export class Ledger {
  #calls = new Map<string, number>();
  #adapter: Adapter;
  #seq = 0;

  constructor(adapter: Adapter) {
    this.#adapter = adapter;
  }

  publish(topic = `${DATA_TOPIC}/${this.#seq}`, id = `id-${++this.#seq}`): { id: string; topic: string; payload: string; outcome: Promise<PublishOutcome> } {
    const payload = JSON.stringify({ id, seq: this.#seq, value: this.#seq * 1.5 });
    this.#calls.set(id, 0);
    const outcome = new Promise<PublishOutcome>((resolve) => {
      this.#adapter.publish(topic, payload, id, (o) => {
        this.#calls.set(id, (this.#calls.get(id) ?? 0) + 1);
        resolve(o);
      });
    });
    return { id, topic, payload, outcome };
  }

  assertEachDoneOnce(): void {
    for (const [id, n] of this.#calls) assert.equal(n, 1, `done called ${n} times for ${id}`);
  }
}

/** A far end with its adapter started and connected, and a ledger on it; both are stopped after the test. */
export async function connectedFarEnd<F extends FarEnd>(t: TestContext, start: () => Promise<F>): Promise<{ far: F; ledger: Ledger }> {
  const far = await start();
  t.after(async () => {
    await far.adapter.stop(1000);
    await far.close();
  });
  const isReady = ready(far.adapter);
  far.adapter.start();
  await isReady;
  return { far, ledger: new Ledger(far.adapter) };
}

const lost = (o: PublishOutcome) => !o.ok && o.refused === undefined;

/** Registers the suite for one adapter kind. */
export function adapterSuite(kind: string, startFarEnd: StartFarEnd): void {
  const check = (title: string, fn: (t: TestContext) => Promise<void>) => test(title, { timeout: 20_000 }, fn);

  /** A far end, its adapter (not started), a ledger, and a cleanup that stops both and audits `done`. */
  const setup = async (t: TestContext) => {
    const far = await startFarEnd();
    const { adapter } = far;
    const ledger = new Ledger(adapter);
    t.after(async () => {
      await adapter.stop(1000);
      await far.close();
      ledger.assertEachDoneOnce();
    });
    return { far, adapter, ledger };
  };

  const connected = async (t: TestContext) => {
    const s = await setup(t);
    const isReady = ready(s.adapter);
    s.adapter.start();
    await isReady;
    return s;
  };

  describe(`adapter ${kind}`, () => {
    check('start: connecting, then connected, then ready', async (t) => {
      const { adapter } = await setup(t);
      assert.equal(adapter.state, 'disconnected');
      const seen: string[] = [];
      adapter.on('state', (s) => seen.push(s));
      adapter.on('ready', () => seen.push('ready'));
      const isReady = ready(adapter);
      adapter.start();
      await isReady;
      assert.deepEqual(seen, ['connecting', 'connected', 'ready']);
      assert.equal(adapter.state, 'connected');
      const info = adapter.info();
      assert.equal(info.kind, kind);
      assert.equal(info.connects, 1);
      assert.ok(info.connected_since);
    });

    check('publish before the connection: done at once, lost', async (t) => {
      const { ledger } = await setup(t);
      const p = ledger.publish();
      assert.deepEqual(await p.outcome, { ok: false });
    });

    check('publish: the far end gets topic, payload and id; done once, ok', async (t) => {
      const { far, ledger } = await connected(t);
      const sent = [ledger.publish(), ledger.publish(), ledger.publish()];
      for (const s of sent) assert.deepEqual(await s.outcome, { ok: true });
      for (const s of sent) assert.deepEqual(await far.received(), { topic: s.topic, payload: s.payload, id: s.id });
    });

    check('window: within the far end cap; publishing a window at a time, the far end never has more open', async (t) => {
      const { far, adapter, ledger } = await connected(t);
      const window = adapter.window;
      assert.ok(Number.isInteger(window) && window >= 1, `window ${window}`);
      if (far.windowCap !== undefined) assert.ok(window <= far.windowCap, `window ${window} > far end cap ${far.windowCap}`);
      const states: ConnectionState[] = [];
      adapter.on('state', (s) => states.push(s));
      // Like the publisher: at most `window` unacknowledged, the next one sent as one is acknowledged.
      const total = window * 3;
      let sent = 0;
      let open = 0;
      let peak = 0;
      const outcomes: PublishOutcome[] = [];
      await new Promise<void>((resolve) => {
        const pump = () => {
          while (open < window && sent < total) {
            sent++;
            open++;
            peak = Math.max(peak, open);
            void ledger.publish().outcome.then((o) => {
              open--;
              outcomes.push(o);
              if (outcomes.length === total) resolve();
              else pump();
            });
          }
        };
        pump();
      });
      assert.equal(peak, window);
      assert.ok(outcomes.every((o) => o.ok), JSON.stringify(outcomes.filter((o) => !o.ok)));
      assert.deepEqual(states, [], 'the connection must hold');
      const farPeak = far.peakInFlight?.();
      if (farPeak !== undefined) assert.ok(farPeak <= window, `far end saw ${farPeak} at once, window ${window}`);
    });

    check('far end goes away: disconnected, in-flight lost, backoff grows; back: connected and ready', async (t) => {
      const { far, adapter, ledger } = await connected(t);
      far.hold();
      const inflight = [ledger.publish(), ledger.publish()];
      // The attempt number each reconnection starts with.
      const attempts: number[] = [];
      adapter.on('state', (s) => {
        if (s === 'connecting') attempts.push(adapter.info().reconnect_attempts);
      });
      await far.stopFarEnd();
      for (const p of inflight) assert.ok(lost(await p.outcome), `not lost: ${JSON.stringify(await p.outcome)}`);
      await untilState(adapter, () => (attempts.length >= 3 ? true : undefined), 'three reconnection attempts');
      assert.deepEqual(attempts.slice(0, 3), [1, 2, 3]);
      assert.ok(adapter.info().backoff_ms <= RECONNECT.max_ms);
      assert.ok(adapter.info().last_error, 'the failure is told');
      assert.equal(adapter.info().connected_since, null);

      const back = ready(adapter);
      await far.startFarEnd();
      await back;
      assert.equal(adapter.state, 'connected');
      const after = ledger.publish();
      assert.deepEqual(await after.outcome, { ok: true });
      let got: Received;
      do got = await far.received();
      while (got.id !== after.id);
      assert.equal(got.payload, after.payload);
    });

    check('refused: the far end refuses one record for good; the connection stays', async (t) => {
      const { far, adapter, ledger } = await connected(t);
      const states: ConnectionState[] = [];
      adapter.on('state', (s) => states.push(s));
      const { topic, code } = far.refuseNext();
      const outcome = await ledger.publish(topic).outcome;
      assert.equal(outcome.ok, false);
      assert.ok(!outcome.ok && outcome.refused, `not refused: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.refused.code, code);
      assert.ok(code >= 0x80 || (code >= 400 && code < 500), `code ${code}`);
      assert.equal(typeof outcome.refused.reason, 'string');
      assert.deepEqual(await ledger.publish().outcome, { ok: true });
      assert.deepEqual(states, []);
    });

    check('stop with a publish the far end never answers: disconnecting, disconnected, within the timeout', async (t) => {
      const { far, adapter, ledger } = await connected(t);
      const seen: ConnectionState[] = [];
      adapter.on('state', (s) => seen.push(s));
      far.hold();
      const p = ledger.publish();
      const timeoutMs = 300;
      const t0 = performance.now();
      await adapter.stop(timeoutMs);
      const took = performance.now() - t0;
      assert.ok(took < timeoutMs + 700, `stop took ${Math.round(took)} ms`);
      assert.deepEqual(seen, ['disconnecting', 'disconnected']);
      assert.ok(lost(await p.outcome));
      assert.deepEqual(await ledger.publish().outcome, { ok: false }, 'nothing goes out after stop');
    });

    check('downlink: an adapter without one says so', async (t) => {
      const { far, adapter } = await setup(t);
      if (far.sendCommand) return t.skip(`${kind} carries commands`);
      assert.equal(adapter.downlink, null);
      assert.equal(adapter.info().downlink, false);
    });

    check('downlink: commands arrive with QoS 1, again after a reconnect (re-subscribed), and stop after unsubscribe', async (t) => {
      const { far, adapter } = await setup(t);
      if (!far.sendCommand) return t.skip(`${kind} cannot receive commands`);
      const downlink = adapter.downlink;
      assert.ok(downlink, 'a far end that sends commands needs an adapter with a downlink');
      const ota = new Inbox<Command>();
      const other = new Inbox<Command>();
      let otaCount = 0;
      // Subscribed before start, as the gateway does: `ready` means the subscriptions are in place.
      const unsubscribe = downlink.subscribe(`edgeloop/${DEVICE}/ota/+`, (c) => {
        otaCount++;
        ota.push(c);
      });
      downlink.subscribe(`edgeloop/${DEVICE}/config/#`, (c) => other.push(c));
      const isReady = ready(adapter);
      adapter.start();
      await isReady;
      assert.equal(adapter.info().downlink, true);

      await far.sendCommand(`edgeloop/${DEVICE}/ota/cmd`, '{"version":"1"}');
      const first = await ota.next();
      assert.equal(first.topic, `edgeloop/${DEVICE}/ota/cmd`);
      assert.equal(first.payload.toString(), '{"version":"1"}');
      assert.equal(first.qos, 1);
      assert.equal(first.route, adapter.name);

      // The far end goes away and comes back: a clean session forgets subscriptions, so this proves they are made again.
      await far.stopFarEnd();
      await untilState(adapter, () => (adapter.state === 'disconnected' ? true : undefined), 'the connection lost');
      const back = ready(adapter);
      await far.startFarEnd();
      await back;
      await far.sendCommand(`edgeloop/${DEVICE}/ota/cmd`, '{"version":"2"}');
      assert.equal((await ota.next()).payload.toString(), '{"version":"2"}');

      unsubscribe();
      await far.sendCommand(`edgeloop/${DEVICE}/ota/cmd`, '{"version":"3"}');
      await far.sendCommand(`edgeloop/${DEVICE}/config/interval`, '500');
      // The later command on the topic still subscribed arrived: the one before it was not handed to the handler.
      assert.equal((await other.next()).payload.toString(), '500');
      assert.equal(otaCount, 2);
    });

    check('through the outbox, the far end away and back: every record arrives, duplicates within the window', async (t) => {
      const { far, adapter } = await setup(t);
      const metrics = new Metrics();
      const log = createLogger('silent', { pretty: false });
      const config = resolveConfig({ outbox: { store: 'memory' } }).outbox;
      const routes = [{ name: adapter.name, topics: ['#'] }];
      const outbox = new Outbox({ store: new MemoryStore(), config, device: DEVICE, routes, log, metrics });
      const publisher = new Publisher({ outbox, route: 0, adapter, topicPrefix: `edgeloop/${DEVICE}/`, metrics, log });
      t.after(() => {
        publisher.stop();
        outbox.close();
      });
      const ids = new Set<string>();
      const add = (n: number) => {
        for (let i = 0; i < n; i++) {
          const id = uuidv7();
          ids.add(id);
          outbox.add({ id, kind: 'reading', source: 's', topic: `data/${ids.size}`, ts: Date.now(), priority: 1, data: { n: ids.size } });
        }
      };
      const seen = new Map<string, number>();
      const receive = async (until: () => boolean) => {
        while (!until()) {
          const r = await far.received();
          seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
        }
      };
      let acked = 0;
      const acknowledged = waitUntil({
        check: () => (acked === 120 ? true : undefined),
        subscribe: (recheck) => {
          const onAcked = () => {
            acked++;
            recheck();
          };
          publisher.on('acked', onAcked);
          return () => publisher.off('acked', onAcked);
        },
        timeoutMs: 10_000,
        describe: () => `${acked} of 120 records acknowledged`,
      });
      const isReady = ready(adapter);
      publisher.start();
      await isReady;
      add(40);
      await receive(() => seen.size >= 10);
      await far.stopFarEnd();
      add(40);
      await untilState(adapter, () => (adapter.state !== 'connected' ? true : undefined), 'the route to notice');
      const back = ready(adapter);
      await far.startFarEnd();
      await back;
      add(40);
      await receive(() => [...ids].every((id) => seen.has(id)));
      const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
      assert.ok(duplicates <= (far.deduplicates ? 0 : adapter.window), `${duplicates} duplicates, window ${adapter.window}`);
      assert.deepEqual([...seen.keys()].filter((id) => !ids.has(id)), [], 'nothing but these records');
      await acknowledged;
    });

    check('stop when connected: the far end keeps the device status offline', async (t) => {
      const { far, adapter } = await connected(t);
      if (!far.lastStatus) return t.skip(`${kind} has no device status`);
      await adapter.stop(2000);
      assert.equal(adapter.state, 'disconnected');
      assert.equal(await far.lastStatus(), 'offline');
    });
  });
}
