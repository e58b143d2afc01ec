/**
 * The whole CorrDiff job on the built-in synthetic data, as `deno task demo` runs it and the
 * notebooks call it: a small regression U-Net and a small residual diffusion model trained with
 * `train()`, an ensemble generated for held-back times with `generate()`, then scores against the
 * bilinear baseline and the regression mean, spectra, and maps, all written into one folder.
 *
 * Each stage is its own function ({@link trainDemoModels}, {@link generateDemoEnsemble},
 * {@link evaluateDemo}), so a notebook can run and show them one at a time; {@link runDemo} chains
 * them and {@link formatDemoReport} says what was done and where every file is.
 */
import { join, resolve } from "node:path";
import { resolveConfig } from "../config/resolve.ts";
import type { Config } from "../config/tree.ts";
import type { GenerationProgress } from "../generate/progress.ts";
import { generate, type GenerateSummary } from "../generate/run.ts";
import { writeNetCDF4 } from "../io/netcdf_write.ts";
import type { SpectraAnalysis } from "../metrics/spectra_analysis.ts";
import { spectraDataset, spectraSummary } from "../metrics/spectra_report.ts";
import { sampleMapChart } from "../plot/charts.ts";
import { writeChart } from "../plot/render.ts";
import { spectraCharts } from "../plot/spectra_charts.ts";
import type { MetricsRecord } from "../train/metrics.ts";
import { train, type TrainSummary } from "../train/train.ts";
import { formatDuration } from "../util/progress.ts";
import { rankHistogramChart, scoresByTimeChart, scoreSummaryChart, trainingLossChart } from "./charts.ts";
import {
  evaluateGeneration,
  formatScoreTable,
  type GenerationEvaluation,
  mapVariables,
  readGeneratedFile,
  skillOverBilinear,
  spectraOf,
} from "./evaluate.ts";

/** One network's training in the demo. */
export interface DemoTraining {
  /** Optimizer steps. */
  steps: number;
  /** Samples per step. */
  batch: number;
  /** Adam's peak learning rate, reached after a 5-step warm-up. */
  lr: number;
  /** Times the learning rate halves, evenly spaced over the run (annealing; 0: constant). */
  halvings: number;
  /** Diffusion only: the mean of log sigma in training (training.hp.P_mean; the reference's default 0). */
  pMean?: number;
}

/** Everything the demo is configured with (see {@link DEMO_DEFAULTS} and {@link DEMO_TINY}). */
export interface DemoSettings {
  /** Output folder: checkpoints, generation files, scores, charts. */
  out: string;
  /** Side of the square fine grid (the coarse input is 4x coarser). */
  size: number;
  /** Synthetic times trained on (hourly from 2000-01-01T00). */
  trainTimes: number;
  /** Times after those, held back from training: validated on, generated and scored. */
  testTimes: number;
  /** Time-dependent fields, inputs and outputs alike (synthetic names: t2m, u10m, v10m). */
  variables: string[];
  /** Static inputs (synthetic: orography, lsm). */
  invariants: string[];
  /** Both U-Nets: base channels, multiplier per level, attention resolutions, blocks per level. */
  model: { channels: number; channelMult: number[]; attnResolutions: number[]; blocks: number };
  /** Training of the regression U-Net. */
  regression: DemoTraining;
  /** Training of the residual diffusion model. */
  diffusion: DemoTraining;
  /** Ensemble members per held-back time, and how many are sampled together. */
  members: number;
  /** Members sampled together in one batch (capped at `members`). */
  seedBatchSize: number;
  /** Steps of the stochastic EDM sampler (2 n - 1 network calls). */
  samplerSteps: number;
  /** Members drawn in each map. */
  mapMembers: number;
  /** Seed of the synthetic data. */
  seed: number;
}

/**
 * The `deno task demo` settings: 32x32 fields of temperature and wind from 8x8 inputs, two
 * 0.3 M-parameter U-Nets trained for about three minutes together on a 2-core CPU, 8 members at 6
 * held-back times.
 *
 * Chosen by measurement on that machine: the regression's constant-then-halved rate beat a higher
 * annealed one; the diffusion model trains at EDM's P_mean = -1.2 rather than the reference's 0,
 * because the residual is small in normalised units (std about 0.25), so the noise levels that
 * matter lie below 1, and a short training has to spend its steps there (at P_mean 0 the ensemble
 * came out 1.5-1.7x too wide; at -1.2 its spread-skill ratio is 1.05-1.2).
 */
export const DEMO_DEFAULTS: Readonly<DemoSettings> = {
  out: "demo_output",
  size: 32,
  trainTimes: 256,
  testTimes: 6,
  variables: ["t2m", "u10m", "v10m"],
  invariants: ["orography", "lsm"],
  model: { channels: 16, channelMult: [1, 2, 2], attnResolutions: [], blocks: 1 },
  regression: { steps: 180, batch: 8, lr: 0.002, halvings: 1 },
  diffusion: { steps: 100, batch: 8, lr: 0.002, halvings: 2, pMean: -1.2 },
  members: 8,
  seedBatchSize: 8,
  samplerSteps: 18,
  mapMembers: 3,
  seed: 0,
};

/** A few seconds' worth of everything (tests): 16x16, 8-channel U-Nets, a handful of steps. */
export const DEMO_TINY: Readonly<Omit<DemoSettings, "out">> = {
  size: 16,
  trainTimes: 24,
  testTimes: 2,
  variables: ["t2m", "u10m"],
  invariants: ["orography"],
  model: { channels: 8, channelMult: [1, 2], attnResolutions: [], blocks: 1 },
  regression: { steps: 3, batch: 4, lr: 0.002, halvings: 0 },
  diffusion: { steps: 3, batch: 4, lr: 0.002, halvings: 0 },
  members: 3,
  seedBatchSize: 3,
  samplerSteps: 4,
  mapMembers: 2,
  seed: 0,
};

/** The defaults with some settings replaced. */
export function demoSettings(
  overrides: Partial<DemoSettings> = {},
  base: Omit<DemoSettings, "out"> & { out?: string } = DEMO_DEFAULTS,
): DemoSettings {
  return { out: DEMO_DEFAULTS.out, ...structuredClone(base), ...overrides } as DemoSettings;
}

const HOUR_MS = 3_600_000, FIRST = Date.UTC(2000, 0, 1);

/** The synthetic time of sample `i`, as configs write it. */
export function syntheticTime(i: number): string {
  return new Date(FIRST + i * HOUR_MS).toISOString().slice(0, 19);
}

/** The held-back times generated and scored. */
export function demoTestTimes(s: DemoSettings): string[] {
  return Array.from({ length: s.testTimes }, (_, k) => syntheticTime(s.trainTimes + k));
}

const list = (xs: readonly (string | number)[]) => `[${xs.join(",")}]`;

/** Dataset overrides shared by training and generation (the same data, the same normalisation). */
function datasetOverrides(s: DemoSettings): string[] {
  return [
    `dataset.seed=${s.seed}`,
    `dataset.image_shape=[${s.size},${s.size}]`,
    `dataset.num_samples=${s.trainTimes + s.testTimes}`,
    `++dataset.stats_samples=${Math.min(64, s.trainTimes)}`,
    `dataset.input_variables=${list(s.variables)}`,
    `dataset.output_variables=${list(s.variables)}`,
    `dataset.invariant_variables=${list(s.invariants)}`,
  ];
}

/** Where the demo's checkpoints go: `<out>/checkpoints/checkpoints_<model>/`. */
export function demoCheckpointDir(s: DemoSettings, model: "regression" | "diffusion"): string {
  return join(s.out, "checkpoints", `checkpoints_${model}`);
}

/** The resolved training config of one model (config_training_synthetic_<model> with the demo's overrides). */
export function demoTrainingConfig(s: DemoSettings, model: "regression" | "diffusion"): Config {
  const t = s[model];
  const samples = t.steps * t.batch;
  return resolveConfig({
    configName: `config_training_synthetic_${model}`,
    overrides: [
      ...datasetOverrides(s),
      `++dataset.time_range=["${syntheticTime(0)}","${syntheticTime(s.trainTimes - 1)}"]`,
      `++validation.time_range=["${demoTestTimes(s)[0]}","${demoTestTimes(s).at(-1)}"]`,
      `++model.model_args.model_channels=${s.model.channels}`,
      `++model.model_args.channel_mult=${list(s.model.channelMult)}`,
      `++model.model_args.attn_resolutions=${list(s.model.attnResolutions)}`,
      `++model.model_args.num_blocks=${s.model.blocks}`,
      `training.io.checkpoint_dir=${join(s.out, "checkpoints")}`,
      `training.hp.total_batch_size=${t.batch}`,
      `training.hp.training_duration=${samples}`,
      `training.hp.lr=${t.lr}`,
      `training.hp.lr_rampup=${5 * t.batch}`,
      `training.hp.lr_decay=${t.halvings > 0 ? 0.5 : 1}`,
      `training.hp.lr_decay_rate=${Math.max(1, Math.ceil((samples - 5 * t.batch) / (t.halvings + 1)))}`,
      `training.io.print_progress_freq=${t.batch * Math.max(1, Math.min(10, Math.floor(t.steps / 4)))}`,
      `training.io.validation_freq=${t.batch * Math.max(1, Math.floor(t.steps / 4))}`,
      "training.io.validation_steps=1",
      ...(t.pMean === undefined ? [] : [`++training.hp.P_mean=${t.pMean}`]),
      `training.io.save_checkpoint_freq=${samples}`,
      ...(model === "diffusion"
        ? [`++training.io.regression_checkpoint_path=${demoCheckpointDir(s, "regression")}`]
        : []),
    ],
  });
}

/** Callbacks of the stages. */
export interface DemoHooks {
  /** Messages (default: console.log). */
  log?: (line: string) => void;
  /** Training's own progress display (bar or lines); off: progress lines go to `log`. Default on. */
  progress?: boolean;
  /** Called with every metrics record so far of the model in training (live loss charts). */
  onMetrics?: (model: "regression" | "diffusion", records: MetricsRecord[]) => void;
  /** Generation progress in members. */
  generationProgress?: GenerationProgress;
}

/** Every record of a run's metrics.jsonl (empty when there is none yet). */
export function readMetricsLog(dir: string): MetricsRecord[] {
  try {
    return Deno.readTextFileSync(join(dir, "metrics.jsonl")).split("\n").filter((l) => l.trim())
      .map((l) => JSON.parse(l) as MetricsRecord);
  } catch {
    return [];
  }
}

/** The two trained models. */
export interface DemoModels {
  /** The regression model's training run. */
  regression: TrainSummary;
  /** The diffusion model's training run. */
  diffusion: TrainSummary;
  /** Checkpoint directories (what `generate` and `train` take as checkpoint paths). */
  regressionCheckpoint: string;
  /** Checkpoint directory of the diffusion model. */
  diffusionCheckpoint: string;
}

/**
 * Trains one of the demo's models (the diffusion model on the regression checkpoint in `<out>`),
 * afresh: a previous run's checkpoints of that model in `<out>/checkpoints` are removed first.
 */
export async function trainDemoModel(
  s: DemoSettings,
  model: "regression" | "diffusion",
  hooks: DemoHooks = {},
): Promise<TrainSummary> {
  const log = hooks.log ?? ((l: string) => console.log(l));
  const dir = demoCheckpointDir(s, model);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const config = demoTrainingConfig(s, model);
  const t = s[model];
  log(
    `training the ${model} model: ${t.steps} steps of ${t.batch} samples, learning rate ${t.lr}` +
      (t.halvings ? `, halved ${t.halvings === 1 ? "once" : `${t.halvings} times`} on the way` : ""),
  );
  const summary = await train({
    config,
    progress: hooks.progress ?? true,
    log: (line) => {
      log(`  ${line}`);
      hooks.onMetrics?.(model, readMetricsLog(dir));
    },
  });
  hooks.onMetrics?.(model, readMetricsLog(dir));
  return summary;
}

/** Trains the regression U-Net, then the residual diffusion model on top of it (see {@link trainDemoModel}). */
export async function trainDemoModels(s: DemoSettings, hooks: DemoHooks = {}): Promise<DemoModels> {
  const regression = await trainDemoModel(s, "regression", hooks);
  const diffusion = await trainDemoModel(s, "diffusion", hooks);
  return {
    regression,
    diffusion,
    regressionCheckpoint: demoCheckpointDir(s, "regression"),
    diffusionCheckpoint: demoCheckpointDir(s, "diffusion"),
  };
}

/**
 * The overrides of config_generate_synthetic for the demo's data and held-back times: what
 * `deno task generate --config-name=config_generate_synthetic.yaml` takes on its command line.
 * `mode` regression writes the regression mean alone (one member); no diffusion checkpoint is needed.
 */
export function demoGenerationOverrides(
  s: DemoSettings,
  models: { regressionCheckpoint: string; diffusionCheckpoint?: string },
  output: string,
  mode: "all" | "regression" = "all",
): string[] {
  return [
    ...datasetOverrides(s),
    `generation.times=${list(demoTestTimes(s).map((t) => `"${t}"`))}`,
    `generation.num_ensembles=${mode === "all" ? s.members : 1}`,
    `generation.seed_batch_size=${mode === "all" ? Math.min(s.seedBatchSize, s.members) : 1}`,
    `++generation.inference_mode=${mode}`,
    `sampler.num_steps=${s.samplerSteps}`,
    `++generation.io.reg_ckpt_filename=${models.regressionCheckpoint}`,
    `++generation.io.res_ckpt_filename=${mode === "all" ? models.diffusionCheckpoint : "null"}`,
    `++generation.io.output_filename=${output}`,
  ];
}

/** The resolved generation config of {@link demoGenerationOverrides}. */
export function demoGenerationConfig(
  s: DemoSettings,
  models: { regressionCheckpoint: string; diffusionCheckpoint?: string },
  output: string,
  mode: "all" | "regression" = "all",
): Config {
  return resolveConfig({
    configName: "config_generate_synthetic",
    overrides: demoGenerationOverrides(s, models, output, mode),
  });
}

/** The generation files of the demo. */
export interface DemoGeneration {
  /** The CorrDiff ensemble (regression mean + diffusion residual). */
  ensemble: GenerateSummary;
  /** The regression mean alone (one member), the deterministic baseline CorrDiff refines. */
  regression: GenerateSummary;
}

/** Generates the ensemble for the held-back times, and the regression mean alone for comparison. */
export async function generateDemoEnsemble(
  s: DemoSettings,
  models: { regressionCheckpoint: string; diffusionCheckpoint: string },
  hooks: DemoHooks = {},
): Promise<DemoGeneration> {
  const log = hooks.log ?? ((l: string) => console.log(l));
  await Deno.mkdir(s.out, { recursive: true });
  log(
    `generating ${s.members} members at ${s.testTimes} held-back times (stochastic EDM sampler, ${s.samplerSteps} steps)`,
  );
  const ensemble = await generate(demoGenerationConfig(s, models, join(s.out, "ensemble.nc")), {
    progress: hooks.generationProgress,
  });
  const regression = await generate(
    demoGenerationConfig(s, models, join(s.out, "regression_mean.nc"), "regression"),
  );
  return { ensemble, regression };
}

/** A file the demo wrote, with what it holds. */
export interface DemoFile {
  /** What the file holds, for the report. */
  what: string;
  /** Where it was written. */
  path: string;
}

/** Scores, spectra and the files that show them. */
export interface DemoEvaluation {
  /** Scores of the ensemble against the bilinear input and the regression mean. */
  evaluation: GenerationEvaluation;
  /** Spectra of truth, members, ensemble mean and input, and the residual's autocorrelation. */
  spectra: SpectraAnalysis;
  /** How the grid spacing of the spectra was set. */
  spacing: string;
  /** The files written (scores, spectra, charts, maps), in the order written. */
  files: DemoFile[];
}

/**
 * Scores the ensemble against the bilinear input and the regression mean, computes the spectra and
 * draws the charts and maps; writes scores.json, spectra.nc and SVG + PNG charts into `out`.
 */
export async function evaluateDemo(
  out: string,
  ensemblePath: string,
  regressionPath?: string,
  opts: { mapMembers?: number; metrics?: Record<string, MetricsRecord[]> } = {},
): Promise<DemoEvaluation> {
  const files: DemoFile[] = [];
  const chart = async (what: string, spec: object, name: string) => {
    const p = await writeChart(spec, join(out, name));
    files.push({ what, path: p.png }, { what: `${what} (SVG)`, path: p.svg });
  };
  const evaluation = await evaluateGeneration(ensemblePath, { regressionPath });
  const scoresPath = join(out, "scores.json");
  await Deno.writeTextFile(scoresPath, JSON.stringify(scoresJson(evaluation), null, 1) + "\n");
  files.push({ what: "scores per variable and time, and over all times (JSON)", path: scoresPath });
  await chart("CRPS, MAE and RMSE against the baselines", scoreSummaryChart(evaluation), "scores_summary");
  await chart(
    "scores per time (CRPS, MAE, RMSE, spread/skill)",
    scoresByTimeChart(evaluation),
    "scores_by_time",
  );
  await chart("rank histogram", rankHistogramChart(evaluation), "rank_histogram");
  if (opts.metrics && Object.keys(opts.metrics).length) {
    await chart("training and validation losses", trainingLossChart(opts.metrics), "training_loss");
  }

  const file = await readGeneratedFile(ensemblePath);
  const spectra = spectraOf(file);
  const specDir = join(out, "spectra");
  await Deno.mkdir(specDir, { recursive: true });
  const ncPath = join(specDir, "spectra.nc");
  await writeNetCDF4(ncPath, spectraDataset(spectra, { source: ensemblePath, spacing: file.spacing }));
  files.push({ what: "spectra and autocorrelations (NetCDF)", path: ncPath });
  for (const c of spectraCharts(spectra)) {
    const [, variable, kind] = c.name.match(/^(.*?)_(radial_spectra|spectra|acf)$/) ?? [, c.name, ""];
    const what = kind === "radial_spectra"
      ? "isotropic power spectra"
      : kind === "spectra"
      ? "1-D power spectra along x"
      : "autocorrelation of the residual (truth - ensemble mean)";
    await chart(`${variable}: ${what}`, c.spec, join("spectra", c.name));
  }

  const mapDir = join(out, "maps");
  await Deno.mkdir(mapDir, { recursive: true });
  for (let t = 0; t < file.time; t++) {
    const label = file.times[t].slice(0, 16);
    const spec = sampleMapChart(mapVariables(file, t, opts.mapMembers ?? 3), {
      height: file.height,
      width: file.width,
      title: `${label}: bilinear input, members, ensemble mean and truth`,
      panelWidth: 130,
    });
    await chart(`map at ${label}`, spec, join("maps", `map_${label.replace(/[:]/g, "")}`));
  }
  return { evaluation, spectra, spacing: file.spacing, files };
}

/** The scores as plain JSON: per variable, per forecast, over all times and per time. */
export function scoresJson(ev: GenerationEvaluation): object {
  return {
    file: ev.path,
    members: ev.nEnsemble,
    times: ev.times,
    grid: [ev.ny, ev.nx],
    variables: ev.variables.map((v) => ({
      name: v.name,
      units: v.units,
      overall: v.summary,
      per_time: Object.fromEntries(
        Object.entries(v.perTime).map(([k, ss]) => [
          k,
          ss!.map((s) => ({
            crps: s.crps,
            mae: s.mae,
            rmse: s.rmse,
            std_dev: s.stdDev,
            spread_skill: s.spreadSkill,
          })),
        ]),
      ),
      rank_histogram: [...v.rankHistogram],
    })),
  };
}

/** What a whole demo run did. */
export interface DemoResult {
  /** The settings run, with `out` made absolute. */
  settings: DemoSettings;
  /** The two trained models. */
  models: DemoModels;
  /** The ensemble and regression-mean generation files. */
  generation: DemoGeneration;
  /** The ensemble's scores. */
  evaluation: GenerationEvaluation;
  /** The ensemble file's spectra and residual autocorrelation. */
  spectra: SpectraAnalysis;
  /** How the grid spacing of the spectra was set. */
  spacing: string;
  /** Every file written, in the order written. */
  files: DemoFile[];
  /** Wall time per stage and in all, seconds. */
  seconds: { regression: number; diffusion: number; generation: number; evaluation: number; total: number };
}

/** Runs the whole demo: train both models, generate, evaluate. */
export async function runDemo(s: DemoSettings, hooks: DemoHooks = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const log = hooks.log ?? ((l: string) => console.log(l));
  const out = resolve(s.out);
  const settings = { ...s, out };
  await Deno.mkdir(out, { recursive: true });
  const models = await trainDemoModels(settings, hooks);
  const t1 = performance.now();
  const generation = await generateDemoEnsemble(settings, models, hooks);
  const t2 = performance.now();
  log("scoring, spectra and maps");
  const metrics = {
    regression: readMetricsLog(models.regression.checkpointDir),
    diffusion: readMetricsLog(models.diffusion.checkpointDir),
  };
  const ev = await evaluateDemo(out, generation.ensemble.path, generation.regression.path, {
    mapMembers: s.mapMembers,
    metrics,
  });
  const t3 = performance.now();
  const files: DemoFile[] = [
    ...demoCheckpointFiles(models.regression.checkpointDir, "regression"),
    ...demoCheckpointFiles(models.diffusion.checkpointDir, "diffusion"),
    { what: "the ensemble (NetCDF4: input, truth, prediction)", path: generation.ensemble.path },
    { what: "the regression mean alone (NetCDF4)", path: generation.regression.path },
    ...ev.files,
  ];
  const sec = (a: number, b: number) => (b - a) / 1000;
  return {
    settings,
    models,
    generation,
    evaluation: ev.evaluation,
    spectra: ev.spectra,
    spacing: ev.spacing,
    files,
    seconds: {
      regression: models.regression.seconds,
      diffusion: models.diffusion.seconds,
      generation: sec(t1, t2),
      evaluation: sec(t2, t3),
      total: sec(t0, t3),
    },
  };
}

/** The files of a training run's checkpoint directory, described. */
export function demoCheckpointFiles(dir: string, model: string): DemoFile[] {
  const what = (name: string) => {
    if (name.startsWith("checkpoint.")) return `${model}: optimizer state, data order, config (for resuming)`;
    if (name.endsWith(".safetensors")) return `${model}: network weights and arguments (what generate loads)`;
    if (name === "metrics.jsonl") return `${model}: training and validation metrics (JSON lines)`;
    if (name.startsWith("loss_curve")) return `${model}: loss curve`;
    return `${model}: ${name}`;
  };
  return [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name).sort()
    .map((name) => ({ what: what(name), path: join(dir, name) }));
}

/** The closing report: what was done, the scores next to the baselines, and where every file is. */
export function formatDemoReport(r: DemoResult, cwd = Deno.cwd()): string[] {
  const s = r.settings, m = r.models;
  const rel = (p: string) => (p.startsWith(cwd + "/") ? p.slice(cwd.length + 1) : p);
  const params = (n: number) => `${(n / 1e6).toFixed(2)} M parameters`;
  const lines = [
    "",
    "== what was done ==",
    `data: the built-in synthetic set, ${s.variables.join(", ")} on a ${s.size}x${s.size} grid from ` +
    `${s.size / 4}x${s.size / 4} inputs (+ ${
      s.invariants.join(", ")
    }); trained on ${s.trainTimes} hourly times, ` +
    `${s.testTimes} later times held back (${demoTestTimes(s)[0]} .. ${demoTestTimes(s).at(-1)})`,
    `regression U-Net (${
      params(m.regression.numParameters)
    }): ${m.regression.steps} steps x ${s.regression.batch} samples ` +
    `in ${formatDuration(r.seconds.regression)}, last loss ${m.regression.lastLoss?.toPrecision(4) ?? "--"}`,
    `diffusion model (${
      params(m.diffusion.numParameters)
    }): ${m.diffusion.steps} steps x ${s.diffusion.batch} samples ` +
    `in ${formatDuration(r.seconds.diffusion)}, last loss ${m.diffusion.lastLoss?.toPrecision(4) ?? "--"}`,
    `generation: ${s.members} members x ${s.testTimes} times, stochastic EDM sampler with ${s.samplerSteps} steps, ` +
    `in ${formatDuration(r.seconds.generation)} (${
      r.generation.ensemble.membersPerSecond.toPrecision(3)
    } members/s)`,
    `evaluation (scores, spectra, maps) in ${formatDuration(r.seconds.evaluation)}; total ${
      formatDuration(r.seconds.total)
    }`,
    "",
    `== scores at the ${s.testTimes} held-back times (physical units, means over time; lower is better) ==`,
    ...formatScoreTable(r.evaluation),
    "",
    "against the bilinear input (positive = better than it):",
    ...skillOverBilinear(r.evaluation).map((k) =>
      `  ${k.name}: ensemble CRPS ${pct(k.crps)}, MAE ${pct(k.mae)}, RMSE ${pct(k.rmse)}` +
      (k.regressionRmse === null ? "" : `; regression mean RMSE ${pct(k.regressionRmse)}`)
    ),
    "",
    "== spectra ==",
    `grid spacing: ${r.spacing}`,
    ...spectraSummary(r.spectra, s.size, s.size).split("\n"),
    "",
    `== files (in ${rel(s.out)}/) ==`,
    ...fileLines(r.files, rel),
  ];
  return lines;
}

/** One line per file, a chart's PNG and SVG on one line. */
function fileLines(files: readonly DemoFile[], rel: (p: string) => string): string[] {
  const paths = new Set(files.map((f) => f.path));
  const lines: string[] = [];
  for (const f of files) {
    if (f.path.endsWith(".svg") && paths.has(f.path.replace(/\.svg$/, ".png"))) continue;
    const svg = f.path.endsWith(".png") && paths.has(f.path.replace(/\.png$/, ".svg"));
    lines.push(`  ${rel(f.path)}${svg ? " (and .svg)" : ""}  ${f.what}`);
  }
  const width = Math.max(...lines.map((l) => l.indexOf("  ", 2)));
  return lines.map((l) => {
    const cut = l.indexOf("  ", 2);
    return l.slice(0, cut).padEnd(width) + l.slice(cut);
  });
}

function pct(x: number): string {
  return `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`;
}
