// Any program as a sensor (vcgencmd, a vendor CLI, a script): run it in argv form (no shell), take the first number
// it prints, or the first capture group of `pattern`. A read that is aborted kills the program.
import { spawn } from 'node:child_process';
import { Type, type Static } from '@sinclair/typebox';
import { EdgeloopError, messageOf } from '../../errors.ts';
import type { DriverDefinition, SensorDriver } from '../driver.ts';

const Options = Type.Object(
  {
    /** Program and arguments, e.g. [vcgencmd, measure_temp]. */
    command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    cwd: Type.Optional(Type.String({ minLength: 1 })),
    /** A regular expression whose first capture group is the number. */
    pattern: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
type CommandOptions = Static<typeof Options>;

/** A sensor prints a line, not a file: more than this is a misbehaving program. */
const MAX_STDOUT = 64 * 1024;
/** Of stderr only the first line is reported. */
const MAX_STDERR = 4 * 1024;
/** A program that ignores SIGTERM this long gets SIGKILL. */
const KILL_GRACE_MS = 1000;
const FIRST_NUMBER = /[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/;

/** Why `pattern` cannot be used, or undefined when it can. */
function patternProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
  } catch (cause) {
    return `${JSON.stringify(pattern)} is not a valid regular expression: ${messageOf(cause)}`;
  }
  // An alternation with the empty pattern always matches, and its result has one slot per capture group.
  const groups = (new RegExp(`${pattern}|`).exec('')?.length ?? 1) - 1;
  return groups < 1 ? `${JSON.stringify(pattern)} needs a capture group around the number, e.g. "t=(\\S+)"` : undefined;
}

function compilePattern(pattern: string): RegExp {
  const problem = patternProblem(pattern);
  if (problem) throw new EdgeloopError('CONFIG_INVALID', `pattern ${problem}`);
  return new RegExp(pattern);
}

function create(o: CommandOptions): SensorDriver {
  const [program, ...args] = o.command as [string, ...string[]];
  const pattern = o.pattern === undefined ? undefined : compilePattern(o.pattern);
  const name = JSON.stringify(o.command.join(' '));
  // close() aborts reads in flight and waits until their programs are gone.
  const closing = new AbortController();
  const inflight = new Set<Promise<number>>();

  const parse = (stdout: string): number => {
    const text = (pattern ? pattern.exec(stdout)?.[1] : FIRST_NUMBER.exec(stdout)?.[0])?.trim();
    // Number('') is 0: an empty capture is no reading.
    const value = text ? Number(text) : Number.NaN;
    if (!Number.isFinite(value)) {
      const wanted = pattern ? `output matching /${pattern.source}/ with a number in its group` : 'number';
      const got = JSON.stringify(stdout.slice(0, 120));
      throw new EdgeloopError('SENSOR_READ', `command ${name} printed no ${wanted}: ${got}`);
    }
    return value;
  };

  const run = (signal: AbortSignal) =>
    new Promise<number>((resolve, reject) => {
      const stop = AbortSignal.any([signal, closing.signal]);
      if (stop.aborted) {
        reject(new EdgeloopError('SENSOR_TIMEOUT', `command ${name} was not started: the read was aborted`));
        return;
      }
      // Its own process group, so that killing it also kills what it started (a script's children).
      const child = spawn(program, args, { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderr = '';
      let failure: EdgeloopError | undefined;
      let killTimer: NodeJS.Timeout | undefined;

      const signalGroup = (sig: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, sig);
        } catch {
          // The group is already gone.
        }
      };
      const kill = (why: EdgeloopError) => {
        failure ??= why;
        signalGroup('SIGTERM');
        killTimer ??= setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
      };
      const onAbort = () => {
        const why = `command ${name} did not finish before the read was aborted; it was killed`;
        kill(new EdgeloopError('SENSOR_TIMEOUT', why, { cause: stop.reason }));
      };
      stop.addEventListener('abort', onAbort, { once: true });

      child.stdout.on('data', (chunk: Buffer) => {
        stdoutBytes += chunk.length;
        if (stdoutBytes <= MAX_STDOUT) stdout.push(chunk);
        else kill(new EdgeloopError('SENSOR_READ', `command ${name} printed over ${MAX_STDOUT} bytes; it was killed`));
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < MAX_STDERR) stderr += chunk;
      });
      child.on('error', (cause) => {
        const why = `cannot run command ${name}: ${cause.message} (check the program path and cwd)`;
        failure ??= new EdgeloopError('SENSOR_READ', why, { cause });
      });
      // 'close' comes after the exit and after every holder of its stdout (children included) is gone.
      child.on('close', (code, sig) => {
        clearTimeout(killTimer);
        stop.removeEventListener('abort', onAbort);
        if (failure) return reject(failure);
        if (code !== 0) {
          const how = code === null ? `was killed by ${sig}` : `exited with code ${code}`;
          const first = stderr.trim().split('\n')[0]?.trim();
          return reject(new EdgeloopError('SENSOR_READ', `command ${name} ${how}${first ? `: ${first}` : ''}`));
        }
        try {
          resolve(parse(Buffer.concat(stdout).toString('utf8')));
        } catch (err) {
          reject(err);
        }
      });
    });

  return {
    read(signal) {
      const reading = run(signal);
      inflight.add(reading);
      const forget = () => inflight.delete(reading);
      reading.then(forget, forget);
      return reading;
    },
    async close() {
      closing.abort();
      await Promise.allSettled(inflight);
    },
  };
}

function check(o: CommandOptions): { key: string; message: string }[] {
  const problem = o.pattern === undefined ? undefined : patternProblem(o.pattern);
  return problem ? [{ key: 'pattern', message: problem }] : [];
}

export const command: DriverDefinition<CommandOptions> = { options: Options, check, create };
