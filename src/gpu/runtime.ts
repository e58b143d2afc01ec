/**
 * The tensor runtime: pipeline cache, command recording, uniform ring, scopes and readback.
 *
 * Kernels are *recorded* into one command encoder and submitted together; nothing waits for the
 * device until `read()` (a sync costs about 11 ms on llvmpipe). Each dispatch gets a 256-byte slot of
 * a uniform ring for its parameters; the whole ring is uploaded once, just before the submit.
 */
import { getGpu, type Gpu } from "./device.ts";
import { BufferPool } from "./pool.ts";
import { Tensor } from "./tensor.ts";
import { Tape } from "./tape.ts";
import { copyToImage, fitsImage, Image, IMAGE_WIDTH, ImagePool } from "./image.ts";
import { wgslSource } from "./wgsl.ts";
import type { DispatchProfiler } from "./profiler.ts";

/**
 * A binding: a tensor, a raw buffer, an image's texture view (src/gpu/image.ts), or null for a binding
 * the entry point does not use.
 */
export type Binding = Tensor | GPUBuffer | GPUTextureView | null;

/** What {@link Runtime.derived} caches: a tensor or an image. */
export type Derived = Tensor | Image;

/** Compiled entry point of a kernel file (cached by file, entry and override constants). */
export interface Kernel {
  /** `<file>.wgsl:<entry>`, used in error messages and profiles. */
  readonly label: string;
  /** The compute pipeline. */
  readonly pipeline: GPUComputePipeline;
}

const RING_SLOTS = 8192;

/** Reinterprets a float as the u32 bit pattern WGSL's `bitcast<f32>` turns back into it. */
export function f32bits(x: number): number {
  F32[0] = x;
  return U32[0];
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The device, its buffer pool, the command recording and the uniform ring. */
export class Runtime {
  /** The shared device (`gpu.device`). */
  readonly device: GPUDevice;
  /** Recycled storage buffers of the device. */
  readonly pool: BufferPool;
  /** Storage textures for images of tensors (src/gpu/image.ts). */
  readonly images: ImagePool;
  /**
   * Whether kernels of the "cpu" family read their big operands through images: on a CPU rasteriser
   * whose WGSL has read-only storage textures. Settable (tests run both ways).
   */
  useImages: boolean;
  #modules = new Map<string, GPUShaderModule>();
  #kernels = new Map<string, Kernel>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #ring: GPUBuffer;
  #ringData: Uint32Array;
  #slot = 0;
  #slotWords: number;
  #scopes: Set<Tensor>[] = [];
  #frozen = 0;
  /** Uniform buffers by size, never pooled (the pool holds storage buffers). */
  #uniformScratch = new Map<number, Tensor[]>();
  /** Tensors and images derived from parameters while they are frozen, by source tensor id and kind. */
  #derived = new Map<
    string,
    { t: Derived; source: Tensor; buffer: GPUBuffer; offset: number; version: number }
  >();
  #sweepAt = 64;
  /** Writes recorded per buffer (see {@link Runtime.derived}). */
  #writes = new WeakMap<GPUBuffer, number>();
  /** Keys of the derived tensors made from each buffer's contents. */
  #derivedFrom = new WeakMap<GPUBuffer, Set<string>>();
  /** Labels of kernels recorded since the last check, to name the culprit of an async error. */
  #recent: string[] = [];
  /** The active autograd tape (null: ops are not recorded). */
  tape: Tape | null = null;
  /** Counters since start: dispatches recorded and command buffers submitted. */
  dispatches = 0;
  /** Command buffers submitted since start. */
  submits = 0;
  /** When set, each dispatch runs in its own timestamped pass (`deno task bench --profile`). */
  profiler: DispatchProfiler | null = null;
  /** Names that {@link Runtime.tagged} puts before the profiled kernels' labels. */
  #tags: string[] = [];

  /** Creates the buffer pool and the uniform ring on `gpu`'s device. */
  constructor(readonly gpu: Gpu) {
    this.device = gpu.device;
    this.pool = new BufferPool(gpu.device, Math.min(gpu.limits.maxBufferSize, 2 ** 40));
    this.images = new ImagePool(gpu.device, gpu.limits.maxTextureDimension2D);
    this.useImages = gpu.profile === "cpu" &&
      navigator.gpu.wgslLanguageFeatures?.has("readonly_and_readwrite_storage_textures") === true;
    const align = Math.max(256, gpu.limits.minUniformBufferOffsetAlignment);
    this.#slotWords = align / 4;
    this.#ring = this.device.createBuffer({
      size: align * RING_SLOTS,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#ringData = new Uint32Array(this.#slotWords * RING_SLOTS);
  }

  /** Largest tensor (in float32 elements) a kernel may bind. */
  get maxBindingElements(): number {
    return Math.floor(this.gpu.limits.maxStorageBufferBindingSize / 4);
  }

  // ---------------------------------------------------------------- tensors

  /** An uninitialised tensor (contents are whatever the pooled buffer held). */
  empty(shape: readonly number[]): Tensor {
    const n = shape.reduce((a, s) => a * s, 1);
    if (!Number.isInteger(n) || n < 0) throw new Error(`invalid tensor shape [${shape}]`);
    if (n * 4 > this.gpu.limits.maxStorageBufferBindingSize) {
      throw new Error(
        `tensor [${shape}] needs ${n * 4} bytes, above this adapter's maxStorageBufferBindingSize ` +
          `(${this.gpu.limits.maxStorageBufferBindingSize}); use a smaller batch or patches`,
      );
    }
    const t = new Tensor(this, shape, this.pool.acquire(Math.max(4, n * 4)));
    this.#track(t);
    return t;
  }

  /**
   * Uploads host data into a new tensor. Int32/Uint32 data (index tables) keep their bit patterns:
   * kernels bind such tensors as array<i32> or array<u32>.
   */
  upload(data: Float32Array | Int32Array | Uint32Array, shape: readonly number[]): Tensor {
    const n = shape.reduce((a, s) => a * s, 1);
    if (data.length !== n) throw new Error(`upload: ${data.length} values for shape [${shape}]`);
    const t = new Tensor(this, shape, this.pool.acquire(Math.max(4, n * 4), true));
    this.#track(t);
    this.wrote(t.buffer);
    if (n > 0) this.device.queue.writeBuffer(t.buffer, 0, data as Float32Array<ArrayBuffer>, 0, n);
    return t;
  }

  /** Overwrites a tensor's contents from the host (queued after everything already submitted). */
  write(t: Tensor, data: Float32Array): void {
    if (data.length !== t.size) throw new Error(`write: ${data.length} values for ${t}`);
    this.flush(); // recorded-but-unsubmitted work must see the old contents
    this.wrote(t.buffer);
    this.device.queue.writeBuffer(t.buffer, t.byteOffset, data as Float32Array<ArrayBuffer>, 0, t.size);
  }

  /** Reads a tensor back to the host. Submits pending work and waits for it. */
  async read(t: Tensor): Promise<Float32Array> {
    return (await this.readAll([t]))[0];
  }

  /**
   * Reads several tensors back with one sync: each is copied into one staging buffer, mapped once
   * (a sync costs about 11 ms on llvmpipe; a state dict of 140 tensors read one by one costs 1.5 s).
   */
  async readAll(ts: readonly Tensor[]): Promise<Float32Array[]> {
    const offsets: number[] = [];
    let total = 0;
    for (const t of ts) {
      offsets.push(total);
      total += Math.ceil(Math.max(4, t.bytes) / 4) * 4;
    }
    const staging = this.device.createBuffer({
      size: Math.max(4, total),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#endPass();
    ts.forEach((t, i) => {
      if (t.bytes > 0) this.#enc().copyBufferToBuffer(t.buffer, t.byteOffset, staging, offsets[i], t.bytes);
    });
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.checkErrors();
      throw e;
    }
    this.checkErrors();
    const all = staging.getMappedRange();
    const out = ts.map((t, i) => new Float32Array(all.slice(offsets[i], offsets[i] + t.bytes)));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Throws if the device reported an error since the last check, naming the kernels recorded meanwhile. */
  checkErrors(): void {
    if (this.gpu.lost) throw new Error(this.gpu.lost);
    if (this.gpu.pendingErrors.length) {
      const msgs = this.gpu.pendingErrors.splice(0);
      const kernels = [...new Set(this.#recent)].slice(-12).join(", ");
      this.#recent = [];
      throw new Error(
        `WebGPU error (kernels recorded since the last check: ${kernels}):\n${msgs.join("\n")}`,
      );
    }
    this.#recent = [];
  }

  /** Waits until the device has finished everything submitted (for benchmarks). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.checkErrors();
  }

  // ---------------------------------------------------------------- scopes

  /**
   * Runs `fn` and releases every tensor it created except the ones it returns (a tensor, an array or
   * an object of tensors), persistent ones, and those saved by the active tape.
   */
  scope<T>(fn: () => T): T {
    const created = new Set<Tensor>();
    this.#scopes.push(created);
    let result: T;
    try {
      result = fn();
    } finally {
      this.#scopes.pop();
    }
    const keep = new Set<Tensor>();
    collectTensors(result, keep);
    const outer = this.#scopes[this.#scopes.length - 1];
    for (const t of created) {
      if (keep.has(t) || t.persistent || this.tape?.holds(t)) outer?.add(t);
      else t.release();
    }
    return result;
  }

  // ---------------------------------------------------------------- uniform scratch buffers

  /**
   * The `i`-th uniform buffer of `floats` floats (COPY_DST | UNIFORM), made on first use and reused by
   * every later call: for kernels that copy a slice of a tensor into a uniform binding before each
   * dispatch (commands run in order, so one buffer serves successive dispatches).
   */
  uniformScratch(i: number, floats: number): Tensor {
    let list = this.#uniformScratch.get(floats);
    if (!list) this.#uniformScratch.set(floats, list = []);
    while (list.length <= i) {
      const buffer = this.device.createBuffer({
        label: `uniform scratch ${floats} #${list.length}`,
        size: floats * 4,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      list.push(new Tensor(this, [floats], buffer).keep());
    }
    return list[i];
  }

  // ---------------------------------------------------------------- profiling tags

  /**
   * Runs `fn` with its kernels profiled as `<tag> <file>.wgsl:<entry>`: work a shared kernel does for one
   * op (matmul's Winograd products) is then counted as that op's in `deno task bench --profile`.
   */
  tagged<T>(tag: string, fn: () => T): T {
    this.#tags.push(tag);
    try {
      return fn();
    } finally {
      this.#tags.pop();
    }
  }

  #profileLabel(label: string): string {
    const tag = this.#tags[this.#tags.length - 1];
    return tag ? `${tag} ${label}` : label;
  }

  // ---------------------------------------------------------------- derived tensors

  /**
   * Notes that `buffer` is written by work recorded now (a kernel's read_write binding, a copy, a host
   * write): tensors derived from it before are stale from here on, and go back to the pool now rather
   * than when next asked for, so that a training step's peak holds one version of them, not two (work
   * recorded earlier reads them first: commands run in order).
   */
  wrote(buffer: GPUBuffer): void {
    this.#writes.set(buffer, (this.#writes.get(buffer) ?? 0) + 1);
    this.#dropDerivedFrom(buffer);
  }

  /** Releases what was derived from `buffer`'s contents, and what was derived from that in turn. */
  #dropDerivedFrom(buffer: GPUBuffer): void {
    const keys = this.#derivedFrom.get(buffer);
    if (!keys) return;
    this.#derivedFrom.delete(buffer);
    for (const key of keys) {
      const e = this.#derived.get(key);
      if (e?.buffer !== buffer) continue;
      this.#releaseDerived(e.t);
      this.#derived.delete(key);
    }
  }

  /** Releases a derived tensor or image, first the images and tensors derived from a tensor's buffer. */
  #releaseDerived(t: Derived): void {
    if (t instanceof Tensor && !t.released) this.#dropDerivedFrom(t.buffer);
    t.release();
  }

  /**
   * Keeps the tensors derived from parameters until the returned function is called, then releases
   * them (generation, validation: the memory goes back when the run ends). Calls nest.
   */
  freezeParameters(): () => void {
    this.#frozen++;
    let thawed = false;
    return () => {
      if (thawed) return;
      thawed = true;
      if (--this.#frozen > 0) return;
      for (const e of this.#derived.values()) e.t.release(); // all of them: no chains to follow
      this.#derived.clear();
    };
  }

  /**
   * The tensor or image `make` gives for (`source`, `kind`), e.g. a convolution's weight layout: made once
   * per version of the source's contents and reused until something writes the source's buffer (an
   * optimiser step, a checkpoint load), so an inference forward lays its weights out once, not per call.
   */
  derived<T extends Derived>(source: Tensor, kind: string, make: () => T): T {
    const key = `${source.id}:${kind}`;
    const buffer = source.buffer; // a tensor may be rebound to another buffer (a parameter arena)
    const version = this.#writes.get(buffer) ?? 0;
    const e = this.#derived.get(key);
    const offset = source.byteOffset;
    if (e && e.buffer === buffer && e.offset === offset && e.version === version && !e.t.released) {
      return e.t as T;
    }
    if (e) this.#releaseDerived(e.t);
    const t = make().keep() as T;
    this.#derived.set(key, { t, source, buffer, offset, version });
    let keys = this.#derivedFrom.get(buffer);
    if (!keys) this.#derivedFrom.set(buffer, keys = new Set());
    keys.add(key);
    if (this.#derived.size > this.#sweepAt) {
      // tensors derived from released sources (a discarded network) go back to the pool
      for (const [k, d] of this.#derived) {
        if (d.source.released) {
          this.#releaseDerived(d.t);
          this.#derived.delete(k);
        }
      }
      this.#sweepAt = 2 * Math.max(32, this.#derived.size);
    }
    return t;
  }

  #track(t: Tensor): void {
    const s = this.#scopes[this.#scopes.length - 1];
    if (s) s.add(t);
  }

  // ---------------------------------------------------------------- kernels

  /** Compiles (once) an entry point of `kernels/<file>.wgsl` with the given override constants. */
  kernel(file: string, entry: string, constants: Record<string, number> = {}): Kernel {
    const ckeys = Object.keys(constants).sort();
    const key = `${file}:${entry}:${ckeys.map((k) => `${k}=${constants[k]}`).join(",")}`;
    let k = this.#kernels.get(key);
    if (k) return k;
    let module = this.#modules.get(file);
    if (!module) {
      const code = wgslSource(file);
      module = this.device.createShaderModule({ label: file, code });
      this.#modules.set(file, module);
    }
    const label = `${file}.wgsl:${entry}`;
    const pipeline = this.device.createComputePipeline({
      label,
      layout: "auto",
      compute: { module, entryPoint: entry, constants },
    });
    k = { label, pipeline };
    this.#kernels.set(key, k);
    return k;
  }

  /**
   * Records one dispatch. Binding 0 is the uniform `params` (u32 words; use `f32bits` for floats),
   * bindings 1.. are `buffers` in order (null skips a binding number).
   */
  dispatch(
    k: Kernel,
    params: ArrayLike<number>,
    buffers: Binding[],
    workgroups: [number, number?, number?],
    /** Whether binding number `slot` is written (read_write): its buffer counts as written. */
    writes: (slot: number) => boolean = () => true,
  ): void {
    if (this.gpu.lost) throw new Error(`${this.gpu.lost} (while recording ${k.label})`);
    if (params.length > this.#slotWords) throw new Error(`${k.label}: too many parameters`);
    if (this.#slot === RING_SLOTS) this.flush();
    const offset = this.#slot * this.#slotWords;
    this.#ringData.set(params, offset);
    this.#slot++;
    const entries: GPUBindGroupEntry[] = [];
    if (params.length > 0) {
      entries.push({
        binding: 0,
        resource: { buffer: this.#ring, offset: offset * 4, size: this.#slotWords * 4 },
      });
    }
    buffers.forEach((b, i) => {
      if (!b) return;
      if (b instanceof GPUTextureView) {
        entries.push({ binding: i + 1, resource: b });
        return;
      }
      if (writes(i + 1)) this.wrote(b instanceof Tensor ? b.buffer : b);
      const resource = !(b instanceof Tensor)
        ? { buffer: b }
        : b.isSlice
        ? { buffer: b.buffer, offset: b.byteOffset, size: Math.max(4, b.bytes) }
        : { buffer: b.buffer };
      entries.push({ binding: i + 1, resource });
    });
    const bindGroup = this.device.createBindGroup({
      label: k.label,
      layout: k.pipeline.getBindGroupLayout(0),
      entries,
    });
    const [x, y = 1, z = 1] = workgroups;
    const maxDim = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim || y > maxDim || z > maxDim) {
      throw new Error(
        `${k.label}: dispatch [${x},${y},${z}] exceeds maxComputeWorkgroupsPerDimension ${maxDim}`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    const prof = this.profiler;
    if (prof) {
      if (prof.full) this.flush();
      this.#endPass();
    }
    const pass = prof
      ? (this.#pass = this.#enc().beginComputePass({
        timestampWrites: prof.next(this.#profileLabel(k.label)),
      }))
      : this.#beginPass();
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (prof) this.#endPass();
    this.dispatches++;
    this.#recent.push(k.label);
    if (this.#recent.length > 256) this.#recent.splice(0, 128);
  }

  /**
   * Workgroup counts covering `n` invocations of `wgSize` threads, folded into y when x would exceed
   * the per-dimension limit. Kernels rebuild the index as `gid.x + gid.y * nwg.x * wgSize`.
   */
  grid(n: number, wgSize: number): [number, number] {
    const groups = Math.ceil(n / wgSize);
    const maxDim = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= maxDim) return [Math.max(groups, 1), 1];
    const y = Math.ceil(groups / maxDim);
    return [Math.ceil(groups / y), y];
  }

  /** Whether {@link imageOf} can copy `t`: whole texels, starting on one, within the adapter's rows. */
  imageable(t: Tensor): boolean {
    return fitsImage(t.size, t.byteOffset, this.images.maxRows);
  }

  /**
   * An image of `t` (src/gpu/image.ts), its copy recorded now; release it once the dispatches reading it
   * are recorded. `t` must be {@link imageable}.
   */
  imageOf(t: Tensor): Image {
    if (!this.imageable(t)) {
      throw new Error(
        `image of tensor [${t.shape}] at byte ${t.byteOffset}: not whole 16-byte texels, or over ` +
          `${this.images.maxRows} rows of ${IMAGE_WIDTH} texels`,
      );
    }
    this.#endPass();
    return copyToImage(this, t, this.#enc());
  }

  /** Records a buffer-to-buffer copy (float32 element offsets). */
  copy(src: Tensor, srcOffset: number, dst: Tensor, dstOffset: number, count: number): void {
    if (count === 0) return;
    this.#endPass();
    this.wrote(dst.buffer);
    this.#enc().copyBufferToBuffer(
      src.buffer,
      src.byteOffset + srcOffset * 4,
      dst.buffer,
      dst.byteOffset + dstOffset * 4,
      count * 4,
    );
  }

  /** Records a raw buffer-to-buffer copy in bytes (arenas). */
  copyBytes(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.#endPass();
    this.wrote(dst);
    this.#enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Records zeroing `bytes` of a buffer from `offset` (the whole buffer by default). */
  clear(buffer: GPUBuffer, offset = 0, bytes?: number): void {
    this.#endPass();
    this.wrote(buffer);
    this.#enc().clearBuffer(buffer, offset, bytes);
  }

  /** Submits everything recorded so far (no wait). */
  flush(): void {
    this.#endPass();
    if (!this.#encoder) return;
    if (this.#slot > 0) {
      this.device.queue.writeBuffer(this.#ring, 0, this.#ringData, 0, this.#slot * this.#slotWords);
    }
    this.profiler?.resolve(this.#encoder);
    this.device.queue.submit([this.#encoder.finish()]);
    this.submits++;
    this.#encoder = null;
    this.#slot = 0;
    this.pool.submitted();
  }

  #enc(): GPUCommandEncoder {
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder();
    return this.#encoder;
  }

  #beginPass(): GPUComputePassEncoder {
    if (!this.#pass) this.#pass = this.#enc().beginComputePass();
    return this.#pass;
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }
}

function collectTensors(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (v instanceof Tensor) {
    out.add(v);
    if (v.base) out.add(v.base);
  } else if (v && typeof v === "object" && depth < 4) {
    const vals = v instanceof Map ? [...v.values()] : Array.isArray(v) ? v : Object.values(v);
    for (const x of vals) collectTensors(x, out, depth + 1);
  }
}

let runtime: Runtime | null = null;

/** The process-wide runtime, opening the device on first use. */
export async function initRuntime(): Promise<Runtime> {
  if (!runtime) runtime = new Runtime(await getGpu());
  return runtime;
}

/** The runtime after `initRuntime()` resolved; ops call this synchronously. */
export function rt(): Runtime {
  if (!runtime) throw new Error("the GPU runtime is not initialised: await initRuntime() first");
  return runtime;
}
