// Every sensor driver, by the name used in `sensors[].driver`. A new driver is one file plus one line here.
import { SensorSchema, type SensorConfig } from '../config/schema.ts';
import { EdgeloopError } from '../errors.ts';
import type { DriverContext, DriverDefinition, SensorDriver } from './driver.ts';
import { command } from './drivers/command.ts';
import { iio } from './drivers/iio.ts';
import { linuxThermal } from './drivers/linux-thermal.ts';
import { modbus } from './drivers/modbus.ts';
import { simulated } from './drivers/simulated.ts';
import { w1 } from './drivers/w1.ts';

const DRIVERS = new Map<string, DriverDefinition<never>>([
  ['simulated', simulated],
  ['linux-thermal', linuxThermal],
  ['iio', iio],
  ['w1', w1],
  ['command', command],
  ['modbus', modbus],
]);

/** Registers a driver (a plugin's, at start-up, before the config is loaded). */
export function registerDriver(name: string, definition: DriverDefinition<never>): void {
  if (DRIVERS.has(name)) throw new TypeError(`sensor driver ${name} is already registered`);
  const shared = Object.keys(definition.options.properties).filter((k) => k in SensorSchema.properties);
  if (shared.length > 0) throw new TypeError(`sensor driver ${name}: options ${shared.join(', ')} are keys of every sensor`);
  DRIVERS.set(name, definition);
}

/** The registered drivers, by name. */
export function drivers(): [name: string, definition: DriverDefinition][] {
  return [...DRIVERS] as [string, DriverDefinition][];
}

/** The options a driver sees: the sensor entry minus the keys every sensor has. */
export function driverOptions(sensor: SensorConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(sensor).filter(([k]) => !(k in SensorSchema.properties)));
}

/** Builds the driver of a validated sensor entry. */
export function createDriver(sensor: SensorConfig, context: DriverContext): SensorDriver {
  const def = DRIVERS.get(sensor.driver) as DriverDefinition | undefined;
  if (!def) throw new EdgeloopError('CONFIG_INVALID', `unknown sensor driver ${JSON.stringify(sensor.driver)}`);
  return def.create(driverOptions(sensor), context);
}
