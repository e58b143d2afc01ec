/**
 * Every shipped training config (conf/config_training_*.yaml) starts and takes one optimiser step:
 * on small stand-in data of its dataset's type and layout (HRRR-mini NetCDF files with the config's
 * own variable names and times inside its time windows, a CWB Zarr store, the custom example class,
 * the built-in synthetic set), with a tiny U-Net at 16x16, regression first and then diffusion on
 * the regression run's checkpoint directory. gefs_hrrr, whose dataset type is not built, and a
 * `???` left unset each fail with one line naming what is wrong.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveConfig } from "../../src/config/mod.ts";
import { train, type TrainSummary } from "../../src/train/train.ts";
import { listCheckpoints } from "../../src/train/checkpoint.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { type HrrrFixture, hrrrStandIn, writeHrrrMiniFixture } from "../data/fixtures.ts";
import { writeZarrStore } from "../data/zarr_fixture.ts";
import { tempDir, TINY_MODEL } from "./tiny.ts";

const quiet = { log: () => {}, progress: false } as const;

/** One step of 2 samples is the whole run, so progress, validation and the checkpoint all fall on it. */
const ONE_STEP = [
  ...TINY_MODEL,
  "training.hp.total_batch_size=2",
  "training.hp.batch_size_per_gpu=auto",
  "training.hp.training_duration=2",
  "training.io.print_progress_freq=2",
  "training.io.save_checkpoint_freq=2",
  "training.io.validation_freq=2",
  "training.io.validation_steps=1",
];

/** Runs `config_training_<set>_<kind>` for one step in `dir`; checks the step and its checkpoint. */
async function oneStep(
  configName: string,
  dir: string,
  overrides: string[],
  expectValidation: boolean,
): Promise<TrainSummary> {
  const config = resolveConfig({
    configName,
    overrides: [...ONE_STEP, `training.io.checkpoint_dir=${dir}`, ...overrides],
  });
  const sm = await train({ ...quiet, config, maxSteps: 1 });
  assertEquals([sm.steps, sm.samples], [1, 2], `${configName}: steps, samples`);
  assert(
    sm.lastLoss !== null && Number.isFinite(sm.lastLoss),
    `${configName}: loss ${sm.lastLoss} is finite`,
  );
  assertEquals(sm.lastValidation !== null, expectValidation, `${configName}: validation ran`);
  if (sm.lastValidation) {
    assert(Number.isFinite(sm.lastValidation.loss), `${configName}: validation loss finite`);
  }
  assertEquals(listCheckpoints(sm.checkpointDir).map((c) => c.nimg), [2], `${configName}: checkpoint`);
  return sm;
}

/** Regression, then diffusion on the regression run's `checkpoints_regression` directory. */
async function regressionThenDiffusion(
  set: string,
  data: string[],
  validation: { regression: boolean; diffusion: boolean },
  regressionConfig = `config_training_${set}_regression`,
  diffusionConfig = `config_training_${set}_diffusion`,
  regressionExtra: string[] = [],
): Promise<void> {
  const dir = tempDir(`shipped-${set}`);
  try {
    const reg = await oneStep(regressionConfig, dir, [...data, ...regressionExtra], validation.regression);
    assert(reg.checkpointDir.endsWith("checkpoints_regression"), reg.checkpointDir);
    const diff = await oneStep(
      diffusionConfig,
      dir,
      [...data, `training.io.regression_checkpoint_path=${reg.checkpointDir}`],
      validation.diffusion,
    );
    assert(diff.checkpointDir.endsWith("checkpoints_diffusion"), diff.checkpointDir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes the fixture to `dir`/train.nc and stats.json; returns the dataset overrides pointing at them. */
async function hrrrFiles(dir: string, fx: HrrrFixture): Promise<string[]> {
  const { dataPath, statsPath } = await writeHrrrMiniFixture(dir, fx);
  return [`dataset.data_path=${dataPath}`, `dataset.stats_path=${statsPath}`];
}

async function withDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir(prefix);
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("shipped config synthetic: regression, then diffusion on its checkpoint", async () => {
  await regressionThenDiffusion("synthetic", ["dataset.image_shape=[16,16]", "dataset.num_samples=4"], {
    regression: false,
    diffusion: false,
  });
});

Deno.test("shipped config hrrr_mini: regression, then diffusion on its checkpoint", async () => {
  await withDir("hrrr-mini-data", async (data) => {
    // input_variables: null (every input of the file); outputs 10u, 10v; invariants elev_mean, lsm_mean.
    const fx = hrrrStandIn({
      inputs: ["10u", "10v", "2t"],
      outputs: ["10u", "10v"],
      invariants: ["elev_mean", "lsm_mean"],
      h: 4,
      w: 4,
      f: 4,
      times: [0, 1, 2, 3],
      timeUnits: "hours since 2020-02-02 00:00:00",
    });
    await regressionThenDiffusion("hrrr_mini", await hrrrFiles(data, fx), {
      regression: false,
      diffusion: false,
    });
  });
});

Deno.test("shipped config era5_uk_t2m: regression, then diffusion on its checkpoint (held-out days validate)", async () => {
  await withDir("era5-data", async (data) => {
    // Training window 1-19 March 2019, validation 20-22 March: two times in each.
    const fx = hrrrStandIn({
      inputs: ["t2m"],
      outputs: ["t2m"],
      invariants: ["elev_mean", "lsm_mean"],
      h: 4,
      w: 4,
      f: 4,
      times: [0, 18 * 24 + 23, 19 * 24, 21 * 24 + 23],
      timeUnits: "hours since 2019-03-01 00:00:00",
    });
    await regressionThenDiffusion("era5_uk_t2m", await hrrrFiles(data, fx), {
      regression: true,
      diffusion: true,
    });
  });
});

Deno.test("shipped config fmi_radar: regression, then diffusion on its checkpoint (held-out frames validate)", async () => {
  await withDir("fmi-data", async (data) => {
    // Factor 8 (2x2 -> 16x16); training 14:45-17:40, validation 17:45-18:00 on 2016-09-28.
    const min = (hh: number, mm: number) => 60 * hh + mm;
    const fx = hrrrStandIn({
      inputs: ["refc"],
      outputs: ["refc"],
      invariants: [],
      h: 2,
      w: 2,
      f: 8,
      times: [min(14, 45), min(17, 40), min(17, 45), min(18, 0)],
      timeUnits: "minutes since 2016-09-28 00:00:00",
    });
    await regressionThenDiffusion("fmi_radar", await hrrrFiles(data, fx), {
      regression: true,
      diffusion: true,
    });
  });
});

Deno.test("shipped config taiwan (cwb Zarr): regression, then diffusion on its checkpoint (2021 validates)", async () => {
  await withDir("cwb-data", async (data) => {
    // The config's channels: inputs 0-4, 9-12, 17-19 of 20 ERA5 channels, outputs 0-3 of the CWB
    // channels; ds_factor 4. Two times in 2020 (training), two in 2021 (the diffusion config's
    // validation: train false).
    const T = 4, CIN = 20, COUT = 4, N = 16;
    const value = (t: number, c: number, y: number, x: number) =>
      Math.sin(0.4 * x + 0.3 * y + t + c) + 0.1 * c;
    const field = (C: number) => {
      const a = new Float32Array(T * C * N * N);
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < C; c++) {
          for (let y = 0; y < N; y++) {
            for (let x = 0; x < N; x++) a[((t * C + c) * N + y) * N + x] = value(t, c, y, x);
          }
        }
      }
      return a;
    };
    const store = join(data, "cwb.zarr");
    await writeZarrStore(store, {
      cwb: { shape: [T, COUT, N, N], chunks: [1, COUT, N, N], dtype: "<f4", data: field(COUT) },
      era5: { shape: [T, CIN, N, N], chunks: [1, CIN, N, N], dtype: "<f4", data: field(CIN) },
      cwb_center: { shape: [COUT], dtype: "<f4", data: new Array(COUT).fill(0.1) },
      cwb_scale: { shape: [COUT], dtype: "<f4", data: new Array(COUT).fill(0.8) },
      cwb_variable: {
        shape: [COUT],
        dtype: "<U26",
        data: ["maximum_radar_reflectivity", "temperature_2m", "eastward_wind_10m", "northward_wind_10m"],
      },
      cwb_pressure: { shape: [COUT], dtype: "<f8", data: new Array(COUT).fill(NaN) },
      cwb_valid: { shape: [T], dtype: "|i1", data: new Array(T).fill(1) },
      era5_center: { shape: [CIN], dtype: "<f4", data: Array.from({ length: CIN }, (_, c) => 0.1 * c) },
      era5_scale: { shape: [CIN], dtype: "<f4", data: new Array(CIN).fill(0.8) },
      era5_variable: { shape: [CIN], dtype: "<U19", data: Array.from({ length: CIN }, (_, c) => `var${c}`) },
      era5_pressure: { shape: [CIN], dtype: "<f8", data: new Array(CIN).fill(NaN) },
      era5_valid: { shape: [T, CIN], dtype: "|b1", data: new Array(T * CIN).fill(true) },
      time: {
        shape: [T],
        dtype: "<i8",
        data: [0, 12, 8784, 8796], // 2020 is a leap year: hour 8784 is 2021-01-01T00.
        attrs: { units: "hours since 2020-01-01 00:00:00", calendar: "proleptic_gregorian" },
      },
      XLAT: {
        shape: [N, N],
        dtype: "<f4",
        data: Float32Array.from({ length: N * N }, (_, i) => 21 + 0.1 * Math.floor(i / N)),
      },
      XLONG: {
        shape: [N, N],
        dtype: "<f4",
        data: Float32Array.from({ length: N * N }, (_, i) => 119 + 0.1 * (i % N)),
      },
    }, { compressor: "zlib", consolidated: true });
    await regressionThenDiffusion(
      "taiwan",
      [`dataset.data_path=${store}`, "dataset.img_shape_x=16", "dataset.img_shape_y=16"],
      { regression: false, diffusion: true },
    );
  });
});

Deno.test("shipped config custom (TravellingWaves): regression (model=regression), then the shipped diffusion", async () => {
  const module = fileURLToPath(new URL("../../examples/custom_dataset.ts", import.meta.url));
  // The template's file keys (data_path, stats_path, *_variables) are for a file-based class; this
  // class computes its samples and rejects keys it does not know, so they are removed.
  const data = [
    `dataset.type=${module}::TravellingWaves`,
    "~dataset.data_path",
    "~dataset.stats_path",
    "~dataset.input_variables",
    "~dataset.output_variables",
    "~dataset.invariant_variables",
    "++dataset.num_samples=4",
    "++dataset.image_shape=[16,16]",
  ];
  await regressionThenDiffusion(
    "custom",
    data,
    { regression: false, diffusion: false },
    "config_training_custom",
    "config_training_custom",
    ["model=regression"],
  );
});

Deno.test("shipped config gefs_hrrr: regression and diffusion stop with one line: the dataset type is not built", async () => {
  await withDir("gefs", async (dir) => {
    for (
      const [name, extra] of [
        ["config_training_gefs_hrrr_regression", []],
        ["config_training_gefs_hrrr_diffusion", [`training.io.regression_checkpoint_path=${dir}/none`]],
      ] as const
    ) {
      const config = resolveConfig({
        configName: name,
        overrides: [...ONE_STEP, `training.io.checkpoint_dir=${dir}`, ...extra],
      });
      const e = await assertRejects(
        () => train({ ...quiet, config, maxSteps: 1 }),
        undefined,
        "dataset: type 'gefs_hrrr' (the reference's GEFS-HRRR lead-time dataset) is not supported by this port yet",
      );
      assert(!e.message.includes("\n"), `one line: ${e.message}`);
    }
  });
});

Deno.test("a ??? left unset in a shipped training config is one error naming the key", () => {
  const e = assertThrows(
    () => resolveConfig({ configName: "config_training_hrrr_mini_diffusion" }),
    undefined,
    "Missing mandatory value (???) in config 'config_training_hrrr_mini_diffusion': training.io.regression_checkpoint_path.",
  );
  assert(!e.message.includes("\n"), `one line: ${e.message}`);
  for (
    const [name, keys] of [
      ["config_training_era5_uk_t2m_regression", "dataset.data_path, dataset.stats_path"],
      ["config_training_taiwan_diffusion", "training.io.regression_checkpoint_path"],
      [
        "config_training_custom",
        "dataset.type, dataset.data_path, dataset.stats_path, training.io.regression_checkpoint_path",
      ],
    ] as const
  ) {
    const m = assertThrows(
      () => resolveConfig({ configName: name }),
      undefined,
      `in config '${name}': ${keys}.`,
    );
    assert(!m.message.includes("\n"), `one line: ${m.message}`);
  }
});
