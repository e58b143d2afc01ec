/**
 * `deno task evaluate` / writeEvaluationReport on an HRRR-mini file whose samples share times (as FMI
 * radar windows do): the bicubic baseline comes from the sample with the same time AND truth, its
 * scores and fine-scale power equal an independent computation, and every file is written.
 */
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../helpers/assert.ts";
import { analyticFixture, writeHrrrMiniFixture } from "../data/fixtures.ts";
import { writeTinyModels } from "../generate/fixtures.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { generate } from "../../src/generate/run.ts";
import { writeEvaluationReport } from "../../src/demo/report.ts";
import { resizeCubic } from "../../src/data/resample.ts";
import { finePowerShare } from "../../src/metrics/fine_scale.ts";

const h = 4, w = 4, f = 4, H = h * f, W = w * f, T = 4;

/** The analytic fixture with fine-scale waves on output `a`, and two samples per time. */
function fixture() {
  const fx = analyticFixture(T, h, w, f);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < H * W; i++) {
      fx.outputs.a[t * H * W + i] += 0.3 * (t + 1) * Math.sin(2.5 * (i % W) + i / W);
    }
  }
  fx.times = [fx.times[0], fx.times[0], fx.times[1], fx.times[1]];
  return fx;
}

async function run(
  dir: string,
  dataPath: string,
  statsPath: string,
  mode: "all" | "regression",
  out: string,
) {
  const models = await writeTinyModels(dir, { size: H, inputs: 2, outputs: 2 });
  const n = mode === "all" ? 2 : 1;
  await generate(
    resolveConfig({
      configName: "config_generate_hrrr_mini",
      overrides: [
        `dataset.data_path=${dataPath}`,
        `dataset.stats_path=${statsPath}`,
        "dataset.input_variables=[a,b]",
        "dataset.output_variables=[a,b]",
        "dataset.invariant_variables=[]",
        "++generation.times=all",
        `generation.inference_mode=${mode}`,
        `generation.num_ensembles=${n}`,
        `generation.seed_batch_size=${n}`,
        "sampler.num_steps=3",
        `generation.io.reg_ckpt_filename=${models.reg}`,
        `generation.io.res_ckpt_filename=${models.res}`,
        `generation.io.output_filename=${out}`,
      ],
    }),
    { progress: undefined },
  );
}

Deno.test("evaluation report: bicubic from the matching sample, fine-scale power, every file written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corrdiff-report-" });
  try {
    const fx = fixture();
    const { dataPath, statsPath } = await writeHrrrMiniFixture(dir, fx);
    await run(dir, dataPath, statsPath, "all", `${dir}/ens.nc`);
    await run(dir, dataPath, statsPath, "regression", `${dir}/reg.nc`);
    const r = await writeEvaluationReport(`${dir}/ens.nc`, {
      outDir: `${dir}/eval`,
      regressionPath: `${dir}/reg.nc`,
      dataPath,
    });
    assertEquals(r.upsampleFactor, f);
    const a = r.evaluation.variables.find((v) => v.name === "a")!;
    assertEquals(Object.keys(a.summary).sort(), ["bicubic", "bilinear", "ensemble", "regression"]);

    // Independently: bicubic of sample t's coarse `a` against its truth (times 0 and 1 are shared).
    const cubic: Float32Array[] = [], truth: Float32Array[] = [];
    let mae = 0;
    for (let t = 0; t < T; t++) {
      const c = resizeCubic(fx.inputs.a.subarray(t * h * w, (t + 1) * h * w), 1, h, w, H, W);
      const y = fx.outputs.a.subarray(t * H * W, (t + 1) * H * W);
      cubic.push(c), truth.push(y);
      let s = 0;
      for (let i = 0; i < H * W; i++) s += Math.abs(c[i] - y[i]);
      mae += s / (H * W) / T;
    }
    assertAlmostEquals(a.summary.bicubic!.mae, mae, 1e-5);
    assertAlmostEquals(a.summary.bicubic!.crps, mae, 1e-5);
    assertAlmostEquals(a.summary.bicubic!.finePower!, finePowerShare(cubic, truth, H, W, f), 1e-6);
    for (const k of ["ensemble", "regression", "bilinear"] as const) {
      const p = a.summary[k]!.finePower!;
      assert(Number.isFinite(p) && p >= 0, `${k} fine-scale power ${p}`);
    }
    assert(r.table.some((l) => l.startsWith("| a (K) | bicubic input |")), r.table.join("\n"));
    for (const name of ["scores.md", "scores.json", "map.png", "map.svg", "spectra_a.png", "spectra_b.png"]) {
      assert((await Deno.stat(`${dir}/eval/${name}`)).size > 0, name);
    }
    const json = JSON.parse(await Deno.readTextFile(`${dir}/eval/scores.json`));
    assertAlmostEquals(json.summary[0].bicubic.mae, mae, 1e-5);

    // A data file without these samples is refused, naming it.
    const other = await Deno.makeTempDir({ dir });
    const fx2 = fixture();
    fx2.outputs.a.fill(0);
    const wrong = await writeHrrrMiniFixture(other, fx2);
    await assertRejects(
      () => writeEvaluationReport(`${dir}/ens.nc`, { outDir: `${dir}/eval2`, dataPath: wrong.dataPath }),
      Error,
      `${wrong.dataPath}: no sample at`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
