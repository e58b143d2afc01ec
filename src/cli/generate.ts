/**
 * `deno task generate --config-name=config_generate_<set>.yaml ++generation.io.reg_ckpt_filename=<reg>
 *  ++generation.io.res_ckpt_filename=<res> [overrides...] [--shard i/n] [--quiet]`
 *
 * Generates the ensemble the config describes into generation.io.output_filename (see
 * src/generate/). With `--shard i/n` it generates the i-th of n parts of (times x members) into
 * `<name>.shard-i-of-n.nc`; `deno task merge` joins the parts. Without `--shard`, a SLURM array task,
 * a Kubernetes Indexed Job pod or an MPI rank takes its shard from its environment (see `resolveShard`).
 */
import { parseArgs } from "node:util";
import { loadConfigFromArgs } from "../config/resolve.ts";
import { createProgress } from "../generate/progress.ts";
import { processEnv } from "../dist/launcher.ts";
import { resolveShard } from "../generate/plan.ts";
import { formatSummary, generate } from "../generate/run.ts";

const USAGE = `usage: deno task generate --config-name=config_generate_<set>.yaml \\
         ++generation.io.reg_ckpt_filename=<regression checkpoint> \\
         ++generation.io.res_ckpt_filename=<diffusion checkpoint> [key=value ...] [--shard i/n] [--quiet]

  key=value     config overrides, Hydra style (generation.num_ensembles=8, ++generation.times=all,
                generation/sampler=deterministic, ...); see conf/README.md
  --shard i/n   generate only the i-th (0-based) of n disjoint parts of (times x members), into
                <output>.shard-i-of-n.nc; join the parts with deno task merge. Without it the shard
                comes from the scheduler: a SLURM array (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT),
                a Kubernetes Indexed Job (JOB_COMPLETION_INDEX of CORRDIFF_SHARD_COUNT or --shards N),
                or mpirun/srun (the rank of the size)
  --shards N    the number of shards, for JOB_COMPLETION_INDEX (Kubernetes gives no count)
  --quiet       no progress output (the summary is still printed)`;

/** Runs the command with `args` (without the program name); returns the exit status. */
export async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let loaded, flags;
  try {
    // Which checkpoints are needed depends on generation.inference_mode: the settings check them.
    loaded = loadConfigFromArgs(args, "config_generate_synthetic", {
      optional: ["generation.io.reg_ckpt_filename", "generation.io.res_ckpt_filename"],
    });
    flags = parseArgs({
      args: loaded.rest,
      options: {
        shard: { type: "string" },
        shards: { type: "string" },
        quiet: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`generate: ${(e as Error).message.split("\n")[0]}\n${USAGE}`);
    return 2;
  }
  const resolved = resolveShard({ shard: flags.shard, shards: flags.shards }, processEnv());
  const shard = resolved?.shard;
  const progress = flags.quiet ? undefined : createProgress();
  console.log(`generate: config ${loaded.configName}`);
  if (resolved && resolved.source !== "--shard") {
    console.log(`generate: shard ${resolved.shard.index}/${resolved.shard.count} from ${resolved.source}`);
  }
  const summary = await generate(loaded.config, {
    shard,
    progress,
    log: flags.quiet ? undefined : (line) => console.log(`generate: ${line}`),
  });
  for (const line of formatSummary(summary)) console.log(line);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    // One line that says what is wrong; the stack only on request.
    console.error(`generate: ${(e as Error).message.split("\n")[0]}`);
    if (Deno.env.get("CORRDIFF_DEBUG")) console.error(e);
    Deno.exit(1);
  }
}
