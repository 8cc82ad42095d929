// A DS18B20 1-Wire thermometer through the kernel's w1-therm driver: `/sys/bus/w1/devices/<id>/w1_slave` holds
//   72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//   72 01 4b 46 7f ff 0e 10 57 t=23125
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { EdgeloopError } from '../../errors.ts';
import type { DriverContext, DriverDefinition, SensorDriver } from '../driver.ts';
import { readAttribute } from './sysfs.ts';

const Options = Type.Object(
  { device_id: Type.String({ pattern: '^[0-9a-f]{2}-[0-9a-f]{12}$' }) },
  { additionalProperties: false },
);
type W1Options = Static<typeof Options>;

/** The scratchpad's power-on value: the sensor answered but never converted (brown-out, parasite power too weak). */
const POWER_ON_RESET = 85_000;

function parseW1Slave(text: string, path: string): number {
  const [status, data] = text.trim().split('\n');
  const crc = /crc=[0-9a-f]{2} (YES|NO)$/i.exec(status?.trim() ?? '');
  const temp = /t=(-?\d+)$/.exec(data?.trim() ?? '');
  if (!crc || !temp) {
    const got = JSON.stringify(text.slice(0, 120));
    throw new EdgeloopError('SENSOR_READ', `${path} is not in the w1_slave format: ${got}`);
  }
  if (crc[1]?.toUpperCase() !== 'YES') {
    throw new EdgeloopError('SENSOR_CRC', `${path}: CRC check failed, the reading was discarded`);
  }
  const milli = Number(temp[1]);
  if (milli === POWER_ON_RESET) {
    throw new EdgeloopError(
      'SENSOR_READ',
      `${path}: 85 °C is the DS18B20 power-on value, not a measurement; check its power supply (parasite mode)`,
    );
  }
  return milli / 1000;
}

function create(o: W1Options, context: DriverContext): SensorDriver {
  const devices = join(context.sysfsRoot, 'bus/w1/devices');
  const path = join(devices, o.device_id, 'w1_slave');
  const missing =
    `no 1-Wire device ${o.device_id} (see ls ${devices}); is the w1-gpio overlay enabled and w1-therm loaded, ` +
    'and is the device id right?';
  return {
    read: async (signal) => parseW1Slave(await readAttribute(path, signal, missing), path),
    close: async () => {},
  };
}

export const w1: DriverDefinition<W1Options> = { options: Options, create };
