/**
 * One optimiser step, as train.py takes it (reference section 7.3), recorded without a CPU-GPU sync:
 * for each accumulation round and patch chunk, L = sum(loss) / batch_size_per_gpu is
 * back-propagated and its gradients summed into the arena; then sanitise, clip, Adam. The two
 * halves are separate so that a data-parallel run can average the gradients across ranks between
 * them (src/dist/grads.ts).
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { valueAndGrad } from "../gpu/autograd.ts";
import { full, sumAll, zeros } from "../ops/elementwise.ts";
import { regressionLoss, regressionLossCE, residualLoss } from "../diffusion/losses.ts";
import { randomCorners, randomPatching } from "../diffusion/patching.ts";
import type { Mode } from "../nn/layers.ts";
import { CorrDiffRegressionUNet, type EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import type { Adam } from "./adam.ts";
import type { ParamArena } from "./arena.ts";
import { type HostBatch, uploadBatch } from "./batch.ts";
import type { TrainSettings } from "./settings.ts";

/**
 * The random draws of a loss: standard normals and uniforms (an Rng), or recorded draws replayed
 * (golden cases), which may also dictate the patch corners.
 */
export interface Draws {
  /** `n` standard normal draws. */
  normals(n: number): Float32Array;
  /** One uniform draw in [0, 1). */
  uniform(): number;
  /** Recorded corners of `P` patches of `Hp` x `Wp` in an `H` x `W` image; absent: drawn with `uniform()`. */
  patchCorners?(H: number, W: number, Hp: number, Wp: number, P: number): ArrayLike<number>;
}

/** The loss of a model: which networks, EDM's noise distribution, conditioning and patching. */
export interface LossSetup {
  /** The network trained: the regression U-Net or the EDM-preconditioned diffusion model. */
  net: CorrDiffRegressionUNet | EDMPrecondSuperResolution;
  /** The frozen regression net (diffusion models). */
  regressionNet: CorrDiffRegressionUNet | null;
  /** Mean of log sigma, the training noise level (diffusion models). */
  P_mean: number;
  /** Standard deviation of log sigma (diffusion models). */
  P_std: number;
  /** Whether the diffusion model is conditioned on the regression mean as well as the input. */
  hrMeanConditioning: boolean;
  /** Random patches of this size (patched diffusion), or null for the whole image. */
  patch: { Hp: number; Wp: number } | null;
  /** RegressionLossCE's probability channels (lt_aware_ce_regression: the network's, the dataset's). */
  probChannels?: readonly number[];
}

/** What a step needs besides its batches. */
export interface StepContext {
  /** The training settings (batch sizes, patch chunks, gradient clipping). */
  settings: TrainSettings;
  /** The loss the step back-propagates. */
  loss: LossSetup;
  /** The network trained. */
  net: CorrDiffRegressionUNet | EDMPrecondSuperResolution;
  /** The frozen regression net whose mean the diffusion loss conditions on; null for regression training. */
  regressionNet: CorrDiffRegressionUNet | null;
  /** Parameters and gradients of `net`, in flat buffers. */
  arena: ParamArena;
  /** The optimiser, which also accumulates the step's loss. */
  adam: Adam;
  /** Noise levels, noise and patch corners. */
  rng: Draws;
  /** Output channels, input channels and fine grid size of a batch. */
  shape: { cOut: number; cLr: number; H: number; W: number };
  /** This process's place in a data-parallel run (default rank 0 of 1): ranks draw distinct dropout masks. */
  replica?: { rank: number; size: number };
}

/** The loss setup a training config describes. */
export function lossSetup(
  s: TrainSettings,
  net: CorrDiffRegressionUNet | EDMPrecondSuperResolution,
  regressionNet: CorrDiffRegressionUNet | null,
): LossSetup {
  return {
    net,
    regressionNet,
    P_mean: s.hp.P_mean,
    P_std: s.hp.P_std,
    hrMeanConditioning: s.model.hrMeanConditioning,
    patch: s.hp.patch,
    probChannels: s.model.crossEntropy && net instanceof CorrDiffRegressionUNet
      ? net.model.probChannels
      : undefined,
  };
}

/**
 * The per-element loss of a batch (or patch chunk): RegressionLoss, or ResidualLoss at noise
 * levels sigma = exp(P_std z + P_mean) on `patches` random patches per sample (patched models).
 * `host` is the batch on the host (the patches' whole-domain view is resized from its input; its lead-time labels go to both nets).
 */
export function batchLoss(
  o: LossSetup,
  target: Tensor,
  input: Tensor,
  host: HostBatch,
  mode: Mode,
  draws: Draws,
  patches: number,
  yMean?: Tensor,
): Tensor {
  const net = o.net;
  if (net instanceof CorrDiffRegressionUNet) {
    return o.probChannels
      ? regressionLossCE(net, target, input, mode, o.probChannels, host.leadTime)
      : regressionLoss(net, target, input, mode, host.leadTime);
  }
  const [B, cOut, H, W] = target.shape;
  let patching;
  if (o.patch) {
    const { Hp, Wp } = o.patch;
    const corners = draws.patchCorners?.(H, W, Hp, Wp, patches) ??
      randomCorners(H, W, Hp, Wp, patches, () => draws.uniform());
    patching = {
      plan: randomPatching(H, W, Hp, Wp, corners),
      imgLrHost: { data: host.input, shape: input.shape },
    };
  }
  const Bp = o.patch ? B * patches : B;
  const [Hp, Wp] = o.patch ? [Math.min(o.patch.Hp, H), Math.min(o.patch.Wp, W)] : [H, W];
  const sigmaNormal = draws.normals(Bp);
  const noise = rt().upload(draws.normals(Bp * cOut * Hp * Wp), [Bp, cOut, Hp, Wp]);
  return residualLoss(net, o.regressionNet!, target, input, { sigmaNormal, noise }, {
    P_mean: o.P_mean,
    P_std: o.P_std,
    sigmaData: net.sigmaData,
    hrMeanConditioning: o.hrMeanConditioning,
    patching,
    mode,
    yMean,
    leadTimeLabel: host.leadTime,
  }).loss;
}

/** The regression mean of a batch (no gradient), reused across its patch chunks. */
export function frozenRegressionMean(
  ctx: StepContext,
  target: Tensor,
  input: Tensor,
  leadTimeLabel?: ArrayLike<number>,
): Tensor | undefined {
  if (!ctx.regressionNet) return undefined;
  const r = rt();
  const tape = r.tape;
  r.tape = null;
  try {
    return ctx.regressionNet.forward(zeros(target.shape), input, { train: false }, { leadTimeLabel });
  } finally {
    r.tape = tape;
  }
}

/**
 * Records the forward and backward passes of one step over `batches` (one per accumulation round):
 * their gradients, summed over the rounds, end in the arena's gradient buffers and the loss in the
 * optimiser's accumulator. `step` numbers the step (1-based) for dropout masks and the loss record.
 * With N ranks the gradients are this rank's share of the mean over ranks (scaled by 1/N, DDP's
 * average), so that their sum over the ranks is the step's gradient.
 */
export function recordGradients(ctx: StepContext, batches: HostBatch[], step: number): void {
  const r = rt();
  const { settings: s, arena, adam } = ctx;
  const { rank, size } = ctx.replica ?? { rank: 0, size: 1 };
  const { cOut, cLr, H, W } = ctx.shape;
  const chunks = s.hp.patch?.chunks ?? [1];
  const perSample = 1 / s.hp.batch_size_per_gpu;
  let first = true;
  batches.forEach((batch, round) => {
    r.scope(() => {
      const { target, input } = uploadBatch(batch, cOut, cLr, H, W);
      const yMean = frozenRegressionMean(ctx, target, input, batch.leadTime);
      chunks.forEach((patches, c) => {
        r.scope(() => {
          // A distinct dropout stream for every step, rank, round and chunk, so a resumed run draws the same
          // masks (with one rank, the streams of a plain run).
          const stream = (((step * size + rank) * batches.length + round) * chunks.length + c) * 65536;
          const mode: Mode = { train: true, dropoutSeed: { next: stream } };
          const { value, grads } = valueAndGrad(
            () => sumAll(batchLoss(ctx.loss, target, input, batch, mode, ctx.rng, patches, yMean)),
            () => full([1], perSample / size),
          );
          adam.accumulateLoss(value, perSample / batches.length / chunks.length, step);
          arena.gatherGrads(grads, first, adam.accumulate);
          first = false;
        });
      });
    });
  });
}

/** Records the optimiser's update from the gathered gradients at learning rate `lr`: sanitise, clip, Adam. */
export function recordUpdate(ctx: StepContext, lr: number): void {
  ctx.adam.update(lr, ctx.settings.hp.grad_clip_threshold);
}

/**
 * Records one optimiser step over `batches` (one per accumulation round) at learning rate `lr`;
 * `step` numbers it (1-based) for dropout masks and the loss record.
 */
export function recordStep(ctx: StepContext, batches: HostBatch[], lr: number, step: number): void {
  recordGradients(ctx, batches, step);
  recordUpdate(ctx, lr);
}
