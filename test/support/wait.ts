export interface WaitUntilOptions<T> {
  /** Returns the awaited value once the condition holds, undefined otherwise; throwing rejects the wait. */
  check: () => T | undefined;
  /** Calls `recheck` whenever the condition may have changed; returns an unsubscribe function. */
  subscribe: (recheck: () => void) => () => void;
  timeoutMs: number;
  /** Builds the timeout error message, so a failure says what was awaited and what was seen instead. */
  describe: () => string;
}

/** Event-driven wait: re-evaluates `check` only when `subscribe` signals a change, never on a timer. */
export function waitUntil<T>(opts: WaitUntilOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let unsubscribe: () => void = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${opts.timeoutMs} ms: ${opts.describe()}`));
    }, opts.timeoutMs);
    const settle = (): boolean => {
      try {
        const value = opts.check();
        if (value === undefined) return false;
        clearTimeout(timer);
        unsubscribe();
        resolve(value);
      } catch (err) {
        clearTimeout(timer);
        unsubscribe();
        reject(err as Error);
      }
      return true;
    };
    if (settle()) return;
    unsubscribe = opts.subscribe(() => void settle());
  });
}

