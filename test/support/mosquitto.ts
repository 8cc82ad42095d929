// A private Mosquitto broker per test file: own ports, own config, own
// persistence directory. The system broker on :1883 is never touched.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { killOnExit, removeOnExit } from './cleanup.ts';
import { freePort } from './ports.ts';
import { waitUntil } from './wait.ts';

const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
const READY_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;
const SIGTERM_REPEAT_MS = 100;

export interface MosquittoTlsOptions {
  ca: string;
  cert: string;
  key: string;
  /**
   * Minimum TLS version (mosquitto's tls_version is a floor: a 'tlsv1.2'
   * listener still negotiates 1.3 with a client that offers it). Default 'tlsv1.3'.
   */
  version?: 'tlsv1.3' | 'tlsv1.2';
  /** Mutual TLS: clients must present a certificate signed by `ca`; its CN becomes the username. */
  requireCertificate?: boolean;
  /** `ciphers_tls1.3` for TLS 1.3, `ciphers` (OpenSSL cipher list) for TLS 1.2. */
  ciphersuites?: string;
}

export interface MosquittoOptions {
  tls?: MosquittoTlsOptions;
  /** Per-client QoS 1/2 in-flight window (mosquitto default 20). */
  maxInflight?: number;
  /** Require these credentials instead of allowing anonymous clients. */
  username?: string;
  password?: string;
  /** `log_type all`: every packet in logs(); noisy, for debugging and packet-level assertions. */
  verbose?: boolean;
  /** Raw config lines appended last. Keep notice-level logging: readiness is detected from the log. */
  extraConfig?: string[];
}

export interface MosquittoHandle {
  readonly port: number;
  /** mqtt://127.0.0.1:<port> */
  readonly url: string;
  readonly tlsPort?: number;
  /** mqtts://localhost:<tlsPort>: the server certificate names localhost. */
  readonly tlsUrl?: string;
  /** Holds mosquitto.conf, the password file and the persistence database. */
  readonly dir: string;
  /** Graceful shutdown (persists the database), then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Crash: SIGKILL, nothing persisted since the last autosave. The dir is kept for restart() or stop(). */
  kill(): void;
  /** Graceful stop (if running) and start again on the same ports with the same persistence. */
  restart(): Promise<void>;
  /** Everything the broker has logged, across restarts. */
  logs(): string;
  /** Resolves with the first log line (across restarts) matching `matcher`. */
  waitForLog(matcher: RegExp, timeoutMs: number): Promise<string>;
}

async function writePasswordFile(path: string, username: string, password: string): Promise<void> {
  await promisify(execFile)('mosquitto_passwd', ['-b', '-c', path, username, password]);
}

function buildConfig(dir: string, port: number, tlsPort: number | undefined, opts: MosquittoOptions): string[] {
  const lines = [
    // When run as root mosquitto drops to the `mosquitto` user, which cannot write our temp dir.
    `user ${userInfo().username}`,
    'per_listener_settings false',
    `listener ${port} 127.0.0.1`,
    'set_tcp_nodelay true',
    'persistence true',
    `persistence_location ${dir}/`,
    'max_queued_messages 1000000',
    // stderr, because mosquitto block-buffers stdout when it is a pipe and lines would arrive late.
    'log_dest stderr',
    ...(opts.verbose === true ? ['log_type all'] : []),
    ...(opts.maxInflight === undefined ? [] : [`max_inflight_messages ${opts.maxInflight}`]),
  ];
  if (opts.username === undefined) {
    lines.push('allow_anonymous true');
  } else {
    lines.push('allow_anonymous false', `password_file ${join(dir, 'passwd')}`);
  }
  if (opts.tls !== undefined && tlsPort !== undefined) {
    const tls = opts.tls;
    const version = tls.version ?? 'tlsv1.3';
    lines.push(
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${tls.ca}`,
      `certfile ${tls.cert}`,
      `keyfile ${tls.key}`,
      `tls_version ${version}`,
    );
    if (tls.requireCertificate === true) lines.push('require_certificate true', 'use_identity_as_username true');
    if (tls.ciphersuites !== undefined) {
      lines.push(`${version === 'tlsv1.3' ? 'ciphers_tls1.3' : 'ciphers'} ${tls.ciphersuites}`);
    }
  }
  lines.push(...(opts.extraConfig ?? []));
  return lines;
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-mosquitto-'));
  const forgetDir = removeOnExit(dir);
  const port = await freePort();
  const tlsPort = opts.tls === undefined ? undefined : await freePort();
  if (opts.username !== undefined) {
    await writePasswordFile(join(dir, 'passwd'), opts.username, opts.password ?? '');
  }
  const configPath = join(dir, 'mosquitto.conf');
  await writeFile(configPath, buildConfig(dir, port, tlsPort, opts).join('\n') + '\n');

  let output = '';
  let child: ChildProcess | undefined;
  let stopped = false;
  // Re-evaluate pending waits: called on every log chunk and when the broker exits.
  const watchers = new Set<() => void>();

  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  const launch = async (): Promise<void> => {
    const proc = spawn(MOSQUITTO_BIN, ['-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    killOnExit(proc);
    const append = (chunk: string): void => {
      output += chunk;
      for (const listener of watchers) listener();
    };
    for (const stream of [proc.stdout, proc.stderr]) stream.setEncoding('utf8').on('data', append);
    // A broker is a fixture, not the subject under test: a test that forgets to
    // stop it must not hang its file, and cleanup.ts still kills it on exit.
    // stop() and restart() keep the loop alive with their own timers and sockets.
    proc.unref();
    for (const stream of [proc.stdout, proc.stderr]) if (stream instanceof Socket) stream.unref();
    // Mosquitto logs "running" once every listener is bound. Waiting for it
    // rather than probing the ports keeps probe connections (and TLS handshake
    // errors) out of the log, and notices a failed start at once.
    const from = output.length;
    let exitCode: number | string | undefined;
    proc.once('exit', (code, signal) => {
      exitCode = code ?? signal ?? undefined;
      for (const listener of watchers) listener();
    });
    const spawnError = new Promise<never>((_, reject) => proc.once('error', reject));
    const ready = waitUntil({
      check: () => {
        if (/mosquitto version \S+ running/.test(output.slice(from))) return true;
        if (exitCode !== undefined) throw new Error(`mosquitto exited (${exitCode}) during startup:\n${output.slice(from)}`);
        return undefined;
      },
      subscribe: (recheck) => {
        watchers.add(recheck);
        return () => watchers.delete(recheck);
      },
      timeoutMs: READY_TIMEOUT_MS,
      describe: () => `mosquitto did not report running:\n${output.slice(from)}`,
    });
    await Promise.race([ready, spawnError]);
  };

  const terminate = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || !running()) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // Hold the event loop open until the exit is seen (the child is unref'd).
    proc.ref();
    proc.kill('SIGTERM');
    // Mosquitto installs its SIGTERM handler, logs "running", and only then
    // sets its run flag, so a SIGTERM sent right after "running" is forgotten.
    // Repeating it is harmless once shutdown has begun.
    const repeat = setInterval(() => proc.kill('SIGTERM'), SIGTERM_REPEAT_MS);
    // A broker wedged on shutdown must not wedge the test.
    const escalate = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearInterval(repeat);
    clearTimeout(escalate);
  };

  await launch().catch(async (err: unknown) => {
    if (running()) child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    forgetDir();
    throw err;
  });

  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    ...(tlsPort === undefined ? {} : { tlsPort, tlsUrl: `mqtts://localhost:${tlsPort}` }),
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate();
      await rm(dir, { recursive: true, force: true });
      forgetDir();
    },
    kill() {
      if (running()) child?.kill('SIGKILL');
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop(): the broker directory is gone');
      await terminate();
      await launch();
    },
    logs: () => output,
    waitForLog(matcher, timeoutMs) {
      return waitUntil({
        check: () => output.split('\n').find((line) => matcher.test(line)),
        subscribe: (recheck) => {
          watchers.add(recheck);
          return () => watchers.delete(recheck);
        },
        timeoutMs,
        describe: () => `no mosquitto log line matched ${matcher}; logs:\n${output}`,
      });
    },
  };
}
