/**
 * `generate`: a resolved generation config in, a generation file out (reference: generate.py).
 *
 * Everything that can be wrong with the inputs (config keys, times, checkpoints, patch shape,
 * output path) is checked before the first network call; then, per time, the input and truth are
 * written, the regression mean is computed once, and each batch of members is sampled on the device
 * and read back once.
 */
import { acquireLock, type Lock } from "../util/lock.ts";
import { countNonFinite } from "../io/file_errors.ts";
import { basename, extname } from "node:path";
import { type Config, isMapping } from "../config/tree.ts";
import { channelName } from "../data/base.ts";
import { type ChannelMetadata, createDataset, type DownscalingDataset } from "../data/dataset.ts";
import { type GridPatching, gridPatching } from "../diffusion/patching.ts";
import { initRuntime, rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { encodeCfTimes, type GenerationVariable } from "../io/generation_file.ts";
import { DevicePatching } from "../ops/patching.ts";
import type { CorrDiffRegressionUNet, EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import { type DataShape, loadDiffusionModel, loadRegressionModel } from "./models.ts";
import { type RunLayout, RunOutput } from "./output.ts";
import { GenerationPlan, seedBatches, selectTimes, type Shard } from "./plan.ts";
import type { GenerationProgress as Progress } from "./progress.ts";
import { type Bounds, channelBounds, clipFields, describeClip } from "./clip.ts";
import { addMean, DiffusionStep, regressionMean, seededNoise } from "./sampling.ts";
import { type GenerationSettings, generationSettings, type PatchSettings } from "./settings.ts";

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** Generate only this part of (times x members), into its own file. */
  shard?: Shard;
  /** Output path (default: generation.io.output_filename, made per-shard by {@link shardOutputPath}). */
  output?: string;
  /** Directory that relative dataset paths resolve against (default: the working directory). */
  baseDir?: string;
  /** Progress in members (default: none). */
  progress?: Progress;
  /** Receives one line per setup step (default: silent). */
  log?: (line: string) => void;
}

/** What a run did. */
export interface GenerateSummary {
  /** The output file written (the shard's own file when sharded). */
  path: string;
  /** The part of the run generated (index 0 of 1 when unsharded). */
  shard: Shard;
  /** Times and members this run (or shard) generated. */
  times: number;
  /** Members generated per time. */
  members: number;
  /** Network evaluations per member batch (regression excluded). */
  callsPerBatch: number;
  /** Wall time of the run, seconds, setup and model loading included. */
  seconds: number;
  /** Members generated per second of `seconds`. */
  membersPerSecond: number;
}

/** `out.nc` -> `out.shard-2-of-8.nc` for shard 2/8; unchanged for an unsharded run. */
export function shardOutputPath(path: string, shard: Shard): string {
  if (shard.count === 1) return path;
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.shard-${shard.index}-of-${shard.count}${ext || ".nc"}`;
}

/** The grid patching of a run, checked against the domain and the U-Net's down-sampling. */
export function patchingFor(p: PatchSettings, H: number, W: number, sizeMultiple: number): GridPatching {
  const [Hp, Wp] = p.shape;
  const what = `generation.patch_shape_y/x: patch ${Hp}x${Wp}`;
  if (Hp > H || Wp > W) {
    throw new Error(
      `${what} is larger than the ${H}x${W} domain (use generation=non_patched, or a smaller patch)`,
    );
  }
  if (Hp % sizeMultiple || Wp % sizeMultiple) {
    throw new Error(
      `${what} is not a multiple of ${sizeMultiple}, as the diffusion U-Net's down-sampling needs`,
    );
  }
  try {
    return gridPatching(H, W, Hp, Wp, p.overlapPix, p.boundaryPix);
  } catch (e) {
    throw new Error(`generation.overlap_pix/boundary_pix: ${(e as Error).message}`);
  }
}

function variable(c: ChannelMetadata): GenerationVariable {
  return { name: channelName(c), units: c.units ?? "", longName: c.longName ?? channelName(c) };
}

/** A stable identity of the run: its config without the output name. */
async function runId(config: Config): Promise<string> {
  const copy = structuredClone(config) as { generation?: { io?: Record<string, unknown> } };
  delete copy.generation?.io?.output_filename;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(copy)));
  return [...new Uint8Array(digest).slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function runLayout(
  config: Config,
  s: GenerationSettings,
  ds: DownscalingDataset,
  timeIdx: number[],
): Promise<RunLayout> {
  const [ny, nx] = ds.imageShape();
  const all = ds.time();
  const dates = timeIdx.map((i) => all[i]);
  if (!dates.every((d): d is Date => d instanceof Date)) {
    throw new Error("dataset: times that are labels (lead-time data) are not supported");
  }
  const grid = (g: { data: Float64Array }) => Float32Array.from(g.data);
  const ckpt = (p: string | null) => (p ? basename(p) : "none");
  return {
    ny,
    nx,
    lat: grid(ds.latitude()),
    lon: grid(ds.longitude()),
    inputVariables: ds.inputChannels().map(variable),
    outputVariables: ds.outputChannels().map(variable),
    times: encodeCfTimes(dates),
    config,
    attrs: {
      // No date: the same config must give the same file.
      history: "written by corrdiff-ts (deno task generate)",
      source: `CorrDiff inference_mode=${s.inferenceMode}, regression ${ckpt(s.regCheckpoint)}, diffusion ${
        ckpt(s.resCheckpoint)
      }, ${s.sampler.type} sampler with ${s.sampler.numSteps} steps${describeClip(s.clip)}`,
    },
    runId: await runId(config),
  };
}

/** The loaded networks and device patching of a run. */
interface Models {
  reg: CorrDiffRegressionUNet | null;
  res: EDMPrecondSuperResolution | null;
  patching: DevicePatching | null;
}

async function loadModels(s: GenerationSettings, data: DataShape): Promise<Models> {
  const m: Models = { reg: null, res: null, patching: null };
  try {
    if (s.inferenceMode !== "diffusion") m.reg = await loadRegressionModel(s.regCheckpoint!, data);
    if (s.inferenceMode !== "regression") {
      m.res = await loadDiffusionModel(s.resCheckpoint!, data, {
        hrMeanConditioning: s.hrMeanConditioning,
        patched: !!s.patching,
      });
      if (s.patching) {
        m.patching = new DevicePatching(patchingFor(s.patching, data.H, data.W, m.res.model.sizeMultiple));
      }
    }
    return m;
  } catch (e) {
    disposeModels(m);
    throw e;
  }
}

/**
 * Lead-time models need generation.has_lead_time (their labels), and has_lead_time a dataset whose samples
 * have labels: both fail here, before any work.
 */
async function checkLeadTime(s: GenerationSettings, m: Models, ds: DownscalingDataset, first: number) {
  for (const [net, path] of [[m.reg, s.regCheckpoint], [m.res, s.resCheckpoint]] as const) {
    if (net?.model.ltEmbd && !s.hasLeadTime) {
      throw new Error(
        `generation.has_lead_time: ${path} is a lead-time model (SongUNetPosLtEmbd): set generation.has_lead_time=true`,
      );
    }
  }
  if (s.hasLeadTime && first !== undefined && (await ds.item(first)).leadTime === undefined) {
    throw new Error(
      "generation.has_lead_time: the dataset's samples have no lead-time labels (a dataset's item() returns " +
        "them as leadTime; the synthetic dataset with dataset.lead_time_steps)",
    );
  }
}

function disposeModels(m: Models): void {
  m.reg?.ps.dispose();
  m.res?.ps.dispose();
  m.patching?.dispose();
}

/** Network calls of one sampler run. */
function callsPerRun(s: GenerationSettings): number {
  const { type, numSteps, solver } = s.sampler;
  return type === "deterministic" && solver === "euler" ? numSteps : 2 * numSteps - 1;
}

/** Generates the ensemble a resolved generation config describes; returns what was done. */
export async function generate(config: Config, opts: GenerateOptions = {}): Promise<GenerateSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const s = generationSettings(config);
  if (!isMapping(config.dataset)) throw new Error("the config has no 'dataset' section");
  const ds = await createDataset(config.dataset, { baseDir: opts.baseDir });
  let models: Models | null = null;
  let out: RunOutput | null = null;
  let lock: Lock | null = null;
  try {
    const timeIdx = selectTimes(s.times, ds.time());
    const shard = opts.shard ?? { index: 0, count: 1 };
    const plan = new GenerationPlan(timeIdx.length, seedBatches(s.numEnsembles, s.seedBatchSize), shard);
    const [H, W] = ds.imageShape();
    const data: DataShape = {
      inputNames: ds.inputChannels().map(channelName),
      outputNames: ds.outputChannels().map(channelName),
      H,
      W,
    };
    const bounds = channelBounds(s.clip, data.outputNames);
    const r = await initRuntime();
    log(`WebGPU adapter: ${r.gpu.description}`);
    // The output first: an unwritable path fails before the checkpoints are read.
    const path = opts.output ?? shardOutputPath(s.outputFilename, shard);
    out = await RunOutput.create(path, await runLayout(config, s, ds, timeIdx), plan);
    // A second run on the same output would interleave with this one: refuse it.
    lock = acquireLock(path, { purpose: "generation" });
    models = await loadModels(s, data);
    await checkLeadTime(s, models, ds, timeIdx[0]);
    log(
      `plan: ${plan.times().length} of ${timeIdx.length} times, ${plan.memberCount} members in batches of ` +
        `${plan.batches[0].length}${shard.count > 1 ? ` (shard ${shard.index}/${shard.count})` : ""}`,
    );

    opts.progress?.start(plan.memberCount);
    // what is derived from the weights (made once per weight version) goes back to the pool at the end
    const thaw = r.freezeParameters();
    try {
      for (const t of plan.times()) {
        await generateTime(ds, timeIdx[t], t, plan, s, models, out, bounds, opts.progress);
      }
    } finally {
      thaw();
    }
    opts.progress?.stop();
    await out.close();
    const seconds = (performance.now() - t0) / 1000;
    return {
      path,
      shard,
      times: plan.times().length,
      members: plan.memberCount,
      callsPerBatch: models.res ? callsPerRun(s) : 0,
      seconds,
      membersPerSecond: plan.memberCount / seconds,
    };
  } catch (e) {
    opts.progress?.stop();
    await out?.abort();
    throw e;
  } finally {
    if (models) disposeModels(models);
    lock?.release();
    ds.close?.();
  }
}

/** NaN or Inf in a conditioning input would give NaN members without a word: refuse, naming the time and channels. */
function checkFiniteInput(ds: DownscalingDataset, index: number, input: Float32Array): void {
  const [H, W] = ds.imageShape();
  const bad = ds.inputChannels().map((c, k) =>
    [channelName(c), countNonFinite(input.subarray(k * H * W, (k + 1) * H * W))] as const
  )
    .filter(([, n]) => n > 0);
  if (!bad.length) return;
  const t = ds.time()[index];
  const when = t instanceof Date ? t.toISOString().replace(".000Z", "Z") : String(t);
  throw new Error(
    `input at time ${when} (sample ${index}) has non-finite values: ${
      bad.map(([n, k]) => `${k} in ${n}`).join(", ")
    }`,
  );
}

/** One time: input and truth, the regression mean, then every member batch of this shard. */
async function generateTime(
  ds: DownscalingDataset,
  index: number,
  t: number,
  plan: GenerationPlan,
  s: GenerationSettings,
  m: Models,
  out: RunOutput,
  bounds: (Bounds | null)[],
  progress?: Progress,
): Promise<void> {
  const r = rt();
  const item = await ds.item(index);
  checkFiniteInput(ds, index, item.input);
  out.writeTime(t, ds.denormalizeInput(item.input), ds.denormalizeOutput(item.target));
  const [H, W] = ds.imageShape();
  const cin = ds.inputChannels().length, cout = ds.outputChannels().length;
  const imgLr = { data: item.input, shape: [1, cin, H, W] };
  const units = plan.units().filter((u) => u.time === t);
  let leadTime: number | undefined;
  if (s.hasLeadTime) {
    leadTime = item.leadTime;
    if (leadTime === undefined) {
      throw new Error(`generation.has_lead_time: the dataset's sample ${index} has no lead-time label`);
    }
  }
  const mean: Tensor | null = m.reg
    ? r.scope(() => regressionMean(m.reg!, r.upload(imgLr.data, imgLr.shape), leadTime)).keep()
    : null;
  const step = m.res
    ? new DiffusionStep(m.res, imgLr, s.hrMeanConditioning ? mean : null, m.patching, s.sampler, leadTime)
    : null;
  try {
    // Regression only: every member is the mean, read once.
    const meanHost = step ? null : await mean!.read();
    for (const u of units) {
      let fields: Float32Array;
      if (step) {
        // The whole sampler run for the batch is recorded first; the read is its only sync.
        const y = r.scope(() => {
          const { latents, randnLike } = seededNoise(u.members, [cout, H, W], s.sampler.S_churn > 0);
          const residual = step.sample(latents, randnLike);
          return mean ? addMean(mean, residual) : residual;
        });
        fields = await y.read();
        y.release();
      } else {
        fields = new Float32Array(meanHost!.length * u.members.length);
        u.members.forEach((_, j) => fields.set(meanHost!, j * meanHost!.length));
      }
      const n = cout * H * W;
      u.members.forEach((member, j) => {
        const values = ds.denormalizeOutput(fields.subarray(j * n, (j + 1) * n));
        clipFields(values, bounds, H * W);
        out.writeMember(t, member, values);
      });
      progress?.advance(u.members.length);
    }
    out.fillUnowned(t);
  } finally {
    step?.dispose();
    if (mean) {
      mean.release();
    }
  }
}

/** The closing lines of a run: what was generated, how fast, and where it is. */
export function formatSummary(sum: GenerateSummary): string[] {
  const shard = sum.shard.count > 1 ? ` (shard ${sum.shard.index}/${sum.shard.count})` : "";
  const calls = sum.callsPerBatch ? `, ${sum.callsPerBatch} diffusion network calls per batch` : "";
  return [
    `generated ${sum.members} members over ${sum.times} time${sum.times === 1 ? "" : "s"}${shard} in ${
      sum.seconds.toFixed(1)
    } s: ${sum.membersPerSecond.toPrecision(3)} members/s${calls}`,
    `wrote ${sum.path}`,
  ];
}
