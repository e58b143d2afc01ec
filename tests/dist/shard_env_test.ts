/**
 * A generation task finds its shard in the scheduler's environment when `--shard` is not given:
 * SLURM job arrays, Kubernetes Indexed Jobs (with the count passed separately) and MPI launchers;
 * end to end, two tasks placed that way merge into the file of the unsharded run.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { resolveShard } from "../../src/generate/plan.ts";
import { generate } from "../../src/generate/run.ts";
import { mergeShards } from "../../src/generate/merge.ts";
import { readGenerationFile } from "../../src/io/generation_reader.ts";
import { TIMES, tinyConfig, writeTinyModels } from "../generate/fixtures.ts";

/** The CLI's view of tests/generate/fixtures.ts's tinyConfig (16x16 synthetic data, 2 times). */
const TINY_GENERATE = [
  "dataset.image_shape=[16,16]",
  "dataset.num_samples=4",
  "++dataset.stats_samples=4",
  `generation.times=[${TIMES.map((t) => `"${t}"`).join(",")}]`,
];

const at = (index: number, count: number, source: string) => ({ shard: { index, count }, source });

Deno.test("shard: --shard wins; a plain run has none", () => {
  assertEquals(resolveShard({}, {}), null);
  assertEquals(
    resolveShard({ shard: "2/5" }, { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "4" }),
    at(2, 5, "--shard"),
  );
  assertThrows(() => resolveShard({ shard: "2/5", shards: "4" }, {}), undefined, "does not match");
});

Deno.test("shard: a SLURM job array, also one that does not start at 0 or has a step", () => {
  assertEquals(
    resolveShard({}, { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "8", SLURM_ARRAY_TASK_MIN: "0" }),
    at(3, 8, "SLURM_ARRAY_TASK_ID"),
  );
  assertEquals(
    resolveShard({}, {
      SLURM_ARRAY_TASK_ID: "5",
      SLURM_ARRAY_TASK_COUNT: "4",
      SLURM_ARRAY_TASK_MIN: "1",
      SLURM_ARRAY_TASK_STEP: "2",
    }),
    at(2, 4, "SLURM_ARRAY_TASK_ID"),
  );
  assertEquals(
    resolveShard({}, { SLURM_ARRAY_TASK_ID: "17", SLURM_ARRAY_TASK_COUNT: "8", SLURM_ARRAY_TASK_MIN: "10" }),
    at(7, 8, "SLURM_ARRAY_TASK_ID"),
  );
  // An array task inside srun: the array decides, not the step's ranks.
  assertEquals(
    resolveShard({}, {
      SLURM_ARRAY_TASK_ID: "1",
      SLURM_ARRAY_TASK_COUNT: "2",
      SLURM_PROCID: "0",
      SLURM_STEP_NUM_TASKS: "1",
    }),
    at(1, 2, "SLURM_ARRAY_TASK_ID"),
  );
  assertThrows(
    () =>
      resolveShard({}, { SLURM_ARRAY_TASK_ID: "9", SLURM_ARRAY_TASK_COUNT: "3", SLURM_ARRAY_TASK_MIN: "1" }),
    undefined,
    "--array=0-2",
  );
  assertThrows(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: "1" }), undefined, "SLURM_ARRAY_TASK_COUNT");
});

Deno.test("shard: a Kubernetes Indexed Job with the count from CORRDIFF_SHARD_COUNT or --shards", () => {
  assertEquals(
    resolveShard({}, { JOB_COMPLETION_INDEX: "6", CORRDIFF_SHARD_COUNT: "8" }),
    at(6, 8, "JOB_COMPLETION_INDEX"),
  );
  assertEquals(
    resolveShard({ shards: "8" }, { JOB_COMPLETION_INDEX: "0" }),
    at(0, 8, "JOB_COMPLETION_INDEX"),
  );
  assertThrows(() => resolveShard({}, { JOB_COMPLETION_INDEX: "2" }), undefined, "CORRDIFF_SHARD_COUNT");
  assertThrows(() => resolveShard({ shards: "2" }, { JOB_COMPLETION_INDEX: "2" }), undefined, "not below 2");
  assertThrows(
    () => resolveShard({ shards: "4" }, { JOB_COMPLETION_INDEX: "2", CORRDIFF_SHARD_COUNT: "8" }),
    undefined,
    "does not match",
  );
});

Deno.test("shard: the rank and size of mpirun, mpiexec or srun; one process is a plain run", () => {
  assertEquals(
    resolveShard({}, { OMPI_COMM_WORLD_RANK: "1", OMPI_COMM_WORLD_SIZE: "3" }),
    at(1, 3, "Open MPI (mpirun)"),
  );
  assertEquals(resolveShard({}, { PMI_RANK: "0", PMI_SIZE: "2" }), at(0, 2, "PMI (mpiexec)"));
  assertEquals(
    resolveShard({}, { SLURM_PROCID: "3", SLURM_STEP_NUM_TASKS: "4", SLURM_STEP_ID: "0" }),
    at(3, 4, "SLURM (srun)"),
  );
  assertEquals(resolveShard({}, { OMPI_COMM_WORLD_RANK: "0", OMPI_COMM_WORLD_SIZE: "1" }), null);
  assertThrows(() => resolveShard({ shards: "4" }, {}), undefined, "needs this process's index");
});

Deno.test("deno task generate takes its shard from a SLURM array or an Indexed Job; the shards merge to the whole run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shard_env_test_" });
  try {
    const models = await writeTinyModels(dir);
    const overrides = ["generation.num_ensembles=3", "sampler.num_steps=3", "generation.seed_batch_size=1"];
    const whole = await generate(tinyConfig(models, `${dir}/whole.nc`, overrides));
    const cli = (env: Record<string, string>, extra: string[] = []) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../src/cli/generate.ts", import.meta.url).pathname,
          "--config-name=config_generate_synthetic.yaml",
          ...TINY_GENERATE,
          ...overrides,
          `++generation.io.reg_ckpt_filename=${models.reg}`,
          `++generation.io.res_ckpt_filename=${models.res}`,
          `++generation.io.output_filename=${dir}/run.nc`,
          "--quiet",
          ...extra,
        ],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const dec = new TextDecoder();
    // Task 1 of an array submitted as --array=1-2, and pod 1 of a 2-completion Indexed Job.
    const a = await cli({ SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_COUNT: "2" });
    assertEquals(a.code, 0, dec.decode(a.stderr));
    assert(dec.decode(a.stdout).includes("shard 0/2 from SLURM_ARRAY_TASK_ID"), dec.decode(a.stdout));
    const b = await cli({ JOB_COMPLETION_INDEX: "1" }, ["--shards", "2"]);
    assertEquals(b.code, 0, dec.decode(b.stderr));
    assert(dec.decode(b.stdout).includes("shard 1/2 from JOB_COMPLETION_INDEX"), dec.decode(b.stdout));
    const merged = await mergeShards(
      [`${dir}/run.shard-0-of-2.nc`, `${dir}/run.shard-1-of-2.nc`],
      `${dir}/merged.nc`,
    );
    assertEquals([merged.shards, merged.members, merged.times], [2, 3, 2]);
    const [x, y] = [await readGenerationFile(whole.path), await readGenerationFile(`${dir}/merged.nc`)];
    for (const [name, v] of x.prediction) {
      const u = y.prediction.get(name)!.data;
      assert(
        v.data.length === u.length && v.data.every((s, i) => Object.is(s, u[i])),
        `prediction ${name} differs`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
