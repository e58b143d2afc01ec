/**
 * Validation: the training loss on held-out samples (the config's top-level `validation:` section),
 * every `validation_freq` samples over `validation_steps` batches.
 *
 * Unlike train.py, which leaves the network in train mode (dropout on), validation runs in eval mode
 * on the same evenly spread samples with the same noise draws each time, so that successive values
 * differ only because the weights did. For each output channel the RMSE is also given in the
 * dataset's physical units (a regression model's skill; for diffusion models, of the denoiser).
 */
import type { DownscalingDataset } from "../data/dataset.ts";
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { add, scale, sumAll, sumLeading, sumRows } from "../ops/elementwise.ts";
import { Rng } from "../util/rng.ts";
import { loadBatch, uploadBatch } from "./batch.ts";
import { batchLoss, frozenRegressionMean, type StepContext } from "./step.ts";
import { CorrDiffRegressionUNet } from "../nn/wrappers.ts";

/** One validation result. */
export interface ValidationResult {
  /** Mean over batches of sum(loss) / batch size, as the training loss. */
  loss: number;
  /** Regression models, per output channel: RMSE of the predicted mean in physical units. */
  rmse: Record<string, number>;
  /**
   * Per output channel that is also an input channel (same name): RMSE of that input, i.e. of the
   * dataset's own upsampling of the coarse field (bilinear for hrrr_mini), on the same samples.
   */
  inputRmse: Record<string, number>;
  /** Samples validated on. */
  samples: number;
}

/** Sample indices of a validation pass: `steps` batches of `B` spread evenly over the dataset. */
export function validationIndices(length: number, steps: number, B: number): number[][] {
  const n = Math.min(length, steps * B);
  const idx = Array.from({ length: n }, (_, k) => Math.floor((k * length) / n));
  const out: number[][] = [];
  for (let i = 0; i < idx.length; i += B) out.push(idx.slice(i, i + B));
  return out;
}

/** Runs a validation pass (one read-back at the end). */
export async function validate(
  ctx: StepContext,
  ds: DownscalingDataset,
  steps: number,
): Promise<ValidationResult> {
  const r = rt();
  const { cOut, cLr, H, W } = ctx.shape;
  const batches = validationIndices(ds.length, steps, ctx.settings.hp.batch_size_per_gpu);
  const rng = new Rng(0x5eed);
  let lossAcc: Tensor | null = null, perChannel: Tensor | null = null;
  let samples = 0;
  const outNames = ds.outputChannels().map((c) => c.name + c.level);
  const inNames = ds.inputChannels().map((c) => c.name + c.level);
  const pairs = outNames.map((n, c) => [c, inNames.indexOf(n)]).filter(([, i]) => i >= 0);
  const inputSq = new Float64Array(cOut);
  // layouts derived from the weights (made once per weight version) go back to the pool afterwards
  const thaw = r.freezeParameters();
  try {
    for (const indices of batches) {
      const host = await loadBatch(ds, indices, "validation");
      const B = indices.length;
      samples += B;
      if (pairs.length) {
        const t = ds.denormalizeOutput(host.target), x = ds.denormalizeInput(host.input), n = H * W;
        for (let b = 0; b < B; b++) {
          for (const [c, i] of pairs) {
            for (let k = 0; k < n; k++) {
              const d = x[(b * cLr + i) * n + k] - t[(b * cOut + c) * n + k];
              inputSq[c] += d * d;
            }
          }
        }
      }
      const patches = ctx.settings.hp.patch?.num ?? 1;
      const previous = [lossAcc, perChannel];
      [lossAcc, perChannel] = r.scope(() => {
        const { target, input } = uploadBatch(host, cOut, cLr, H, W);
        const yMean = frozenRegressionMean(ctx, target, input, host.leadTime);
        const loss = batchLoss(ctx.loss, target, input, host, { train: false }, rng, patches, yMean);
        const L = scale(sumAll(loss), 1 / B);
        const Bp = loss.shape[0];
        // Per channel: sum over pixels, then over (patched) samples.
        // per loss channel: the output channels, or with RegressionLossCE the non-probability ones and the
        // cross entropy
        const ch = sumLeading(sumRows(loss, Bp * loss.shape[1]), Bp);
        const a = lossAcc ? add(lossAcc, L) : L;
        const c = perChannel ? add(perChannel, ch) : ch;
        return [a, c];
      }) as [Tensor, Tensor];
      for (const t of previous) t?.release();
    }
  } finally {
    thaw();
  }
  if (!lossAcc || !perChannel) return { loss: NaN, rmse: {}, inputRmse: {}, samples: 0 };
  const [lossSum, chSum] = await rt().readAll([lossAcc, perChannel]);
  lossAcc.release();
  perChannel.release();
  const pixels = samples * H * W; // the RMSE is given for regression models, which never patch
  const rmse: Record<string, number> = {};
  const names = ds.outputChannels().map((c) => c.name + c.level);
  // The std of each output channel, from the dataset's own denormalisation: x(1) - x(0).
  const one = ds.denormalizeOutput(new Float32Array(cOut).fill(1), 1);
  const zero = ds.denormalizeOutput(new Float32Array(cOut).fill(0), 1);
  const isRegression = ctx.net instanceof CorrDiffRegressionUNet;
  // RegressionLossCE's squared errors are those of the non-probability channels, in order
  const prob = ctx.loss.probChannels ?? [];
  const squared = names.map((_, c) => c).filter((c) => !prob.includes(c));
  squared.forEach((c, at) => {
    // The diffusion loss carries the EDM weight lambda(sigma): its per-channel value is not an MSE.
    if (isRegression) rmse[names[c]] = Math.sqrt(chSum[at] / pixels) * Math.abs(one[c] - zero[c]);
  });
  const inputRmse: Record<string, number> = {};
  for (const [c] of pairs) inputRmse[outNames[c]] = Math.sqrt(inputSq[c] / (samples * H * W));
  return { loss: lossSum[0] / batches.length, rmse, inputRmse, samples };
}
