/**
 * Every shipped top-level config composes and resolves, with exactly the mandatory values the
 * reference leaves open, and carries the reference's values (reference digest sections 3.3, 5.4, 7.1,
 * 9; data README for the ERA5 and FMI sets).
 */
import YAML from "yaml";
import { type Config, defaultConfigDir, getKey, resolveConfig, toYaml } from "../../src/config/mod.ts";
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";

const CKPT = "training.io.regression_checkpoint_path";
const GEN_CKPTS = ["generation.io.res_ckpt_filename", "generation.io.reg_ckpt_filename"];
const DATA = ["dataset.data_path", "dataset.stats_path"];

/** Config name -> the `???` keys a user must fill in. */
const EXPECTED_MISSING: Record<string, string[]> = {
  config_training_hrrr_mini_regression: [],
  config_training_hrrr_mini_diffusion: [CKPT],
  config_training_taiwan_regression: [],
  config_training_taiwan_diffusion: [CKPT],
  config_training_gefs_hrrr_regression: [],
  config_training_gefs_hrrr_diffusion: [CKPT],
  config_training_custom: ["dataset.type", ...DATA, CKPT],
  config_training_synthetic_regression: [],
  config_training_synthetic_diffusion: [CKPT],
  config_training_era5_uk_t2m_regression: DATA,
  config_training_era5_uk_t2m_diffusion: [...DATA, CKPT],
  config_training_fmi_radar_regression: DATA,
  config_training_fmi_radar_diffusion: [...DATA, CKPT],
  config_generate_hrrr_mini: GEN_CKPTS,
  config_generate_taiwan: GEN_CKPTS,
  config_generate_gefs_hrrr: GEN_CKPTS,
  config_generate_custom: ["dataset.type", ...DATA, "generation.times", ...GEN_CKPTS],
  config_generate_synthetic: GEN_CKPTS,
  config_generate_era5_uk_t2m: [...DATA, ...GEN_CKPTS],
  config_generate_fmi_radar: [...DATA, ...GEN_CKPTS],
};

/** A value of the right kind for a mandatory key. */
const fill = (
  key: string,
) => (key === "generation.times" ? `${key}=[2020-01-01T00:00:00]` : `${key}=/tmp/${key}`);

/** Dotted paths of every `???` left in a config (lists included). */
function missingKeys(v: unknown, prefix = ""): string[] {
  if (v === "???") return [prefix];
  if (typeof v !== "object" || v === null) return [];
  return Object.entries(v).flatMap(([k, x]) => missingKeys(x, prefix ? `${prefix}.${k}` : k));
}

function resolveFilled(name: string): Config {
  return resolveConfig({ configName: name, overrides: EXPECTED_MISSING[name].map(fill) });
}

Deno.test("the shipped config list is the one tested here", () => {
  const shipped = [...Deno.readDirSync(defaultConfigDir())].filter((e) => /^config_.*\.yaml$/.test(e.name))
    .map((e) => e.name.slice(0, -5)).sort();
  assertEquals(shipped, Object.keys(EXPECTED_MISSING).sort());
});

Deno.test("every shipped config: exactly the expected ??? keys, then resolves once they are given", () => {
  for (const [name, expected] of Object.entries(EXPECTED_MISSING)) {
    const partial = resolveConfig({ configName: name, allowMissing: true });
    assertEquals(missingKeys(partial).sort(), [...expected].sort(), name);
    const full = resolveFilled(name);
    assertEquals(missingKeys(full), [], name);
    assert(!JSON.stringify(full).includes("${"), `${name}: unresolved interpolation`);
    for (const key of expected) assert(getKey(full, key) !== "???", `${name}: ${key}`);
    // The recorded YAML reads back to the same object.
    assertEquals(YAML.parse(toYaml(full)), full, `${name} YAML round trip`);
  }
});

Deno.test("HRRR-mini regression: reference model, model size and training values", () => {
  const cfg = resolveFilled("config_training_hrrr_mini_regression");
  assertEquals(cfg.dataset, {
    type: "hrrr_mini",
    data_path: "./data/hrrr_mini/hrrr_mini_train.nc",
    stats_path: "./data/hrrr_mini/stats.json",
    output_variables: ["10u", "10v"],
    input_variables: null,
    invariant_variables: ["elev_mean", "lsm_mean"],
  });
  assertEquals(getKey(cfg, "model.name"), "regression");
  assertEquals(getKey(cfg, "model.hr_mean_conditioning"), false);
  // model_size/mini.yaml (@package _global_.model) merges into model.model_args.
  assertEquals(getKey(cfg, "model.model_args"), {
    N_grid_channels: 4,
    embedding_type: "zero",
    model_channels: 64,
    channel_mult: [1, 2, 2],
    attn_resolutions: [16],
  });
  assertEquals(getKey(cfg, "training.hp"), {
    training_duration: 2_000_000,
    total_batch_size: 256,
    batch_size_per_gpu: "auto",
    lr: 0.0002,
    grad_clip_threshold: null,
    lr_decay: 1,
    lr_rampup: 0,
    lr_decay_rate: 500_000,
  });
  assertEquals(getKey(cfg, "training.perf"), {
    fp_optimizations: "amp-bf16",
    dataloader_workers: 4,
    songunet_checkpoint_level: 0,
  });
  assertEquals(getKey(cfg, "training.io.print_progress_freq"), 10000);
  assertEquals(getKey(cfg, "training.io.save_checkpoint_freq"), 5000);
  assertEquals(getKey(cfg, "training.io.save_n_recent_checkpoints"), -1);
  assertEquals(getKey(cfg, "training.io.validation_freq"), 5000);
  assertEquals(getKey(cfg, "training.io.validation_steps"), 10);
  assertEquals(getKey(cfg, "training.io.regression_checkpoint_path"), null);
});

Deno.test("HRRR-mini diffusion and Taiwan: conditioning, grid, normal size, warm-up, validation", () => {
  const d = resolveFilled("config_training_hrrr_mini_diffusion");
  assertEquals(getKey(d, "model.hr_mean_conditioning"), true);
  assertEquals(getKey(d, "model.model_args.gridtype"), "sinusoidal");
  assertEquals(getKey(d, "model.model_args.embedding_type"), "zero");
  assertEquals(getKey(d, "training.hp.training_duration"), 8_000_000);

  const tr = resolveFilled("config_training_taiwan_regression");
  assertEquals(getKey(tr, "model.model_args.model_channels"), 128);
  assertEquals(getKey(tr, "model.model_args.channel_mult"), [1, 2, 2, 2, 2]);
  assertEquals(getKey(tr, "model.model_args.attn_resolutions"), [28]);
  assertEquals(getKey(tr, "training.hp.lr_rampup"), 10_000_000);
  assertEquals(getKey(tr, "dataset.in_channels"), [0, 1, 2, 3, 4, 9, 10, 11, 12, 17, 18, 19]);
  assertEquals(getKey(tr, "dataset.out_channels"), [0, 1, 2, 3]);
  assertEquals([
    getKey(tr, "dataset.img_shape_y"),
    getKey(tr, "dataset.img_shape_x"),
    getKey(tr, "dataset.ds_factor"),
  ], [448, 448, 4]);

  const td = resolveFilled("config_training_taiwan_diffusion");
  assertEquals(getKey(td, "model.hr_mean_conditioning"), false);
  assertEquals(td.validation, { train: false, all_times: false });
});

Deno.test("GEFS-HRRR and custom: lead-time models and their training schedules", () => {
  const r = resolveFilled("config_training_gefs_hrrr_regression");
  assertEquals(getKey(r, "model.name"), "lt_aware_ce_regression");
  assertEquals(getKey(r, "model.model_args.model_type"), "SongUNetPosLtEmbd");
  assertEquals(getKey(r, "model.model_args.lead_time_channels"), 4);
  assertEquals(getKey(r, "model.model_args.lead_time_steps"), 9);
  assertEquals(getKey(r, "training.hp.total_batch_size"), 1);
  assertEquals(getKey(r, "training.hp.training_duration"), 1_000_000);
  assertEquals(getKey(r, "training.perf.songunet_checkpoint_level"), 2);
  assertEquals(getKey(r, "training.io.save_checkpoint_freq"), 5);

  const d = resolveFilled("config_training_gefs_hrrr_diffusion");
  assertEquals(getKey(d, "model.model_args.gridtype"), "learnable");
  assertEquals(getKey(d, "model.model_args.N_grid_channels"), 100);
  assertEquals(getKey(d, "model.model_args.lead_time_channels"), 20);
  assertEquals(getKey(d, "training.hp.grad_clip_threshold"), 1e6);
  assertEquals(getKey(d, "training.hp.lr_decay"), 0.7);
  assertEquals(getKey(d, "training.hp.lr_rampup"), 1_000_000);
  assertEquals([getKey(d, "training.hp.patch_shape_x"), getKey(d, "training.hp.patch_num")], [448, 4]);
  assertEquals(getKey(d, "training.io.validation_steps"), 1000);

  const c = resolveFilled("config_training_custom");
  assertEquals(getKey(c, "training.hp.patch_num"), 10);
  assertEquals(getKey(c, "training.hp.training_duration"), 10_000_000);
  assertEquals(getKey(c, "dataset.invariant_variables"), null);
});

Deno.test("generation configs: sampler package, base_all defaults, patched and lead-time settings", () => {
  const h = resolveFilled("config_generate_hrrr_mini");
  // generation/sampler/*.yaml is `@package _global_.sampler`: the sampler lands at the root.
  assertEquals(h.sampler, { type: "stochastic", num_steps: 18 });
  assertEquals(getKey(h, "generation.num_ensembles"), 2);
  assertEquals(getKey(h, "generation.seed_batch_size"), 1);
  assertEquals(getKey(h, "generation.inference_mode"), "all");
  assertEquals(getKey(h, "generation.hr_mean_conditioning"), true);
  assertEquals(getKey(h, "generation.patching"), false);
  assertEquals(getKey(h, "generation.times"), ["2020-02-02T00:00:00"]);
  assertEquals(getKey(h, "generation.times_range"), null);
  assertEquals(getKey(h, "generation.perf.use_fp16"), false);

  const t = resolveFilled("config_generate_taiwan");
  assertEquals(getKey<string[]>(t, "generation.times").length, 5);
  assertEquals([getKey(t, "generation.num_ensembles"), getKey(t, "generation.hr_mean_conditioning")], [
    64,
    false,
  ]);
  assertEquals([getKey(t, "dataset.train"), getKey(t, "dataset.all_times")], [false, true]);

  const c = resolveFilled("config_generate_custom");
  assertEquals(
    ["patching", "overlap_pix", "boundary_pix", "patch_shape_x", "patch_shape_y", "seed_batch_size"].map((
      k,
    ) => getKey(c, `generation.${k}`)),
    [true, 4, 2, 448, 448, 4],
  );

  const g = resolveFilled("config_generate_gefs_hrrr");
  assertEquals(getKey(g, "generation.has_lead_time"), true);
  assertEquals(getKey<string[]>(g, "generation.times")[2], "2025011212f06");

  const det = resolveConfig({
    configName: "config_generate_hrrr_mini",
    overrides: ["generation/sampler=deterministic", ...GEN_CKPTS.map(fill)],
  });
  assertEquals(det.sampler, { type: "deterministic", num_steps: 9, solver: "euler" });
});

Deno.test("real-data and synthetic configs: channels, invariants, tiny model", () => {
  const e = resolveFilled("config_training_era5_uk_t2m_regression");
  assertEquals(getKey(e, "dataset.type"), "hrrr_mini");
  assertEquals(getKey(e, "dataset.input_variables"), ["t2m"]);
  assertEquals(getKey(e, "dataset.output_variables"), ["t2m"]);
  assertEquals(getKey(e, "dataset.invariant_variables"), ["elev_mean", "lsm_mean"]);
  const f = resolveFilled("config_generate_fmi_radar");
  assertEquals(getKey(f, "dataset.output_variables"), ["refc"]);
  assertEquals(getKey(f, "dataset.invariant_variables"), []);

  const s = resolveFilled("config_training_synthetic_regression");
  assertEquals(getKey(s, "dataset.type"), "synthetic");
  assertEquals(getKey(s, "dataset.image_shape"), [64, 64]);
  assertEquals(getKey(s, "dataset.upsample_factor"), 4);
  for (const k of ["seed", "num_samples", "input_variables", "output_variables", "invariant_variables"]) {
    getKey(s, `dataset.${k}`);
  }
  const channels = getKey<number>(s, "model.model_args.model_channels");
  assert(channels >= 16 && channels <= 32, `tiny model_channels ${channels}`);
  assertEquals(getKey(s, "model.model_args.channel_mult"), [1, 2, 2]);
  assert([1, 2].includes(getKey<number>(s, "model.model_args.num_blocks")), "tiny num_blocks");
  // 64 -> 32 -> 16: attention sits at the coarsest level.
  assertEquals(getKey(s, "model.model_args.attn_resolutions"), [16]);
});

Deno.test("re-selecting groups on a shipped config: model= also re-selects training via ${model}", () => {
  const cfg = resolveConfig({
    configName: "config_training_hrrr_mini_regression",
    overrides: ["model=diffusion", "model_size=normal", "dataset=cwb", `${CKPT}=/ckpt/reg.mdlus`],
  });
  assertEquals(getKey(cfg, "model.name"), "diffusion");
  assertEquals(getKey(cfg, "model.model_args.model_channels"), 128);
  assertEquals(getKey(cfg, "dataset.type"), "cwb");
  // The top-level file's own values still win over the new group's.
  assertEquals(getKey(cfg, "dataset.data_path"), "./data/hrrr_mini/hrrr_mini_train.nc");
  assertEquals(getKey(cfg, CKPT), "/ckpt/reg.mdlus");
  const partial = resolveConfig({
    configName: "config_training_hrrr_mini_regression",
    overrides: ["model=diffusion"],
    allowMissing: true,
  });
  assertEquals(getKey(partial, "training.io.print_progress_freq"), 10000);
  // training/diffusion.yaml makes the regression checkpoint mandatory again.
  assertThrows(() => getKey(partial, CKPT), undefined, `Missing mandatory value '${CKPT}'`);
});
