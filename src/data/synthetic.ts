/**
 * A built-in synthetic downscaling set: no download, deterministic by seed, physically plausible.
 *
 * The fine fields of sample `i` (on an `H x W` grid, row 0 north) are
 *
 * - `t2m` (K): a sample-wide level, a Gaussian random field with a Nastrom-Gage spectrum (`k^-3`
 *   turning into `k^-5/3`), the lapse rate -6.5 K/km times the terrain elevation, a land-sea
 *   contrast that changes sign from sample to sample, and a `tanh` front of random position,
 *   orientation, width and strength;
 * - `u10`, `v10` (m/s): a mean wind plus a non-divergent wind with the same spectrum, an
 *   along-front jump across the front, all slowed by surface drag over land.
 *
 * The terrain (`elev_mean`, m, and `lsm_mean`, the land mask) is one random field per seed and is
 * the invariant. The coarse input is the fine field blurred (a Gaussian of `f/2` pixels, what a
 * coarse model resolves) and block-averaged by the factor `f`; items up-sample it exactly like
 * `hrrr_mini`. Normalisation statistics are measured on the first `stats_samples` samples
 * (coarse fields for inputs, fine fields for outputs, the whole grid for invariants).
 */

import { channel, nanGrid, RawItemDataset } from "./base.ts";
import type { ChannelMetadata, DownscalingItem, Grid2D } from "./dataset.ts";
import {
  gaussianBlur,
  gaussianRandomField,
  nastromGage,
  nonDivergentWind,
  powerLaw,
} from "./gaussian_field.ts";
import { composeHrrrMiniInput } from "./hrrr_mini.ts";
import { ChannelNormalization } from "./normalize.ts";
import type { DatasetOptions } from "./options.ts";
import { Rng } from "../util/rng.ts";
import { blockMean } from "./resample.ts";
import type { StatsTable } from "./stats.ts";
import { concatNormalizations, normalizationFor } from "./stats.ts";

/** CF description of a synthetic variable. */
export interface SyntheticVariableInfo {
  /** Physical units (`units` attribute). */
  units: string;
  /** Descriptive name (`long_name` attribute). */
  longName: string;
  /** CF standard name (`standard_name` attribute). */
  standardName: string;
}

/** The time-dependent fields (usable as inputs and outputs). */
export const SYNTHETIC_FIELDS: Readonly<Record<string, SyntheticVariableInfo>> = {
  t2m: { units: "K", longName: "2 metre temperature (synthetic)", standardName: "air_temperature" },
  u10: { units: "m s-1", longName: "10 metre eastward wind (synthetic)", standardName: "eastward_wind" },
  v10: { units: "m s-1", longName: "10 metre northward wind (synthetic)", standardName: "northward_wind" },
};

/** The static fields (usable as invariants). */
export const SYNTHETIC_INVARIANTS: Readonly<Record<string, SyntheticVariableInfo>> = {
  elev_mean: {
    units: "m",
    longName: "surface elevation of the synthetic terrain",
    standardName: "surface_altitude",
  },
  lsm_mean: {
    units: "1",
    longName: "land mask of the synthetic terrain",
    standardName: "land_area_fraction",
  },
};

/**
 * Other names accepted for the fields and invariants (the channel keeps the name it was asked by):
 * the ECMWF/earth2studio short names and plain words.
 */
export const SYNTHETIC_ALIASES: Readonly<Record<string, string>> = {
  "2t": "t2m",
  t2: "t2m",
  u10m: "u10",
  "10u": "u10",
  v10m: "v10",
  "10v": "v10",
  orography: "elev_mean",
  elevation: "elev_mean",
  lsm: "lsm_mean",
  land_sea_mask: "lsm_mean",
};

/** The canonical name of a field or invariant (`u10m` -> `u10`), or the name itself. */
export function canonicalSyntheticName(name: string): string {
  return SYNTHETIC_ALIASES[name] ?? name;
}

/** The CF description of a synthetic field or invariant, by any accepted name. */
export function syntheticVariableInfo(name: string): SyntheticVariableInfo {
  const c = canonicalSyntheticName(name);
  const info = SYNTHETIC_FIELDS[c] ?? SYNTHETIC_INVARIANTS[c];
  if (!info) throw new Error(`synthetic dataset: unknown variable '${name}'`);
  return info;
}

/** Options of {@link SyntheticDataset.create} (config keys in snake_case). */
export interface SyntheticOptions {
  /** Seed of the terrain and of every sample (default 0). */
  seed?: number;
  /** Number of samples (default 64). */
  numSamples?: number;
  /** `[H, W]` of the fine grid; both multiples of the factor. */
  imageShape?: [number, number];
  /** Ratio of fine to coarse grid spacing (default 4). */
  upsampleFactor?: number;
  /** Time-dependent fields used as inputs, any accepted name (default t2m, u10, v10). */
  inputVariables?: string[];
  /** Time-dependent fields used as outputs, any accepted name (default t2m, u10, v10). */
  outputVariables?: string[];
  /** Static fields appended to the inputs (default elev_mean, lsm_mean). */
  invariantVariables?: string[];
  /** Samples used to measure the normalisation statistics (default: up to 64). */
  statsSamples?: number;
  /**
   * Lead-time steps (default 0: none). Sample i is then a forecast at lead time i mod steps, its item's
   * `leadTime`, and its coarse inputs carry a bias that grows with it, which a lead-time model can learn.
   */
  leadTimeSteps?: number;
}

const LAPSE_RATE = -6.5e-3; // K per m
/** Bias of every coarse input field per lead-time step, in its units (K, m/s): a forecast drifting with lead time. */
const LEAD_TIME_BIAS = 1;
const TERRAIN_TAG = 1, SAMPLE_TAG = 2;
const FIRST_TIME_MS = Date.UTC(2000, 0, 1);
const HOUR_MS = 3_600_000;

/** One sample in physical units. */
export interface SyntheticSample {
  /** Fine fields of the output variables, `(C_out, H, W)`. */
  fine: Float32Array;
  /** Coarse fields of the input variables, `(C_in, h, w)`. */
  coarse: Float32Array;
}

/** The synthetic dataset. Build with {@link SyntheticDataset.create} or `createDataset({type: "synthetic"})`. */
export class SyntheticDataset extends RawItemDataset {
  /** Seed of the terrain and of every sample. */
  readonly seed: number;
  /** Ratio of fine to coarse grid spacing. */
  readonly upsampleFactor: number;
  /** Input fields, in channel order (before the invariants). */
  readonly inputVariables: string[];
  /** Output fields, in channel order. */
  readonly outputVariables: string[];
  /** Invariant fields, appended to the inputs in this order. */
  readonly invariantVariables: string[];
  /** Lead-time steps (0: the samples have no lead time). */
  readonly leadTimeSteps: number;
  readonly #n: number;
  readonly #shape: [number, number];
  readonly #terrain: { elev: Float64Array; land: Float64Array };
  readonly #invariants: Float32Array[];
  readonly #stats: StatsTable;
  /** Normalisation of the inputs and invariants, from the measured statistics. */
  protected readonly inputNorm: ChannelNormalization;
  /** Normalisation of the outputs, from the measured statistics. */
  protected readonly outputNorm: ChannelNormalization;

  private constructor(o: Required<SyntheticOptions>) {
    super();
    const where = "dataset (synthetic)";
    const [H, W] = o.imageShape, f = o.upsampleFactor;
    if (!Number.isInteger(f) || f < 1) {
      throw new Error(`${where}: upsample_factor must be a positive integer, got ${f}`);
    }
    if (!o.imageShape.every((n) => Number.isInteger(n) && n % f === 0 && n / f >= 2)) {
      throw new Error(
        `${where}: image_shape [${o.imageShape}] must be multiples of upsample_factor ${f}, at least 2 coarse pixels`,
      );
    }
    if (!Number.isInteger(o.numSamples) || o.numSamples < 1) {
      throw new Error(`${where}: num_samples must be >= 1`);
    }
    checkNames(where, "input_variables", o.inputVariables, SYNTHETIC_FIELDS);
    checkNames(where, "output_variables", o.outputVariables, SYNTHETIC_FIELDS);
    checkNames(where, "invariant_variables", o.invariantVariables, SYNTHETIC_INVARIANTS);
    if (o.inputVariables.length === 0 || o.outputVariables.length === 0) {
      throw new Error(`${where}: input_variables and output_variables must not be empty`);
    }
    if (!Number.isInteger(o.leadTimeSteps) || o.leadTimeSteps < 0) {
      throw new Error(`${where}: lead_time_steps must be a non-negative integer, got ${o.leadTimeSteps}`);
    }
    this.leadTimeSteps = o.leadTimeSteps;
    this.seed = o.seed;
    this.upsampleFactor = f;
    this.inputVariables = [...o.inputVariables];
    this.outputVariables = [...o.outputVariables];
    this.invariantVariables = [...o.invariantVariables];
    this.#n = o.numSamples;
    this.#shape = [H, W];
    this.#terrain = makeTerrain(new Rng(streamSeed(o.seed, TERRAIN_TAG)), H, W);
    this.#invariants = this.invariantVariables.map((v) => this.invariantField(v));
    this.#stats = this.#measureStats(Math.min(o.statsSamples, o.numSamples));
    const source = `synthetic dataset (seed ${o.seed})`;
    this.inputNorm = concatNormalizations([
      normalizationFor(this.#stats, "input", this.inputVariables, source),
      normalizationFor(this.#stats, "invariant", this.invariantVariables, source),
    ], source);
    this.outputNorm = normalizationFor(this.#stats, "output", this.outputVariables, source);
  }

  /** Creates the dataset (generates the terrain and measures the statistics). */
  static create(options: SyntheticOptions = {}): SyntheticDataset {
    return new SyntheticDataset({
      seed: 0,
      numSamples: 64,
      imageShape: [64, 64],
      upsampleFactor: 4,
      inputVariables: ["t2m", "u10", "v10"],
      outputVariables: ["t2m", "u10", "v10"],
      invariantVariables: ["elev_mean", "lsm_mean"],
      statsSamples: 64,
      leadTimeSteps: 0,
      ...options,
    });
  }

  /** Builds the dataset from config keys (`seed`, `num_samples`, `image_shape`, `upsample_factor`, `*_variables`). */
  static fromOptions(o: DatasetOptions): Promise<SyntheticDataset> {
    const shape = o.intList("image_shape", [64, 64]);
    if (shape.length !== 2) throw new Error(`${o.where}: 'image_shape' must be [H, W], got [${shape}]`);
    const opts: SyntheticOptions = {
      seed: o.integer("seed", 0),
      numSamples: o.integer("num_samples", 64, 1),
      imageShape: [shape[0], shape[1]],
      upsampleFactor: o.integer("upsample_factor", 4, 1),
      inputVariables: o.stringList("input_variables", ["t2m", "u10", "v10"]) ?? Object.keys(SYNTHETIC_FIELDS),
      outputVariables: o.stringList("output_variables", ["t2m", "u10", "v10"]) ??
        Object.keys(SYNTHETIC_FIELDS),
      invariantVariables: o.stringList("invariant_variables", ["elev_mean", "lsm_mean"]) ??
        Object.keys(SYNTHETIC_INVARIANTS),
      statsSamples: o.integer("stats_samples", 64, 1),
      leadTimeSteps: o.integer("lead_time_steps", 0, 0),
    };
    o.rejectUnknown();
    return Promise.resolve(SyntheticDataset.create(opts));
  }

  /** Number of samples. */
  get length(): number {
    return this.#n;
  }

  /** `[H, W]` of the fine grid. */
  imageShape(): [number, number] {
    return [...this.#shape];
  }

  /** NaN: the synthetic grid is not on the Earth. */
  longitude(): Grid2D {
    return nanGrid(this.#shape);
  }

  /** NaN: the synthetic grid is not on the Earth. */
  latitude(): Grid2D {
    return nanGrid(this.#shape);
  }

  /** The input fields, then the invariants (marked auxiliary). */
  inputChannels(): ChannelMetadata[] {
    return [
      ...this.inputVariables.map((v) => described(v, false)),
      ...this.invariantVariables.map((v) => described(v, true)),
    ];
  }

  /** The output fields. */
  outputChannels(): ChannelMetadata[] {
    return this.outputVariables.map((v) => described(v, false));
  }

  /** Hourly from 2000-01-01T00:00Z. */
  time(): Date[] {
    return Array.from({ length: this.#n }, (_, i) => new Date(FIRST_TIME_MS + i * HOUR_MS));
  }

  /** The normalisation statistics, in the HRRR-mini stats-file layout. */
  stats(): StatsTable {
    return structuredClone(this.#stats);
  }

  /** An invariant on the full grid, float32. */
  invariantField(name: string): Float32Array {
    const canonical = canonicalSyntheticName(name);
    if (canonical === "elev_mean") return Float32Array.from(this.#terrain.elev);
    if (canonical === "lsm_mean") return Float32Array.from(this.#terrain.land);
    throw new Error(
      `synthetic dataset: unknown invariant '${name}' (known: ${Object.keys(SYNTHETIC_INVARIANTS)})`,
    );
  }

  /** Every time-dependent fine field of sample `i`, float64, by name. */
  fineFields(i: number): Record<string, Float64Array> {
    this.checkIndex(i, "synthetic dataset");
    const [H, W] = this.#shape;
    return makeWeather(
      new Rng(streamSeed(this.seed, SAMPLE_TAG, i)),
      H,
      W,
      this.#terrain,
      this.upsampleFactor,
    );
  }

  /** Sample `i` in physical units: fine output fields and coarse input fields. */
  sample(i: number): SyntheticSample {
    const fields = this.fineFields(i);
    const [H, W] = this.#shape, f = this.upsampleFactor;
    const fine = new Float32Array(this.outputVariables.length * H * W);
    this.outputVariables.forEach((v, c) => fine.set(fields[canonicalSyntheticName(v)], c * H * W));
    const coarse = new Float32Array(this.inputVariables.length * (H / f) * (W / f));
    const bias = LEAD_TIME_BIAS * (this.leadTime(i) ?? 0);
    this.inputVariables.forEach((v, c) => {
      const blurred = Float32Array.from(gaussianBlur(fields[canonicalSyntheticName(v)], H, W, f / 2));
      coarse.set(blockMean(blurred, 1, H, W, f).map((x) => x + bias), (c * H * W) / (f * f));
    });
    return { fine, coarse };
  }

  /** Sample `i`'s lead-time label (i mod lead_time_steps), or undefined without lead times. */
  leadTime(i: number): number | undefined {
    return this.leadTimeSteps > 0 ? i % this.leadTimeSteps : undefined;
  }

  /** Sample `i` normalised, with its lead-time label when the dataset has lead times. */
  override async item(i: number): Promise<DownscalingItem> {
    const it = await super.item(i);
    const leadTime = this.leadTime(i);
    return leadTime === undefined ? it : { ...it, leadTime };
  }

  /** Sample `i` un-normalised: up-sampled input with invariants, and target. */
  rawItem(i: number): { input: Float32Array; target: Float32Array } {
    const { fine, coarse } = this.sample(i);
    const [H, W] = this.#shape, f = this.upsampleFactor;
    const input = composeHrrrMiniInput(
      coarse,
      [this.inputVariables.length, H / f, W / f],
      f,
      this.#invariants,
      [H, W],
      [0, 0],
    );
    return { input, target: fine };
  }

  /** Seed, upsampling factor and normalisation statistics. */
  override info(): Record<string, unknown> {
    return {
      seed: this.seed,
      upsample_factor: this.upsampleFactor,
      ...(this.leadTimeSteps ? { lead_time_steps: this.leadTimeSteps } : {}),
      stats: this.stats(),
    };
  }

  #measureStats(count: number): StatsTable {
    const inputs = this.inputVariables.map(() => new Moments());
    const outputs = this.outputVariables.map(() => new Moments());
    const [H, W] = this.#shape, f = this.upsampleFactor;
    const nIn = (H / f) * (W / f), nOut = H * W;
    for (let i = 0; i < count; i++) {
      const { fine, coarse } = this.sample(i);
      inputs.forEach((m, c) => m.add(coarse.subarray(c * nIn, (c + 1) * nIn)));
      outputs.forEach((m, c) => m.add(fine.subarray(c * nOut, (c + 1) * nOut)));
    }
    const table = (names: string[], moments: Moments[]) =>
      Object.fromEntries(names.map((v, c) => [v, moments[c].stats()]));
    const invariantMoments = this.#invariants.map((field) => {
      const m = new Moments();
      m.add(field);
      return m;
    });
    return {
      input: table(this.inputVariables, inputs),
      output: table(this.outputVariables, outputs),
      invariant: table(this.invariantVariables, invariantMoments),
    };
  }
}

/**
 * A 32-bit seed for the stream `(seed, tags...)`: every sample and the terrain get their own
 * generator, so sample `i` is reproducible without drawing samples `0..i-1` first.
 */
export function streamSeed(...parts: number[]): number {
  const mix = (z: number) => {
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (!Number.isInteger(p)) throw new Error(`synthetic dataset: seeds must be integers, got ${p}`);
    // Both 32-bit halves count, so seeds above 2^32 still give different streams.
    h = mix((h + mix((p >>> 0) ^ 0x6a09e667) + Math.floor(p / 2 ** 32)) >>> 0);
  }
  return h;
}

/** Mean and population standard deviation, accumulated in double. */
class Moments {
  #n = 0;
  #sum = 0;
  #sumSq = 0;
  #shift = NaN;

  add(x: ArrayLike<number>): void {
    // Shifting by the first value keeps the variance accurate for fields like 285 K +- 3 K.
    if (Number.isNaN(this.#shift)) this.#shift = x[0] ?? 0;
    for (let i = 0; i < x.length; i++) {
      const d = x[i] - this.#shift;
      this.#sum += d;
      this.#sumSq += d * d;
    }
    this.#n += x.length;
  }

  /** Statistics; a constant field gets std 1 so that normalising it stays finite. */
  stats(): { mean: number; std: number } {
    const m = this.#sum / this.#n;
    const std = Math.sqrt(Math.max(0, this.#sumSq / this.#n - m * m));
    return { mean: this.#shift + m, std: std > 0 ? std : 1 };
  }
}

/** Terrain: a smooth random field; land above a threshold (about 40% of the grid), elevation growing inland. */
function makeTerrain(rng: Rng, H: number, W: number): { elev: Float64Array; land: Float64Array } {
  const c = gaussianRandomField(rng, H, W, powerLaw(3));
  const rough = gaussianRandomField(rng, H, W, powerLaw(2));
  const elev = new Float64Array(H * W), land = new Float64Array(H * W);
  const threshold = 0.25;
  for (let i = 0; i < H * W; i++) {
    const height = c[i] + 0.3 * rough[i] - threshold;
    if (height > 0) {
      land[i] = 1;
      elev[i] = 900 * height ** 1.3;
    }
  }
  return { elev, land };
}

/** The weather of one sample on the fine grid (see the module documentation). */
function makeWeather(
  rng: Rng,
  H: number,
  W: number,
  terrain: { elev: Float64Array; land: Float64Array },
  factor: number,
): Record<string, Float64Array> {
  const spectrum = nastromGage(1 / 16);
  const level = 285 + 4 * rng.normal();
  const landContrast = uniformIn(rng, -3, 3);
  const meanU = 4 * rng.normal(), meanV = 4 * rng.normal();
  const theta = uniformIn(rng, 0, 2 * Math.PI);
  const front = {
    row: uniformIn(rng, 0.2, 0.8) * H,
    col: uniformIn(rng, 0.2, 0.8) * W,
    width: uniformIn(rng, 1, 3) * Math.max(1, factor / 2),
    dT: uniformIn(rng, 2, 5),
    dWind: uniformIn(rng, 2, 6),
  };
  const anomaly = gaussianRandomField(rng, H, W, spectrum);
  const wind = nonDivergentWind(rng, H, W, spectrum, 3);
  // Front normal and tangent in (column, row) pixel axes; the tangent in (east, north) is (tc, -tr).
  const nc = Math.cos(theta), nr = Math.sin(theta), tc = -nr, tr = nc;
  const t2m = new Float64Array(H * W), u10 = new Float64Array(H * W), v10 = new Float64Array(H * W);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const p = i * W + j;
      const s = Math.tanh(((j - front.col) * nc + (i - front.row) * nr) / front.width);
      const drag = 1 - 0.3 * terrain.land[p];
      t2m[p] = level + 2 * anomaly[p] + LAPSE_RATE * terrain.elev[p] + landContrast * terrain.land[p] +
        front.dT * s;
      u10[p] = drag * (meanU + wind.u[p] + front.dWind * s * tc);
      v10[p] = drag * (meanV + wind.v[p] - front.dWind * s * tr);
    }
  }
  return { t2m, u10, v10 };
}

function uniformIn(rng: Rng, a: number, b: number): number {
  return a + (b - a) * rng.uniform();
}

function described(name: string, auxiliary: boolean): ChannelMetadata {
  const info = syntheticVariableInfo(name);
  return channel(name, { auxiliary, units: info.units, longName: info.longName });
}

function checkNames(
  where: string,
  key: string,
  names: string[],
  known: Readonly<Record<string, unknown>>,
): void {
  const bad = names.filter((n) => !(canonicalSyntheticName(n) in known));
  if (bad.length) {
    const aliases = Object.keys(SYNTHETIC_ALIASES).filter((a) => SYNTHETIC_ALIASES[a] in known);
    throw new Error(
      `${where}: ${key} has unknown name(s) ${bad.join(", ")} (known: ${
        [...Object.keys(known), ...aliases].join(", ")
      })`,
    );
  }
}
