/**
 * Lead-time models end to end on synthetic data with lead times (`dataset.lead_time_steps`, whose coarse
 * inputs drift with lead time): lt_aware_regression learns, and uses the labels; lt_aware_patched_diffusion
 * trains on it; generation with `generation.has_lead_time` writes a file; and the mismatches between
 * models, configs and datasets fail in one line.
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../helpers/assert.ts";
import { train } from "../../src/train/train.ts";
import { generate } from "../../src/generate/run.ts";
import { readGenerationFile } from "../../src/io/generation_reader.ts";
import { createDataset } from "../../src/data/dataset.ts";
import { loadNetwork } from "../../src/nn/checkpoint.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { CorrDiffRegressionUNet } from "../../src/nn/wrappers.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { tempDir, tinyConfig } from "./tiny.ts";
import { TIMES } from "../generate/fixtures.ts";

const quiet = { log: () => {}, progress: false } as const;
const LEAD = "++dataset.lead_time_steps=3";

Deno.test("lead-time models train, use their labels and generate; mismatches fail in one line", async () => {
  const dir = tempDir("lead");
  try {
    const reg = await train({
      ...quiet,
      config: tinyConfig("regression", dir, [
        LEAD,
        "model=lt_aware_regression",
        "++model.model_args.lead_time_steps=3",
        "training.hp.training_duration=800",
        "training.hp.lr=0.002",
        "training.io.print_progress_freq=80",
        "training.io.validation_freq=80",
        "training.io.validation_steps=2",
      ]),
    });
    assert(reg.checkpointDir.endsWith("checkpoints_lt_aware_regression"), reg.checkpointDir);
    const v = Deno.readTextFileSync(join(reg.checkpointDir, "metrics.jsonl")).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((r) => r.kind === "validation");
    // measured: 158 -> 78 over 200 steps
    assert(v.at(-1).loss < 0.6 * v[0].loss, `validation loss ${v[0].loss} -> ${v.at(-1).loss}`);

    // The trained net reads the labels: on held-out samples, the right labels fit better than wrong ones.
    const r = await initRuntime();
    const net = loadNetwork(reg.checkpointDir).net as CorrDiffRegressionUNet;
    assertEquals(net.model.ltEmbd?.shape, [3, 4, 16, 16]);
    // the validation samples: hours 24-31 of the synthetic data
    const held = '++dataset.time_range=["2000-01-02T00:00:00","2000-01-02T07:00:00"]';
    const ds = await createDataset(
      tinyConfig("regression", dir, [LEAD, held]).dataset as Record<string, unknown>,
    );
    const cin = ds.inputChannels().length;
    let right = 0, wrong = 0;
    for (let i = 0; i < 8; i++) {
      const it = await ds.item(i);
      assertEquals(it.leadTime, (24 + i) % 3);
      const err = async (label: number) => {
        const y = await r.scope(() =>
          net.forward(
            r.upload(new Float32Array(2 * 256), [1, 2, 16, 16]),
            r.upload(it.input, [1, cin, 16, 16]),
            {
              train: false,
            },
            { leadTimeLabel: [label] },
          )
        ).read();
        return y.reduce((a, v, k) => a + (v - it.target[k]) ** 2, 0);
      };
      right += await err(it.leadTime!);
      wrong += await err((it.leadTime! + 1) % 3);
    }
    net.ps.dispose();
    // measured: 622 against 782
    assert(right < 0.9 * wrong, `squared error with the right labels ${right}, with wrong ones ${wrong}`);

    const diff = await train({
      ...quiet,
      config: tinyConfig("diffusion", dir, [
        LEAD,
        "model=lt_aware_patched_diffusion",
        "++model.model_args.lead_time_steps=3",
        "++model.model_args.N_grid_channels=4",
        "++model.model_args.lead_time_channels=2",
        `training.io.regression_checkpoint_path=${reg.checkpointDir}`,
        "training.hp.training_duration=8",
        "training.hp.patch_shape_x=8",
        "training.hp.patch_shape_y=8",
        "training.hp.patch_num=2",
      ]),
    });
    assert(diff.checkpointDir.endsWith("checkpoints_lt_aware_patched_diffusion"), diff.checkpointDir);
    assert(diff.lastLoss !== null && Number.isFinite(diff.lastLoss), "diffusion loss is finite");

    const gen = (out: string, extra: string[]) =>
      resolveConfig({
        configName: "config_generate_synthetic",
        overrides: [
          "dataset.image_shape=[16,16]",
          "dataset.num_samples=8",
          LEAD,
          "generation=patched",
          "generation.patch_shape_x=8",
          "generation.patch_shape_y=8",
          "generation.overlap_pix=2",
          "generation.boundary_pix=1",
          "generation.num_ensembles=2",
          "generation.seed_batch_size=2",
          "sampler.num_steps=3",
          `generation.times=${JSON.stringify(TIMES)}`,
          `generation.io.reg_ckpt_filename=${reg.checkpointDir}`,
          `generation.io.res_ckpt_filename=${diff.checkpointDir}`,
          `generation.io.output_filename=${out}`,
          ...extra,
        ],
      });
    const s = await generate(gen(join(dir, "lt.nc"), ["++generation.has_lead_time=true"]));
    const data = await readGenerationFile(s.path);
    assertEquals([data.ny, data.nx, data.nEnsemble], [16, 16, 2]);
    assert(data.prediction.get("u10m")!.data.every(Number.isFinite));

    await assertRejects(
      () => generate(gen(join(dir, "no_label.nc"), [])),
      Error,
      "is a lead-time model (SongUNetPosLtEmbd): set generation.has_lead_time=true",
    );
    await assertRejects(
      () =>
        generate(
          gen(join(dir, "no_data.nc"), ["++generation.has_lead_time=true", "~dataset.lead_time_steps"]),
        ),
      Error,
      "generation.has_lead_time: the dataset's samples have no lead-time labels",
    );
    await assertRejects(
      () =>
        train({
          ...quiet,
          config: tinyConfig("regression", join(dir, "x"), [
            "model=lt_aware_regression",
            "training.hp.training_duration=4",
          ]),
        }),
      Error,
      "is a lead-time model, but dataset.type synthetic gives its samples no lead-time labels",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lt_aware_ce_regression: the cross entropy on the dataset's probability channels trains; eval gives probabilities", async () => {
  const dir = tempDir("lead-ce");
  const type = `${new URL("../fixtures/prob_dataset.ts", import.meta.url).pathname}::ProbabilityWinds`;
  try {
    const sm = await train({
      ...quiet,
      config: tinyConfig("regression", dir, [
        `dataset.type=${type}`,
        "~dataset.seed",
        "~dataset.upsample_factor",
        "~dataset.input_variables",
        "~dataset.output_variables",
        "~dataset.invariant_variables",
        "~dataset.lead_time_steps",
        "model=lt_aware_ce_regression",
        "++model.model_args.lead_time_steps=3",
        "training.hp.training_duration=320",
        "training.hp.lr=0.002",
        "training.io.print_progress_freq=80",
        "training.io.validation_freq=80",
        "training.io.validation_steps=2",
      ]),
    });
    assert(sm.checkpointDir.endsWith("checkpoints_lt_aware_ce_regression"), sm.checkpointDir);
    const v = Deno.readTextFileSync(join(sm.checkpointDir, "metrics.jsonl")).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((r) => r.kind === "validation");
    assert(v.at(-1).loss < 0.8 * v[0].loss, `validation loss ${v[0].loss} -> ${v.at(-1).loss}`);
    // RMSEs of the squared-error channels only, finite
    assertEquals(Object.keys(v.at(-1).rmse).sort(), ["u10m", "v10m"]);
    assert(Object.values(v.at(-1).rmse).every((x) => Number.isFinite(x as number) && (x as number) > 0));
    const net = loadNetwork(sm.checkpointDir).net as CorrDiffRegressionUNet;
    assertEquals(net.model.probChannels, [2, 3]);
    const r = await initRuntime();
    const y = await r.scope(() =>
      net.forward(
        r.upload(new Float32Array(4 * 256), [1, 4, 16, 16]),
        r.upload(new Float32Array(3 * 256), [1, 3, 16, 16]),
        {
          train: false,
        },
        { leadTimeLabel: [1] },
      )
    ).read();
    for (let k = 0; k < 256; k++) assertAlmostEquals(y[2 * 256 + k] + y[3 * 256 + k], 1, 1e-5);
    net.ps.dispose();
    await assertRejects(
      () =>
        train({
          ...quiet,
          config: tinyConfig("regression", join(dir, "y"), [LEAD, "model=lt_aware_ce_regression"]),
        }),
      Error,
      "trains a cross entropy on probability channels, but the dataset names none",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
