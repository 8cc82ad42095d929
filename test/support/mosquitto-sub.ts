// A second, independent witness: the stock mosquitto_sub client, so
// assertions do not depend only on MQTT.js agreeing with itself.
import { spawn } from 'node:child_process';
import { killOnExit } from './cleanup.ts';
import { waitUntil } from './wait.ts';

export interface MosquittoSubOptions {
  port: number;
  topic: string;
  /** Exit after this many messages. */
  count: number;
  timeoutMs: number;
  qos?: 0 | 1 | 2;
  /** Extra mosquitto_sub arguments (e.g. TLS or credentials). */
  args?: string[];
}

export interface MosquittoSubRun {
  /** "topic payload" per message (mosquitto_sub -v), once `count` arrived; rejects on timeout or failure. */
  lines: Promise<string[]>;
  kill(): void;
}

// -d interleaves protocol trace lines with the messages; a message line is
// the one printed right after its "received PUBLISH" trace line.
const PUBLISH_TRACE = /^Client \S+ received PUBLISH /;
const SUBSCRIBED_TRACE = /^Subscribed \(mid: \d+\)/;

/**
 * Starts mosquitto_sub and resolves once its subscription is acknowledged,
 * so that anything published afterwards is guaranteed to be seen.
 */
export async function runMosquittoSub(opts: MosquittoSubOptions): Promise<MosquittoSubRun> {
  const args = ['-h', '127.0.0.1', '-p', String(opts.port), '-t', opts.topic, '-q', String(opts.qos ?? 0)];
  // stdbuf -oL: mosquitto_sub block-buffers stdout into a pipe, which would hold back the SUBACK trace.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...args, '-d', '-v', '-C', String(opts.count), ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);

  const trace: string[] = [];
  const messages: string[] = [];
  const listeners = new Set<() => void>();
  let pending = '';
  let nextIsMessage = false;
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const notify = (): void => {
    for (const listener of listeners) listener();
  };

  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (nextIsMessage) messages.push(line);
      else trace.push(line);
      nextIsMessage = !nextIsMessage && PUBLISH_TRACE.test(line);
    }
    notify();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  // 'close', not 'exit': by then every message line has been read.
  child.once('close', (code, signal) => {
    exit = { code, signal };
    notify();
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));

  const deadline = Date.now() + opts.timeoutMs;
  const describe = (): string =>
    `mosquitto_sub -t ${opts.topic}: ${messages.length}/${opts.count} messages, exit=${JSON.stringify(exit)}\n${trace.join('\n')}\n${stderr}`;
  const waitFor = (done: () => boolean): Promise<true> =>
    waitUntil({
      check: () => {
        if (done()) return true;
        if (exit !== undefined) throw new Error(`exited early: ${describe()}`);
        return undefined;
      },
      subscribe: (recheck) => {
        listeners.add(recheck);
        return () => listeners.delete(recheck);
      },
      timeoutMs: Math.max(0, deadline - Date.now()),
      describe,
    });

  try {
    await Promise.race([waitFor(() => trace.some((line) => SUBSCRIBED_TRACE.test(line))), spawnError]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const lines = waitFor(() => messages.length >= opts.count && exit?.code === 0).then(
    () => messages,
    (err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    },
  );
  // Callers may only look at `lines` later; avoid an unhandled rejection in between.
  lines.catch(() => {});
  return { lines, kill: () => child.kill('SIGKILL') };
}
