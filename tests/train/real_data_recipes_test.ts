/**
 * The real-data recipes of examples/real-data.md, end to end in a few steps (what CI can afford):
 * the shipped ERA5 and FMI training configs unchanged except for their length, on stand-in files of
 * the real layout and size (32x48 x4 with two invariants; 128x128 x8 without, windows sharing
 * times), then the shipped generation configs (every held-out sample, fewer members and steps), then
 * `deno task evaluate`'s report against bilinear and bicubic.
 */
import { resolveConfig } from "../../src/config/mod.ts";
import { train } from "../../src/train/train.ts";
import { generate } from "../../src/generate/run.ts";
import { writeEvaluationReport } from "../../src/demo/report.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { hrrrStandIn, writeHrrrMiniFixture } from "../data/fixtures.ts";
import { tempDir } from "./tiny.ts";

const quiet = { log: () => {}, progress: false } as const;

async function recipe(set: string, fx: ReturnType<typeof hrrrStandIn>, batch: number, heldOut: number) {
  const dir = tempDir(`recipe-${set}`);
  try {
    const { dataPath, statsPath } = await writeHrrrMiniFixture(dir, fx);
    const data = [`dataset.data_path=${dataPath}`, `dataset.stats_path=${statsPath}`];
    const short = [
      `training.hp.training_duration=${2 * batch}`,
      `training.io.print_progress_freq=${batch}`,
      `training.io.save_checkpoint_freq=${2 * batch}`,
      `training.io.validation_freq=${2 * batch}`,
      "training.io.validation_steps=1",
      `training.io.checkpoint_dir=${dir}`,
    ];
    const reg = await train({
      ...quiet,
      config: resolveConfig({
        configName: `config_training_${set}_regression`,
        overrides: [...data, ...short],
      }),
    });
    const diff = await train({
      ...quiet,
      config: resolveConfig({
        configName: `config_training_${set}_diffusion`,
        overrides: [...data, ...short, `training.io.regression_checkpoint_path=${reg.checkpointDir}`],
      }),
    });
    for (const s of [reg, diff]) {
      assertEquals(s.samples, 2 * batch, `${set}: samples trained`);
      assert(s.lastLoss !== null && Number.isFinite(s.lastLoss), `${set}: loss ${s.lastLoss}`);
    }
    const gen = (mode: string, members: number, out: string, extra: string[] = []) =>
      generate(resolveConfig({
        configName: `config_generate_${set}`,
        overrides: [
          ...data,
          `generation.io.reg_ckpt_filename=${reg.checkpointDir}`,
          `generation.io.res_ckpt_filename=${diff.checkpointDir}`,
          `generation.io.output_filename=${out}`,
          `generation.inference_mode=${mode}`,
          `generation.num_ensembles=${members}`,
          `generation.seed_batch_size=${members}`,
          "sampler.num_steps=2",
          ...extra,
        ],
      }));
    const ens = await gen("all", 2, `${dir}/ens.nc`);
    const mean = await gen("regression", 1, `${dir}/reg.nc`);
    const report = await writeEvaluationReport(ens.path, {
      outDir: `${dir}/eval`,
      regressionPath: mean.path,
      dataPath,
    });
    assertEquals(report.evaluation.nTime, heldOut, `${set}: every held-out sample generated`);
    const v = report.evaluation.variables[0];
    assertEquals(Object.keys(v.summary).sort(), ["bicubic", "bilinear", "ensemble", "regression"]);
    for (const [k, s] of Object.entries(v.summary)) {
      for (const x of [s!.crps, s!.mae, s!.rmse, s!.finePower!]) {
        assert(Number.isFinite(x), `${set} ${k}: ${x}`);
      }
    }
    assert(Number.isFinite(v.summary.ensemble!.spreadSkill), `${set}: spread-skill`);
    // Another file of the same layout: every one of its samples once the held-out window is dropped.
    const all = await gen("regression", 1, `${dir}/all.nc`, ["~dataset.time_range"]);
    assertEquals(all.times, fx.times.length, `${set}: ~dataset.time_range generates every sample`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("recipe era5_uk_t2m in a few steps: train both models, generate the held-out days, evaluate", async () => {
  // Training 1-19 March 2019, held out 20-22 March: three hours of each.
  const fx = hrrrStandIn({
    inputs: ["t2m"],
    outputs: ["t2m"],
    invariants: ["elev_mean", "lsm_mean"],
    h: 8,
    w: 12,
    f: 4,
    times: [0, 1, 2, 19 * 24, 20 * 24 + 5, 21 * 24 + 23],
    timeUnits: "hours since 2019-03-01 00:00:00",
  });
  await recipe("era5_uk_t2m", fx, 16, 3);
});

Deno.test("recipe fmi_radar in a few steps: train both models, generate the held-out frames, evaluate", async () => {
  // 128x128 from 16x16; two windows per frame share its time; held out from 17:45.
  const min = (hh: number, mm: number) => 60 * hh + mm;
  const fx = hrrrStandIn({
    inputs: ["refc"],
    outputs: ["refc"],
    invariants: [],
    h: 16,
    w: 16,
    f: 8,
    times: [min(14, 45), min(14, 45), min(15, 0), min(17, 45), min(17, 45)],
    timeUnits: "minutes since 2016-09-28 00:00:00",
  });
  await recipe("fmi_radar", fx, 8, 2);
});
