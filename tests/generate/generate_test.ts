/**
 * Generation end to end on the synthetic data with tiny fresh models: the file read back by our
 * reader and by netCDF4/xarray, scored; the same config giving the same bytes; the inference modes,
 * the deterministic sampler and patched generation.
 */
import { assert, assertAlmostEquals, assertEquals } from "../helpers/assert.ts";
import { runPythonJson } from "../io/python.ts";
import { sharedDataTest } from "../helpers/shared.ts";
import { TIMES, tinyConfig, writeTinyModels } from "./fixtures.ts";
import { generate } from "../../src/generate/run.ts";
import { createDataset } from "../../src/data/dataset.ts";
import { type GenerationData, readGenerationFile } from "../../src/io/generation_reader.ts";
import { scoreField } from "../../src/metrics/scores.ts";
import type { Config } from "../../src/config/tree.ts";
import { resolveConfig } from "../../src/config/resolve.ts";

const dir = await Deno.makeTempDir({ prefix: "generate_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const models = await writeTinyModels(dir);
const N = 16 * 16;

async function run(
  name: string,
  overrides: string[] = [],
  m = models,
  size = 16,
): Promise<{ cfg: Config; data: GenerationData }> {
  const cfg = tinyConfig(m, `${dir}/${name}.nc`, overrides, size);
  const s = await generate(cfg);
  assertEquals(s.path, `${dir}/${name}.nc`);
  return { cfg, data: await readGenerationFile(s.path) };
}

/** Bytes of every field of a generation file, for exact comparisons. */
function fieldBytes(d: GenerationData): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const g of ["input", "truth", "prediction"] as const) {
    for (const [k, v] of d[g]) {
      out.set(`${g}/${k}`, new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
    }
  }
  return out;
}

function assertSameFields(a: GenerationData, b: GenerationData, what: string): void {
  const fa = fieldBytes(a), fb = fieldBytes(b);
  assertEquals([...fa.keys()], [...fb.keys()]);
  for (const [k, v] of fa) {
    assert(v.length === fb.get(k)!.length && v.every((x, i) => x === fb.get(k)![i]), `${what}: ${k} differs`);
  }
}

const PY_READ = `
import json, sys, numpy as np, netCDF4, xarray as xr
path = sys.argv[1]
nc = netCDF4.Dataset(path)
root = xr.open_dataset(path)
pred = xr.open_dataset(path, group="prediction")
truth = xr.open_dataset(path, group="truth")
inp = xr.open_dataset(path, group="input")
print(json.dumps({
  "dims": {k: len(v) for k, v in nc.dimensions.items()},
  "groups": sorted(nc.groups),
  "times": [str(t)[:19] for t in root.time.values],
  "units": nc["prediction"]["u10m"].units,
  "pred_dims": list(pred["u10m"].dims),
  "sums": {f"{g}/{v}": float(np.float64(ds[v].values).sum()) for g, ds in [("prediction", pred), ("truth", truth), ("input", inp)] for v in ds.data_vars},
}))
`;

Deno.test("generate end to end: 2 members x 2 times, read back by us and by netCDF4/xarray, scored", async () => {
  const { data } = await run("e2e");
  assertEquals([data.nEnsemble, data.time.labels.length, data.ny, data.nx], [2, 2, 16, 16]);
  assertEquals(data.time.labels, TIMES.map((t) => `${t}.000Z`));
  assertEquals([...data.input.keys()], ["u10m", "v10m", "orography"]);
  assertEquals([...data.prediction.keys()], ["u10m", "v10m"]);
  assertEquals(data.prediction.get("u10m")!.attrs.units, "m s-1");
  assert(String(data.attrs.cfg).includes("num_ensembles: 2"), "the resolved config is kept in the file");

  // Input and truth are the dataset's samples in physical units.
  const ds = await createDataset({
    type: "synthetic",
    image_shape: [16, 16],
    num_samples: 4,
    stats_samples: 4,
    input_variables: ["u10m", "v10m"],
    output_variables: ["u10m", "v10m"],
    invariant_variables: ["orography"],
  });
  for (let t = 0; t < 2; t++) {
    const item = await ds.item(t);
    const truth = ds.denormalizeOutput(item.target), input = ds.denormalizeInput(item.input);
    for (let i = 0; i < N; i += 37) {
      assertAlmostEquals(data.truth.get("v10m")!.data[t * N + i], truth[N + i], 1e-6);
      assertAlmostEquals(data.input.get("orography")!.data[t * N + i], input[2 * N + i], 1e-3);
    }
  }

  // Members are finite and differ (seed k for member k); scores from src/metrics are consistent.
  for (const [name, v] of data.prediction) {
    assert(v.data.every(Number.isFinite), `${name}: non-finite prediction`);
    for (let t = 0; t < 2; t++) {
      const members = new Float32Array(2 * N);
      for (let e = 0; e < 2; e++) members.set(v.data.subarray((e * 2 + t) * N, (e * 2 + t + 1) * N), e * N);
      const s = scoreField(members, data.truth.get(name)!.data.subarray(t * N, (t + 1) * N), {
        nEns: 2,
        nPixels: N,
      });
      assert(s.stdDev > 0, `${name} at ${t}: the two members are identical`);
      assert(
        Number.isFinite(s.crps) && s.crps >= 0 && s.rmse >= s.mae && s.mae > 0,
        `${name} at ${t}: scores ${JSON.stringify(s)}`,
      );
      assertEquals(s.validPixels, N);
    }
  }

  const py = await runPythonJson<Record<string, unknown>>(PY_READ, [`${dir}/e2e.nc`]);
  assertEquals(py.dims, { time: 2, ensemble: 2, y: 16, x: 16 });
  assertEquals(py.groups, ["input", "prediction", "truth"]);
  assertEquals(py.times, TIMES);
  assertEquals(py.pred_dims, ["ensemble", "time", "y", "x"]);
  assertEquals(py.units, "m s-1");
  for (const [key, sum] of Object.entries(py.sums as Record<string, number>)) {
    const [g, v] = key.split("/") as ["input" | "truth" | "prediction", string];
    const ours = data[g].get(v)!.data.reduce((a, x) => a + x, 0);
    assertAlmostEquals(sum, ours, 1e-6 * (1 + Math.abs(ours)), key);
  }
});

Deno.test("same config and seeds, same bytes; member k is seed k whatever the batching", async () => {
  const a = await run("same_a"), b = await run("same_b");
  assertSameFields(a.data, b.data, "two runs of one config");
  // Batches of 2 instead of 1: the same members, up to float rounding of a larger batch.
  const c = await run("batched", ["generation.seed_batch_size=2"]);
  const pa = a.data.prediction.get("u10m")!.data, pc = c.data.prediction.get("u10m")!.data;
  for (let i = 0; i < pa.length; i++) assertAlmostEquals(pc[i], pa[i], 1e-4 * (1 + Math.abs(pa[i])));
});

Deno.test("generation.clip bounds the written members: the same members, clamped; named in the file", async () => {
  const a = (await run("clip_base")).data.prediction.get("u10m")!.data;
  const sorted = Float32Array.from(a).sort();
  const lo = sorted[Math.floor(a.length / 4)], hi = sorted[Math.floor((3 * a.length) / 4)];
  const clipped = await run("clip", [`++generation.clip={u10m: [${lo}, ${hi}]}`]);
  const c = clipped.data.prediction.get("u10m")!.data;
  let moved = 0;
  for (let i = 0; i < a.length; i++) {
    assertEquals(c[i], Math.min(Math.max(a[i], lo), hi), `value ${i}`);
    if (c[i] !== a[i]) moved++;
  }
  assert(moved > a.length / 3, `only ${moved} of ${a.length} values clipped`);
  // an open side leaves it alone
  const floor =
    (await run("clip_floor", [`++generation.clip={u10m: [${lo}, null]}`])).data.prediction.get("u10m")!
      .data;
  assert(floor.every((v, i) => v === Math.max(a[i], lo)));
  const source = String(clipped.data.attrs.source);
  assert(source.includes(`members clipped: u10m to [${lo}, ${hi}]`), source);
});

Deno.test("inference modes: regression gives the mean to every member; all = regression + diffusion", async () => {
  // A diffusion model without mean conditioning, so that diffusion alone can run.
  const noMean = await writeTinyModels(await Deno.makeTempDir({ dir }), { hrMean: false });
  const field = async (name: string, overrides: string[]) =>
    (await run(name, ["generation.hr_mean_conditioning=false", ...overrides], noMean)).data.prediction.get(
      "u10m",
    )!.data;
  const reg = await field("mode_reg", ["generation.inference_mode=regression"]);
  assert(reg.subarray(0, 2 * N).every((v, i) => v === reg[2 * N + i]), "regression members differ");
  const res = await field("mode_res", ["generation.inference_mode=diffusion"]);
  const all = await field("mode_all", []);
  // Physical units: all = (mu + r) s + m, reg = mu s + m, res = r s + m, so reg + res - all = m everywhere.
  const m = reg[0] + res[0] - all[0];
  let worst = 0;
  for (let i = 0; i < all.length; i++) worst = Math.max(worst, Math.abs(reg[i] + res[i] - all[i] - m));
  assert(worst < 1e-4, `all != regression + diffusion (worst ${worst})`);
});

Deno.test("deterministic sampler and patched generation run through the same pipeline", async () => {
  const det =
    (await run("det", ["generation/sampler=deterministic", "sampler.num_steps=3", "sampler.solver=heun"]))
      .data;
  assert(det.prediction.get("v10m")!.data.every(Number.isFinite));
  const patchedModels = await writeTinyModels(await Deno.makeTempDir({ dir }), { patched: true, size: 32 });
  const p = (await run(
    "patched",
    ["generation=patched", "generation.patch_shape_x=16", "generation.patch_shape_y=16"],
    patchedModels,
    32,
  )).data;
  assertEquals([p.ny, p.nx, p.nEnsemble], [32, 32, 2]);
  assert(p.prediction.get("u10m")!.data.every(Number.isFinite));
});

Deno.test(
  sharedDataTest(
    "the shipped ERA5 UK t2m generation config on the real data",
    "era5-uk-t2m/train.nc",
    async (path) => {
      const m = await writeTinyModels(await Deno.makeTempDir({ dir }), {
        size: [32, 48],
        inputs: 3,
        outputs: 1,
      });
      const cfg = resolveConfig({
        configName: "config_generate_era5_uk_t2m",
        overrides: [
          `dataset.data_path=${path}`,
          `dataset.stats_path=${path.replace(/train\.nc$/, "stats.json")}`,
          `generation.io.reg_ckpt_filename=${m.reg}`,
          `generation.io.res_ckpt_filename=${m.res}`,
          `generation.io.output_filename=${dir}/era5.nc`,
          "sampler.num_steps=3",
          "generation.num_ensembles=2",
          "generation.seed_batch_size=2",
          'dataset.time_range=["2019-03-22T12:00:00","2019-03-22T13:00:00"]',
        ],
      });
      const s = await generate(cfg);
      const d = await readGenerationFile(s.path);
      assertEquals([d.nEnsemble, d.ny, d.nx, d.time.labels], [2, 32, 48, [
        "2019-03-22T12:00:00.000Z",
        "2019-03-22T13:00:00.000Z",
      ]]);
      assert(d.prediction.get("t2m")!.data.every(Number.isFinite));
    },
  ),
);
