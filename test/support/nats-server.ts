// A nats-server with JetStream for the tests: its own free port and store directory, started and stopped by the
// test. The binary is Debian's (`apt-get install nats-server`; .ci/run installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit, removeOnExit } from './cleanup.ts';
import { freePort } from './ports.ts';
import { waitUntil } from './wait.ts';

const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface NatsServerHandle {
  port: number;
  url: string;
  /** Stops the server; its store stays for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  /** Stops it and removes the store. */
  close(): Promise<void>;
}

export async function startNatsServer(): Promise<NatsServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-nats-'));
  const forgetDir = removeOnExit(dir);
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    const proc = spawn(NATS_SERVER_BIN, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    killOnExit(proc);
    let output = '';
    let exited: string | undefined;
    const watchers = new Set<() => void>();
    for (const stream of [proc.stdout, proc.stderr]) {
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        for (const w of watchers) w();
      });
    }
    proc.once('exit', (code, signal) => {
      exited = String(code ?? signal);
      for (const w of watchers) w();
    });
    const spawnError = new Promise<never>((_, reject) => proc.once('error', reject));
    await Promise.race([
      spawnError,
      waitUntil({
        check: () => {
          if (/Server is ready/.test(output)) return true;
          if (exited !== undefined) throw new Error(`nats-server exited (${exited}) during startup:\n${output}`);
          return undefined;
        },
        subscribe: (recheck) => {
          watchers.add(recheck);
          return () => watchers.delete(recheck);
        },
        timeoutMs: 10_000,
        describe: () => `nats-server did not report ready:\n${output}`,
      }),
    ]);
  };

  const stop = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const escalate = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(escalate);
  };

  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
      forgetDir();
    },
  };
}
