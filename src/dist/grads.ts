/**
 * Data-parallel gradient averaging, as PyTorch's DDP does it (the mean over ranks), staged through the
 * host: the gradient arenas are read back once per step (one read per segment), summed with one
 * MPI_Allreduce over a single flat host buffer and uploaded. The 1/N of the mean is already in each
 * rank's gradients (`recordGradients` seeds its backward pass with it; exact for a power-of-two N), so
 * the host does no arithmetic on the buffer.
 * Also the start-of-run broadcast of rank 0's parameters (DDP's module-state broadcast).
 */
import { rt } from "../gpu/runtime.ts";
import type { ParamArena } from "../train/arena.ts";
import type { World } from "./world.ts";

/**
 * Time spent per part of the averaging, summed over the calls after the first (whose wait includes
 * the pipelines' compilation and whose allreduce includes MPI's connection setup).
 */
export interface ReduceTimes {
  calls: number;
  /** Waiting for the backward pass to finish and copying the gradients to the host. */
  readSeconds: number;
  /** MPI_Allreduce (includes waiting for the slowest rank). */
  allreduceSeconds: number;
  /** Uploading the average. */
  uploadSeconds: number;
}

/** Averages an arena's gradients across a world's ranks, reusing its staging buffers between steps. */
export class GradientAverager {
  /** The flat host buffer: every segment's gradients, back to back (padding included). */
  readonly host: Float32Array;
  readonly times: ReduceTimes = { calls: 0, readSeconds: 0, allreduceSeconds: 0, uploadSeconds: 0 };
  readonly #staging: GPUBuffer[];
  readonly #offsets: number[] = [];
  #first = true;

  constructor(readonly arena: ParamArena, readonly world: World) {
    let n = 0;
    for (const s of arena.segments) {
      this.#offsets.push(n);
      n += s.length;
    }
    this.host = new Float32Array(n);
    this.#staging = arena.segments.map((s, i) =>
      rt().device.createBuffer({
        size: Math.max(4, s.length * 4),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: `grad staging ${i}`,
      })
    );
  }

  /** Bytes each rank sends into the reduction per step. */
  get bytes(): number {
    return this.host.byteLength;
  }

  /**
   * Replaces every rank's gradient arenas by their sum over the ranks, the mean gradient when each
   * holds its 1/N share (a CPU-GPU sync). Submits what is recorded; the optimiser recorded afterwards
   * sees the sum.
   */
  async average(): Promise<void> {
    const r = rt(), segs = this.arena.segments;
    const t0 = performance.now();
    segs.forEach((s, i) => r.copyBytes(s.grad, 0, this.#staging[i], 0, s.length * 4));
    r.flush();
    await Promise.all(this.#staging.map((b) => b.mapAsync(GPUMapMode.READ)));
    r.checkErrors();
    this.#staging.forEach((b, i) => {
      this.host.set(new Float32Array(b.getMappedRange()), this.#offsets[i]);
      b.unmap();
    });
    const t1 = performance.now();
    this.world.allreduce(this.host, "sum");
    const t2 = performance.now();
    segs.forEach((s, i) => {
      r.wrote(s.grad);
      r.device.queue.writeBuffer(s.grad, 0, this.host, this.#offsets[i], s.length);
    });
    const t3 = performance.now();
    if (this.#first) {
      this.#first = false;
      return;
    }
    this.times.calls++;
    this.times.readSeconds += (t1 - t0) / 1000;
    this.times.allreduceSeconds += (t2 - t1) / 1000;
    this.times.uploadSeconds += (t3 - t2) / 1000;
  }

  dispose(): void {
    for (const b of this.#staging) b.destroy();
  }
}

/**
 * Makes every rank's parameters rank 0's (as DDP does when it wraps a model), so that ranks start
 * equal even if their initialisations or checkpoint reads could differ. One read and one upload
 * per segment.
 */
export async function broadcastParams(arena: ParamArena, world: World): Promise<void> {
  if (world.size === 1) return;
  const r = rt();
  r.flush();
  for (const s of arena.segments) {
    const staging = r.device.createBuffer({
      size: Math.max(4, s.length * 4),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    r.copyBytes(s.param, 0, staging, 0, s.length * 4);
    r.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const host = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    world.broadcast(host, 0);
    r.wrote(s.param);
    r.device.queue.writeBuffer(s.param, 0, host);
  }
}
