/**
 * `deno task train --config-name=config_training_<set>_<model>.yaml [++key=value ...]`: trains the
 * regression or diffusion model a config describes (reference: train.py). Parses and calls
 * `train()`, as notebooks do. Under `mpirun -np N` (or `srun`) it is one of N data-parallel ranks.
 */
import { loadConfigFromArgs } from "../config/mod.ts";
import { initWorld, SINGLE_PROCESS, type World } from "../dist/world.ts";
import { formatSummary, train } from "../train/train.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    "usage: deno task train --config-name=config_training_<set>_<model>.yaml [++key=value ...]\n" +
      "  e.g. deno task train --config-name=config_training_synthetic_regression.yaml\n" +
      "       deno task train --config-name=config_training_synthetic_diffusion.yaml \\\n" +
      "         ++training.io.regression_checkpoint_path=checkpoints_regression\n" +
      "  Resumes from the newest checkpoint in <training.io.checkpoint_dir>/checkpoints_<model.name>/.\n" +
      "  Data parallel: mpirun -np N deno task train ... (or srun); total_batch_size is split over the N ranks.",
  );
  Deno.exit(0);
}

let world: World = SINGLE_PROCESS;
try {
  world = initWorld();
  const { config, rest } = loadConfigFromArgs(Deno.args, "config_training_synthetic_regression");
  if (rest.length) {
    throw new Error(`unexpected arguments: ${rest.join(" ")} (overrides look like key=value or ++key=value)`);
  }
  const summary = await train({ config, world });
  if (world.rank === 0) { for (const line of formatSummary(summary)) console.log(line); }
  world.finalize();
} catch (e) {
  const who = world.size > 1 ? ` (rank ${world.rank} of ${world.size})` : "";
  console.error(`train: error${who} - ${(e as Error).message}`);
  if (Deno.env.get("CORRDIFF_DEBUG")) console.error((e as Error).stack);
  // The other ranks would wait for this one in their next collective: end them all.
  if (world.size > 1) world.abort(1);
  Deno.exit(1);
}
