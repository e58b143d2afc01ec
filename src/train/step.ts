/**
 * One optimiser step, as train.py takes it (reference section 7.3), recorded without a CPU-GPU sync:
 * for each accumulation round and patch chunk, L = sum(loss) / batch_size_per_gpu is
 * back-propagated and its gradients summed into the arena; then sanitise, clip, Adam.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { valueAndGrad } from "../gpu/autograd.ts";
import { full, sumAll, zeros } from "../ops/elementwise.ts";
import { regressionLoss, residualLoss } from "../diffusion/losses.ts";
import { randomCorners, randomPatching } from "../diffusion/patching.ts";
import type { Mode } from "../nn/layers.ts";
import { CorrDiffRegressionUNet, type EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import type { Adam } from "./adam.ts";
import type { ParamArena } from "./arena.ts";
import { type HostBatch, uploadBatch } from "./batch.ts";
import type { TrainSettings } from "./settings.ts";

/** The random draws of a loss: standard normals and uniforms (an Rng, or recorded draws replayed). */
export interface Draws {
  normals(n: number): Float32Array;
  uniform(): number;
}

/** What a step needs besides its batches. */
export interface StepContext {
  settings: TrainSettings;
  net: CorrDiffRegressionUNet | EDMPrecondSuperResolution;
  regressionNet: CorrDiffRegressionUNet | null;
  arena: ParamArena;
  adam: Adam;
  /** Noise levels, noise and patch corners. */
  rng: Draws;
  shape: { cOut: number; cLr: number; H: number; W: number };
}

/**
 * The per-element loss of one batch (or patch chunk) for the model being trained. `rng` supplies
 * the noise level and noise draws (and the patch corners for patched models).
 */
export function batchLoss(
  ctx: StepContext,
  target: Tensor,
  input: Tensor,
  hostInput: Float32Array,
  mode: Mode,
  rng: Draws,
  patches: number,
  yMean?: Tensor,
): Tensor {
  const { settings: s, net } = ctx;
  if (net instanceof CorrDiffRegressionUNet) return regressionLoss(net, target, input, mode);
  const { H, W, cLr } = ctx.shape;
  const B = target.shape[0];
  const patch = s.hp.patch;
  let patching;
  if (patch) {
    const corners = randomCorners(H, W, patch.Hp, patch.Wp, patches, () => rng.uniform());
    const plan = randomPatching(H, W, patch.Hp, patch.Wp, corners);
    patching = { plan, imgLrHost: { data: hostInput, shape: [B, cLr, H, W] } };
  }
  const Bp = patch ? B * patches : B;
  const [Hp, Wp] = patch ? [patch.Hp, patch.Wp] : [H, W];
  const draws = {
    sigmaNormal: rng.normals(Bp),
    noise: rt().upload(rng.normals(Bp * ctx.shape.cOut * Hp * Wp), [Bp, ctx.shape.cOut, Hp, Wp]),
  };
  return residualLoss(net, ctx.regressionNet!, target, input, draws, {
    P_mean: s.hp.P_mean,
    P_std: s.hp.P_std,
    sigmaData: net.sigmaData,
    hrMeanConditioning: s.model.hrMeanConditioning,
    patching,
    mode,
    yMean,
  }).loss;
}

/** The regression mean of a batch (no gradient), reused across its patch chunks. */
export function regressionMean(ctx: StepContext, target: Tensor, input: Tensor): Tensor | undefined {
  if (!ctx.regressionNet) return undefined;
  const r = rt();
  const tape = r.tape;
  r.tape = null;
  try {
    return ctx.regressionNet.forward(zeros(target.shape), input, { train: false });
  } finally {
    r.tape = tape;
  }
}

/**
 * Records one optimiser step over `batches` (one per accumulation round) at learning rate `lr`;
 * `step` numbers it (1-based) for dropout masks and the loss record.
 */
export function recordStep(ctx: StepContext, batches: HostBatch[], lr: number, step: number): void {
  const r = rt();
  const { settings: s, arena, adam } = ctx;
  const { cOut, cLr, H, W } = ctx.shape;
  const chunks = s.hp.patch?.chunks ?? [1];
  const perSample = 1 / s.hp.batch_size_per_gpu;
  let first = true;
  batches.forEach((batch, round) => {
    r.scope(() => {
      const { target, input } = uploadBatch(batch, cOut, cLr, H, W);
      const yMean = regressionMean(ctx, target, input);
      chunks.forEach((patches, c) => {
        r.scope(() => {
          // A distinct dropout stream for every step, round and chunk, so a resumed run draws the same masks.
          const mode: Mode = { train: true, dropoutSeed: { next: ((step * batches.length + round) * chunks.length + c) * 65536 } };
          const { value, grads } = valueAndGrad(
            () => sumAll(batchLoss(ctx, target, input, batch.input, mode, ctx.rng, patches, yMean)),
            () => full([1], perSample),
          );
          adam.accumulateLoss(value, perSample / batches.length / chunks.length, step);
          arena.gatherGrads(grads, first, adam.accumulate);
          first = false;
        });
      });
    });
  });
  adam.update(lr, s.hp.grad_clip_threshold);
}
