// Last-resort cleanup for helper-spawned processes and temp dirs. Tests are
// expected to stop what they start in after(); this only covers the cases
// where they cannot: an assertion thrown before after() was registered, an
// uncaught error, or the test runner cancelling the file with a signal.
// Without it a failed run leaves brokers holding ports for the next run.
import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

function reap(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  reap();
  // Re-raise so the process still dies with the signal's default behaviour.
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', reap);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** SIGKILL `child` if this process exits while it is still running. */
export function killOnExit(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Remove `dir` if this process exits first; call the returned function once it was removed normally. */
export function removeOnExit(dir: string): () => void {
  install();
  dirs.add(dir);
  return () => dirs.delete(dir);
}
