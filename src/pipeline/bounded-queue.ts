// A bounded FIFO whose policy decides what happens when it is full. Every drop is counted with its reason, and the
// caller is told so it can count it in metrics too.
// - drop-oldest: the oldest item makes room (the freshest data wins);
// - drop-newest: the new item is refused (what is queued wins);
// - block: the producer waits for room (`put`), up to the deadline it gives; what still finds no room then is dropped.

export type QueuePolicy = 'drop-oldest' | 'drop-newest' | 'block';
export type DropReason = 'overflow-oldest' | 'overflow-newest' | 'block-timeout';

export interface QueueOptions<T> {
  capacity: number;
  policy: QueuePolicy;
  onDrop?: (reason: DropReason, item: T) => void;
}

export class BoundedQueue<T> {
  readonly capacity: number;
  readonly policy: QueuePolicy;
  readonly drops: Record<DropReason, number> = { 'overflow-oldest': 0, 'overflow-newest': 0, 'block-timeout': 0 };
  #ring: (T | undefined)[];
  #head = 0;
  #size = 0;
  #onDrop: ((reason: DropReason, item: T) => void) | undefined;
  #readers: (() => void)[] = [];
  #writers: (() => void)[] = [];
  #closed = false;

  constructor(options: QueueOptions<T>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError('capacity must be an integer >= 1');
    this.capacity = options.capacity;
    this.policy = options.policy;
    this.#onDrop = options.onDrop;
    this.#ring = new Array<T | undefined>(options.capacity);
  }

  get size(): number {
    return this.#size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get full(): boolean {
    return this.#size === this.capacity;
  }

  /** Every item dropped so far, whatever the reason. */
  get dropped(): number {
    return this.drops['overflow-oldest'] + this.drops['overflow-newest'] + this.drops['block-timeout'];
  }

  /**
   * Adds an item without ever waiting. When full: `drop-oldest` evicts the head, `drop-newest` (and `block`, which
   * only waits through `put`) refuses the item. Returns false when the offered item itself was dropped.
   */
  offer(item: T): boolean {
    if (this.#closed) return false;
    if (this.#size === this.capacity) {
      if (this.policy === 'drop-oldest') {
        this.#drop('overflow-oldest', this.#removeHead());
      } else {
        this.#drop('overflow-newest', item);
        return false;
      }
    }
    this.#ring[(this.#head + this.#size) % this.capacity] = item;
    this.#size++;
    this.#wake(this.#readers);
    return true;
  }

  /**
   * Adds an item, waiting for room under the `block` policy until `deadline` aborts; other policies behave as
   * `offer`. An item that found no room by the deadline (or when the queue closed) is dropped as `block-timeout`.
   */
  async put(item: T, deadline?: AbortSignal): Promise<boolean> {
    while (this.policy === 'block' && this.#size === this.capacity && !this.#closed) {
      if (deadline?.aborted) {
        this.#drop('block-timeout', item);
        return false;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          deadline?.removeEventListener('abort', wake);
          resolve();
        };
        this.#writers.push(wake);
        deadline?.addEventListener('abort', wake, { once: true });
      });
    }
    if (this.policy === 'block' && this.#closed) {
      this.#drop('block-timeout', item);
      return false;
    }
    return this.offer(item);
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#removeHead();
    this.#wake(this.#writers);
    return item;
  }

  /** Takes up to `max` items at once (for batching consumers). */
  drain(max = Infinity): T[] {
    const n = Math.min(max, this.#size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.#removeHead();
    if (n > 0) this.#wake(this.#writers);
    return out;
  }

  /** Resolves when an item is available or the queue is closed. */
  async readable(): Promise<void> {
    if (this.#size > 0 || this.#closed) return;
    await new Promise<void>((resolve) => this.#readers.push(resolve));
  }

  /** Refuses further items and releases every waiter; items already queued can still be taken. */
  close(): void {
    this.#closed = true;
    this.#wake(this.#readers);
    this.#wake(this.#writers);
  }

  #removeHead(): T {
    const item = this.#ring[this.#head] as T;
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return item;
  }

  #drop(reason: DropReason, item: T): void {
    this.drops[reason]++;
    this.#onDrop?.(reason, item);
  }

  #wake(waiters: (() => void)[]): void {
    if (waiters.length === 0) return;
    const all = waiters.splice(0);
    for (const w of all) w();
  }
}
