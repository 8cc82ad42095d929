// An Industrial I/O channel (ADCs, temperature, humidity, pressure, light…) under `/sys/bus/iio/devices/<device>`.
// Linux IIO ABI: value = (in_<channel>_raw + offset) × scale, in the channel type's unit (e.g. millidegrees Celsius
// for temp, millivolts for voltage, milli-percent for humidityrelative).
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import type { DriverContext, DriverDefinition, SensorDriver } from '../driver.ts';
import { readNumber, readOptionalNumber } from './sysfs.ts';

const Options = Type.Object(
  {
    device: Type.String({ pattern: '^iio:device[0-9]+$', default: 'iio:device0' }),
    /** e.g. temp, voltage0, humidityrelative, accel_x */
    channel: Type.String({ pattern: '^[a-z][a-z0-9_-]*$' }),
  },
  { additionalProperties: false },
);
type IioOptions = Static<typeof Options>;

interface Calibration {
  scale: number;
  offset: number;
}

function create(o: IioOptions, context: DriverContext): SensorDriver {
  const dir = join(context.sysfsRoot, 'bus/iio/devices', o.device);
  // Scale and offset may be per channel (in_voltage0_scale) or shared by every channel of the type (in_voltage_scale).
  const type = /^[a-z]+/.exec(o.channel)?.[0] ?? o.channel;
  const attribute = async (name: 'scale' | 'offset', fallback: number, signal: AbortSignal): Promise<number> =>
    (await readOptionalNumber(join(dir, `in_${o.channel}_${name}`), signal)) ??
    (type === o.channel ? undefined : await readOptionalNumber(join(dir, `in_${type}_${name}`), signal)) ??
    fallback;
  const rawPath = join(dir, `in_${o.channel}_raw`);
  const missing = `no IIO device ${o.device} with a ${o.channel} channel (see ls ${dir}); is its kernel module loaded?`;

  // Scale and offset are constant, so they are read once, on the first read; a failed attempt is retried.
  let calibration: Promise<Calibration> | undefined;
  const calibrate = async (signal: AbortSignal): Promise<Calibration> => ({
    scale: await attribute('scale', 1, signal),
    offset: await attribute('offset', 0, signal),
  });
  return {
    async read(signal) {
      const raw = await readNumber(rawPath, signal, missing);
      calibration ??= calibrate(signal).catch((err: unknown) => {
        calibration = undefined;
        throw err;
      });
      const { scale, offset } = await calibration;
      return (raw + offset) * scale;
    },
    close: async () => {},
  };
}

export const iio: DriverDefinition<IioOptions> = { options: Options, create };
