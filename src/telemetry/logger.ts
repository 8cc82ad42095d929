// pino JSON logs (one object per line, for journald and log shippers); pretty when a person watches a terminal.
// Every line goes through the one redaction function before it is written: no secret reaches a log.
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { redact } from '../lib/redact.ts';

export type { Logger };

export interface LoggerOptions {
  pretty?: boolean;
  /** Secret values to hide wherever they appear (see `secretsOf`), besides what looks like a secret. */
  secrets?: readonly string[];
  /** Where lines go (default: stdout). */
  destination?: DestinationStream;
}

export function createLogger(level: LevelWithSilent, opts: LoggerOptions = {}): Logger {
  const secrets = opts.secrets ?? [];
  const base = { level, base: { pid: process.pid }, hooks: { streamWrite: (line: string) => redact(line, secrets) } };
  if (opts.pretty ?? (opts.destination === undefined && process.stdout.isTTY)) {
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return opts.destination ? pino(base, opts.destination) : pino(base);
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
