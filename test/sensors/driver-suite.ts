// The behaviour every sensor driver owes the sampler, run against each registered driver. A driver passes when its
// fixture (a fake source and the value it must yield) goes through all of it.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { resolveConfig } from '../../src/app/config.ts';
import type { SensorDriver } from '../../src/sensors/driver.ts';
import { createDriver, drivers } from '../../src/sensors/registry.ts';
import { configIssues } from '../config/issues.ts';

export interface DriverFixture {
  /** The driver's own keys on a `sensors[]` entry; the schema supplies the rest. */
  options: Record<string, unknown>;
  sysfsRoot: string;
  /** What a read must return. */
  expected: number;
  /** Changes the source and returns what the next read must return; absent when nothing outside can change it. */
  change?: () => Promise<number>;
  cleanup(): Promise<void>;
}

export type MakeFixture = () => Promise<DriverFixture>;

/** Builds a driver the way the gateway does: from a `sensors[]` entry validated by the config loader. */
export function driverFromConfig(driver: string, options: Record<string, unknown>, sysfsRoot: string): SensorDriver {
  const [sensor] = resolveConfig({ sensors: [{ id: 'probe', driver, ...options }] }).sensors;
  assert.ok(sensor);
  return createDriver(sensor, { sysfsRoot });
}

/** A value of another type than the option's schema allows. */
function wrongTypeFor(schema: TSchema): unknown {
  const value = [42, 'not-of-this-type'].find((candidate) => !Value.Check(schema, candidate));
  assert.ok(value !== undefined, 'no wrong-type candidate for this option');
  return value;
}

const live = new AbortController().signal;

/** Registers the suite for the driver `name`. */
export function driverSuite(name: string, makeFixture: MakeFixture): void {
  const check = (title: string, fn: (t: TestContext) => Promise<void>) => test(title, fn);

  const setup = async (t: TestContext) => {
    const fixture = await makeFixture();
    const driver = driverFromConfig(name, fixture.options, fixture.sysfsRoot);
    t.after(async () => {
      await driver.close();
      await fixture.cleanup();
    });
    return { fixture, driver };
  };

  describe(`driver ${name}`, () => {
    check('reads the expected value from options completed by the schema defaults', async (t) => {
      const { fixture, driver } = await setup(t);
      const value = await driver.read(live);
      assert.ok(Number.isFinite(value), `not a finite number: ${value}`);
      assert.equal(value, fixture.expected);
    });

    check('reads repeatedly', async (t) => {
      const { fixture, driver } = await setup(t);
      for (let i = 0; i < 5; i++) assert.equal(await driver.read(live), fixture.expected);
    });

    check('reads the source afresh each time', async (t) => {
      const { fixture, driver } = await setup(t);
      if (!fixture.change) return t.skip('the source cannot be changed from outside');
      assert.equal(await driver.read(live), fixture.expected);
      const next = await fixture.change();
      assert.notEqual(next, fixture.expected);
      assert.equal(await driver.read(live), next);
    });

    check('rejects promptly with SENSOR_TIMEOUT when the signal is already aborted', async (t) => {
      const { driver } = await setup(t);
      const controller = new AbortController();
      controller.abort();
      const started = performance.now();
      await assert.rejects(driver.read(controller.signal), { code: 'EDGELOOP_ERR_SENSOR_TIMEOUT' });
      assert.ok(performance.now() - started < 1000, 'an aborted read must not wait for the source');
    });

    check('close() may be called more than once, also concurrently', async (t) => {
      const { driver } = await setup(t);
      await driver.read(live);
      await driver.close();
      await driver.close();
      await Promise.all([driver.close(), driver.close()]);
    });

    check('its options schema rejects an unknown key, named by its path', async (t) => {
      const { fixture } = await setup(t);
      const issues = configIssues({ sensors: [{ id: 'probe', driver: name, ...fixture.options, no_such_option: 1 }] });
      assert.deepEqual(
        issues.map((i) => i.path),
        ['sensors[0].no_such_option'],
      );
      assert.match(issues[0]?.message ?? '', /^unknown key \(known: /);
    });

    check('its options schema rejects a value of the wrong type for every option', async (t) => {
      const { fixture } = await setup(t);
      const properties = (new Map(drivers()).get(name)?.options.properties ?? {}) as Record<string, TSchema>;
      assert.ok(Object.keys(properties).length > 0, 'the options schema declares no keys');
      for (const [key, schema] of Object.entries(properties)) {
        const entry = { id: 'probe', driver: name, ...fixture.options, [key]: wrongTypeFor(schema) };
        const issues = configIssues({ sensors: [entry] });
        assert.deepEqual(
          issues.map((i) => i.path),
          [`sensors[0].${key}`],
          key,
        );
        assert.match(issues[0]?.message ?? '', /^must be /, key);
      }
    });
  });
}
