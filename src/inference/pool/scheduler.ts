// Who runs next: one FIFO per camera inside one bounded queue, served in fair order (the camera that has had the
// fewest model runs goes first), with a global budget of model runs per second shared fairly too: a token bucket
// per active camera filled at budget / cameras, whose overflow goes to a shared bucket anyone may draw on, so a
// camera that asks less leaves its unused share to the others. Requests that cannot be served are refused at once
// with a reason; nothing waits unboundedly.

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
  /** Its own budget tokens. */
  tokens: number;
  lastSeen: number;
}

/** A camera that asked within this window counts for the budget's fair share. */
const ACTIVE_MS = 2000;
/** Float sums of refills are not exact: 20 × 0.05 may fall short of 1. */
const EPSILON = 1e-9;

export type Admission<T> = { ok: true; ticket: Ticket<T>; evicted?: Ticket<T> } | { ok: false; reason: 'queue_full' | 'budget' };

export class FairScheduler<T> {
  readonly capacity: number;
  readonly budgetPerS: number | undefined;
  readonly maxWaitMs: number;
  readonly #now: () => number;
  readonly #cameras = new Map<string, CameraState<T>>();
  #depth = 0;
  /** Budget tokens anyone may use: the first second's burst and what full camera buckets overflow. */
  #shared: number;
  #refilledAt: number;

  constructor(options: SchedulerOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError('capacity must be an integer >= 1');
    if (options.budgetPerS !== undefined && !(options.budgetPerS > 0)) throw new RangeError('budgetPerS must be > 0');
    this.capacity = options.capacity;
    this.budgetPerS = options.budgetPerS;
    this.maxWaitMs = options.maxWaitMs;
    this.#now = options.now ?? (() => performance.now());
    // Up to one second of budget can be used at once.
    this.#shared = this.budgetPerS ?? 0;
    this.#refilledAt = this.#now();
  }

  /** Requests waiting, all cameras. */
  get depth(): number {
    return this.#depth;
  }

  depthOf(camera: string): number {
    return this.#cameras.get(camera)?.queue.length ?? 0;
  }

  #camera(name: string): CameraState<T> {
    let state = this.#cameras.get(name);
    if (!state) {
      state = { queue: [], served: this.#minServed(), tokens: 0, lastSeen: this.#now() };
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

  /** Shares the tokens earned since the last refill among the active cameras; what their buckets cannot hold is shared. */
  #refill(rate: number, now: number): void {
    const active = [...this.#cameras.values()].filter((c) => now - c.lastSeen <= ACTIVE_MS);
    const n = Math.max(active.length, 1);
    const each = ((now - this.#refilledAt) * rate) / 1000 / n;
    this.#refilledAt = now;
    let spill = active.length === 0 ? each : 0;
    for (const c of this.#cameras.values()) {
      if (now - c.lastSeen > ACTIVE_MS) {
        // An idle camera's saved tokens go back to everyone.
        spill += c.tokens;
        c.tokens = 0;
        continue;
      }
      const kept = Math.min(each, Math.max(rate / n - c.tokens, 0));
      c.tokens += kept;
      spill += each - kept;
    }
    const held = active.reduce((sum, c) => sum + c.tokens, 0);
    this.#shared = Math.min(this.#shared + spill, Math.max(rate - held, 0));
  }

  /** Takes `cost` tokens from the camera's own bucket, then from the shared one; false when they do not add up. */
  #spend(state: CameraState<T>, cost: number, now: number): boolean {
    if (this.budgetPerS === undefined) return true;
    this.#refill(this.budgetPerS, now);
    if (state.tokens + this.#shared + EPSILON < cost) return false;
    const own = Math.min(state.tokens, cost);
    state.tokens -= own;
    this.#shared = Math.max(this.#shared - (cost - own), 0);
    return true;
  }

  admit(camera: string, cost: number, item: T): Admission<T> {
    const now = this.#now();
    const state = this.#camera(camera);
    state.lastSeen = now;
    // Fair share of the queue: capacity / cameras waiting (this one included).
    let waiting = state.queue.length === 0 ? 1 : 0;
    for (const c of this.#cameras.values()) if (c.queue.length > 0) waiting++;
    if (state.queue.length >= Math.ceil(this.capacity / waiting)) return { ok: false, reason: 'queue_full' };
    // Full, but this camera is under its share: the newest request of the longest queue will make room.
    let longest: CameraState<T> | undefined;
    if (this.#depth >= this.capacity) {
      for (const c of this.#cameras.values()) if (!longest || c.queue.length > longest.queue.length) longest = c;
      if (!longest || longest.queue.length <= state.queue.length + 1) return { ok: false, reason: 'queue_full' };
    }
    if (!this.#spend(state, cost, now)) return { ok: false, reason: 'budget' };
    let evicted: Ticket<T> | undefined;
    if (longest) {
      evicted = longest.queue.pop()!;
      this.#depth--;
      this.#refund(evicted);
    }
    if (state.queue.length === 0) state.served = Math.max(state.served, this.#minServed());
    const ticket: Ticket<T> = { camera, cost, enqueuedAt: now, item };
    state.queue.push(ticket);
    this.#depth++;
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

  /** Budget spent on a request that will not run goes back to its camera. */
  #refund(ticket: Ticket<T>): void {
    const state = this.#cameras.get(ticket.camera);
    if (this.budgetPerS !== undefined && state) state.tokens += ticket.cost;
  }
}
