// Reconnect delays: doubling from MIN to MAX, each a random point in [delay/2, delay] so the pages of a fleet (or the
// tabs of one user) do not come back in lockstep after the gateway restarts.
export const RECONNECT_MIN_MS = 500;
export const RECONNECT_MAX_MS = 15_000;

export class Backoff {
  #attempt = 0;
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  next(): number {
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return Math.round(delay / 2 + (this.#random() * delay) / 2);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
