/**
 * Tiny freshly initialised CorrDiff networks saved as checkpoints, and generation configs on the
 * built-in synthetic data that use them: small enough that a whole run takes a second or two.
 */
import { initRuntime } from "../../src/gpu/runtime.ts";
import { saveNetwork } from "../../src/nn/checkpoint.ts";
import { CorrDiffRegressionUNet, EDMPrecondSuperResolution } from "../../src/nn/wrappers.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import type { Config } from "../../src/config/tree.ts";

/** Synthetic data: inputs u10m, v10m + orography, outputs u10m, v10m. */
export const C_IN = 3, C_OUT = 2;

const TINY = {
  model_channels: 8,
  channel_mult: [1, 2],
  num_blocks: 1,
  attn_resolutions: [8],
  N_grid_channels: 4,
  gridtype: "sinusoidal",
  embedding_type: "zero",
  dropout: 0,
};

/** Options of {@link writeTinyModels}. */
export interface TinyModelOptions {
  /** Image size, square or [H, W] (default 16). */
  size?: number | [number, number];
  /** Input and output channels (default: the synthetic tests' 3 and 2). */
  inputs?: number;
  outputs?: number;
  /** Diffusion model conditioned on the regression mean (default true). */
  hrMean?: boolean;
  /** Diffusion model trained with patches (takes the whole-domain view too). */
  patched?: boolean;
}

/** Writes a tiny regression and diffusion checkpoint into `dir`; returns their paths. */
export async function writeTinyModels(
  dir: string,
  o: TinyModelOptions = {},
): Promise<{ reg: string; res: string }> {
  await initRuntime();
  const size = o.size ?? 16, cin = o.inputs ?? C_IN, cout = o.outputs ?? C_OUT;
  const img_resolution: [number, number] = typeof size === "number" ? [size, size] : size;
  const reg = new CorrDiffRegressionUNet({
    ...TINY,
    img_resolution,
    img_in_channels: cin + 4,
    img_out_channels: cout,
  }, 11);
  const cond = ((o.hrMean ?? true) ? cout : 0) + cin * (o.patched ? 2 : 1);
  const res = new EDMPrecondSuperResolution({
    ...TINY,
    img_resolution,
    img_in_channels: cond + 4,
    img_out_channels: cout,
  }, 12);
  const paths = { reg: `${dir}/reg.safetensors`, res: `${dir}/res.safetensors` };
  try {
    await saveNetwork(reg, paths.reg);
    await saveNetwork(res, paths.res);
  } finally {
    reg.ps.dispose();
    res.ps.dispose();
  }
  return paths;
}

/** The two synthetic times the tests generate. */
export const TIMES = ["2000-01-01T00:00:00", "2000-01-01T01:00:00"];

/** config_generate_synthetic on a small grid with the given checkpoints, output and overrides. */
export function tinyConfig(
  models: { reg: string; res: string },
  output: string,
  overrides: string[] = [],
  size = 16,
): Config {
  return resolveConfig({
    configName: "config_generate_synthetic",
    overrides: [
      `dataset.image_shape=[${size},${size}]`,
      "dataset.num_samples=4",
      "++dataset.stats_samples=4",
      `generation.times=[${TIMES.map((t) => `"${t}"`).join(",")}]`,
      "generation.seed_batch_size=1",
      "sampler.num_steps=4",
      `generation.io.reg_ckpt_filename=${models.reg}`,
      `generation.io.res_ckpt_filename=${models.res}`,
      `generation.io.output_filename=${output}`,
      ...overrides,
    ],
  });
}
