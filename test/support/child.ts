// Runs a Node program (typically the gateway CLI) as a separate process, the
// way it runs in production, and lets tests wait on what it logs.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { killOnExit } from './cleanup.ts';
import { waitUntil } from './wait.ts';

export interface SpawnNodeOptions {
  /** Merged over this process's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type LineMatcher = RegExp | ((line: string) => boolean);

export interface NodeChild {
  readonly pid: number | undefined;
  /**
   * Resolves with the first stdout/stderr line at index >= `fromLine` that
   * matches; rejects on timeout or if the process exits first.
   */
  waitForLine(matcher: LineMatcher, timeoutMs: number, fromLine?: number): Promise<string>;
  /** Like waitForLine, over lines that parse as JSON objects (pino). */
  waitForLog(predicate: (entry: Record<string, unknown>) => boolean, timeoutMs: number, fromLine?: number): Promise<Record<string, unknown>>;
  /** Complete lines so far, stdout and stderr interleaved in arrival order. */
  lines(): readonly string[];
  /** Current line count: pass as `fromLine` to wait only for lines logged after now. */
  mark(): number;
  kill(signal?: NodeJS.Signals): void;
  readonly exited: Promise<ExitStatus>;
}

function parseJsonObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function spawnNode(args: string[], opts: SpawnNodeOptions = {}): NodeChild {
  // process.execPath: the Node running the tests (24), not whatever `node` is on PATH.
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);

  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let status: ExitStatus | undefined;
  const notify = (): void => {
    for (const listener of listeners) listener();
  };
  // Separate buffers: a line split across chunks must not be glued to the other stream.
  const collect = (stream: Readable): Promise<void> => {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      lines.push(...complete);
      notify();
    });
    return new Promise((resolve) =>
      stream.once('close', () => {
        if (pending !== '') lines.push(pending);
        resolve();
      }),
    );
  };
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]);

  let spawnError: Error | undefined;
  const exited = new Promise<ExitStatus>((resolve, reject) => {
    child.once('error', (err) => {
      spawnError = err;
      notify();
      reject(err);
    });
    // 'close' rather than 'exit': all output has been read by then.
    child.once('close', (code, signal) => {
      void drained.then(() => {
        status = { code, signal };
        notify();
        resolve(status);
      });
    });
  });
  // Tests that never await `exited` must not see an unhandled rejection for a spawn error.
  exited.catch(() => {});

  const tail = (): string => lines.slice(-40).join('\n');

  const waitForMatch = <T>(find: (line: string) => T | undefined, what: string, timeoutMs: number, fromLine: number): Promise<T> => {
    let scanned = fromLine;
    return waitUntil({
      check: () => {
        for (; scanned < lines.length; scanned += 1) {
          const found = find(lines[scanned] ?? '');
          if (found !== undefined) return found;
        }
        if (spawnError !== undefined) throw spawnError;
        if (status !== undefined) {
          throw new Error(`process exited (${JSON.stringify(status)}) before ${what}; last output:\n${tail()}`);
        }
        return undefined;
      },
      subscribe: (recheck) => {
        listeners.add(recheck);
        return () => listeners.delete(recheck);
      },
      timeoutMs,
      describe: () => `${what}; last output:\n${tail()}`,
    });
  };

  return {
    pid: child.pid,
    waitForLine: (matcher, timeoutMs, fromLine = 0) => {
      const test = typeof matcher === 'function' ? matcher : (line: string) => matcher.test(line);
      return waitForMatch((line) => (test(line) ? line : undefined), `no line matched ${String(matcher)}`, timeoutMs, fromLine);
    },
    waitForLog: (predicate, timeoutMs, fromLine = 0) =>
      waitForMatch(
        (line) => {
          const entry = parseJsonObject(line);
          return entry !== undefined && predicate(entry) ? entry : undefined;
        },
        `no JSON log line matched ${predicate.toString()}`,
        timeoutMs,
        fromLine,
      ),
    lines: () => lines,
    mark: () => lines.length,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited,
  };
}
