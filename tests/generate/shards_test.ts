/**
 * Sharding: 3 shards of (times x members) merged equal the unsharded run byte for byte in every
 * variable and attribute (checked with netCDF4-python, masking off); `deno task generate` and
 * `deno task merge` from the command line; merge's errors.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { runPythonJson } from "../io/python.ts";
import { tinyConfig, writeTinyModels } from "./fixtures.ts";
import { generate, shardOutputPath } from "../../src/generate/run.ts";
import { mergeShards } from "../../src/generate/merge.ts";
import { readGenerationFile } from "../../src/io/generation_reader.ts";

const dir = await Deno.makeTempDir({ prefix: "shards_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const models = await writeTinyModels(dir);
// 3 members x 2 times in batches of 1: 6 units, so shard 1/3 (units 2, 3) spans both times.
const OVERRIDES = ["generation.num_ensembles=3"];

const PY_COMPARE = `
import json, sys, numpy as np, netCDF4
a, b = netCDF4.Dataset(sys.argv[1]), netCDF4.Dataset(sys.argv[2])
a.set_auto_maskandscale(False); b.set_auto_maskandscale(False)
diffs = []
def walk(ga, gb, where):
  aa, ab = ({k: str(g.getncattr(k)) for k in g.ncattrs()} for g in (ga, gb))
  diffs.extend(where + " attribute " + k for k in sorted(set(aa) | set(ab)) if aa.get(k) != ab.get(k))
  if list(ga.variables) != list(gb.variables): diffs.append(where + " variable list")
  for name, va in ga.variables.items():
    if name not in gb.variables: continue
    vb = gb.variables[name]
    x, y = np.asarray(va[:]), np.asarray(vb[:])
    if va.dimensions != vb.dimensions or x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
      diffs.append(where + name)
  for g in ga.groups: walk(ga.groups[g], gb.groups[g], where + g + "/")
walk(a, b, "/")
print(json.dumps({"diffs": diffs, "members": len(a.dimensions["ensemble"])}))
`;

async function cli(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../../src/cli/${script}.ts`, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("3 shards merged equal 1 run, byte for byte in the data", async () => {
  // One config for both (the file keeps it, output name included): the whole run, moved aside, then its shards.
  const cfg = tinyConfig(models, `${dir}/part.nc`, OVERRIDES);
  await generate(cfg);
  await Deno.rename(`${dir}/part.nc`, `${dir}/whole.nc`);
  const files: string[] = [];
  for (const index of [2, 0, 1]) files.push((await generate(cfg, { shard: { index, count: 3 } })).path);
  assertEquals(files[1], shardOutputPath(`${dir}/part.nc`, { index: 0, count: 3 }));

  // Shard 1/3 holds member 2 at time 0 and member 0 at time 1; its other cells are NaN.
  const mid = await readGenerationFile(files[2]);
  assertEquals([mid.nEnsemble, mid.time.labels.length, mid.attrs.shard], [2, 2, "1/3"]);
  const u = mid.prediction.get("u10m")!.data, N = 256;
  const cell = (e: number, t: number) => u.subarray((e * 2 + t) * N, (e * 2 + t + 1) * N);
  assert(cell(0, 0).every(Number.isNaN) && cell(1, 1).every(Number.isNaN), "unowned cells are NaN");
  assert(cell(0, 1).every(Number.isFinite) && cell(1, 0).every(Number.isFinite), "owned cells are written");

  const merged = await mergeShards(files, `${dir}/merged.nc`);
  assertEquals([merged.shards, merged.times, merged.members], [3, 2, 3]);
  const py = await runPythonJson<{ diffs: string[]; members: number }>(PY_COMPARE, [
    `${dir}/whole.nc`,
    `${dir}/merged.nc`,
  ]);
  assertEquals(py, { diffs: [], members: 3 });
});

Deno.test("deno task generate --shard and deno task merge from the command line", async () => {
  const base = [
    "--config-name=config_generate_synthetic.yaml",
    "dataset.image_shape=[16,16]",
    "dataset.num_samples=4",
    "++dataset.stats_samples=4",
    "sampler.num_steps=3",
    "generation.seed_batch_size=1",
    `++generation.io.reg_ckpt_filename=${models.reg}`,
    `++generation.io.res_ckpt_filename=${models.res}`,
    `++generation.io.output_filename=${dir}/cli.nc`,
  ];
  const files: string[] = [];
  for (const i of [0, 1]) {
    const r = await cli("generate", [...base, "--shard", `${i}/2`]);
    assertEquals(r.code, 0, r.stderr);
    // stdout is not a terminal here: progress comes as lines with rate and ETA, then the summary.
    assert(/members\/s \| elapsed .* \| ETA/.test(r.stdout), r.stdout);
    assert(r.stdout.includes(`wrote ${dir}/cli.shard-${i}-of-2.nc`), r.stdout);
    files.push(`${dir}/cli.shard-${i}-of-2.nc`);
  }
  const m = await cli("merge", [...files, `${dir}/cli_merged.nc`]);
  assertEquals(m.code, 0, m.stderr);
  assert(m.stdout.includes("merged 2 shards (2 members x 1 time)"), m.stdout);
  const bad = await cli("merge", [files[0], `${dir}/cli_bad.nc`]);
  assertEquals(bad.code, 1);
  assertEquals(bad.stderr.trim(), "merge: shard 1/2 missing (have 0)");
});

Deno.test("merge refuses a file that is not a shard, and shards of different runs", async () => {
  const other = tinyConfig(models, `${dir}/other.nc`, [...OVERRIDES, "sampler.num_steps=2"]);
  const a =
    (await generate(tinyConfig(models, `${dir}/x.nc`, OVERRIDES), { shard: { index: 0, count: 2 } })).path;
  const b = (await generate(other, { shard: { index: 1, count: 2 } })).path;
  await assertRejects(() => mergeShards([a, b], `${dir}/never.nc`), Error, "comes from another run");
  await assertRejects(
    () => mergeShards([`${dir}/whole.nc`], `${dir}/never.nc`),
    Error,
    "is not a shard file",
  );
  await assertRejects(() => mergeShards([a, a], `${dir}/never.nc`), Error, "are both shard 0/2");
  await assertRejects(() => Deno.stat(`${dir}/never.nc`));
});
