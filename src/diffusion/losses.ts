/**
 * CorrDiff's training losses (reference: physicsnemo/diffusion/metrics/legacy_losses.py). Both return
 * the per-element loss; train.py's reduction (sum over everything divided by the batch size) is the
 * trainer's business.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { add, mul, mulPerSample, sub, zeros } from "../ops/elementwise.ts";
import { concatChannels, pickChannels } from "../ops/tensor_ops.ts";
import { softmaxCrossEntropy } from "../ops/softmax.ts";
import type { CorrDiffRegressionUNet, EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import type { Mode } from "../nn/layers.ts";
import { globalView, type Patching } from "./patching.ts";
import { DevicePatching } from "../ops/patching.ts";

/** RegressionLoss: (net(0, img_lr) - img_clean)^2 per element (lead-time models: one label per sample). */
export function regressionLoss(
  net: CorrDiffRegressionUNet,
  imgClean: Tensor,
  imgLr: Tensor,
  mode: Mode,
  leadTimeLabel?: ArrayLike<number>,
): Tensor {
  const D = net.forward(zeros(imgClean.shape), imgLr, mode, { leadTimeLabel });
  const e = sub(D, imgClean);
  return mul(e, e);
}

/**
 * RegressionLossCE (lead-time models with probability channels): the squared error on the other channels,
 * then, as one more channel, the cross entropy of the probability channels' logits against the target's
 * probabilities: [B, C - P + 1, H, W].
 */
export function regressionLossCE(
  net: CorrDiffRegressionUNet,
  imgClean: Tensor,
  imgLr: Tensor,
  mode: Mode,
  probChannels: readonly number[],
  leadTimeLabel?: ArrayLike<number>,
): Tensor {
  const [B, C, H, W] = imgClean.shape;
  const D = net.forward(zeros(imgClean.shape), imgLr, mode, { leadTimeLabel });
  const scalar = [...Array(C).keys()].filter((c) => !probChannels.includes(c));
  const P = probChannels.length;
  const ce = softmaxCrossEntropy(
    pickChannels(D, probChannels),
    pickChannels(imgClean, probChannels),
    B,
    P,
    H * W,
  )
    .reshape([B, 1, H, W]);
  if (scalar.length === 0) return ce;
  const e = sub(pickChannels(D, scalar), pickChannels(imgClean, scalar));
  return concatChannels([mul(e, e), ce]);
}

/** The random draws of one ResidualLoss call, in the reference's order. */
export interface ResidualDraws {
  /** draw0: one standard normal per (patched) sample, giving sigma = exp(P_std * draw0 + P_mean). */
  sigmaNormal: Float32Array;
  /** draw1: standard normals shaped like the (patched) target. */
  noise: Tensor;
}

/** Options of {@link residualLoss}: EDM noise distribution, conditioning, patching, modes. */
export interface ResidualLossOptions {
  /** Mean of log sigma (default 0). */
  P_mean?: number;
  /** Standard deviation of log sigma (default 1.2). */
  P_std?: number;
  /** sigma_data of the loss weight (default 0.5). */
  sigmaData?: number;
  /** Conditions the diffusion net on the regression mean too: cat[y_mean, img_lr]. */
  hrMeanConditioning?: boolean;
  /**
   * Random patches: the plan (corners), plus img_lr on the host, which is resized to the patch size
   * and appended to every patch's conditioning (the "global" low-res view).
   */
  patching?: { plan: Patching; imgLrHost: { data: Float32Array; shape: readonly number[] } };
  /** Network modes (the regression net always runs in eval mode). */
  mode: Mode;
  /** Lead-time label per sample (lead-time models), for both networks. */
  leadTimeLabel?: ArrayLike<number>;
  /**
   * The regression mean of this batch, when already computed (train.py's patch-gradient
   * accumulation reuses it across patch chunks); computed here otherwise.
   */
  yMean?: Tensor;
}

/**
 * ResidualLoss: the diffusion net learns the residual y = img_clean - regression_net(0, img_lr) at a
 * log-normal noise level: loss = (sigma^2 + sd^2) / (sigma sd)^2 * (D(y + n; sigma) - y)^2.
 * Returns the per-element loss and sigma per (patched) sample.
 */
export function residualLoss(
  net: EDMPrecondSuperResolution,
  regressionNet: CorrDiffRegressionUNet,
  imgClean: Tensor,
  imgLr: Tensor,
  draws: ResidualDraws,
  o: ResidualLossOptions,
): { loss: Tensor; sigma: Float32Array } {
  const r = rt();
  const pMean = o.P_mean ?? 0, pStd = o.P_std ?? 1.2, sd = o.sigmaData ?? 0.5;
  // The regression mean is a constant of the diffusion loss: no tape through it.
  const tape = r.tape;
  r.tape = null;
  let yMean: Tensor;
  try {
    yMean = o.yMean ??
      regressionNet.forward(zeros(imgClean.shape), imgLr, { train: false }, {
        leadTimeLabel: o.leadTimeLabel,
      });
  } finally {
    r.tape = tape;
  }
  let y = sub(imgClean, yMean);
  let yLr = o.hrMeanConditioning ? concatChannels([yMean, imgLr]) : imgLr;
  let globalIndex: Tensor | undefined;
  if (o.patching) {
    const { plan, imgLrHost } = o.patching;
    const dev = new DevicePatching(plan);
    const B = imgClean.shape[0];
    y = dev.apply(y);
    const view = globalView(plan, imgLrHost, B);
    yLr = concatChannels([dev.apply(yLr), r.upload(view.data, view.shape)]);
    globalIndex = r.upload(Float32Array.from(plan.globalIndex), [plan.P, 2, plan.Hp, plan.Wp]);
    dev.dispose();
  }
  const Bp = y.shape[0];
  if (draws.sigmaNormal.length !== Bp) {
    throw new Error(`residualLoss: ${draws.sigmaNormal.length} sigma draws for ${Bp} samples`);
  }
  const f = Math.fround;
  const sigma = draws.sigmaNormal.map((z) => f(Math.exp(f(f(z * pStd) + pMean))));
  const weight = sigma.map((s) => f(f(f(s * s) + f(sd * sd)) / f(f(s * sd) * f(s * sd))));
  const n = mulPerSample(draws.noise, r.upload(sigma, [Bp]));
  const D = net.forward(add(y, n), yLr, sigma, o.mode, { globalIndex, leadTimeLabel: o.leadTimeLabel });
  const e = sub(D, y);
  return { loss: mulPerSample(mul(e, e), r.upload(weight, [Bp])), sigma };
}
