/**
 * Tiny training configs for tests: the shipped synthetic configs at 16x16 with an 8-channel,
 * two-level U-Net, so a step takes a fraction of a second on a CPU adapter.
 */
import { resolveConfig } from "../../src/config/mod.ts";
import type { Config } from "../../src/config/mod.ts";
import { CorrDiffRegressionUNet } from "../../src/nn/wrappers.ts";

export const TINY_MODEL = [
  "++model.model_args.model_channels=8",
  "++model.model_args.channel_mult=[1,2]",
  "++model.model_args.attn_resolutions=[8]",
  "++model.model_args.num_blocks=1",
];

/** Synthetic data at 16x16: 32 hourly samples, the first 24 for training, the last 8 for validation. */
export const TINY_DATA = [
  "dataset.image_shape=[16,16]",
  "dataset.num_samples=32",
  '++dataset.time_range=["2000-01-01T00:00:00","2000-01-01T23:00:00"]',
  '++validation.time_range=["2000-01-02T00:00:00","2000-01-02T07:00:00"]',
];

/** A resolved tiny config: `kind` regression or diffusion, checkpoints under `dir`. */
export function tinyConfig(kind: "regression" | "diffusion", dir: string, extra: string[] = []): Config {
  return resolveConfig({
    configName: `config_training_synthetic_${kind}`,
    overrides: [
      ...TINY_DATA,
      ...TINY_MODEL,
      `training.io.checkpoint_dir=${dir}`,
      "training.hp.total_batch_size=4",
      ...(kind === "diffusion" ? [] : []),
      ...extra,
    ],
  });
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return Deno.makeTempDirSync({ prefix: `corrdiff-${prefix}-` });
}

/** The tiny regression U-Net of the configs above, built directly: 16x16, 3 inputs + 4 grid channels, 2 outputs. */
export function tinyRegressionNet(seed: number, dropout: number): CorrDiffRegressionUNet {
  return new CorrDiffRegressionUNet({
    img_resolution: [16, 16],
    img_in_channels: 3 + 4,
    img_out_channels: 2,
    model_channels: 8,
    channel_mult: [1, 2],
    attn_resolutions: [8],
    num_blocks: 1,
    N_grid_channels: 4,
    embedding_type: "zero",
    dropout,
  }, seed);
}
