// A kernel thermal zone (SoC, CPU, PMIC): `/sys/class/thermal/thermal_zone<N>/temp`, in millidegrees Celsius.
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import type { DriverContext, DriverDefinition, SensorDriver } from '../driver.ts';
import { readNumber } from './sysfs.ts';

const Options = Type.Object({ zone: Type.Integer({ minimum: 0, default: 0 }) }, { additionalProperties: false });
type ThermalOptions = Static<typeof Options>;

function create(o: ThermalOptions, context: DriverContext): SensorDriver {
  const zones = join(context.sysfsRoot, 'class/thermal');
  const path = join(zones, `thermal_zone${o.zone}`, 'temp');
  const missing = `no thermal zone ${o.zone} on this device (see ls ${zones}) or its driver is not loaded`;
  return {
    read: async (signal) => (await readNumber(path, signal, missing)) / 1000,
    close: async () => {},
  };
}

export const linuxThermal: DriverDefinition<ThermalOptions> = { options: Options, create };
