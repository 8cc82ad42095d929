// Every sensor driver, by the name used in `sensors[].driver`. A new driver is one file plus one line here.
import { EdgeloopError } from '../errors.ts';
import type { DriverContext, DriverDefinition, SensorDriver } from './driver.ts';
import { command } from './drivers/command.ts';
import { iio } from './drivers/iio.ts';
import { linuxThermal } from './drivers/linux-thermal.ts';
import { simulated } from './drivers/simulated.ts';
import { w1 } from './drivers/w1.ts';

export const DRIVERS: Record<string, DriverDefinition<never>> = {
  simulated,
  'linux-thermal': linuxThermal,
  iio,
  w1,
  command,
};

/** Builds a driver from options already validated against its schema (see config/load.ts). */
export function createDriver(name: string, options: Record<string, unknown>, context: DriverContext): SensorDriver {
  const def = DRIVERS[name] as DriverDefinition<Record<string, unknown>> | undefined;
  if (!def) throw new EdgeloopError('CONFIG_INVALID', `unknown sensor driver ${JSON.stringify(name)}`);
  return def.create(options, context);
}
