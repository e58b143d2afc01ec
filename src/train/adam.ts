/**
 * Adam on the device (torch.optim.Adam: betas 0.9/0.999, eps 1e-8, no weight decay), preceded by
 * train.py's gradient treatment: NaN -> 0, +-inf -> +-1e5, then optional global L2-norm clipping.
 * Everything is recorded without a CPU-GPU sync; the clip coefficient stays on the device.
 */
import { rt } from "../gpu/runtime.ts";
import { declareKernel } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type ParamArena, readBuffer, type Segment } from "./arena.ts";

const PARAMS = {
  n: "u32",
  chunk: "u32",
  slot: "u32",
  step: "u32",
  lr_step: "f32",
  beta1: "f32",
  beta2: "f32",
  eps: "f32",
  bc2_sqrt: "f32",
  max_norm: "f32",
  factor: "f32",
} as const;
const kernel = (entry: string, bindings: string[]) =>
  declareKernel({ file: "optim", entry, params: PARAMS, bindings });
const SANITIZE = kernel("sanitize_partials", ["grad", "partial"]);
const FINALIZE = kernel("finalize_norm", ["partial", "stats"]);
const ADAM = kernel("adam", ["grad", "stats", "param", "exp_avg", "exp_avg_sq"]);
const ACCUMULATE = kernel("accumulate", ["grad", "src"]);
const ACCUMULATE_LOSS = kernel("accumulate_loss", ["stats", "loss"]);
/** Workgroups of the partial-norm pass per segment: enough to keep every core busy. */
const PARTIALS = 64;
const STATS = 8;

/** Adam's hyper-parameters. */
export interface AdamOptions {
  /** Decay rate of the first-moment average (default 0.9). */
  beta1?: number;
  /** Decay rate of the second-moment average (default 0.999). */
  beta2?: number;
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
}

/** What the device counted, read back at logging time. */
export interface OptimStats {
  /** Gradient norm of the last step (after sanitising, before clipping). */
  gradNorm: number;
  /** Non-finite gradient values replaced since the start (or the last reset). */
  nonFiniteGrads: number;
  /** First step whose loss was not finite (0: none). */
  firstBadLossStep: number;
  /** Loss accumulated since the last read. */
  lossSum: number;
}

/** Adam over a parameter arena, with nan_to_num, optional clipping and device-side loss bookkeeping. */
export class Adam {
  /** Decay rate of the first-moment average. */
  readonly beta1: number;
  /** Decay rate of the second-moment average. */
  readonly beta2: number;
  /** Added to the denominator for numerical stability. */
  readonly eps: number;
  /** Optimiser steps taken (torch's `state.step`). */
  step = 0;
  readonly #stats: GPUBuffer;
  readonly #partials: GPUBuffer;

  /** An optimiser for the parameters of `arena` (whose buffers hold its moments), with zeroed counters. */
  constructor(readonly arena: ParamArena, o: AdamOptions = {}) {
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    const r = rt();
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.#stats = r.device.createBuffer({ size: STATS * 4, usage, label: "optimiser stats" });
    this.#partials = r.device.createBuffer({
      size: 2 * 4 * PARTIALS * arena.segments.length,
      usage,
      label: "norm partials",
    });
    r.clear(this.#stats);
  }

  /** Adds the gradient-accumulation scratch of a segment into its gradient arena. */
  accumulate = (s: Segment): void => {
    ACCUMULATE.run({ n: s.length }, { grad: s.grad, src: s.scratch! }, ACCUMULATE.grid(s.length));
  };

  /**
   * Records one optimiser step on the gathered gradients: sanitise, norm (and clip when
   * `maxNorm` is set), then Adam with learning rate `lr`.
   */
  update(lr: number, maxNorm: number | null): void {
    this.step++;
    const t = this.step;
    const segs = this.arena.segments;
    const wg = SANITIZE.workgroupSize[0];
    segs.forEach((s, i) => {
      const chunk = Math.ceil(s.length / PARTIALS / wg) * wg;
      SANITIZE.run({ n: s.length, chunk, slot: i * PARTIALS }, { grad: s.grad, partial: this.#partials }, [
        PARTIALS,
      ]);
    });
    FINALIZE.run({ slot: segs.length * PARTIALS, max_norm: maxNorm ?? 0 }, {
      partial: this.#partials,
      stats: this.#stats,
    }, [1]);
    const bc1 = 1 - this.beta1 ** t, bc2 = 1 - this.beta2 ** t;
    const hyper = {
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      lr_step: lr / bc1,
      bc2_sqrt: Math.sqrt(bc2),
    };
    for (const s of segs) {
      ADAM.run(
        { n: s.length, ...hyper },
        { grad: s.grad, stats: this.#stats, param: s.param, exp_avg: s.expAvg, exp_avg_sq: s.expAvgSq },
        ADAM.grid(s.length),
      );
    }
  }

  /** Adds `factor * lossSum[0]` to the device's loss accumulator, noting the step if it is not finite. */
  accumulateLoss(lossSum: Tensor, factor: number, step: number): void {
    ACCUMULATE_LOSS.run({ factor, step }, { stats: this.#stats, loss: lossSum }, [1]);
  }

  /** Reads the device counters (a sync) and resets the loss accumulator. */
  async readStats(): Promise<OptimStats> {
    const s = await readBuffer(this.#stats, STATS * 4);
    rt().device.queue.writeBuffer(this.#stats, 16, new Float32Array([0]));
    return { gradNorm: s[1], nonFiniteGrads: s[2], firstBadLossStep: s[3], lossSum: s[4] };
  }

  /** Restores the counters saved with a checkpoint. */
  setCounters(nonFiniteGrads: number): void {
    rt().flush();
    rt().device.queue.writeBuffer(this.#stats, 8, new Float32Array([nonFiniteGrads]));
  }

  /** Destroys the optimiser's device buffers (the arena is left as it is). */
  dispose(): void {
    this.#stats.destroy();
    this.#partials.destroy();
  }
}
