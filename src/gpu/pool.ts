/**
 * Buffer pool: device buffers are recycled by size class instead of created per op.
 *
 * A buffer released while commands that use it are still being recorded may be handed out again to
 * a *kernel* in the same recording (the queue runs them in order), but never to an upload:
 * `queue.writeBuffer` would land before the recorded commands that still read the old contents.
 */

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Rounds a byte size up to a class with four steps per octave (at most 25% waste). */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 256) * 256);
  const p = 2 ** Math.floor(Math.log2(b));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const c = Math.ceil((p * f) / 256) * 256;
    if (c >= b) return c;
  }
  return 2 * p;
}

/** Device buffers recycled by size class. */
export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  /** Released since the last submit: safe for kernels, not for uploads. */
  #pending = new Map<number, GPUBuffer[]>();
  #live = 0;
  #liveBytes = 0;
  #peakBytes = 0;
  #created = 0;

  /** Pools buffers of `device`; no size class may exceed `maxBufferSize` bytes. */
  constructor(readonly device: GPUDevice, readonly maxBufferSize: number) {}

  /** A buffer of at least `bytes`; `forUpload` excludes buffers still referenced by unsubmitted work. */
  acquire(bytes: number, forUpload = false): GPUBuffer {
    const cls = sizeClass(bytes);
    if (cls > this.maxBufferSize) {
      throw new Error(`tensor of ${bytes} bytes exceeds the adapter's maxBufferSize (${this.maxBufferSize})`);
    }
    // Kernels take buffers released in this recording first, leaving free ones to uploads, which cannot
    // take those: otherwise every step that uploads after its kernels drained a size class adds a buffer.
    let buf = forUpload ? undefined : this.#pending.get(cls)?.pop();
    if (!buf) buf = this.#free.get(cls)?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size: cls, usage: USAGE });
      this.#created++;
    }
    this.#live++;
    this.#liveBytes += cls;
    this.#peakBytes = Math.max(this.#peakBytes, this.#liveBytes);
    return buf;
  }

  /** Returns `buf` to its size class; kernels may reuse it at once, uploads only after the next submit. */
  release(buf: GPUBuffer): void {
    const cls = buf.size;
    let list = this.#pending.get(cls);
    if (!list) this.#pending.set(cls, list = []);
    list.push(buf);
    this.#live--;
    this.#liveBytes -= cls;
  }

  /** Called after each submit: pending buffers become free for any use. */
  submitted(): void {
    for (const [cls, list] of this.#pending) {
      let free = this.#free.get(cls);
      if (!free) this.#free.set(cls, free = []);
      free.push(...list);
    }
    this.#pending.clear();
  }

  /** Destroys every pooled (not live) buffer. */
  trim(): void {
    this.submitted();
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
  }

  /** Starts a new high-water mark from what is live now (to measure one piece of work). */
  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
  }

  /** Live buffers and bytes, the high-water mark, and how many buffers were ever created. */
  stats(): { live: number; liveBytes: number; peakBytes: number; created: number } {
    return {
      live: this.#live,
      liveBytes: this.#liveBytes,
      peakBytes: this.#peakBytes,
      created: this.#created,
    };
  }
}
