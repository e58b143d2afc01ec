/**
 * A float32 NCHW tensor that lives on the device.
 *
 * Tensors are cheap handles on pooled buffers. One lifetime model: scopes (`Runtime.scope`) release
 * everything created inside them that the caller did not return or `keep()`; `release()` hands a
 * buffer back at once, kept or not; a tape holds what its ops saved until `Tape.dispose`, which spares
 * the tensors it is told to hand on (values and gradients).
 */
import type { Runtime } from "./runtime.ts";

let nextId = 1;

/** A float32 tensor on the device (see the module doc). */
export class Tensor {
  /** Unique id, for messages and derived-tensor caches. */
  readonly id = nextId++;
  /** Number of elements: the product of the shape. */
  readonly size: number;
  #buffer: GPUBuffer | null;
  #byteOffset = 0;
  /** True when the buffer belongs to someone else (an arena): release() must not pool it. */
  #borrowed = false;
  /** Parameters and other long-lived tensors survive scopes. */
  persistent = false;
  /** Leaf tensors whose gradient `backward` should return. */
  requiresGrad = false;
  /** Set on outputs of recorded ops, so gradients flow through them. */
  tracked = false;
  /** Optional name (state-dict key for parameters), used in error messages. */
  name?: string;

  /** For views: the tensor that owns the buffer. */
  readonly base: Tensor | null;

  /** A tensor of `shape` on `buffer`, or a view sharing another tensor's buffer. */
  constructor(readonly rt: Runtime, readonly shape: readonly number[], buffer: GPUBuffer | Tensor) {
    this.size = shape.reduce((a, s) => a * s, 1);
    if (buffer instanceof Tensor) {
      this.base = buffer.base ?? buffer;
      this.#buffer = null;
    } else {
      this.base = null;
      this.#buffer = buffer;
    }
  }

  /** The device buffer holding the data (the base's for views); throws after release. */
  get buffer(): GPUBuffer {
    if (this.base) return this.base.buffer;
    if (!this.#buffer) {
      throw new Error(`tensor ${this.name ?? "#" + this.id} [${this.shape}] used after release`);
    }
    return this.#buffer;
  }

  /** Byte offset of this tensor's data in its buffer (non-zero only for arena slices). */
  get byteOffset(): number {
    return this.base ? this.base.byteOffset : this.#byteOffset;
  }

  /** True for tensors that are slices of a larger buffer: bindings must name their range. */
  get isSlice(): boolean {
    return this.base ? this.base.isSlice : this.#borrowed;
  }

  /**
   * Moves the tensor's storage to `byteOffset` of a buffer owned elsewhere (a parameter arena),
   * handing its own buffer back to the pool. The caller copies the contents across first. The
   * same object keeps serving every layer that holds it.
   */
  rebind(buffer: GPUBuffer, byteOffset: number): void {
    if (this.base) throw new Error(`cannot rebind a view (${this})`);
    if (this.#buffer && !this.#borrowed) this.rt.pool.release(this.#buffer);
    this.#buffer = buffer;
    this.#byteOffset = byteOffset;
    this.#borrowed = true;
  }

  /** True once the buffer has gone back to the pool (for views: the base's). */
  get released(): boolean {
    return this.base ? this.base.released : this.#buffer === null;
  }

  /** Size of the data in bytes (4 per element). */
  get bytes(): number {
    return this.size * 4;
  }

  /** Returns the buffer to the pool, kept or not. Idempotent; a no-op on views (the base owns the buffer). */
  release(): void {
    if (this.#buffer) {
      if (!this.#borrowed) this.rt.pool.release(this.#buffer);
      this.#buffer = null;
    }
  }

  /** Marks the tensor as long-lived (kept by every scope until released explicitly). */
  keep(): this {
    this.persistent = true;
    return this;
  }

  /** A view with another shape of the same size; it shares (and never releases) the base's buffer. */
  reshape(shape: readonly number[]): Tensor {
    const n = shape.reduce((a, s) => a * s, 1);
    if (n !== this.size) throw new Error(`cannot reshape [${this.shape}] to [${shape}]`);
    return new Tensor(this.rt, shape, this);
  }

  /** Reads the tensor back (a CPU-GPU sync: about 11 ms on llvmpipe, so rarely). */
  read(): Promise<Float32Array> {
    return this.rt.read(this);
  }

  /** `Tensor(<name or #id>, [shape])`, for messages. */
  toString(): string {
    return `Tensor(${this.name ?? "#" + this.id}, [${this.shape}])`;
  }
}
