// Starts a gateway in this process with a log the test can wait on, a temp data dir and a free API port.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Gateway } from '../../src/app/gateway.ts';
import { resolveConfig } from '../../src/app/config.ts';
import { secretsOf } from '../../src/lib/redact.ts';
import { createLogger, type Logger } from '../../src/telemetry/logger.ts';
import { waitUntil } from '../support/wait.ts';

export type LogEntry = Record<string, unknown> & { msg?: string };

export interface CapturedLog {
  entries: LogEntry[];
  waitFor(predicate: (e: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry>;
}

/** A debug logger that keeps its lines, parsed; like the CLI's, it hides `secrets` and whatever looks like one. */
export function captureLog(secrets: readonly string[] = []): { logger: Logger; captured: CapturedLog } {
  const entries: LogEntry[] = [];
  const changed = new EventEmitter();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) entries.push(JSON.parse(line) as LogEntry);
      changed.emit('line');
      done();
    },
  });
  const logger = createLogger('debug', { destination: sink, secrets, pretty: false });
  return {
    logger,
    captured: {
      entries,
      waitFor: (predicate, timeoutMs) =>
        waitUntil({
          check: () => entries.find(predicate),
          subscribe: (recheck) => {
            changed.on('line', recheck);
            return () => changed.off('line', recheck);
          },
          timeoutMs,
          describe: () => `log line not seen; last: ${entries.slice(-5).map((e) => JSON.stringify(e)).join('\n')}`,
        }),
    },
  };
}

export interface RunningGateway {
  gw: Gateway;
  log: CapturedLog;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * `config` is merged over: a temp data_dir, api on a free port, no sensors unless given. `beforeStart` wires what a
 * component would at composition (e.g. a command handler).
 */
export async function startGateway(
  config: Record<string, unknown>,
  dataDir?: string,
  beforeStart?: (gw: Gateway) => void,
): Promise<RunningGateway> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'edgeloop-gw-'));
  // The embedded broker (when no route has a url) on a free port, never the machine's own 1883.
  const resolved = resolveConfig({ data_dir: dir, api: { port: 0, host: '127.0.0.1' }, broker: { port: 0 }, ...config });
  const { logger, captured } = captureLog(secretsOf(resolved));
  const gw = new Gateway({ config: resolved, configSource: 'test', log: logger });
  beforeStart?.(gw);
  await gw.start();
  return {
    gw,
    log: captured,
    dataDir: dir,
    stop: async () => {
      await gw.stop();
      if (dataDir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `n` simulated channels named s01…, sampled every `intervalMs`. */
export function simulatedSensors(n: number, intervalMs: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `s${String(i + 1).padStart(2, '0')}`,
    driver: 'simulated',
    interval_ms: intervalMs,
    signal: 'noise',
    seed: i + 1,
  }));
}
