/** End to end: `deno task score` on a small generation file, checked against numpy in Python. */
import { GenerationWriter } from "../../src/io/generation_file.ts";
import { Rng } from "../../src/util/rng.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { runPythonJson } from "./python.ts";

const CLI = new URL("../../src/cli/score.ts", import.meta.url).pathname;
const NY = 12, NX = 16, P = NY * NX, E = 6, T = 4;

async function writeGeneration(path: string) {
  const rng = new Rng(21);
  const w = await GenerationWriter.create({
    path,
    ny: NY,
    nx: NX,
    lat: new Float32Array(P).fill(NaN),
    lon: new Float32Array(P).fill(NaN),
    inputVariables: [{ name: "t2m", units: "K", longName: "2 m temperature" }],
    outputVariables: [
      { name: "t2m", units: "K", longName: "2 m temperature" },
      { name: "refc", units: "dBZ", longName: "composite reflectivity" },
    ],
    nEnsemble: E,
    times: Array.from({ length: T }, (_, t) => new Date(Date.UTC(2019, 2, 25, t))),
  });
  for (let t = 0; t < T; t++) {
    // refc is clipped at 0 to produce the ties a precipitation-like field has.
    const centre = Float32Array.from({ length: 2 * P }, (_, i) => (i < P ? 280 : 5) + 3 * rng.normal());
    const draw = () => centre.map((c, i) => (i < P ? c + rng.normal() : Math.max(0, c + 4 * rng.normal())));
    w.writeTruth(t, draw());
    w.writeInput(t, centre.subarray(0, P));
    for (let e = 0; e < E; e++) w.writePrediction(e, t, draw());
  }
  await w.close();
}

async function score(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

// The reference's definitions, in numpy, from the generation file opened as score_samples.py does.
const NUMPY_CHECK = `
import json, sys, numpy as np, xarray as xr
gen, scores, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
pred = xr.open_dataset(gen, group="prediction").isel(ensemble=slice(0, n))
truth = xr.open_dataset(gen, group="truth")
s = xr.open_dataset(scores)
worst = 0.0
for v in pred.data_vars:
  x = pred[v].values.astype("f8"); y = truth[v].values.astype("f8")
  m = x.mean(0)
  crps = np.abs(x - y).mean(0) - 0.5 * np.abs(x[:, None] - x[None, :]).mean((0, 1))
  ref = np.stack([np.sqrt(((m - y) ** 2).mean((1, 2))), crps.mean((1, 2)), x.std(0).mean((1, 2)),
                  np.abs(m - y).mean((1, 2))])
  worst = max(worst, float(np.abs(s[v].values - ref).max() / np.abs(ref).max()))
rh = xr.open_dataset(scores, group="rank_histogram")
print(json.dumps({
  "worst": worst, "dims": list(s.t2m.dims), "metric": [str(m) for m in s.metric.values],
  "time": [str(t)[:19] for t in s.time.values], "units": s.refc.attrs["units"], "n_ensemble": int(s.attrs["n_ensemble"]),
  "rank_sums": [float(rh[v].values.sum()) for v in rh.data_vars], "rank_len": int(rh.sizes["rank"]),
  "ss_dims": list(xr.open_dataset(scores, group="spread_skill").refc.dims),
}))
`;

Deno.test("score CLI: reference metrics per variable and time, readable by xarray, with plots", async () => {
  const dir = await Deno.makeTempDir({ prefix: "score_cli_" });
  try {
    await writeGeneration(`${dir}/gen.nc`);
    const run = await score([`${dir}/gen.nc`, `${dir}/scores.nc`, "--plots", `${dir}/plots`]);
    assertEquals(run.code, 0, run.stderr);
    assert(/variable\s+rmse\s+crps\s+std_dev\s+mae\s+spread\/skill/.test(run.stdout), run.stdout);
    assert(/\nrefc\s/.test(run.stdout) && /\nt2m\s/.test(run.stdout), run.stdout);
    const got = await runPythonJson(NUMPY_CHECK, [`${dir}/gen.nc`, `${dir}/scores.nc`, String(E)]);
    assert((got.worst as number) < 1e-12, `scores differ from numpy by ${got.worst} (relative)`);
    assertEquals(got.dims, ["metric", "time"]);
    assertEquals(got.metric, ["rmse", "crps", "std_dev", "mae"]);
    assertEquals(got.time, [
      "2019-03-25T00:00:00",
      "2019-03-25T01:00:00",
      "2019-03-25T02:00:00",
      "2019-03-25T03:00:00",
    ]);
    assertEquals([got.units, got.n_ensemble, got.rank_len], ["dBZ", E, E + 1]);
    assertEquals(got.rank_sums, [T * P, T * P]);
    assertEquals(got.ss_dims, ["time"]);
    for (const name of ["scores_vs_time", "rank_histogram"]) {
      for (const ext of ["svg", "png"]) {
        assert(Deno.statSync(`${dir}/plots/${name}.${ext}`).size > 1000, `${name}.${ext}`);
      }
    }

    // The reference README's key=value form, with a subset of the members.
    const keyed = await score([`path=${dir}/gen.nc`, `output=${dir}/scores3.nc`, "--n-ensemble", "3"]);
    assertEquals(keyed.code, 0, keyed.stderr);
    const got3 = await runPythonJson(NUMPY_CHECK, [`${dir}/gen.nc`, `${dir}/scores3.nc`, "3"]);
    assert((got3.worst as number) < 1e-12, `3-member scores differ from numpy by ${got3.worst}`);
    assertEquals([got3.n_ensemble, got3.rank_len], [3, 4]);

    const bad = await score([`${dir}/gen.nc`]);
    assertEquals(bad.code, 2);
    assert(bad.stderr.includes("usage:"), bad.stderr);
    const tooMany = await score([`${dir}/gen.nc`, `${dir}/x.nc`, "--n-ensemble", "9"]);
    assertEquals(tooMany.code, 1);
    assert(tooMany.stderr.includes("--n-ensemble 9 but the file has 6 members"), tooMany.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
