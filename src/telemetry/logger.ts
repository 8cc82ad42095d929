// pino JSON logs (one object per line, for journald and log shippers); pretty when a person watches a terminal.
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(level: LevelWithSilent, opts: { pretty?: boolean } = {}): Logger {
  const base = { level, base: { pid: process.pid } };
  if (opts.pretty ?? process.stdout.isTTY) {
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(base);
}

/**
 * Logs the first occurrence at once and then at most one line per `everyMs`, with the number suppressed meanwhile,
 * so a sensor that fails 20 times a second does not flood the log.
 */
export class RateLimitedLog {
  readonly everyMs: number;
  #last = -Infinity;
  #suppressed = 0;

  constructor(everyMs = 10_000) {
    this.everyMs = everyMs;
  }

  /** Calls `emit` with the number of occurrences suppressed since the last line, or does nothing. */
  hit(emit: (suppressed: number) => void, now = Date.now()): void {
    if (now - this.#last < this.everyMs) {
      this.#suppressed++;
      return;
    }
    this.#last = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    emit(suppressed);
  }
}
