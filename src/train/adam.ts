/**
 * Adam on the device (torch.optim.Adam: betas 0.9/0.999, eps 1e-8, no weight decay), preceded by
 * train.py's gradient treatment: NaN -> 0, +-inf -> +-1e5, then optional global L2-norm clipping.
 * Everything is recorded without a CPU-GPU sync; the clip coefficient stays on the device.
 */
import { f32bits, rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type ParamArena, readBuffer, type Segment } from "./arena.ts";

const WG = 256;
/** Workgroups of the partial-norm pass per segment: enough to keep every core busy. */
const PARTIALS = 64;
const STATS = 8;

/** Adam's hyper-parameters. */
export interface AdamOptions {
  beta1?: number;
  beta2?: number;
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

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Optimiser steps taken (torch's `state.step`). */
  step = 0;
  readonly #stats: GPUBuffer;
  readonly #partials: GPUBuffer;

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
    const r = rt();
    r.dispatch(r.kernel("optim", "accumulate"), this.#params({ n: s.length }), [
      s.grad,
      null,
      null,
      null,
      null,
      null,
      s.scratch,
    ], r.grid(s.length, WG));
  };

  /**
   * Records one optimiser step on the gathered gradients: sanitise, norm (and clip when
   * `maxNorm` is set), then Adam with learning rate `lr`.
   */
  update(lr: number, maxNorm: number | null): void {
    const r = rt();
    this.step++;
    const t = this.step;
    const segs = this.arena.segments;
    segs.forEach((s, i) => {
      const chunk = Math.ceil(s.length / PARTIALS / WG) * WG;
      r.dispatch(
        r.kernel("optim", "sanitize_partials"),
        this.#params({ n: s.length, chunk, slot: i * PARTIALS }),
        [s.grad, this.#partials],
        [PARTIALS],
      );
    });
    r.dispatch(
      r.kernel("optim", "finalize_norm"),
      this.#params({ slot: segs.length * PARTIALS, maxNorm: maxNorm ?? 0 }),
      [null, this.#partials, this.#stats],
      [1],
    );
    const bc1 = 1 - this.beta1 ** t, bc2 = 1 - this.beta2 ** t;
    for (const s of segs) {
      r.dispatch(
        r.kernel("optim", "adam"),
        this.#params({ n: s.length, lrStep: lr / bc1, bc2Sqrt: Math.sqrt(bc2) }),
        [s.grad, null, this.#stats, s.param, s.expAvg, s.expAvgSq],
        r.grid(s.length, WG),
      );
    }
  }

  /** Adds `factor * lossSum[0]` to the device's loss accumulator, noting the step if it is not finite. */
  accumulateLoss(lossSum: Tensor, factor: number, step: number): void {
    const r = rt();
    r.dispatch(
      r.kernel("optim", "accumulate_loss"),
      this.#params({ factor, step }),
      [null, null, this.#stats, null, null, null, null, lossSum],
      [1],
    );
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

  dispose(): void {
    this.#stats.destroy();
    this.#partials.destroy();
  }

  #params(
    o: {
      n?: number;
      chunk?: number;
      slot?: number;
      step?: number;
      lrStep?: number;
      bc2Sqrt?: number;
      maxNorm?: number;
      factor?: number;
    },
  ): number[] {
    // Field order of `Params` in kernels/optim.wgsl.
    return [
      o.n ?? 0,
      o.chunk ?? 0,
      o.slot ?? 0,
      o.step ?? 0,
      f32bits(o.lrStep ?? 0),
      f32bits(this.beta1),
      f32bits(this.beta2),
      f32bits(this.eps),
      f32bits(o.bc2Sqrt ?? 1),
      f32bits(o.maxNorm ?? 0),
      f32bits(o.factor ?? 0),
    ];
  }
}
