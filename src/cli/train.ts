/**
 * `deno task train --config-name=config_training_<set>_<model>.yaml [++key=value ...]`: trains the
 * regression or diffusion model a config describes (reference: train.py). Parses and calls
 * `train()`, as notebooks do.
 */
import { loadConfigFromArgs } from "../config/mod.ts";
import { formatSummary, train } from "../train/train.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    "usage: deno task train --config-name=config_training_<set>_<model>.yaml [++key=value ...]\n" +
      "  e.g. deno task train --config-name=config_training_synthetic_regression.yaml\n" +
      "       deno task train --config-name=config_training_synthetic_diffusion.yaml \\\n" +
      "         ++training.io.regression_checkpoint_path=checkpoints_regression\n" +
      "  Resumes from the newest checkpoint in <training.io.checkpoint_dir>/checkpoints_<model.name>/.",
  );
  Deno.exit(0);
}

try {
  const { config, rest } = loadConfigFromArgs(Deno.args, "config_training_synthetic_regression");
  if (rest.length) {
    throw new Error(`unexpected arguments: ${rest.join(" ")} (overrides look like key=value or ++key=value)`);
  }
  const summary = await train({ config });
  for (const line of formatSummary(summary)) console.log(line);
} catch (e) {
  console.error(`train: error - ${(e as Error).message}`);
  if (Deno.env.get("CORRDIFF_DEBUG")) console.error((e as Error).stack);
  Deno.exit(1);
}
