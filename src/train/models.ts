/**
 * The networks of a training run, built as train.py builds them (reference sections 3.4 and 7.2):
 * the input-channel arithmetic, the runtime arguments it injects, and the frozen regression net
 * the diffusion models train on.
 */
import type { DownscalingDataset } from "../data/dataset.ts";
import { loadNetwork } from "../nn/checkpoint.ts";
import { CorrDiffRegressionUNet, EDMPrecondSuperResolution, type WrapperKwargs } from "../nn/wrappers.ts";
import type { TrainSettings } from "./settings.ts";

/** The constructor arguments of the network to train (what args.json records). */
export function networkArgs(s: TrainSettings, ds: DownscalingDataset): WrapperKwargs {
  const cLr = ds.inputChannels().length, cOut = ds.outputChannels().length;
  const [H, W] = ds.imageShape();
  let inChannels = cLr;
  if (s.model.hrMeanConditioning) inChannels += cOut;
  if (s.hp.patch) inChannels += cLr; // the whole domain's input, resized to the patch
  const args = { ...s.model.args };
  const grid = (args.N_grid_channels as number | undefined) ?? 4;
  // train.py counts the lead-time channels as inputs too
  const lt = s.model.leadTime ? (args.lead_time_channels as number | undefined) ?? 0 : 0;
  if (s.model.crossEntropy) {
    // as train.py: the network's probability channels are the dataset's
    const prob = ds.probChannels?.();
    if (!prob?.length) {
      throw new Error(
        `config: model.name '${s.model.name}' trains a cross entropy on probability channels, but the dataset ` +
          `names none (a dataset's probChannels() returns them)`,
      );
    }
    args.prob_channels = prob;
  }
  return {
    img_out_channels: cOut,
    img_resolution: [H, W],
    use_fp16: false,
    checkpoint_level: s.perf.checkpointLevel,
    ...args,
    img_in_channels: inChannels + grid + lt,
  } as WrapperKwargs;
}

/** A fresh network to train, initialised from `seed`. */
export function buildTrainee(
  s: TrainSettings,
  args: WrapperKwargs,
  seed: number,
): CorrDiffRegressionUNet | EDMPrecondSuperResolution {
  return s.model.kind === "regression"
    ? new CorrDiffRegressionUNet(args, seed)
    : new EDMPrecondSuperResolution(args, seed);
}

/**
 * The frozen regression net of a diffusion run (`training.io.regression_checkpoint_path`: a file or
 * a checkpoint directory), checked against the dataset.
 */
export async function loadRegressionNet(
  path: string,
  ds: DownscalingDataset,
): Promise<CorrDiffRegressionUNet> {
  const loaded = await loadNetwork(path);
  const { net, className } = loaded;
  if (!(net instanceof CorrDiffRegressionUNet)) {
    net.ps.dispose();
    throw new Error(
      `training.io.regression_checkpoint_path: ${loaded.path} holds a ${className}, not a regression model ` +
        `(CorrDiffRegressionUNet); give the checkpoint written by the regression training`,
    );
  }
  const cLr = ds.inputChannels().length, cOut = ds.outputChannels().length;
  const [H, W] = ds.imageShape();
  const k = net.kwargs;
  const grid = ((k.N_grid_channels as number | undefined) ?? 4) +
    (k.model_type === "SongUNetPosLtEmbd" ? (k.lead_time_channels as number) : 0);
  const res = Array.isArray(k.img_resolution) ? k.img_resolution : [k.img_resolution, k.img_resolution];
  const problems: string[] = [];
  if (k.img_out_channels !== cOut) {
    problems.push(`${k.img_out_channels} output channels, the dataset has ${cOut}`);
  }
  if (k.img_in_channels !== cLr + grid) {
    problems.push(`${k.img_in_channels - grid} input channels, the dataset has ${cLr}`);
  }
  if (res[0] !== H || res[1] !== W) problems.push(`image ${res[0]}x${res[1]}, the dataset's is ${H}x${W}`);
  if (problems.length) {
    net.ps.dispose();
    throw new Error(
      `training.io.regression_checkpoint_path: ${loaded.path} does not fit the dataset: ${
        problems.join("; ")
      }`,
    );
  }
  return net;
}
