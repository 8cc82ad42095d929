// Options every verb understands.
import { parseArgs } from 'node:util';

export function commonArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      'log-level': { type: 'string' },
    },
    allowPositionals: false,
    strict: true,
  }).values;
}
