/**
 * Parameter arenas: a network's parameters moved into a few flat buffers, with gradient and Adam
 * moment buffers laid out alike, so the optimiser runs one dispatch per buffer instead of one per
 * tensor.
 *
 * Each parameter keeps its Tensor object (layers hold it) but now points at a slice of an arena.
 * Slices start on the adapter's storage-offset alignment; the padding between them holds zeros in
 * every arena, which Adam leaves at zero. An arena never exceeds the adapter's largest binding.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Where one parameter lives: its segment and byte offset there. */
export interface Slot {
  /** The parameter's state-dict key. */
  key: string;
  /** The parameter tensor, rebound to its slice of the arena. */
  tensor: Tensor;
  /** Index of its segment in {@link ParamArena.segments}. */
  segment: number;
  /** Byte offset of its slice in the segment's buffers (storage-offset aligned). */
  byteOffset: number;
}

/** A run of parameters sharing one buffer of each kind. */
export interface Segment {
  /** Floats covered (including alignment padding). */
  length: number;
  /** Parameter values. */
  param: GPUBuffer;
  /** Gradients, summed over the accumulation rounds of a step. */
  grad: GPUBuffer;
  /** Adam's first moments. */
  expAvg: GPUBuffer;
  /** Adam's second moments. */
  expAvgSq: GPUBuffer;
  /** Scratch for gradient-accumulation rounds after the first (created on demand). */
  scratch: GPUBuffer | null;
}

/** Parameters, gradients and Adam moments in a few flat buffers (see the module doc). */
export class ParamArena {
  /** Every parameter's place, in state-dict order. */
  readonly slots: Slot[] = [];
  /** The buffers, each within the adapter's largest binding. */
  readonly segments: Segment[] = [];
  /** Trainable scalars (without padding). */
  readonly numParameters: number;

  /**
   * Moves `params` (state-dict order) into arenas; their current values are copied across.
   * `maxSegmentBytes` caps a segment below the adapter's largest binding (tests use it).
   */
  constructor(params: Map<string, Tensor>, o: { maxSegmentBytes?: number } = {}) {
    const r = rt();
    const align = Math.max(4, r.gpu.limits.minStorageBufferOffsetAlignment);
    const maxBytes = Math.min(
      r.gpu.limits.maxStorageBufferBindingSize,
      r.gpu.limits.maxBufferSize,
      o.maxSegmentBytes ?? Infinity,
    );
    const plan: { key: string; tensor: Tensor; segment: number; byteOffset: number }[] = [];
    const sizes: number[] = [];
    let seg = 0, off = 0, n = 0;
    for (const [key, tensor] of params) {
      const bytes = tensor.bytes;
      if (bytes > maxBytes) {
        throw new Error(`parameter ${key} [${tensor.shape}] exceeds the adapter's largest binding`);
      }
      const padded = Math.ceil(bytes / align) * align;
      if (off > 0 && off + padded > maxBytes) {
        sizes.push(off);
        seg++;
        off = 0;
      }
      plan.push({ key, tensor, segment: seg, byteOffset: off });
      off += padded;
      n += tensor.size;
    }
    sizes.push(off);
    this.numParameters = n;
    const buf = (size: number, label: string) => {
      const b = r.device.createBuffer({ size: Math.max(size, 4), usage: USAGE, label });
      r.clear(b);
      return b;
    };
    for (const [i, size] of sizes.entries()) {
      this.segments.push({
        length: size / 4,
        param: buf(size, `params ${i}`),
        grad: buf(size, `grads ${i}`),
        expAvg: buf(size, `exp_avg ${i}`),
        expAvgSq: buf(size, `exp_avg_sq ${i}`),
        scratch: null,
      });
    }
    for (const p of plan) {
      const s = this.segments[p.segment];
      r.copyBytes(p.tensor.buffer, p.tensor.byteOffset, s.param, p.byteOffset, p.tensor.bytes);
      p.tensor.rebind(s.param, p.byteOffset);
      this.slots.push(p);
    }
    r.flush();
  }

  /** Zeroes every gradient arena (start of a step). */
  zeroGrads(): void {
    for (const s of this.segments) rt().clear(s.grad);
  }

  /**
   * Copies the gradients of one accumulation round into the arenas: the first round straight into
   * the gradient arena (zeroed first), later rounds into scratch, then `accumulate` adds them.
   * Parameters without a gradient contribute zeros.
   */
  gatherGrads(grads: Map<Tensor, Tensor>, firstRound: boolean, accumulate: (seg: Segment) => void): void {
    const r = rt();
    if (firstRound) this.zeroGrads();
    else {
      for (const s of this.segments) {
        s.scratch ??= r.device.createBuffer({ size: s.length * 4, usage: USAGE, label: "grad scratch" });
        r.clear(s.scratch);
      }
    }
    for (const slot of this.slots) {
      const g = grads.get(slot.tensor);
      if (!g) continue;
      const s = this.segments[slot.segment];
      r.copyBytes(
        g.buffer,
        g.byteOffset,
        firstRound ? s.grad : s.scratch!,
        slot.byteOffset,
        slot.tensor.bytes,
      );
    }
    if (!firstRound) { for (const s of this.segments) accumulate(s); }
  }

  /** Reads one kind of arena back into per-parameter arrays (state-dict order). */
  async read(kind: "param" | "grad" | "expAvg" | "expAvgSq"): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const whole = await Promise.all(this.segments.map((s) => readBuffer(s[kind], s.length * 4)));
    for (const slot of this.slots) {
      const data = whole[slot.segment];
      out.set(slot.key, data.slice(slot.byteOffset / 4, slot.byteOffset / 4 + slot.tensor.size));
    }
    return out;
  }

  /** Writes per-parameter arrays into one kind of arena (missing keys are left as they are). */
  write(kind: "param" | "expAvg" | "expAvgSq", values: Map<string, Float32Array>): void {
    const r = rt();
    r.flush();
    for (const slot of this.slots) {
      const v = values.get(slot.key);
      if (!v) continue;
      if (v.length !== slot.tensor.size) {
        throw new Error(`${kind} of ${slot.key}: ${v.length} values for [${slot.tensor.shape}]`);
      }
      r.wrote(this.segments[slot.segment][kind]);
      r.device.queue.writeBuffer(
        this.segments[slot.segment][kind],
        slot.byteOffset,
        v as Float32Array<ArrayBuffer>,
      );
    }
  }

  /** Destroys the arenas; the parameter tensors become unusable. */
  dispose(): void {
    for (const slot of this.slots) slot.tensor.release();
    for (const s of this.segments) {
      for (const b of [s.param, s.grad, s.expAvg, s.expAvgSq, s.scratch]) b?.destroy();
    }
  }
}

/** Reads `bytes` of a raw buffer (submits pending work and waits). */
export async function readBuffer(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
  const r = rt();
  const staging = r.device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  r.copyBytes(buffer, 0, staging, 0, bytes);
  r.flush();
  await staging.mapAsync(GPUMapMode.READ);
  r.checkErrors();
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}
