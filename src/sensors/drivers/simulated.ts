// A simulated channel for demos and tests: sine (a function of time), random walk and noise (seeded, so a given
// seed always yields the same sequence of values).
import { Type, type Static } from '@sinclair/typebox';
import { EdgeloopError } from '../../errors.ts';
import type { DriverDefinition, SensorDriver } from '../driver.ts';
import { prng } from '../../pipeline/prng.ts';

const Options = Type.Object(
  {
    signal: Type.Union([Type.Literal('sine'), Type.Literal('random-walk'), Type.Literal('noise')], { default: 'sine' }),
    offset: Type.Number({ default: 0 }),
    amplitude: Type.Number({ minimum: 0, default: 1 }),
    period_ms: Type.Integer({ minimum: 1, maximum: 86_400_000, default: 60_000 }),
    seed: Type.Integer({ default: 1 }),
  },
  { additionalProperties: false },
);
type SimulatedOptions = Static<typeof Options>;

function create(o: SimulatedOptions): SensorDriver {
  const rand = prng(o.seed);
  let walk = 0;
  const next: Record<SimulatedOptions['signal'], () => number> = {
    sine: () => o.offset + o.amplitude * Math.sin((2 * Math.PI * Date.now()) / o.period_ms),
    'random-walk': () => {
      // Steps of at most 5 % of the amplitude, pulled back towards the offset so it stays in range.
      walk += (rand() - 0.5) * 0.1 * o.amplitude - walk * 0.01;
      return o.offset + walk;
    },
    noise: () => o.offset + (rand() * 2 - 1) * o.amplitude,
  };
  const read = next[o.signal];
  return {
    read: async (signal) => {
      if (signal.aborted) throw new EdgeloopError('SENSOR_TIMEOUT', 'simulated read aborted before it started');
      return Math.round(read() * 1e6) / 1e6;
    },
    close: async () => {},
  };
}

export const simulated: DriverDefinition<SimulatedOptions> = { options: Options, create };
