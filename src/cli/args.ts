// Options every verb understands, plus a verb's own.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export function commonArgs<T extends ParseArgsOptionsConfig>(argv: string[], own: T = {} as T) {
  return parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      'log-level': { type: 'string' },
      ...own,
    },
    allowPositionals: false,
    strict: true,
  }).values;
}
