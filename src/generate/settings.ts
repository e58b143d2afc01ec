/**
 * The `generation:` and `sampler:` sections of a generation config, read into typed settings with
 * one-line errors that name the key at fault (reference: generate.py and conf/base/generation/).
 */
import { didYouMean } from "../config/errors.ts";
import { type Config, isMapping, MISSING } from "../config/tree.ts";
import { type Bounds, parseClip } from "./clip.ts";

/** What a run produces: regression mean only, diffusion residual only, or their sum (the default). */
export type InferenceMode = "all" | "regression" | "diffusion";

/** The sampler group (`conf/base/generation/sampler/*.yaml`), camel-cased for the samplers. */
export interface SamplerSettings {
  /** Stochastic (EDM, with churn) or deterministic (Euler/Heun) sampling. */
  type: "stochastic" | "deterministic";
  /** Noise levels of the schedule, i.e. denoising steps (default 18 stochastic, 9 deterministic). */
  numSteps: number;
  /** Deterministic only: "euler" (the CorrDiff default) or "heun". */
  solver?: "euler" | "heun";
  /** Churn strength: extra noise added per step (0 = none). */
  S_churn: number;
  /** Lowest noise level at which churn is applied. */
  S_min: number;
  /** Highest noise level at which churn is applied. */
  S_max: number;
  /** Scale of the churn noise. */
  S_noise: number;
  /** Smallest noise level of the schedule (unset: the sampler's default), clipped to the network's. */
  sigmaMin?: number;
  /** Largest noise level of the schedule (unset: the sampler's default), clipped to the network's. */
  sigmaMax?: number;
  /** Exponent of the noise-level schedule (sampler default 7 when unset). */
  rho?: number;
}

/** Which times to generate: listed, a range, or every time of the dataset. */
export type TimeSelection =
  | { kind: "list"; values: string[] }
  | { kind: "range"; start: string; end: string; stepHours: number }
  | { kind: "all" };

/** Grid patching of the diffusion step (GridPatching2D), as configured. */
export interface PatchSettings {
  /** [rows, columns] = [patch_shape_y, patch_shape_x]. */
  shape: [number, number];
  /** Pixels by which neighbouring patches overlap (averaged where they do). */
  overlapPix: number;
  /** Pixels of padding added around the image before it is cut into patches. */
  boundaryPix: number;
}

/** Everything a generation run is configured with. */
export interface GenerationSettings {
  /** Which models run and what is written. */
  inferenceMode: InferenceMode;
  /** Ensemble members generated per time. */
  numEnsembles: number;
  /** Ensemble members sampled together in one batch. */
  seedBatchSize: number;
  /** The times to generate. */
  times: TimeSelection;
  /** Whether the diffusion model is conditioned on the regression mean as well as the input. */
  hrMeanConditioning: boolean;
  /** Patching of the diffusion step; null: the whole image at once. */
  patching: PatchSettings | null;
  /** The sampler section. */
  sampler: SamplerSettings;
  /** Output file path (`generation.io.output_filename`). */
  outputFilename: string;
  /** Checkpoint paths; null when not given (allowed for the model the mode does not use). */
  regCheckpoint: string | null;
  /** Checkpoint of the diffusion (residual) model; null when not given. */
  resCheckpoint: string | null;
  /** `generation.clip`: bounds per output variable, in its units (empty: no clipping; ./clip.ts). */
  clip: Map<string, Bounds>;
  /** `generation.has_lead_time`: the dataset's lead-time labels go to the networks (lead-time models). */
  hasLeadTime: boolean;
}

const SAMPLER_KEYS: Record<SamplerSettings["type"], string[]> = {
  stochastic: ["type", "num_steps", "S_churn", "S_min", "S_max", "S_noise", "sigma_min", "sigma_max", "rho"],
  deterministic: [
    "type",
    "num_steps",
    "solver",
    "S_churn",
    "S_min",
    "S_max",
    "S_noise",
    "sigma_min",
    "sigma_max",
    "rho",
  ],
};

/** Typed reads from one config section, failing with the full dotted key. */
class Section {
  constructor(readonly values: Record<string, unknown>, readonly prefix: string) {}

  get(key: string): unknown {
    return this.values[key];
  }

  fail(key: string, expected: string): never {
    throw new Error(
      `${this.prefix}.${key} must be ${expected}, got ${JSON.stringify(this.values[key]) ?? "nothing"}`,
    );
  }

  int(key: string, min: number, fallback?: number): number {
    const v = this.values[key] ?? fallback;
    if (!Number.isInteger(v) || (v as number) < min) this.fail(key, `an integer >= ${min}`);
    return v as number;
  }

  number(key: string, fallback: number): number {
    const v = this.values[key] ?? fallback;
    if (typeof v !== "number" || Number.isNaN(v)) this.fail(key, "a number");
    return v;
  }

  optionalNumber(key: string): number | undefined {
    const v = this.values[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !(v > 0)) this.fail(key, "a positive number");
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.values[key] ?? fallback;
    if (typeof v !== "boolean") this.fail(key, "true or false");
    return v;
  }

  oneOf<T extends string>(key: string, options: readonly T[], fallback: T): T {
    const v = this.values[key] ?? fallback;
    if (typeof v !== "string" || !options.includes(v as T)) this.fail(key, `one of ${options.join(", ")}`);
    return v as T;
  }

  optionalPath(key: string): string | null {
    const v = this.values[key];
    if (v === undefined || v === null || v === MISSING) return null;
    if (typeof v !== "string" || v === "") this.fail(key, "a file path");
    return v;
  }
}

function section(cfg: Config, key: string): Record<string, unknown> {
  const v = cfg[key];
  if (!isMapping(v)) {
    throw new Error(`the config has no '${key}' section (use a config_generate_*.yaml config)`);
  }
  return v;
}

/** Reads and checks the `sampler:` section. */
export function samplerSettings(cfg: Config): SamplerSettings {
  const s = new Section(section(cfg, "sampler"), "sampler");
  const type = s.oneOf("type", ["stochastic", "deterministic"] as const, "stochastic");
  const known = SAMPLER_KEYS[type];
  for (const k of Object.keys(s.values)) {
    if (!known.includes(k)) {
      throw new Error(`sampler.${k}: not a key of the ${type} sampler.${didYouMean(k, known)}`);
    }
  }
  const out: SamplerSettings = {
    type,
    numSteps: s.int("num_steps", 2, type === "stochastic" ? 18 : 9),
    S_churn: s.number("S_churn", 0),
    S_min: s.number("S_min", 0),
    S_max: s.number("S_max", Infinity),
    S_noise: s.number("S_noise", 1),
    sigmaMin: s.optionalNumber("sigma_min"),
    sigmaMax: s.optionalNumber("sigma_max"),
    rho: s.optionalNumber("rho"),
  };
  if (out.S_churn < 0) s.fail("S_churn", "a number >= 0");
  if (type === "deterministic") out.solver = s.oneOf("solver", ["euler", "heun"] as const, "euler");
  return out;
}

function timeSelection(g: Section): TimeSelection {
  const times = g.get("times"), range = g.get("times_range");
  const hasTimes = times !== undefined && times !== null;
  const hasRange = range !== undefined && range !== null;
  if (hasTimes && hasRange) {
    throw new Error(
      "generation.times and generation.times_range are both set; keep one (e.g. add ~generation.times to use the range)",
    );
  }
  if (hasRange) {
    const ok = Array.isArray(range) && (range.length === 2 || range.length === 3) &&
      typeof range[0] === "string" && typeof range[1] === "string" &&
      (range.length === 2 || (typeof range[2] === "number" && range[2] > 0));
    if (!ok) g.fail("times_range", "[start, end] or [start, end, step hours]");
    const r = range as [string, string, number?];
    return { kind: "range", start: r[0], end: r[1], stepHours: r[2] ?? 1 };
  }
  if (times === "all") return { kind: "all" };
  if (!hasTimes) {
    throw new Error("generation.times is not set: give a list of times, all, or generation.times_range");
  }
  const list = Array.isArray(times) ? times : [times];
  if (list.length === 0 || !list.every((t) => typeof t === "string" && t !== "")) {
    g.fail("times", 'a list of times ("YYYY-MM-DDThh:mm:ss") or all');
  }
  return { kind: "list", values: list as string[] };
}

function patchSettings(g: Section): PatchSettings | null {
  if (!g.bool("patching", false)) return null;
  return {
    shape: [g.int("patch_shape_y", 1), g.int("patch_shape_x", 1)],
    overlapPix: g.int("overlap_pix", 0, 0),
    boundaryPix: g.int("boundary_pix", 0, 0),
  };
}

/** Reads and checks the `generation:` and `sampler:` sections of a resolved config. */
export function generationSettings(cfg: Config): GenerationSettings {
  const g = new Section(section(cfg, "generation"), "generation");
  const io = new Section(
    isMapping(g.get("io")) ? g.get("io") as Record<string, unknown> : {},
    "generation.io",
  );
  const settings: GenerationSettings = {
    inferenceMode: g.oneOf("inference_mode", ["all", "regression", "diffusion"] as const, "all"),
    numEnsembles: g.int("num_ensembles", 1),
    seedBatchSize: g.int("seed_batch_size", 1),
    times: timeSelection(g),
    hrMeanConditioning: g.bool("hr_mean_conditioning", true),
    patching: patchSettings(g),
    sampler: samplerSettings(cfg),
    outputFilename: io.optionalPath("output_filename") ?? "corrdiff_output.nc",
    regCheckpoint: io.optionalPath("reg_ckpt_filename"),
    resCheckpoint: io.optionalPath("res_ckpt_filename"),
    clip: parseClip(g.get("clip")),
    hasLeadTime: g.bool("has_lead_time", false),
  };
  if (settings.inferenceMode === "diffusion" && settings.hrMeanConditioning) {
    // The reference crashes here (no regression mean to condition on); say why instead.
    throw new Error(
      "generation.inference_mode=diffusion runs no regression model, so it cannot condition on its mean: " +
        "set generation.hr_mean_conditioning=false, or use inference_mode=all",
    );
  }
  if (settings.inferenceMode !== "diffusion" && !settings.regCheckpoint) {
    throw new Error(
      `generation.io.reg_ckpt_filename is not set (inference_mode=${settings.inferenceMode} needs the regression model)`,
    );
  }
  if (settings.inferenceMode !== "regression" && !settings.resCheckpoint) {
    throw new Error(
      `generation.io.res_ckpt_filename is not set (inference_mode=${settings.inferenceMode} needs the diffusion model)`,
    );
  }
  return settings;
}
