/** The run plan: seed batches, time selection, shards; and the settings read from configs. */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { GenerationPlan, parseShard, seedBatches, selectTimes } from "../../src/generate/plan.ts";
import { generationSettings, samplerSettings } from "../../src/generate/settings.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { shardOutputPath } from "../../src/generate/run.ts";

Deno.test("seed batches split like torch.tensor_split: member k is seed k", () => {
  assertEquals(seedBatches(4, 2), [[0, 1], [2, 3]]);
  assertEquals(seedBatches(5, 2), [[0, 1], [2, 3], [4]]);
  // ceil(4 / 3) = 2 batches of 2, not 3 + 1.
  assertEquals(seedBatches(4, 3), [[0, 1], [2, 3]]);
  assertEquals(seedBatches(3, 8), [[0, 1, 2]]);
});

const HOURS = Array.from({ length: 6 }, (_, h) => new Date(Date.UTC(2000, 0, 1, h)));

Deno.test("times: listed (in the given order), a range with a step, all", () => {
  assertEquals(selectTimes({ kind: "list", values: ["2000-01-01T03:00:00", "2000-01-01T01:00:00"] }, HOURS), [
    3,
    1,
  ]);
  assertEquals(selectTimes({ kind: "list", values: ["2000-01-01 02:00"] }, HOURS), [2]);
  assertEquals(
    selectTimes(
      { kind: "range", start: "2000-01-01T01:00:00", end: "2000-01-01T05:00:00", stepHours: 2 },
      HOURS,
    ),
    [1, 3, 5],
  );
  assertEquals(selectTimes({ kind: "all" }, HOURS), [0, 1, 2, 3, 4, 5]);
});

Deno.test("times: one not in the dataset fails naming it and the dataset's span", () => {
  const e = assertThrows(() => selectTimes({ kind: "list", values: ["2000-01-02T00:00:00"] }, HOURS));
  assertEquals(
    e.message,
    "generation.times: 2000-01-02T00:00:00 is not a time of the dataset (the dataset has 6 times, 2000-01-01T00:00:00 to 2000-01-01T05:00:00)",
  );
  assert(
    /is not a time \(YYYY/.test(
      assertThrows(() => selectTimes({ kind: "list", values: ["tomorrow"] }, HOURS)).message,
    ),
  );
});

Deno.test("shards: disjoint, covering, balanced to one unit; the files' axes", () => {
  const batches = seedBatches(4, 1);
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const p = new GenerationPlan(2, batches, { index: i, count: 3 });
    for (const u of p.units()) for (const m of u.members) seen.push(`${u.time}/${m}`);
    assert(p.memberCount === 2 || p.memberCount === 3);
  }
  // Every (time, member) cell exactly once.
  assertEquals(seen.length, 8);
  assertEquals(new Set(seen).size, 8);
  // Shard 1/3 takes units 2..4: members 2, 3 at time 0 and member 0 at time 1.
  const mid = new GenerationPlan(2, batches, { index: 1, count: 3 });
  assertEquals(mid.times(), [0, 1]);
  assertEquals(mid.members(), [0, 2, 3]);
  assertEquals(mid.membersAt(1), [0]);
  assert(
    /only 8 work units/.test(
      assertThrows(() => new GenerationPlan(2, batches, { index: 0, count: 9 })).message,
    ),
  );
});

Deno.test("--shard parsing and per-shard file names", () => {
  assertEquals(parseShard("2/8"), { index: 2, count: 8 });
  for (const bad of ["8/8", "1", "-1/3", "a/b"]) assertThrows(() => parseShard(bad));
  assertEquals(shardOutputPath("out/gen.nc", { index: 2, count: 8 }), "out/gen.shard-2-of-8.nc");
  assertEquals(shardOutputPath("gen.nc", { index: 0, count: 1 }), "gen.nc");
});

Deno.test("settings: the shipped generation configs, sampler groups and the reference's defaults", () => {
  const ck = ["generation.io.reg_ckpt_filename=r", "generation.io.res_ckpt_filename=d"];
  const s = generationSettings(resolveConfig({ configName: "config_generate_hrrr_mini", overrides: ck }));
  assertEquals([s.inferenceMode, s.numEnsembles, s.seedBatchSize, s.hrMeanConditioning], ["all", 2, 1, true]);
  assertEquals(s.sampler, {
    type: "stochastic",
    numSteps: 18,
    S_churn: 0,
    S_min: 0,
    S_max: Infinity,
    S_noise: 1,
    sigmaMin: undefined,
    sigmaMax: undefined,
    rho: undefined,
  });
  assertEquals(s.outputFilename, "corrdiff_output.nc");
  const det = generationSettings(
    resolveConfig({
      configName: "config_generate_synthetic",
      overrides: [...ck, "generation/sampler=deterministic"],
    }),
  );
  assertEquals([det.sampler.type, det.sampler.numSteps, det.sampler.solver], ["deterministic", 9, "euler"]);
  const custom = generationSettings(resolveConfig({
    configName: "config_generate_custom",
    overrides: [
      ...ck,
      "dataset.type=x.ts::X",
      "dataset.data_path=x",
      "dataset.stats_path=y",
      "generation.times=all",
    ],
  }));
  assertEquals(custom.patching, { shape: [448, 448], overlapPix: 4, boundaryPix: 2 });
  assertEquals(custom.times, { kind: "all" });
  const taiwan = generationSettings(resolveConfig({ configName: "config_generate_taiwan", overrides: ck }));
  assertEquals(taiwan.hrMeanConditioning, false);
});

Deno.test("settings: clear errors for conflicting or misspelt keys", () => {
  const base = ["generation.io.reg_ckpt_filename=r", "generation.io.res_ckpt_filename=d"];
  const err = (overrides: string[]) =>
    assertThrows(() =>
      generationSettings(
        resolveConfig({ configName: "config_generate_synthetic", overrides: [...base, ...overrides] }),
      )
    ).message;
  assert(/both set/.test(err(['generation.times_range=["2000-01-01T00:00:00","2000-01-01T02:00:00"]'])));
  assert(/hr_mean_conditioning=false/.test(err(["generation.inference_mode=diffusion"])));
  assert(/one of all, regression, diffusion/.test(err(["generation.inference_mode=both"])));
  assertEquals(
    err(["++generation.clip={u10m: [1, 0]}"]),
    "generation.clip.u10m: min 1 is not below max 0",
  );
  assertEquals(
    assertThrows(() => samplerSettings({ sampler: { type: "stochastic", S_chrun: 1 } })).message,
    "sampler.S_chrun: not a key of the stochastic sampler. Did you mean 'S_churn'?",
  );
});
