// Reused frame buffers. A fresh 0.5 MB ArrayBuffer per frame costs ~1.5 ms of CPU here (zeroed pages faulted in),
// copying into a kept one ~0.01 ms: frames are copied into buffers that travel to a worker and come back with its
// answer. Bounded: a few buffers of the last few sizes.

const PER_SIZE = 8;
const SIZES = 4;

export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>();

  take(size: number): ArrayBuffer {
    return this.#free.get(size)?.pop() ?? new ArrayBuffer(size);
  }

  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === 0) return;
    let list = this.#free.get(buffer.byteLength);
    if (!list) {
      // A new size (a camera's detect size changed): the least recently added size goes.
      if (this.#free.size >= SIZES) this.#free.delete(this.#free.keys().next().value!);
      list = [];
      this.#free.set(buffer.byteLength, list);
    }
    if (list.length < PER_SIZE) list.push(buffer);
  }
}
