// Who runs next: one FIFO per camera inside one bounded queue, served in fair order (the camera that has had the
// fewest model runs goes first), with a global budget of model runs per second shared fairly too. Requests that
// cannot be served are refused at once with a reason; nothing waits unboundedly.

export type SkipReason = 'queue_full' | 'budget' | 'stale' | 'timeout' | 'crashed' | 'aborted' | 'closed';

export const SKIP_REASONS: readonly SkipReason[] = ['queue_full', 'budget', 'stale', 'timeout', 'crashed', 'aborted', 'closed'];

export interface Ticket<T> {
  readonly camera: string;
  /** Model runs this request needs (one per region). */
  readonly cost: number;
  readonly enqueuedAt: number;
  readonly item: T;
}

export interface SchedulerOptions {
  /** Requests waiting at most, all cameras together. */
  capacity: number;
  /** Model runs per second for all cameras together; undefined for no budget. */
  budgetPerS?: number | undefined;
  /** A request that waited longer is refused as `stale` (its camera has newer frames by then). */
  maxWaitMs: number;
  now?: () => number;
}

interface CameraState<T> {
  queue: Ticket<T>[];
  /** Model runs dispatched, the camera's virtual time: the lowest goes first. */
  served: number;
  /** Admissions of the last second against the budget: [time, cost]. */
  recent: [number, number][];
  lastSeen: number;
}

/** A camera that asked within this window counts for the budget's fair share. */
const ACTIVE_MS = 2000;

export type Admission<T> = { ok: true; ticket: Ticket<T>; evicted?: Ticket<T> } | { ok: false; reason: 'queue_full' | 'budget' };

export class FairScheduler<T> {
  readonly capacity: number;
  readonly budgetPerS: number | undefined;
  readonly maxWaitMs: number;
  readonly #now: () => number;
  readonly #cameras = new Map<string, CameraState<T>>();
  #depth = 0;
  #tokens: number;
  #refilledAt: number;

  constructor(options: SchedulerOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError('capacity must be an integer >= 1');
    if (options.budgetPerS !== undefined && !(options.budgetPerS > 0)) throw new RangeError('budgetPerS must be > 0');
    this.capacity = options.capacity;
    this.budgetPerS = options.budgetPerS;
    this.maxWaitMs = options.maxWaitMs;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#refilledAt = this.#now();
  }

  /** Requests waiting, all cameras. */
  get depth(): number {
    return this.#depth;
  }

  depthOf(camera: string): number {
    return this.#cameras.get(camera)?.queue.length ?? 0;
  }

  /** Up to one second of budget can be used at once. */
  get #burst(): number {
    return this.budgetPerS ?? Infinity;
  }

  #camera(name: string): CameraState<T> {
    let state = this.#cameras.get(name);
    if (!state) {
      state = { queue: [], served: this.#minServed(), recent: [], lastSeen: this.#now() };
      this.#cameras.set(name, state);
    }
    return state;
  }

  /** The lowest virtual time among waiting cameras: a camera that was idle starts there, not with saved-up credit. */
  #minServed(): number {
    let min = Infinity;
    for (const c of this.#cameras.values()) if (c.queue.length > 0) min = Math.min(min, c.served);
    return Number.isFinite(min) ? min : Math.max(0, ...Array.from(this.#cameras.values(), (c) => c.served));
  }

  #refill(now: number): void {
    if (this.budgetPerS === undefined) return;
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) * this.budgetPerS) / 1000);
    this.#refilledAt = now;
  }

  /**
   * The budget's fair share: a camera that used less than budget / active cameras in the last second may take any
   * token left; one above its share only takes a token while one is still left for each other active camera.
   */
  #budgetAllows(state: CameraState<T>, cost: number, now: number): boolean {
    if (this.budgetPerS === undefined) return true;
    this.#refill(now);
    if (cost > this.#burst || this.#tokens < cost) return false;
    while (state.recent.length > 0 && now - state.recent[0]![0] > 1000) state.recent.shift();
    let active = 0;
    for (const c of this.#cameras.values()) if (now - c.lastSeen <= ACTIVE_MS) active++;
    const used = state.recent.reduce((n, [, c]) => n + c, 0);
    return used + cost <= this.budgetPerS / Math.max(active, 1) || this.#tokens >= cost + (active - 1);
  }

  admit(camera: string, cost: number, item: T): Admission<T> {
    const now = this.#now();
    const state = this.#camera(camera);
    state.lastSeen = now;
    if (!this.#budgetAllows(state, cost, now)) return { ok: false, reason: 'budget' };
    // Fair share of the queue: capacity / cameras waiting (this one included).
    let waiting = state.queue.length === 0 ? 1 : 0;
    for (const c of this.#cameras.values()) if (c.queue.length > 0) waiting++;
    const share = Math.ceil(this.capacity / waiting);
    if (state.queue.length >= share) return { ok: false, reason: 'queue_full' };
    let evicted: Ticket<T> | undefined;
    if (this.#depth >= this.capacity) {
      // Full, but this camera is under its share: the newest request of the longest queue makes room.
      let longest: CameraState<T> | undefined;
      for (const c of this.#cameras.values()) if (!longest || c.queue.length > longest.queue.length) longest = c;
      if (!longest || longest.queue.length <= state.queue.length + 1) return { ok: false, reason: 'queue_full' };
      evicted = longest.queue.pop()!;
      this.#depth--;
      this.#refund(evicted);
    }
    if (state.queue.length === 0) state.served = Math.max(state.served, this.#minServed());
    const ticket: Ticket<T> = { camera, cost, enqueuedAt: now, item };
    state.queue.push(ticket);
    this.#depth++;
    if (this.budgetPerS !== undefined) {
      this.#tokens -= cost;
      state.recent.push([now, cost]);
    }
    return evicted ? { ok: true, ticket, evicted } : { ok: true, ticket };
  }

  /**
   * The next request to run among those `canServe` accepts, in fair order. Requests found to have waited longer
   * than `maxWaitMs` are handed to `onStale` and skipped.
   */
  next(canServe: (ticket: Ticket<T>) => boolean, onStale: (ticket: Ticket<T>) => void): Ticket<T> | undefined {
    const now = this.#now();
    for (;;) {
      let pick: CameraState<T> | undefined;
      for (const c of this.#cameras.values()) {
        const head = c.queue[0];
        if (!head || !canServe(head)) continue;
        if (!pick || c.served < pick.served || (c.served === pick.served && head.enqueuedAt < pick.queue[0]!.enqueuedAt)) pick = c;
      }
      if (!pick) return undefined;
      const ticket = pick.queue.shift()!;
      this.#depth--;
      if (now - ticket.enqueuedAt > this.maxWaitMs) {
        this.#refund(ticket);
        onStale(ticket);
        continue;
      }
      pick.served += ticket.cost;
      return ticket;
    }
  }

  /** Takes a waiting request out (e.g. its caller gave up); false when it is no longer waiting. */
  remove(ticket: Ticket<T>): boolean {
    const queue = this.#cameras.get(ticket.camera)?.queue;
    const at = queue?.indexOf(ticket) ?? -1;
    if (at < 0) return false;
    queue!.splice(at, 1);
    this.#depth--;
    this.#refund(ticket);
    return true;
  }

  /** Every waiting request, removed. */
  drain(): Ticket<T>[] {
    const all: Ticket<T>[] = [];
    for (const c of this.#cameras.values()) all.push(...c.queue.splice(0));
    this.#depth = 0;
    return all;
  }

  /** Budget spent on a request that will not run is given back. */
  #refund(ticket: Ticket<T>): void {
    if (this.budgetPerS === undefined) return;
    this.#tokens = Math.min(this.#burst, this.#tokens + ticket.cost);
    const recent = this.#cameras.get(ticket.camera)?.recent;
    const at = recent?.findIndex(([t]) => t === ticket.enqueuedAt) ?? -1;
    if (at >= 0) recent!.splice(at, 1);
  }
}
